import t, { type Test } from 'tap';
import { requireTool, waitFor } from '../test/support/index.js';
import { canonicalJson, type Ack } from '../protocol/index.js';
import { startFakeDrones, type Behaviour } from './test-helpers/fake-drone.js';
import { aimctl, aimConfig, startBroker, retainedSnapshot, seedFleet, summaryOf, workspace, type Workspace } from './test-helpers/harness.js';
import { readStateFile } from './rollout/state-file.js';

// The roll-out against a real Mosquitto and protocol-level fake drones (ground/test-helpers/fake-drone.ts).
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

const ids = (n: number) => Array.from({ length: n }, (_, i) => `d${i + 1}`);
const SEED = aimConfig('seed', -90);
const NEXT = aimConfig('next', -60);

async function fleet(t: Test, n: number, behaviours: Record<string, Behaviour> = {}, armed: string[] = []) {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 }, ids(n));
  await seedFleet(broker.url, drones, SEED, ws.privateKey);
  for (const [id, b] of Object.entries(behaviours)) drones.get(id)!.behaviour = b;
  for (const id of armed) drones.get(id)!.setArmed(true);
  return { ws, broker, drones };
}

const rollout = (ws: Workspace, url: string, config: string, args: string[]) =>
  aimctl(['rollout', config, '--json', '--key', ws.keyPath, '--broker', url, '--state', `${ws.dir}/state.json`, ...args]);

t.test('a failing canary halts before wave 1 and nothing else changes', async (t) => {
  const { ws, broker, drones } = await fleet(t, 6, { d1: 'fail' });
  const others = ids(6).slice(1);
  const before = await retainedSnapshot(broker.url, others);
  const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', ids(6).join(','), '--canary', '1', '--waves', '50%,100%', '--max-failures', '50%']);
  t.equal(run.code, 1, run.err);
  t.match(run.err, /the canary failed.*AIM_ERR_ROLLOUT_HALTED/);
  t.same(run.events.filter((e) => e.event === 'wave-start').map((e) => (e.event === 'wave-start' ? e.name : '')), ['canary'], 'no wave after the canary, even with --max-failures 50%');
  const s = summaryOf(run);
  t.equal(s.result, 'halted');
  t.equal(s.byDrone.get('d1')!.state, 'failed');
  t.match(s.byDrone.get('d1')!.reason, /FC echoed/);
  for (const d of others) t.equal(s.byDrone.get(d)!.state, 'planned', `${d} never sent`);
  for (const d of others) t.equal(drones.get(d)!.received.length, 1, `${d} received nothing after the seed`);
  t.same(await retainedSnapshot(broker.url, others), before, 'retained desired, reported and status unchanged on every other drone');
  const state = await readStateFile(`${ws.dir}/state.json`);
  t.equal(state.phase, 'done');
  t.equal(state.halt?.wave, 0);
});

t.test('canary then waves in order; version auto = highest reported + 1', async (t) => {
  const { ws, broker, drones } = await fleet(t, 10);
  const run = await rollout(ws, broker.url, ws.file('next.json', { ...NEXT, version: 1 }), ['--drones', ids(10).join(','), '--canary', '2', '--waves', '30%,100%']);
  t.equal(run.code, 0, run.err);
  const waves = run.events.flatMap((e) => (e.event === 'wave-start' ? [e.drones] : []));
  t.same(waves, [['d1', 'd2'], ['d3'], ids(10).slice(3)]);
  // Every drone of a wave acked before the next wave started.
  let wave = -1;
  const settledIn = new Map<string, number>();
  for (const e of run.events) {
    if (e.event === 'wave-start') wave = e.wave;
    if (e.event === 'drone' && e.state === 'applied') settledIn.set(e.drone, wave);
  }
  t.same([...ids(10)].map((d) => settledIn.get(d)), [0, 0, 1, 2, 2, 2, 2, 2, 2, 2]);
  for (const d of drones.values()) t.equal(d.applied!.config.version, 2, `${d.id} applied version 2`);
  t.same(drones.get('d5')!.applied!.config.mount, NEXT.mount);
  t.equal(summaryOf(run).result, 'succeeded');
});

t.test('--max-failures: counts and percentages against the whole roll-out', async (t) => {
  t.test('20% of 10 tolerates 2 failures: the roll-out completes, exit 1', async (t) => {
    const { ws, broker, drones } = await fleet(t, 10, { d4: 'fail', d5: 'reject' });
    const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', ids(10).join(','), '--waves', '50%,100%', '--max-failures', '20%']);
    t.equal(run.code, 1);
    const s = summaryOf(run);
    t.equal(s.result, 'completed-with-failures');
    t.equal(s.byDrone.get('d4')!.state, 'failed');
    t.equal(s.byDrone.get('d5')!.state, 'rejected');
    t.equal(drones.get('d10')!.applied!.config.id, 'next', 'the last wave ran');
  });
  t.test('a third failure is past 20% of 10: halt after that wave', async (t) => {
    const { ws, broker, drones } = await fleet(t, 10, { d3: 'fail', d4: 'fail', d5: 'fail' });
    const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', ids(10).join(','), '--waves', '50%,100%', '--max-failures', '20%']);
    t.equal(run.code, 1);
    const halt = run.events.find((e) => e.event === 'halt');
    t.match(halt, { name: 'wave 1', failures: 3, allowed: 2 });
    for (const d of ids(10).slice(5)) t.equal(drones.get(d)!.applied!.config.id, 'seed', `${d} untouched`);
  });
  t.test('a count: --max-failures 1', async (t) => {
    const { ws, broker } = await fleet(t, 4, { d2: 'fail', d3: 'fail' });
    const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', ids(4).join(','), '--max-failures', '1']);
    t.match(run.events.find((e) => e.event === 'halt'), { failures: 2, allowed: 1 });
  });
});

t.test('an offline drone is listed and counts as a failure, unless --skip-offline', async (t) => {
  const { ws, broker, drones } = await fleet(t, 5);
  await drones.get('d4')!.kill();
  const targets = [...ids(5), 'ghost'].join(',');
  // The Last Will must have landed before aimctl reads the fleet.
  await waitFor('the Last Will', async () => (await retainedSnapshot(broker.url, ['d4'])).d4!.status === 'offline', { intervalMs: 50 });
  const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', targets, '--max-failures', '2']);
  t.equal(run.code, 1, 'not every targeted drone applied');
  const s = summaryOf(run);
  t.equal(s.result, 'completed-with-failures');
  t.equal(s.byDrone.get('d4')!.state, 'offline');
  t.equal(s.byDrone.get('ghost')!.state, 'offline');
  t.match(s.byDrone.get('ghost')!.reason, /never published a status/);
  t.equal(drones.get('d4')!.received.length, 1, 'nothing was sent to the offline drone');
  t.equal(drones.get('d5')!.applied!.config.id, 'next');

  const skip = await aimctl(['rollout', ws.file('again.json', aimConfig('again', -50)), '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', `${ws.dir}/s2.json`, '--drones', targets, '--skip-offline']);
  t.equal(skip.code, 0, skip.err);
  const s2 = summaryOf(skip);
  t.equal(s2.byDrone.get('d4')!.state, 'skipped');
  t.equal(s2.byDrone.get('ghost')!.state, 'skipped');
  t.equal(drones.get('d1')!.applied!.config.id, 'again');
  t.equal(drones.get('d1')!.applied!.config.version, 3);
});

t.test('a deferred drone stays pending until it applies or the wave times out', async (t) => {
  const { ws, broker, drones } = await fleet(t, 4, {}, ['d2', 'd3']);
  // d2 is disarmed as soon as it has deferred; d3 stays armed.
  drones.get('d2')!.on('ack', (a: Ack) => {
    if (a.status === 'deferred') drones.get('d2')!.setArmed(false);
  });
  const cfg = ws.file('window.json', aimConfig('window', -60, { apply: { when: 'disarmed' } }));
  const run = await rollout(ws, broker.url, cfg, ['--drones', ids(4).join(','), '--waves', '100%', '--max-failures', '1', '--timeout', '2']);
  t.equal(run.code, 1);
  const s = summaryOf(run);
  t.equal(s.byDrone.get('d2')!.state, 'applied', 'deferred, then applied once disarmed');
  t.ok(run.events.some((e) => e.event === 'drone' && e.drone === 'd2' && e.state === 'deferred'), 'the deferral was shown');
  t.equal(s.byDrone.get('d3')!.state, 'timeout');
  t.match(s.byDrone.get('d3')!.reason, /still deferred/);
  t.equal(s.byDrone.get('d4')!.state, 'applied');
});

t.test('--rollback restores the previous config on every drone that was sent the halted one', async (t) => {
  const { ws, broker, drones } = await fleet(t, 6, { d3: 'fail' });
  const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', ids(6).join(','), '--waves', '50%,100%', '--rollback']);
  t.equal(run.code, 1, run.err);
  const s = summaryOf(run);
  // d3 fails every apply (its FC), the rollback too: it answered, but it is not restored.
  t.equal(s.result, 'rollback-incomplete');
  const rb = run.events.find((e) => e.event === 'rollback-start');
  t.match(rb, { version: 3, drones: ['d1', 'd2', 'd3'], scope: 'all-sent' }, 'the failed drone too: its retained desired was the halted config');
  for (const d of ['d1', 'd2']) {
    const drone = drones.get(d)!;
    t.equal(s.byDrone.get(d)!.rollback, 'restored');
    t.same(drone.history.map((c) => c.version), [1, 2, 3]);
    const { version: _v, issuedAt: _i, ...restored } = drone.applied!.config;
    const { version: _v1, issuedAt: _i1, ...seed } = SEED;
    t.equal(canonicalJson(restored), canonicalJson(seed), `${d} runs the seed config again, as version 3`);
  }
  t.equal(s.byDrone.get('d3')!.rollback, 'failed');
  t.same(drones.get('d3')!.history.map((c) => c.version), [1], 'the failed drone still runs the seed');
  const retained = await retainedSnapshot(broker.url, ['d3']);
  t.equal(retained.d3!.desired?.split('.')[1] && JSON.parse(Buffer.from(retained.d3!.desired.split('.')[1]!, 'base64url').toString()).version, 3, "d3's retained desired is the rollback config, not the halted one");
  for (const d of ['d4', 'd5', 'd6']) t.equal(drones.get(d)!.received.length, 1, `${d} never sent anything`);
});

t.test('--rollback is refused up front when a previous config is not on the broker', async (t) => {
  const { ws, broker, drones } = await fleet(t, 2);
  // Clear the retained desired configs: what the drones applied can no longer be reconstructed.
  const { connectBroker } = await import('./broker.js');
  const c = await connectBroker({ url: broker.url, topicPrefix: 'aim' });
  await c.publishAsync('aim/d1/config/desired', '', { qos: 1, retain: true });
  await c.publishAsync('aim/d2/config/desired', '', { qos: 1, retain: true });
  await c.endAsync();
  const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', 'd1,d2', '--rollback']);
  t.equal(run.code, 2, 'AIM_ERR_USAGE (it needs --previous-config) exits 2 like every usage error');
  t.match(run.err, /cannot restore d1, d2.*--previous-config/);
  t.equal(drones.get('d1')!.received.length, 1, 'nothing published');
  const ok = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', 'd1,d2', '--rollback', '--previous-config', ws.file('seed.json', SEED), '--state', `${ws.dir}/s3.json`]);
  t.equal(ok.code, 0, ok.err);
});

t.test('--dry-run changes nothing anywhere', async (t) => {
  const { ws, broker, drones } = await fleet(t, 5);
  const before = await retainedSnapshot(broker.url, ids(5));
  const run = await rollout(ws, broker.url, ws.file('next.json', NEXT), ['--drones', ids(5).join(','), '--canary', '1', '--waves', '50%,100%', '--dry-run']);
  t.equal(run.code, 0, run.err);
  const s = summaryOf(run);
  t.equal(s.result, 'succeeded');
  for (const d of ids(5)) t.equal(s.byDrone.get(d)!.state, 'dry-run');
  const diff = run.events.find((e) => e.event === 'drone' && e.state === 'dry-run');
  t.match(diff, { params: [{ name: 'MNT1_PITCH_MIN', want: -60, got: -90 }] }, 'the diff is shown');
  for (const d of drones.values()) {
    t.equal(d.received.at(-1)!.apply?.dryRun, true, `${d.id} got the shadow config`);
    t.same(d.history.map((c) => c.id), ['seed'], `${d.id} applied nothing`);
  }
  t.same(await retainedSnapshot(broker.url, ids(5)), before, 'retained desired, reported and status unchanged');
});

t.test('rollout usage errors exit 2 before anything touches the network', async (t) => {
  const ws = workspace(t);
  const cfg = ws.file('c.json', NEXT);
  const base = ['--key', ws.keyPath, '--broker', 'mqtt://127.0.0.1:1'];
  const cases: [string, string[], RegExp][] = [
    ['no target', ['rollout', cfg, ...base], /--drones a,b,c or --all/],
    ['both targets', ['rollout', cfg, '--all', '--drones', 'a', ...base], /--drones a,b,c or --all/],
    ['canary 0', ['rollout', cfg, '--drones', 'a,b', '--canary', '0', ...base], /canary cannot be skipped/],
    ['canary and canary-drones', ['rollout', cfg, '--drones', 'a,b', '--canary', '1', '--canary-drones', 'a', ...base], /not both/],
    ['waves short of 100%', ['rollout', cfg, '--drones', 'a,b', '--waves', '10%,50%', ...base], /end --waves with 100%|100%/],
    ['bad threshold', ['rollout', cfg, '--drones', 'a,b', '--max-failures', 'lots', ...base], /neither a count/],
    ['bad timeout', ['rollout', cfg, '--drones', 'a,b', '--timeout', '0', ...base], /positive number of seconds/],
    ['no key', ['rollout', cfg, '--drones', 'a,b', '--broker', 'mqtt://127.0.0.1:1'], /no signing key/],
    ['resume with a plan flag', ['rollout', '--resume', 'x.json', '--canary', '2', ...base], /cannot change it/],
    ['rollback-now alone', ['rollout', cfg, '--drones', 'a', '--rollback-now', ...base], /goes with --resume/],
  ];
  for (const [what, args, re] of cases) {
    const run = await aimctl(args);
    t.equal(run.code, 2, what);
    t.match(run.err, re, what);
  }
});

t.test('a config without version gets the next one; the state file goes to the state directory, not the cwd', async (t) => {
  const { ws, broker, drones } = await fleet(t, 3);
  const { version: _v, ...noVersion } = NEXT;
  const stateDir = `${ws.dir}/state-home`;
  const run = await aimctl(['rollout', ws.file('nov.json', noVersion), '--json', '--key', ws.keyPath, '--broker', broker.url, '--drones', ids(3).join(',')], {
    env: { AIMCTL_STATE_DIR: stateDir },
  });
  t.equal(run.code, 0, run.err);
  t.match(run.events[0], { event: 'start', version: 2 }, 'one above the seed every drone reports');
  for (const d of drones.values()) t.equal(d.applied!.config.version, 2);
  const start = run.events[0]!;
  t.match(start.event === 'start' ? start.stateFile : '', new RegExp(`^${stateDir}/aimctl-rollout-ro-.*\\.json$`));
  t.equal((await readStateFile(start.event === 'start' ? start.stateFile : '')).result, 'succeeded');
  const xdg = await aimctl(['rollout', ws.file('nov2.json', noVersion), '--json', '--key', ws.keyPath, '--broker', broker.url, '--drones', 'd1'], {
    env: { XDG_STATE_HOME: `${ws.dir}/xdg` },
  });
  t.equal(xdg.code, 0, xdg.err);
  t.match(xdg.events[0], { event: 'start', version: 3, stateFile: new RegExp(`^${ws.dir}/xdg/aimctl/`) });
});
