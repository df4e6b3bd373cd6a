import t from 'tap';
import { isAimError } from '../../protocol/errors.js';
import { fakeAutopilot, testLink } from './test-helpers/index.js';
import { CAP_PARAM_ENCODE_BYTEWISE } from './messages.js';

const MNT = (name: string, value: number) => ({ name, value });

t.test('timeout path: an FC that never answers parameters', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { deaf: true } });
  const link = await testLink(t, fake.link, { params: { timeoutMs: 80, retries: 2 } });
  // An FC that has shown one heartbeat and never answered a parameter: its silence proves nothing.
  await t.rejects(link.params.get('MNT1_PITCH_MIN'), { code: 'AIM_ERR_FC_TIMEOUT', message: /silence does not prove the parameter is absent/ }, 'a read with no answer is a timeout, not absence');
  const started = Date.now();
  const [r] = await link.params.setMany([MNT('MNT1_PITCH_MIN', -80)]);
  t.match(r, { name: 'MNT1_PITCH_MIN', want: -80, got: null, result: 'timeout', attempts: 0 });
  t.ok(Date.now() - started < 2000, 'bounded by timeout × retries');
  const [forced] = await link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -80, type: 'INT16' }], { force: true });
  t.match(forced, { result: 'timeout', attempts: 2 }, 'forced: no echo and the verifying read got nothing');
});

t.test('timeout path: no FC at all', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { silent: true } });
  const link = await testLink(t, fake.link, { wait: false });
  await t.rejects(link.waitForVehicle({ timeoutMs: 150 }), { code: 'AIM_ERR_FC_TIMEOUT' });
  await t.rejects(link.params.setMany([MNT('MNT1_PITCH_MIN', -80)]), { code: 'AIM_ERR_FC_LINK' });
  await t.rejects(link.params.get('MNT1_PITCH_MIN'), { code: 'AIM_ERR_FC_LINK' });
});

t.test('sets, verifies, then reports unchanged; the cache follows every PARAM_VALUE', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  const list = [MNT('MNT1_PITCH_MIN', -80), MNT('MNT1_PITCH_MAX', 10), MNT('MNT1_LEAD_PTCH', 0.1), MNT('MNT1_DEFLT_MODE', 2)];
  const first = await link.params.setMany(list);
  t.same(
    first.map((r) => [r.name, r.result, r.got]),
    [
      ['MNT1_PITCH_MIN', 'ok', -80],
      ['MNT1_PITCH_MAX', 'ok', 10],
      ['MNT1_LEAD_PTCH', 'ok', Math.fround(0.1)],
      ['MNT1_DEFLT_MODE', 'ok', 2],
    ],
  );
  t.equal(fake.params.get('MNT1_PITCH_MIN')?.value, -80);
  const setsBefore = fake.stats.paramSets;
  const again = await link.params.setMany(list);
  t.same(new Set(again.map((r) => r.result)), new Set(['unchanged']));
  t.equal(fake.stats.paramSets, setsBefore, 'nothing sent for unchanged values');
  t.equal(link.params.cached('MNT1_PITCH_MAX')?.value, 10);
  const forced = await link.params.setMany(list, { force: true });
  t.same(new Set(forced.map((r) => r.result)), new Set(['ok']), 'force sends anyway');
  t.equal(fake.stats.paramSets, setsBefore + list.length);
});

t.test('lossy link: every third frame dropped both ways, as in MAVSDK system tests', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link, { params: { timeoutMs: 150, retries: 6 } });
  fake.behaviour.dropEvery = 3;
  const names = ['MNT1_PITCH_MIN', 'MNT1_PITCH_MAX', 'MNT1_YAW_MIN', 'MNT1_YAW_MAX', 'MNT1_RC_RATE', 'MNT1_LEAD_PTCH', 'MNT1_NEUTRAL_Y', 'MNT1_NEUTRAL_Z'];
  const values = [-70, 15, -170, 170, 30, 0.15, 5, -5];
  const results = await link.params.setMany(names.map((n, i) => MNT(n, values[i] as number)));
  t.same(
    results.filter((r) => r.result !== 'ok'),
    [],
    'every parameter verified despite the loss',
  );
  for (const [i, n] of names.entries()) t.equal(fake.params.get(n)?.value, Math.fround(values[i] as number), n);
  t.ok(fake.stats.droppedIn + fake.stats.droppedOut > 0, 'frames were dropped');
  t.ok(link.status().seqGaps > 0, 'the link saw the gaps');
  const read = await link.params.getMany(names);
  t.same([...read.values()].map((v) => v?.value), values.map((v) => Math.fround(v)), 'reads survive the loss too');
});

t.test('integer types: C-cast rounding, range check before sending, NaN', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  const setsBefore = fake.stats.paramSets;
  const r = await link.params.setMany([
    { name: 'MNT1_DEFLT_MODE', value: 2.7 },
    { name: 'MNT1_RC_RATE', value: 40000 },
    { name: 'MNT1_PITCH_MIN', value: Number.NaN },
    { name: 'BIG_INT32', value: 16777217 },
  ]);
  t.match(r[0], { result: 'ok', want: 2, got: 2 }, 'INT8 2.7 is sent and verified as 2');
  t.match(r[1], { result: 'type-error', attempts: 0 }, 'INT16 40000 is refused before sending');
  t.match(r[1]?.reason, /INT16/);
  t.match(r[2], { result: 'type-error', attempts: 0 });
  t.match(r[3], { result: 'ok', want: 16777216 }, 'INT32 beyond float precision compares after the cast');
  t.equal(fake.stats.paramSets, setsBefore + 2, 'only the two valid values went on the wire');
  t.equal(fake.params.get('MNT1_RC_RATE')?.value, 0, 'the FC never saw 40000');
});

t.test('a stale echo of the old value is not success', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { staleEchoFirst: true } });
  const link = await testLink(t, fake.link);
  const seen: number[] = [];
  const off = link.params.listen('MNT1_PITCH_MAX', (e) => seen.push(e.value));
  const [r] = await link.params.setMany([MNT('MNT1_PITCH_MAX', 5)]);
  off();
  t.match(r, { result: 'ok', got: 5, attempts: 1 });
  t.same(seen.slice(-2), [20, 5], 'the old value arrived first and was passed over');
  fake.behaviour.staleEchoFirst = false;
  fake.behaviour.echoOffset = 1;
  const [m] = await link.params.setMany([MNT('MNT1_PITCH_MAX', 7)], { timeoutMs: 100 });
  t.match(m, { result: 'mismatch', got: 8 }, 'an echo with another value is a mismatch');
});

t.test('read-only parameter: denied, from the STATUSTEXT', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link, { params: { timeoutMs: 2000 } });
  const started = Date.now();
  const [r] = await link.params.setMany([MNT('MNT1_DEVID', 5)]);
  t.match(r, { result: 'denied', got: 197121, attempts: 1 });
  t.match(r?.reason, /Param write denied/);
  t.ok(Date.now() - started < 1000, 'decided by the STATUSTEXT, not by waiting out the timeout');
});

t.test('vector parameter siblings do not confuse matching', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  const r = await link.params.setMany([MNT('MNT1_NEUTRAL_X', 1), MNT('MNT1_NEUTRAL_Y', 2), MNT('MNT1_NEUTRAL_Z', 3)], { force: true });
  t.same(r.map((x) => [x.result, x.got]), [['ok', 1], ['ok', 2], ['ok', 3]]);
  t.same(['X', 'Y', 'Z'].map((a) => fake.params.get(`MNT1_NEUTRAL_${a}`)?.value), [1, 2, 3]);
});

t.test('a vector sibling carrying another value is not an answer: the set is sent again', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { dropEchoes: { MNT1_NEUTRAL_Z: 1 } } });
  const link = await testLink(t, fake.link, { params: { timeoutMs: 150 } });
  // Forced, on a fresh link: nothing known about Z, so X's sibling echo of Z (0) could pass for an answer.
  const r = await link.params.setMany([MNT('MNT1_NEUTRAL_X', 4), MNT('MNT1_NEUTRAL_Z', 6)], { force: true });
  t.same(r.map((x) => [x.name, x.result, x.got, x.attempts]), [['MNT1_NEUTRAL_X', 'ok', 4, 1], ['MNT1_NEUTRAL_Z', 'ok', 6, 2]]);
});

t.test('denied without the STATUSTEXT: the FC answers every set with the old value', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { silentDenial: true } });
  const link = await testLink(t, fake.link, { params: { timeoutMs: 100 } });
  const [r] = await link.params.setMany([MNT('MNT1_DEVID', 5)]);
  t.match(r, { result: 'denied', got: 197121, attempts: 3 });
});

t.test('unknown parameter and reboot-required enable', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link, { params: { timeoutMs: 100, retries: 2 } });
  const r = await link.params.setMany([MNT('NOPE_PARAM', 1), MNT('MNT1_TYPE', 2), MNT('lowercase', 1)]);
  t.match(r[0], { result: 'unknown', got: null });
  t.match(r[1], { result: 'ok', rebootRequired: true });
  t.match(r[2], { result: 'unknown' }, 'ArduPilot ignores lower-case names, so they are unknown');
});

t.test('window: at most W sets in flight', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { deaf: true } });
  const link = await testLink(t, fake.link);
  const names = Array.from({ length: 7 }, (_, i) => ({ name: `P${i}`, value: i, type: 'REAL32' as const }));
  const r = await link.params.setMany(names, { force: true, window: 3, timeoutMs: 200, retries: 1 });
  t.equal(r.length, 7);
  const at = fake.stats.paramSetLog.map((s) => s.at);
  t.equal(at.length, 7);
  const first = at[0] as number;
  t.ok(at.slice(0, 3).every((x) => x - first < 100), 'the first three went out together');
  t.ok(at.slice(3).every((x) => x - first >= 180), 'the rest only after a slot freed up (per-attempt timeout)');
});

t.test('whole-call deadline, AbortSignal and link loss', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { deaf: true } });
  const link = await testLink(t, fake.link, { params: { timeoutMs: 1000, retries: 3 } });
  const started = Date.now();
  const r = await link.params.setMany([MNT('MNT1_PITCH_MIN', -80), MNT('MNT1_PITCH_MAX', 10)], { deadlineMs: 200 });
  t.same(r.map((x) => x.result), ['timeout', 'timeout']);
  t.ok(Date.now() - started < 800, 'the deadline ended the call');

  const ctl = new AbortController();
  setTimeout(() => ctl.abort(), 50).unref();
  await t.rejects(link.params.setMany([MNT('MNT1_PITCH_MIN', -80)], { signal: ctl.signal }), { code: 'AIM_ERR_ABORTED' });

  const lost = link.params.setMany([MNT('MNT1_PITCH_MIN', -80)], { force: true });
  setTimeout(() => fake.dropClients(), 50).unref();
  const err: unknown = await lost.catch((e: unknown) => e);
  t.ok(isAimError(err, 'AIM_ERR_FC_LINK'), 'link loss fails the whole call with AIM_ERR_FC_LINK');
});

t.test('pipelined reads', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { readLatencyMs: 100 } });
  const link = await testLink(t, fake.link);
  const names = ['MNT1_PITCH_MIN', 'MNT1_PITCH_MAX', 'MNT1_YAW_MIN', 'MNT1_YAW_MAX', 'MNT1_RC_RATE', 'MNT1_TYPE', 'MNT1_DEFLT_MODE', 'MNT1_LEAD_PTCH'];
  const started = Date.now();
  const got = await link.params.getMany(names);
  const ms = Date.now() - started;
  t.same([...got.keys()], names);
  t.same(got.get('MNT1_PITCH_MIN'), { value: -90, type: 4 });
  t.ok(ms < 450, `8 reads at 100 ms each took ${ms} ms, not 800`);
  t.same(await link.params.get('MNT1_YAW_MAX'), { name: 'MNT1_YAW_MAX', value: 180, type: 4 });
});

t.test('bytewise encoding (PX4 capability bit) is bit-exact for INT32', async (t) => {
  const fake = await fakeAutopilot(t, { autopilot: 12, capabilities: CAP_PARAM_ENCODE_BYTEWISE | 2n });
  const link = await testLink(t, fake.link);
  const [r] = await link.params.setMany([{ name: 'BIG_INT32', value: 123456789 }]);
  t.match(r, { result: 'ok', want: 123456789, got: 123456789 });
  t.equal(link.encoding, 'bytewise');
  t.equal(fake.params.get('BIG_INT32')?.value, 123456789);
  t.same(await link.params.get('MNT1_PITCH_MIN'), { name: 'MNT1_PITCH_MIN', value: -90, type: 4 });
});
