import t from 'tap';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, configToFcParams, generateKeyPair, loadPrivateKey, signJws, type AimConfig } from '../protocol/index.js';
import { waitFor } from '../test/support/index.js';
import { harness, type Harness } from './test-helpers/harness.js';

// The agent end to end over the embedded broker (aedes, MQTT 3.1.1) and fc-sim over TCP.
// MQTT 5 features (response topic, session expiry) and broker faults are in service-mosquitto.test.ts.

const fileVersion = (h: Harness): number | undefined =>
  existsSync(join(h.stateDir, 'aim-params.json')) ? (JSON.parse(readFileSync(join(h.stateDir, 'aim-params.json'), 'utf8')) as AimConfig).version : undefined;

const fcMatches = (h: Harness, cfg: AimConfig) => configToFcParams(cfg).every((p) => Math.fround(h.fc.getParam(p.name) ?? NaN) === Math.fround(p.value));

t.test('happy path: signed config → applied ack, FC verified, file swapped, reported and status retained', async (t) => {
  const h = await harness(t);
  const cfg = h.config(5);
  await h.publish(h.sign(cfg));
  const ack = await h.waitAck((a) => a.version === 5, 'ack for v5');
  t.equal(ack.status, 'applied', ack.reason ?? '');
  t.equal(ack.stage, 'done');
  t.equal(ack.aim?.result, 'accepted');
  t.type(ack.lockToken, 'number');
  t.ok(ack.timings.totalMs > 0);
  t.ok(ack.params.length > 0 && ack.params.every((p) => p.result === 'ok' || p.result === 'unchanged'), 'every parameter verified');
  t.ok(fcMatches(h, cfg), 'the FC holds the config');
  t.equal(fileVersion(h), 5, 'the aim file holds v5');
  const rep = await waitFor('reported v5', () => h.reported.find((r) => r.version === 5));
  t.match(rep, { id: 'test-v5', sha256: ack.sha256, fc: { verified: true, drift: [] } });
  const st = await waitFor('online status with v5', () => h.statuses.find((s) => s.appliedVersion === 5 && s.state === 'online'));
  t.match(st, { state: 'online', link: 'up', armed: false });
});

t.test('rejections change nothing and say why', async (t) => {
  const h = await harness(t);
  await h.publish(h.sign(h.config(10)));
  await h.waitAck((a) => a.version === 10 && a.status === 'applied', 'v10 applied');
  const before = readFileSync(join(h.stateDir, 'aim-params.json'), 'utf8');
  const stranger = generateKeyPair();
  const cases: [string, string | Buffer, RegExp, string][] = [
    ['unsigned', JSON.stringify(h.config(11)), /unsigned document/, 'AIM_ERR_SIGNATURE'],
    ['untrusted key', signJws(canonicalJson(h.config(12)), loadPrivateKey(stranger.privatePem)), /untrusted key/, 'AIM_ERR_SIGNATURE'],
    ['invalid', h.sign({ ...h.config(13), mount: { pitch: { minDeg: 30, maxDeg: 20 } } }), /mount.pitch.minDeg/, 'AIM_ERR_INVALID'],
    ['stale', h.sign(h.config(9)), /older than the applied version 10/, 'AIM_ERR_STALE'],
    ['conflict', h.sign({ ...h.config(10), id: 'other-content' }), /already applied with different content/, 'AIM_ERR_CONFLICT'],
    ['expired', h.sign({ ...h.config(14), issuedAt: '2020-01-01T00:00:00Z', expiresAt: '2020-01-02T00:00:00Z' }), /expired/, 'AIM_ERR_EXPIRED'],
    ['not for this drone', h.sign({ ...h.config(15), targets: ['drone-99'] }), /not drone-07/, 'AIM_ERR_NOT_TARGET'],
    ['garbage', Buffer.from([0xde, 0xad, 0xbe, 0xef]), /not a JWS/, 'AIM_ERR_SIGNATURE'],
  ];
  for (const [name, payload, reason, code] of cases) {
    const n = h.acks.length;
    await h.publish(payload, { retain: false });
    const ack = await waitFor(`ack for ${name}`, () => h.acks.slice(n).find((a) => a.status !== 'applied'));
    t.equal(ack.status, 'rejected', name);
    t.match(ack.reason, reason, name);
    t.equal(ack.code, code, name);
    t.ok(ack.errors.length > 0, `${name}: errors listed`);
  }
  const invalidAck = h.acks.find((a) => a.code === 'AIM_ERR_INVALID');
  t.match(invalidAck, { version: 13, id: 'test-v13', errors: [{ path: 'mount.pitch.minDeg' }] }, 'an invalid config still names its version and id');
  t.equal(readFileSync(join(h.stateDir, 'aim-params.json'), 'utf8'), before, 'the aim file is unchanged');
  t.ok(fcMatches(h, h.config(10)), 'the FC is unchanged');
});

t.test('duplicate: the same version and content again is acked duplicate, not re-applied', async (t) => {
  const h = await harness(t);
  const jws = h.sign(h.config(3));
  await h.publish(jws);
  await h.waitAck((a) => a.version === 3 && a.status === 'applied', 'applied');
  const sets = h.fc.stats.paramSets;
  await h.publish(jws, { retain: false });
  const dup = await h.waitAck((a) => a.version === 3 && a.status === 'duplicate', 'duplicate');
  t.match(dup.reason, /version 3 was applied at/);
  t.equal(h.fc.stats.paramSets, sets, 'nothing was sent to the FC');
});

t.test('dry run: diff against the FC, nothing written, version not consumed', async (t) => {
  const h = await harness(t);
  const cfg = h.config(20, { apply: { when: 'immediate', dryRun: true } });
  const pitchMaxBefore = h.fc.getParam('MNT1_PITCH_MAX');
  await h.publish(h.sign(cfg));
  const ack = await h.waitAck((a) => a.version === 20, 'dry-run ack');
  t.equal(ack.status, 'dry-run');
  const row = ack.params.find((p) => p.name === 'MNT1_PITCH_MAX');
  t.match(row, { want: 10, got: pitchMaxBefore, result: 'change' });
  t.equal(h.fc.getParam('MNT1_PITCH_MAX'), pitchMaxBefore, 'FC untouched');
  t.equal(fileVersion(h), undefined, 'no aim file written');
  await h.publish(h.sign(h.config(20)));
  t.equal((await h.waitAck((a) => a.version === 20 && a.status !== 'dry-run', 'real v20')).status, 'applied', 'the version is still free');
});

t.test('disarmed window: deferred while armed, applied on disarm; a newer config supersedes a deferred one', async (t) => {
  const h = await harness(t, { fc: { armed: true } });
  await waitFor('armed seen', () => h.agent?.fc.vehicle?.armed === true);
  await h.publish(h.sign(h.config(30, { apply: { when: 'disarmed' } })));
  const d = await h.waitAck((a) => a.version === 30, 'deferred');
  t.equal(d.status, 'deferred');
  await waitFor('status deferred', () => h.statuses.find((s) => s.state === 'deferred'));
  await h.publish(h.sign(h.config(31, { apply: { when: 'disarmed' } })));
  const s = await h.waitAck((a) => a.version === 30 && a.status === 'superseded', 'superseded');
  t.match(s.reason, /version 31/);
  await h.waitAck((a) => a.version === 31 && a.status === 'deferred', 'v31 deferred');
  t.equal(fileVersion(h), undefined, 'nothing applied while armed');
  h.fc.setArmed(false);
  const a = await h.waitAck((x) => x.version === 31 && x.status === 'applied', 'applied after disarm');
  t.ok(a.timings.totalMs > 0);
  t.equal(fileVersion(h), 31);
});

t.test('disarmed window with a deadline: failed when the vehicle stays armed', async (t) => {
  const h = await harness(t, { fc: { armed: true } });
  await waitFor('armed seen', () => h.agent?.fc.vehicle?.armed === true);
  await h.publish(h.sign(h.config(40, { apply: { when: 'disarmed', deadlineSec: 1 } })));
  const f = await h.waitAck((a) => a.version === 40 && a.status === 'failed', 'failed at deadline', 5000);
  t.match(f, { stage: 'window', code: 'AIM_ERR_ARMED', rolledBack: true });
});

t.test('immediate configs apply even while armed', async (t) => {
  const h = await harness(t, { fc: { armed: true } });
  await h.publish(h.sign(h.config(41)));
  t.equal((await h.waitAck((a) => a.version === 41, 'ack')).status, 'applied');
});

t.test('FC silent mid-apply: failed with rollback, file untouched, and the agent stays up', async (t) => {
  const h = await harness(t);
  await h.publish(h.sign(h.config(50)));
  await h.waitAck((a) => a.version === 50 && a.status === 'applied', 'v50 applied');
  // Freeze the FC after a few more frames: some parameters of v51 get through, then silence.
  h.fc.setImpairments({ freezeAfter: 3 });
  await h.publish(h.sign(h.config(51, { mount: { pitch: { minDeg: -70, maxDeg: 5 }, rcRateDegS: 77, defaultMode: 'rc-targeting' } })));
  const f = await h.waitAck((a) => a.version === 51, 'v51 ack', 20_000);
  t.equal(f.status, 'failed');
  t.equal(f.stage === 'read' || f.stage === 'push', true, `stage ${f.stage}`);
  t.type(f.rolledBack, 'boolean', 'rolledBack reported');
  if (f.stage === 'read') t.equal(f.rolledBack, true, 'frozen while reading: nothing was written, so nothing to undo');
  // rolledBack: true is a promise about the FC: every v51 value that got through was put back to v50.
  if (f.rolledBack === true) t.ok(fcMatches(h, h.config(50)), 'rolledBack: true and the FC holds v50 again');
  t.equal(fileVersion(h), 50, 'the aim file still holds v50');
  h.fc.setImpairments({ freezeAfter: null, frozen: false });
  // The agent is alive and applies the next config.
  await h.publish(h.sign(h.config(52)));
  t.equal((await h.waitAck((a) => a.version === 52, 'v52', 20_000)).status, 'applied');
  t.ok(fcMatches(h, h.config(52)));
});

t.test('a parameter the FC does not know fails before anything is written', async (t) => {
  const h = await harness(t);
  const sets = h.fc.stats.paramSets;
  await h.publish(h.sign(h.config(60, { params: { NOPE_PARAM: 1 } })));
  const f = await h.waitAck((a) => a.version === 60, 'ack', 20_000);
  t.match(f, { status: 'failed', stage: 'read', rolledBack: true, code: 'AIM_ERR_FC_REJECTED' });
  t.match(f.params.find((p) => p.name === 'NOPE_PARAM'), { result: 'unknown', got: null });
  t.equal(h.fc.stats.paramSets, sets, 'no PARAM_SET was sent');
});

t.test('aim command refused (gimbal absent): parameters rolled back, failed', async (t) => {
  const h = await harness(t);
  const before = h.fc.getParam('MNT1_RC_RATE');
  await h.publish(h.sign(h.config(70, { aim: { pitchDeg: -10, yawDeg: 0, gimbalId: 2 } })));
  const f = await h.waitAck((a) => a.version === 70, 'ack', 20_000);
  t.match(f, { status: 'failed', stage: 'aim', rolledBack: true });
  t.equal(h.fc.getParam('MNT1_RC_RATE'), before, 'FC restored');
  t.equal(fileVersion(h), undefined);
});

t.test('unsigned configs are accepted only when the settings say so', async (t) => {
  const h = await harness(t, { settings: { security: { requireSignature: false, trustedKeys: [] } } });
  await h.publish(JSON.stringify(h.config(80)));
  t.equal((await h.waitAck((a) => a.version === 80, 'ack')).status, 'applied');
});

t.test('boot reconciliation repairs drift on the FC', async (t) => {
  const h = await harness(t);
  const cfg = h.config(90);
  await h.publish(h.sign(cfg));
  await h.waitAck((a) => a.version === 90 && a.status === 'applied', 'applied');
  await h.stopAgent();
  h.fc.setParam('MNT1_RC_RATE', 5); // someone changed it with a GCS while the agent was down
  await h.startAgent();
  const rep = await waitFor('reported with repaired drift', () => h.reported.find((r) => r.fc.driftRepaired === true));
  t.match(rep.fc.repaired, [{ name: 'MNT1_RC_RATE', got: 5 }]);
  t.ok(fcMatches(h, cfg), 'the FC matches the file again');
});

t.test('a clean stop publishes a retained offline status', async (t) => {
  const h = await harness(t);
  await waitFor('online status', () => h.statuses.find((s) => s.state === 'online'));
  await h.stopAgent();
  const last = await waitFor('offline status', () => h.statuses[h.statuses.length - 1]?.state === 'offline' && h.statuses[h.statuses.length - 1]);
  t.same(last, { state: 'offline' });
});

t.test('a value changed behind the agent\'s back (a missed broadcast) is still set by the next apply', async (t) => {
  const h = await harness(t);
  await h.publish(h.sign(h.config(95)));
  await h.waitAck((a) => a.version === 95 && a.status === 'applied', 'v95');
  // fc-sim's local change sends no PARAM_VALUE: the agent's cache still holds the old value.
  h.fc.setParam('MNT1_DEFLT_MODE', 0);
  const next = h.config(96, { mount: { ...h.config(96).mount, defaultMode: 'mavlink-targeting' } });
  await h.publish(h.sign(next));
  t.equal((await h.waitAck((a) => a.version === 96, 'v96')).status, 'applied');
  t.equal(h.fc.getParam('MNT1_DEFLT_MODE'), 2, 'the FC holds the wanted mode, not the stale one');
  t.ok(fcMatches(h, next));
});
