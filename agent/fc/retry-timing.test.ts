import { common, type MavLinkData } from 'node-mavlink';
import t from 'tap';
import { readMessage, type Frame } from '../../sim/frames.js';
import { MAX_REQUESTS } from './absence.js';
import { Heartbeat, MavCmd } from './messages.js';
import { drivenFc } from './test-helpers/index.js';

// The link's retry and timeout logic on driven time: fc-sim (the one autopilot model) and the link share
// one DrivenClock over an in-memory wire, so every attempt count and every elapsed time below is exact;
// a loaded machine cannot add an attempt. fc-sim answers reads after 5 ms here (readLatencyMs), sets and
// commands at once. The same behaviours are also proven over real TCP in params.test.ts and gimbal.test.ts.

const PARAMS = { timeoutMs: 100, retries: 3 };
const isParamSet = (f: Frame) => f.msgid === common.ParamSet.MSG_ID;
const paramValueOf = (f: Frame) => (f.msgid === common.ParamValue.MSG_ID ? readMessage(f, common.ParamValue) : undefined);
const commandOf = (f: Frame) => (f.msgid === common.CommandLong.MSG_ID ? readMessage(f, common.CommandLong).command : undefined);
const ack = (command: number, result: number): MavLinkData => {
  const a = new common.CommandAck();
  [a.command, a.result, a.targetSystem, a.targetComponent] = [command, result, 0, 0];
  return a;
};
/** Driven-time offsets from `t0` at which the agent sent frames of `msgid`. */
const sentAt = (wire: { sent(id: number): { at: number }[] }, msgid: number, t0: number) => wire.sent(msgid).map((s) => s.at - t0).filter((x) => x >= 0);

t.test('param set: no echo to any set → exactly `retries` sets, one timeout apart, then a verifying read', async (t) => {
  const { sim, wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: PARAMS } });
  wire.rules.up = (f) => (isParamSet(f) ? 'drop' : 'forward'); // the FC never hears a set; reads get through
  const t0 = clock.now();
  const [r] = await clock.run(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80 }]));
  t.match(r, { result: 'timeout', attempts: 3, got: -90, reason: /still holds the old value/ });
  t.same(sentAt(wire, common.ParamRequestRead.MSG_ID, t0), [0, 305], 'the read-first, then one verifying read after the last timeout');
  t.same(sentAt(wire, common.ParamSet.MSG_ID, t0), [5, 105, 205], 'three sets, 100 ms apart, starting when the read-first answered');
  t.equal(clock.now() - t0, 310, 'read 5 + 3 × 100 + verifying read 5');
  t.equal(sim.getParam('MNT1_PITCH_MIN'), -90);
});

t.test('param set: the first echo lost → exactly 2 sets, ok one timeout later', async (t) => {
  const { sim, wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: PARAMS } });
  let lost = 0;
  wire.rules.down = (f) => (paramValueOf(f)?.paramValue === -80 && lost++ === 0 ? 'drop' : 'forward');
  const t0 = clock.now();
  const [r] = await clock.run(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80 }]));
  t.match(r, { result: 'ok', attempts: 2, got: -80 });
  t.same(sentAt(wire, common.ParamSet.MSG_ID, t0), [5, 105]);
  t.equal(clock.now() - t0, 105, 'ok as soon as the second echo came');
  t.equal(wire.dropped.down, 1);
  t.equal(sim.getParam('MNT1_PITCH_MIN'), -80);
});

t.test('param set, forced: no echo, but the verifying read finds the value set (another GCS set it) → ok', async (t) => {
  const { sim, wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: PARAMS } });
  wire.rules.up = (f) => {
    if (!isParamSet(f)) return 'forward';
    sim.setParam('MNT1_PITCH_MIN', -80); // the value got there; no echo of ours will come
    return 'drop';
  };
  const t0 = clock.now();
  const [r] = await clock.run(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80, type: 'INT16' }], { force: true }));
  t.match(r, { result: 'ok', attempts: 3, got: -80 });
  t.same(sentAt(wire, common.ParamSet.MSG_ID, t0), [0, 100, 200], 'forced with a known type: no read-first');
  t.same(sentAt(wire, common.ParamRequestRead.MSG_ID, t0), [300], 'the verifying read, after the third timeout');
  t.equal(clock.now() - t0, 305);
});

t.test('param set and read: an FC that never answered a request (deaf) → timeouts, bounded exactly', async (t) => {
  const { wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: PARAMS, requestCapabilities: false } });
  wire.rules.up = (f) => (f.msgid === Heartbeat.MSG_ID ? 'forward' : 'drop');
  let t0 = clock.now();
  await t.rejects(clock.run(link.params.get('MNT1_PITCH_MIN')), { code: 'AIM_ERR_FC_TIMEOUT', message: /after 3 requests/ });
  t.equal(clock.now() - t0, 300, 'three reads × 100 ms');
  t0 = clock.now();
  const [r] = await clock.run(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80 }]));
  t.match(r, { result: 'timeout', attempts: 0, got: null }, 'the read-first got nothing: nothing was sent');
  t.equal(clock.now() - t0, 300);
  t0 = clock.now();
  const [forced] = await clock.run(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80, type: 'INT16' }], { force: true }));
  t.match(forced, { result: 'timeout', attempts: 3, got: null });
  t.same(sentAt(wire, common.ParamSet.MSG_ID, t0), [0, 100, 200]);
  t.same(sentAt(wire, common.ParamRequestRead.MSG_ID, t0), [300, 400, 500], 'then the verifying read, three requests');
  t.equal(clock.now() - t0, 600, 'timeout × retries for the sets, and again for the read');
});

t.test('param set: the whole-call deadline ends the sets, and the read-first, at exactly deadlineMs', async (t) => {
  const { wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: { timeoutMs: 1000, retries: 3 } } });
  wire.rules.up = (f) => (f.msgid === Heartbeat.MSG_ID ? 'forward' : 'drop');
  let t0 = clock.now();
  const forced = await clock.run(
    link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80, type: 'INT16' }, { name: 'MNT1_PITCH_MAX', value: 10, type: 'INT16' }], { force: true, deadlineMs: 2500 }),
  );
  t.same(forced.map((x) => [x.result, x.attempts, x.reason]), [['timeout', 3, 'whole-call deadline'], ['timeout', 3, 'whole-call deadline']]);
  t.same(sentAt(wire, common.ParamSet.MSG_ID, t0), [0, 0, 1000, 1000, 2000, 2000], 'both in one window, 1000 ms apart');
  t.equal(clock.now() - t0, 2500);
  t0 = clock.now();
  const read = await clock.run(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80 }], { deadlineMs: 1500 }));
  t.match(read, [{ result: 'timeout', attempts: 0, reason: 'whole-call deadline' }], 'the deadline fell in the read-first');
  t.equal(clock.now() - t0, 1500);
});

t.test('reads: per-attempt timeout × requests, `window` names at a time', async (t) => {
  const { wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: { ...PARAMS, readWindow: 2 } } });
  let t0 = clock.now();
  const got = await clock.run(link.params.getMany(['MNT1_PITCH_MIN', 'NO_SUCH_A', 'MNT1_PITCH_MAX']));
  t.same([...got.entries()], [['MNT1_PITCH_MIN', { value: -90, type: 4 }], ['NO_SUCH_A', undefined], ['MNT1_PITCH_MAX', { value: 20, type: 4 }]]);
  t.equal(clock.now() - t0, 300, 'the absent name took three requests × 100 ms; the others ran beside it');
  t.same(sentAt(wire, common.ParamRequestRead.MSG_ID, t0), [0, 0, 5, 100, 200]);
  t0 = clock.now();
  const none = await clock.run(link.params.getMany(['NO_SUCH_A', 'NO_SUCH_B', 'NO_SUCH_C', 'NO_SUCH_D']));
  t.same([...none.values()], [undefined, undefined, undefined, undefined]);
  t.same(sentAt(wire, common.ParamRequestRead.MSG_ID, t0), [0, 0, 100, 100, 200, 200, 300, 300, 400, 400, 500, 500]);
  t.equal(clock.now() - t0, 600, 'two at a time, 300 ms each');
});

t.test('reads as SITL answers them: a 100 ms tick, up to 5 reads per tick', async (t) => {
  const { wire, clock, link } = await drivenFc(t, { link: { params: PARAMS } });
  await clock.advance(30); // off the tick's phase
  const t0 = clock.now();
  const names = ['MNT1_PITCH_MIN', 'MNT1_PITCH_MAX', 'MNT1_YAW_MIN', 'MNT1_YAW_MAX', 'MNT1_RC_RATE', 'MNT1_TYPE', 'MNT1_DEFLT_MODE'];
  const got = await clock.run(link.params.getMany(names, { window: 10 }));
  t.equal([...got.values()].filter((v) => v !== undefined).length, 7);
  t.same(
    sentAt(wire, common.ParamRequestRead.MSG_ID, t0),
    [0, 0, 0, 0, 0, 0, 0, 100, 100],
    '5 answered at the tick 70 ms later; the other 2 waited past the 100 ms per-attempt timeout and were asked again',
  );
  t.equal(clock.now() - t0, 170, 'ticks at 100 and 200 from boot');
});

t.test('gimbal: no COMMAND_ACK → exactly `retries` sends, one timeout apart', async (t) => {
  const { wire, clock, link } = await drivenFc(t);
  wire.rules.up = (f) => (f.msgid === Heartbeat.MSG_ID ? 'forward' : 'drop');
  const t0 = clock.now();
  const r = await clock.run(link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 }, { timeoutMs: 80, retries: 2 }));
  t.same(r, { result: 'timeout', via: 'gimbal-manager', attempts: 2 });
  const sends = wire.sent(common.CommandLong.MSG_ID).filter((s) => commandOf(s.frame) === MavCmd.DO_GIMBAL_MANAGER_PITCHYAW);
  t.same(sends.map((s) => s.at - t0), [0, 80]);
  t.same(sends.map((s) => readMessage(s.frame, common.CommandLong).confirmation), [0, 1], 'a resend counts its confirmation up');
  t.equal(clock.now() - t0, 160);
  const c = await clock.run(link.command({ command: MavCmd.DO_SET_ROI_NONE, params: [0, 0, 0, 0, 0, 0, 0] }, { timeoutMs: 250, retries: 3 }));
  t.same(c, { result: 'timeout', attempts: 3, elapsedMs: 750 });
});

t.test('gimbal: TEMPORARILY_REJECTED waits retryDelayMs, doubling, and gives up after `retries`', async (t) => {
  const { wire, clock, link } = await drivenFc(t);
  let rejects = 2;
  wire.rules.up = (f, inject) => {
    const cmd = commandOf(f);
    if (cmd !== MavCmd.DO_GIMBAL_MANAGER_PITCHYAW || rejects === 0) return 'forward';
    rejects--;
    inject(ack(cmd, common.MavResult.TEMPORARILY_REJECTED));
    return 'drop';
  };
  const point = { pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 } as const;
  const pitchYaw = () => wire.sent(common.CommandLong.MSG_ID).filter((s) => commandOf(s.frame) === MavCmd.DO_GIMBAL_MANAGER_PITCHYAW);
  let t0 = clock.now();
  t.match(await clock.run(link.gimbal.point(point, { retryDelayMs: 20 })), { result: 'accepted', attempts: 3 });
  t.same(pitchYaw().map((s) => s.at - t0), [0, 20, 60], 'pauses of 20 then 40 ms');
  t.same(pitchYaw().map((s) => readMessage(s.frame, common.CommandLong).confirmation), [0, 0, 0], 'each resend after a rejection is a fresh command');
  rejects = 5;
  t0 = clock.now();
  const r = await clock.run(link.command({ command: MavCmd.DO_GIMBAL_MANAGER_PITCHYAW, params: [-20, 0, NaN, NaN, 0, 0, 0] }, { retryDelayMs: 10, retries: 2 }));
  t.same(r, { result: 'temporarily-rejected', attempts: 2, progress: 0, resultParam2: 0, elapsedMs: 10 }, 'the last rejection is the answer: no pause after it');
});

t.test('command: IN_PROGRESS stops the resends and waits for the final ack past the per-attempt timeout', async (t) => {
  const { wire, clock, link } = await drivenFc(t);
  wire.rules.up = (f, inject) => {
    const cmd = commandOf(f);
    if (cmd !== MavCmd.DO_GIMBAL_MANAGER_PITCHYAW) return 'forward';
    inject(ack(cmd, common.MavResult.IN_PROGRESS));
    return 300; // fc-sim answers ACCEPTED once the command reaches it
  };
  const t0 = clock.now();
  const r = await clock.run(link.command({ command: MavCmd.DO_GIMBAL_MANAGER_PITCHYAW, params: [-20, 0, NaN, NaN, 32, 0, 0] }, { timeoutMs: 100, inProgressTimeoutMs: 1000 }));
  t.match(r, { result: 'accepted', attempts: 1, elapsedMs: 300 });
  t.equal(clock.now() - t0, 300);
});

t.test('param set: a vector sibling with another value is no answer → exactly one more set', async (t) => {
  const { wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: PARAMS } });
  // Z's own echo (6) is lost once; X's set echoes Z's old value (0), which must not pass for an answer.
  let lost = false;
  wire.rules.down = (f) => {
    const pv = paramValueOf(f);
    if (lost || pv?.paramId !== 'MNT1_NEUTRAL_Z' || pv.paramValue !== 6) return 'forward';
    lost = true;
    return 'drop';
  };
  const t0 = clock.now();
  const r = await clock.run(link.params.setMany([{ name: 'MNT1_NEUTRAL_X', value: 4 }, { name: 'MNT1_NEUTRAL_Z', value: 6 }], { force: true }));
  t.same(r.map((x) => [x.name, x.result, x.got, x.attempts]), [['MNT1_NEUTRAL_X', 'ok', 4, 1], ['MNT1_NEUTRAL_Z', 'ok', 6, 2]]);
  t.equal(clock.now() - t0, 100, 'Z was sent again one timeout later and answered at once');
});

t.test('param set: denied without the STATUSTEXT (the FC answers every set with its old value)', async (t) => {
  const { wire, clock, link } = await drivenFc(t, { sim: { readLatencyMs: 5 }, link: { params: PARAMS } });
  wire.rules.down = (f) => (f.msgid === common.StatusText.MSG_ID ? 'drop' : 'forward');
  const t0 = clock.now();
  const [r] = await clock.run(link.params.setMany([{ name: 'MNT1_DEVID', value: 5 }]));
  const sets = sentAt(wire, common.ParamSet.MSG_ID, t0);
  // Each dropped STATUSTEXT is a sequence gap: one frame in two lost, by the FC's sequence numbers. At that
  // loss no count of sets proves anything (absence.ts), so the sets go on to the cap before the old value
  // is taken as the answer.
  t.match(r, { result: 'denied', got: 0, attempts: MAX_REQUESTS });
  t.same(sets, Array.from({ length: MAX_REQUESTS }, (_, i) => 5 + 100 * i), 'one per timeout after the read-first');
  t.equal(clock.now() - t0, 5 + 100 * MAX_REQUESTS + 5, 'then one verifying read');
});
