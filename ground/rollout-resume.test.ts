import t, { type Test } from 'tap';
import { canonicalJson, type AimConfig } from '../protocol/index.js';
import { requireTool, spawnCli, waitFor } from '../test/support/index.js';
import { readStateFile } from './rollout/state-file.js';
import { startFakeDrones, type FakeDrone } from './test-helpers/fake-drone.js';
import { aimConfig, aimctl, seedFleet, startBroker, summaryOf, workspace } from './test-helpers/harness.js';

// An interrupted roll-out (the aimctl process killed mid-wave) carries on, or rolls back, from its state file.
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

const IDS = ['d1', 'd2', 'd3', 'd4', 'd5'];
const SEED = aimConfig('seed', -90);
const NEXT = aimConfig('next', -60);

/** Resolves when the drone has received a desired config with this id (listener attached now). */
const receives = (d: FakeDrone, id: string) => new Promise<void>((resolve) => d.on('desired', (c) => c?.id === id && resolve()));

async function interruptedRollout(t: Test, signal: 'SIGKILL' | 'SIGINT') {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 }, IDS);
  await seedFleet(broker.url, drones, SEED, ws.privateKey);
  // Wave 1 (d2, d3) holds its applies: the roll-out is mid-wave when it is interrupted.
  drones.get('d2')!.behaviour = 'hold';
  drones.get('d3')!.behaviour = 'hold';
  const inWave1 = Promise.all([receives(drones.get('d2')!, 'next'), receives(drones.get('d3')!, 'next')]);
  const stateFile = `${ws.dir}/state.json`;
  const proc = spawnCli(t, 'aimctl', [
    'rollout', ws.file('next.json', NEXT), '--drones', IDS.join(','), '--canary', '1', '--waves', '60%,100%', '--timeout', '60',
    '--key', ws.keyPath, '--broker', broker.url, '--state', stateFile,
  ], { env: { ...process.env, AIMCTL_LOG_LEVEL: 'error' } });
  await inWave1;
  proc.kill(signal);
  const code = await proc.exited;
  return { ws, broker, drones, stateFile, proc, code };
}

t.test('resume after the aimctl process was killed mid-wave (SIGKILL)', async (t) => {
  const { ws, drones, stateFile, code } = await interruptedRollout(t, 'SIGKILL');
  t.equal(code, 128 + 9);
  const saved = await readStateFile(stateFile);
  t.equal(saved.phase, 'rolling-out');
  t.equal(saved.currentWave, 1, 'the state file knew wave 1 was under way');
  t.same([saved.drones.d2!.state, saved.drones.d3!.state, saved.drones.d4!.state], ['published', 'published', 'planned']);
  // d2 finishes while nobody listens (its ack is lost; its retained report is not).
  drones.get('d2')!.release();
  await waitFor('d2 to apply', () => drones.get('d2')!.applied?.config.id === 'next');
  await drones.get('d2')!.idle();
  // d3 finishes only once the resumed roll-out has re-sent its config.
  const d3 = drones.get('d3')!;
  d3.on('arrived', () => d3.release());

  const run = await aimctl(['rollout', '--resume', stateFile, '--json', '--key', ws.keyPath]);
  t.equal(run.code, 0, run.err);
  t.match(run.events[0], { event: 'start', resumed: true, version: 2 });
  t.same(run.events.filter((e) => e.event === 'wave-start').map((e) => (e.event === 'wave-start' ? e.name : '')), ['wave 1', 'wave 2'], 'the canary is not run again');
  const s = summaryOf(run);
  t.equal(s.result, 'succeeded');
  for (const id of IDS) {
    t.equal(s.byDrone.get(id)!.state, 'applied', id);
    t.same(drones.get(id)!.history.map((c) => c.version), [1, 2], `${id} applied version 2 exactly once`);
  }
  t.equal(drones.get('d1')!.received.length, 2, 'the canary was not sent its config again');
  t.equal(drones.get('d2')!.received.length, 2, 'd2 was not re-sent: its retained report already said applied');
  t.equal((await readStateFile(stateFile)).phase, 'done');
});

t.test('Ctrl-C saves the state; --resume FILE --rollback-now restores the drones already updated', async (t) => {
  const { ws, drones, stateFile, proc, code } = await interruptedRollout(t, 'SIGINT');
  t.equal(code, 1);
  t.match(proc.stderr(), /interrupted.*aimctl rollout --resume /);
  t.equal((await readStateFile(stateFile)).phase, 'rolling-out');
  // The held drones go on once the rollback reaches them: they apply version 2, then the rollback.
  for (const id of ['d2', 'd3']) {
    const d = drones.get(id)!;
    d.on('arrived', () => d.release());
  }
  const run = await aimctl(['rollout', '--resume', stateFile, '--rollback-now', '--json', '--key', ws.keyPath]);
  t.equal(run.code, 1, 'a rolled-back roll-out is not a success');
  const s = summaryOf(run);
  t.equal(s.result, 'rolled-back');
  t.match(run.events.find((e) => e.event === 'rollback-start'), { version: 3, drones: ['d1', 'd2', 'd3'] });
  const plain = (c: AimConfig) => {
    const { version: _v, issuedAt: _i, ...rest } = c;
    return canonicalJson(rest);
  };
  for (const id of ['d1', 'd2', 'd3']) {
    const d = drones.get(id)!;
    t.equal(s.byDrone.get(id)!.rollback, 'restored', id);
    t.equal(d.applied!.config.version, 3);
    t.equal(plain(d.applied!.config), plain(SEED), `${id} runs the seed config again`);
  }
  for (const id of ['d4', 'd5']) t.same(drones.get(id)!.received.map((c) => c.id), ['seed'], `${id} was never sent anything`);
});
