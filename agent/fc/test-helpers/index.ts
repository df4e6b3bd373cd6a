import { startFcSim, type FcSim, type FcSimOptions } from '../../../sim/index.js';
import { openFcLink, type FcLink, type FcLinkOptions } from '../link.js';
import { FaultProxy } from './fault-proxy.js';

export * from './fault-proxy.js';

interface TeardownT {
  teardown(fn: () => unknown): void;
}

/**
 * The link's unit tests run against fc-sim, the one model of the autopilot (its parameter table and
 * cast are ArduPilot SITL's), over real TCP, with a fault proxy in front for what a bad wire or another
 * firmware does. `link` is the proxy's address; `sim.link` is fc-sim's own.
 */
export async function simFc(t: TeardownT, opts: Partial<FcSimOptions> = {}): Promise<{ sim: FcSim; proxy: FaultProxy; link: string }> {
  const sim = await startFcSim({ link: 'tcp:127.0.0.1:0', readLatencyMs: 5, ...opts });
  t.teardown(() => sim.stop());
  const proxy = await new FaultProxy(Number(sim.link.split(':')[2])).start();
  t.teardown(() => proxy.stop());
  return { sim, proxy, link: proxy.link };
}

/** A link to `link`, closed at teardown; waits for the vehicle unless `wait` is false. */
export async function testLink(t: TeardownT, link: string, opts: FcLinkOptions & { wait?: boolean } = {}): Promise<FcLink> {
  const l = await openFcLink(link, { reconnect: { minMs: 50, maxMs: 200 }, ...opts });
  t.teardown(() => l.close());
  if (opts.wait !== false) await l.waitForVehicle({ timeoutMs: 5000 });
  return l;
}
