import t from 'tap';
import { canonicalJson, type AimConfig } from '../protocol/index.js';
import { requireTool, spawnTs, waitFor } from '../test/support/index.js';
import { readStateFile } from './rollout/state-file.js';
import { startFakeDrones } from './test-helpers/fake-drone.js';
import { aimConfig, aimctl, retainedSnapshot, seedFleet, startBroker, summaryOf, workspace } from './test-helpers/harness.js';

// A halted roll-out must never land later: every drone that was sent the halted config ends with a
// retained desired the operator chose (its previous config re-issued, or the topic cleared).
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

const SEED = aimConfig('seed', -90, { issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 8 * 3600_000).toISOString() });
const NEXT = aimConfig('next', -60, { issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 2 * 3600_000).toISOString() });
const ids = (n: number) => Array.from({ length: n }, (_, i) => `d${i + 1}`);

/** The version and id of a retained desired JWS; null when the topic is clear. */
const desiredOf = (jws: string | null) => {
  if (jws === null) return null;
  const c = JSON.parse(Buffer.from(jws.split('.')[1]!, 'base64url').toString()) as AimConfig;
  return { version: c.version, id: c.id };
};
const plain = (c: AimConfig) => {
  const { version: _v, issuedAt: _i, expiresAt: _e, ...rest } = c;
  return canonicalJson(rest);
};

t.test('a plain halt: applied drones keep it; failed, deferred and config-less drones can never apply it later', async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const base = { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 };
  const drones = await startFakeDrones(t, base, ids(4));
  await seedFleet(broker.url, drones, SEED, ws.privateKey);
  // d5 joined the fleet after the seed: it has no config at all.
  const d5 = (await startFakeDrones(t, base, ['d5'])).get('d5')!;
  drones.set('d5', d5);
  drones.get('d3')!.behaviour = 'fail';
  d5.behaviour = 'fail';
  drones.get('d4')!.setArmed(true);
  await drones.get('d4')!.idle();
  const cfg = ws.file('next.json', { ...NEXT, apply: { when: 'disarmed' } });
  const run = await aimctl(['rollout', cfg, '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', `${ws.dir}/state.json`, '--drones', ids(5).join(','), '--canary', '1', '--waves', '100%', '--timeout', '2']);
  t.equal(run.code, 1, run.err);
  const s = summaryOf(run);
  t.equal(s.result, 'halted');
  t.same(['d2', 'd3', 'd4', 'd5'].map((d) => s.byDrone.get(d)!.state), ['applied', 'failed', 'timeout', 'failed']);
  t.match(run.events.find((e) => e.event === 'rollback-start'), { version: 3, scope: 'not-applied', drones: ['d3', 'd4', 'd5'] });
  t.same(['d3', 'd4', 'd5'].map((d) => s.byDrone.get(d)!.rollback), ['failed', 'restored', 'cleared']);
  const after = await retainedSnapshot(broker.url, ids(5));
  t.same(desiredOf(after.d1!.desired), { version: 2, id: 'next' }, 'd1 applied the halted config: the operator chose it, it stays');
  t.same(desiredOf(after.d2!.desired), { version: 2, id: 'next' });
  t.same(desiredOf(after.d3!.desired), { version: 3, id: 'seed' }, 'd3 failed: its previous config re-issued above the halted one');
  t.same(desiredOf(after.d4!.desired), { version: 3, id: 'seed' }, 'd4 was deferred: its previous config re-issued');
  t.equal(after.d5!.desired, null, 'd5 had no config: its desired topic is cleared');
  t.ok(drones.get('d4')!.history.every((c) => c.id !== 'next'), 'the deferred drone dropped the halted config');
  t.same(drones.get('d4')!.history.map((c) => c.version), [1, 3]);
  // d4 is disarmed and d3's FC comes back after a reboot: neither applies the halted config.
  drones.get('d4')!.setArmed(false);
  await drones.get('d4')!.idle();
  const d3 = drones.get('d3')!;
  await d3.kill();
  d3.behaviour = 'apply';
  await d3.start();
  await waitFor('d3 to apply its retained desired after the restart', () => d3.applied?.config.version === 3);
  t.equal(plain(d3.applied!.config), plain(SEED), 'd3 runs the seed again (as version 3), not the halted config');
  for (const d of ['d3', 'd4', 'd5']) t.notOk(drones.get(d)!.history.some((c) => c.id === 'next'), `${d} never applied the halted config`);
  t.same(s.unknown, [], 'every drone answered: no final state unknown');
});

t.test('an offline drone that comes back an hour later gets the restored config, never the halted one', async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  let clock = Date.now();
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5, now: () => clock }, ids(3));
  await seedFleet(broker.url, drones, SEED, ws.privateKey);
  // d3 receives the config and loses power before it answers: the broker publishes its Last Will.
  const d3 = drones.get('d3')!;
  d3.behaviour = 'silent';
  d3.once('desired', () => void d3.kill());
  const run = await aimctl(['rollout', ws.file('next.json', NEXT), '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', `${ws.dir}/state.json`, '--drones', ids(3).join(','), '--canary', '1', '--waves', '100%', '--timeout', '2', '--rollback']);
  t.equal(run.code, 1);
  const s = summaryOf(run);
  t.equal(s.byDrone.get('d3')!.state, 'timeout');
  t.equal(s.byDrone.get('d3')!.rollback, 'queued', 'offline at the clean-up: the restore waits for it on the broker');
  t.same(s.unknown.map((u) => u.drone), ['d3'], 'the summary says its final state is not known');
  t.match(run.err, /final state of 1 drone\(s\) is not known[\s\S]*d3: queued/);
  t.same(desiredOf((await retainedSnapshot(broker.url, ['d3'])).d3!.desired), { version: 3, id: 'seed' });
  const status = await aimctl(['status', '--json', '--broker', broker.url]);
  t.match(status.out, /"drone":"d3".*"finalKnown":false/, 'aimctl status lists d3 as not known');

  // An hour later (the halted config would still be valid: it expires after two), d3 boots again.
  clock += 3600_000;
  t.ok(Date.parse(NEXT.expiresAt!) > clock, 'the halted config has not expired: only the restore keeps it off');
  d3.behaviour = 'apply';
  await d3.start();
  await waitFor('d3 to apply what it finds', () => d3.applied?.config.version === 3);
  await d3.idle();
  t.same(d3.history.map((c) => c.id), ['seed', 'seed'], 'd3 applied the restored config, never the halted one');
});

t.test('aimctl SIGKILLed between the halt and the clean-up: --resume finishes the clean-up', async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 }, ids(3));
  await seedFleet(broker.url, drones, SEED, ws.privateKey);
  drones.get('d2')!.behaviour = 'fail';
  const stateFile = `${ws.dir}/state.json`;
  const proc = spawnTs(t, 'ground/bin/aimctl.ts', ['rollout', ws.file('next.json', NEXT), '--drones', ids(3).join(','), '--canary', '1', '--waves', '100%', '--timeout', '10', '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', stateFile], {
    env: { ...process.env, AIMCTL_LOG_LEVEL: 'error', AIMCTL_FAILPOINT: 'restore-recorded' },
  });
  await proc.waitForLine(/failpoint restore-recorded reached/, 20000);
  proc.kill('SIGKILL');
  t.equal(await proc.exited, 128 + 9);
  const saved = await readStateFile(stateFile);
  t.equal(saved.phase, 'rolling-back', 'the halt is on disk');
  t.ok(saved.halt !== null);
  t.match(saved.rollback, { version: 3, scope: 'not-applied' });
  t.match(saved.drones.d2!.rollback, { state: 'published', action: 'reissue' }, 'the restore was recorded before anything was published');
  t.same(desiredOf((await retainedSnapshot(broker.url, ['d2'])).d2!.desired), { version: 2, id: 'next' }, 'the crash left the halted config retained');

  drones.get('d2')!.behaviour = 'apply';
  const run = await aimctl(['rollout', '--resume', stateFile, '--json', '--key', ws.keyPath]);
  t.equal(run.code, 1, 'a halted roll-out is not a success');
  const s = summaryOf(run);
  t.equal(s.result, 'halted');
  t.equal(s.byDrone.get('d2')!.rollback, 'restored');
  t.same(desiredOf((await retainedSnapshot(broker.url, ['d2'])).d2!.desired), { version: 3, id: 'seed' });
  t.same(drones.get('d2')!.history.map((c) => c.version), [1, 3], 'd2 never applied the halted config');
  t.same(drones.get('d3')!.history.map((c) => c.version), [1, 2], 'd3 applied it and keeps it (no --rollback)');
  t.equal((await readStateFile(stateFile)).phase, 'done');
});

t.test('the broker and aimctl crash together between the halt and the clean-up: --resume finishes it', async (t) => {
  const ws = workspace(t);
  // Mosquitto saves its database on every change, so a SIGKILL keeps retained messages and sessions.
  const broker = await startBroker(t, { persistence: true, extraConfig: ['autosave_on_changes true', 'autosave_interval 1'] });
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 }, ids(3));
  await seedFleet(broker.url, drones, SEED, ws.privateKey);
  drones.get('d3')!.behaviour = 'fail';
  const stateFile = `${ws.dir}/state.json`;
  const proc = spawnTs(t, 'ground/bin/aimctl.ts', ['rollout', ws.file('next.json', NEXT), '--drones', ids(3).join(','), '--canary', '1', '--waves', '100%', '--timeout', '10', '--rollback', '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', stateFile], {
    env: { ...process.env, AIMCTL_LOG_LEVEL: 'error', AIMCTL_FAILPOINT: 'restore-recorded' },
  });
  await proc.waitForLine(/failpoint restore-recorded reached/, 20000);
  await broker.stop('SIGKILL');
  proc.kill('SIGKILL');
  await proc.exited;
  await broker.restart();
  await startBrokerAccepting(broker.port);
  // The drones' connections died with the broker; they come back to their persistent sessions.
  for (const d of drones.values()) {
    await d.kill();
    await d.start();
  }
  // What the crash kept of the last second is the broker's business; the state file knows what is owed.
  drones.get('d3')!.behaviour = 'apply';
  const run = await aimctl(['rollout', '--resume', stateFile, '--json', '--key', ws.keyPath]);
  t.equal(run.code, 1, run.err);
  const s = summaryOf(run);
  t.equal(s.result, 'rolled-back');
  for (const d of ids(3)) {
    t.equal(s.byDrone.get(d)!.rollback, 'restored', d);
    t.same(desiredOf((await retainedSnapshot(broker.url, [d]))[d]!.desired), { version: 3, id: 'seed' }, `${d}'s retained desired is the rollback`);
    t.equal(plain(drones.get(d)!.applied!.config), plain(SEED), `${d} runs the seed again`);
  }
  t.notOk(drones.get('d3')!.history.some((c) => c.id === 'next'), 'the failed drone never applied the halted config');
});

/** Mosquitto logs "running" just before it accepts: wait until a TCP connect succeeds. */
async function startBrokerAccepting(port: number): Promise<void> {
  const { connect } = await import('node:net');
  await waitFor(
    'the restarted broker to accept',
    () =>
      new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      }),
    { timeoutMs: 10000, intervalMs: 20 },
  );
}
