import { openFcLink, type FcLink, type FcLinkOptions } from '../link.js';
import { FakeAutopilot, type FakeAutopilotOptions } from './fake-autopilot.js';

export * from './fake-autopilot.js';

interface TeardownT {
  teardown(fn: () => unknown): void;
}

/** A fake autopilot on a random port, stopped at teardown. */
export async function fakeAutopilot(t: TeardownT, opts: FakeAutopilotOptions = {}): Promise<FakeAutopilot> {
  const fake = await new FakeAutopilot(opts).start();
  t.teardown(() => fake.stop());
  return fake;
}

/** A link to `link`, closed at teardown; waits for the vehicle unless `wait` is false. */
export async function testLink(t: TeardownT, link: string, opts: FcLinkOptions & { wait?: boolean } = {}): Promise<FcLink> {
  const l = await openFcLink(link, { reconnect: { minMs: 50, maxMs: 200 }, ...opts });
  t.teardown(() => l.close());
  if (opts.wait !== false) await l.waitForVehicle({ timeoutMs: 5000 });
  return l;
}
