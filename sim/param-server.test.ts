import type { common, MavLinkData } from 'node-mavlink';
import t from 'tap';
import type { Channel } from './channel.js';
import type { Clock } from './clock.js';
import { SIM_PARAM_DEFS } from './param-defaults.js';
import { ParamServer, READ_QUEUE_DEPTH } from './param-server.js';
import { ParamStore } from './param-store.js';

/** A clock the test advances by hand. */
function fakeClock() {
  let now = 0;
  let next = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => (timers.push({ at: now + ms, fn, id: next }), next++),
    clearTimeout: (id) => void timers.splice(timers.findIndex((x) => x.id === id) >>> 0, 1),
  };
  const advance = (to: number) => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const first = timers[0];
      if (first === undefined || first.at > to) break;
      timers.shift();
      now = first.at;
      first.fn();
    }
    now = to;
  };
  return { clock, advance };
}

const read = (name: string) => ({ paramId: name, paramIndex: -1, targetSystem: 1, targetComponent: 1 }) as common.ParamRequestRead;

t.test('reads as SITL answers them: 5 per 100 ms tick, at most 20 waiting', async (t) => {
  const { clock, advance } = fakeClock();
  const answered: { at: number; name: string }[] = [];
  const ch = { send: (m: MavLinkData) => answered.push({ at: clock.now(), name: (m as common.ParamValue).paramId }), drainMs: () => 0 } as unknown as Channel;
  const server = new ParamServer({ store: new ParamStore(SIM_PARAM_DEFS), clock, readLatencyMs: undefined, broadcast: () => undefined, onSet: () => undefined, banner: [] });
  advance(30);
  const names = SIM_PARAM_DEFS.slice(0, READ_QUEUE_DEPTH + 1).map((d) => d.name);
  for (const n of names) server.handleRead(ch, read(n));
  advance(1000);
  t.same(
    answered.map((a) => a.at),
    [100, 100, 100, 100, 100, 200, 200, 200, 200, 200, 300, 300, 300, 300, 300, 400, 400, 400, 400, 400],
    'four batches of five on the tick (SITL: ~50, 150, 250, 350 ms after sending)',
  );
  t.same(answered.map((a) => a.name), names.slice(0, READ_QUEUE_DEPTH), 'in order; the 21st was dropped (queue full)');
  server.handleRead(ch, read('MNT1_TYPE'));
  advance(1430);
  t.equal(answered.at(-1)?.at, 1100, 'a lone read waits for the next tick');
  server.handleRead(ch, read('MNT1_TYPE'));
  server.reset();
  advance(3000);
  t.equal(answered.length, 21, 'reset drops queued reads');
});
