import { startFcSim, type FcSim, type FcSimOptions } from '../../../sim/index.js';
import { FcLink, openFcLink, type FcLinkOptions } from '../link.js';
import { DrivenClock } from './driven-clock.js';
import { FaultProxy } from './fault-proxy.js';
import { MemoryWire } from './memory-wire.js';

export * from './driven-clock.js';
export * from './fault-proxy.js';
export * from './memory-wire.js';

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

/**
 * fc-sim and the link on one driven clock over an in-memory wire: retry and timeout logic runs on
 * exact time, with fc-sim (the one autopilot model) answering. Reads as SITL answers them unless
 * `readLatencyMs` is given. The link is up when this resolves.
 */
export async function drivenFc(
  t: TeardownT,
  opts: { sim?: Partial<FcSimOptions>; link?: FcLinkOptions } = {},
): Promise<{ sim: FcSim; wire: MemoryWire; clock: DrivenClock; link: FcLink }> {
  const clock = new DrivenClock();
  const wire = new MemoryWire(clock);
  const sim = await startFcSim({ link: 'tcp:127.0.0.1:0', clock, transport: wire.simTransport, ...opts.sim });
  const link = new FcLink('tcp:127.0.0.1:5760', { timers: clock, openTransport: wire.open, ...opts.link });
  // Close the link first, then stop fc-sim; both only clear driven timers, so no real time passes.
  t.teardown(async () => {
    await link.close();
    await sim.stop();
  });
  link.start();
  await clock.run(link.waitForVehicle({ timeoutMs: 5000 }));
  return { sim, wire, clock, link };
}
