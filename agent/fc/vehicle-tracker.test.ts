import t from 'tap';
import { VehicleTracker, type Timers } from './vehicle-tracker.js';

/** Timers driven by the test: advance() fires what is due. */
function fakeTimers() {
  let now = 0;
  let next = 1;
  const due = new Map<number, { at: number; fn: () => void }>();
  const timers: Timers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      due.set(id, { at: now + ms, fn });
      return id;
    },
    clearTimeout: (h) => void due.delete(h as number),
  };
  const advance = (ms: number) => {
    now += ms;
    for (const [id, d] of [...due]) {
      if (d.at <= now) {
        due.delete(id);
        d.fn();
      }
    }
  };
  return { timers, advance, pending: () => due.size };
}

const FC = { type: 2, autopilot: 3, baseMode: 0x51, customMode: 0, systemStatus: 3 };

t.test('up on the first FC heartbeat, down after the timeout, armed changes', async (t) => {
  const { timers, advance, pending } = fakeTimers();
  const log: string[] = [];
  const tr = new VehicleTracker(3000, {
    onUp: (v) => log.push(`up ${v.systemId}/${v.componentId}`),
    onDown: (r) => log.push(`down ${r}`),
    onHeartbeat: () => undefined,
    onArmed: (a) => log.push(`armed ${a}`),
  }, timers);
  tr.handleHeartbeat(255, 190, { ...FC, type: 6, autopilot: 8 }); // a GCS: ignored
  tr.handleHeartbeat(1, 191, { ...FC, type: 18, autopilot: 8 }); // another companion: ignored
  t.equal(tr.vehicle, undefined);
  tr.handleHeartbeat(1, 1, FC);
  advance(1000);
  tr.handleHeartbeat(1, 1, FC);
  tr.handleHeartbeat(2, 1, FC); // a second FC while the first is alive: ignored
  advance(1000);
  tr.handleHeartbeat(1, 1, { ...FC, baseMode: 0xd1 });
  t.equal(tr.heartbeatAgeMs(), 0);
  advance(2999);
  t.equal(tr.up, true);
  advance(1);
  t.equal(tr.up, false);
  t.same(log, ['up 1/1', 'armed false', 'armed true', 'down no HEARTBEAT or other frame from the flight controller for 3000 ms']);
  tr.handleHeartbeat(2, 1, FC);
  t.match(tr.vehicle, { systemId: 2 }, 'once the first is silent another FC may take over');
  tr.transportClosed('transport closed');
  t.equal(tr.up, false);
  t.equal(pending(), 0, 'no timer left behind');
  tr.dispose();
});

t.test('any valid frame from the FC keeps it up; frames from others and before the first heartbeat do not', async (t) => {
  const { timers, advance } = fakeTimers();
  const log: string[] = [];
  const tr = new VehicleTracker(3000, {
    onUp: () => log.push('up'),
    onDown: (r) => log.push(`down ${r}`),
    onHeartbeat: () => undefined,
    onArmed: () => undefined,
  }, timers);
  tr.handleFrame(1, 1);
  t.equal(tr.up, false, 'a PARAM_VALUE alone does not say what the sender is');
  tr.handleHeartbeat(1, 1, FC);
  // Heartbeats lost to corruption, but PARAM_VALUEs keep coming: the FC is alive.
  for (let i = 0; i < 10; i++) {
    advance(2000);
    tr.handleFrame(1, 1);
  }
  t.equal(tr.up, true, '20 s without a heartbeat, frames every 2 s: still up');
  advance(2000);
  tr.handleFrame(2, 1); // another system's frame is no sign of life of ours
  advance(1000);
  t.equal(tr.up, false);
  t.same(log, ['up', 'down no HEARTBEAT or other frame from the flight controller for 3000 ms']);
  tr.dispose();
});
