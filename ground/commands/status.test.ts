import t from 'tap';
import { requireTool } from '../../test/support/index.js';
import { startFakeDrones } from '../test-helpers/fake-drone.js';
import { aimConfig, aimctl, seedFleet, startBroker, workspace } from '../test-helpers/harness.js';
import { fleetTarget, statusRow, statusTable, type StatusRow } from './status.js';

t.test('a fleet row from retained status and reported', async (t) => {
  const now = Date.parse('2026-11-26T14:00:00Z');
  const row = statusRow(
    'd1',
    {
      status: { state: 'online', armed: false, appliedVersion: 3 },
      reported: { version: 3, id: 'hot', sha256: 'a'.repeat(64), appliedAt: '2026-11-26T13:59:00Z', fc: { verified: true, drift: [{ name: 'MNT1_RC_RATE', want: 30, got: 20 }] } },
    },
    undefined,
    now,
  );
  t.match(row, { drone: 'd1', state: 'online', appliedVersion: 3, id: 'hot', drift: 1, desiredVersion: null, lastAck: null, ageS: 60 });
  const unknown = statusRow('ghost', {}, undefined, now);
  t.match(unknown, { state: 'unknown', appliedVersion: null, ageS: null });
  t.match(statusTable([row, unknown]), /DRONE\s+STATE\s+ARMED\s+APPLIED[\s\S]*d1\s+online\s+no\s+3\s+hot\s+1\s+-\s+-\s+-\s+60s[\s\S]*ghost\s+unknown/);
});

t.test('aimctl status against a broker', async (t) => {
  if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) return;
  const ws = workspace(t);
  const broker = await startBroker(t);
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey] }, ['s1', 's2']);
  await seedFleet(broker.url, drones, aimConfig('seed', -90), ws.privateKey);
  await drones.get('s2')!.kill();
  const run = await aimctl(['status', '--broker', broker.url, '--json']);
  t.equal(run.code, 0, run.err);
  const rows = run.out.trim().split('\n').map((l) => JSON.parse(l) as StatusRow);
  t.match(rows, [
    { drone: 's1', state: 'online', appliedVersion: 1, id: 'seed' },
    { drone: 's2', appliedVersion: 1, id: 'seed' },
  ]);
  const table = await aimctl(['status', '--broker', broker.url, '--drones', 's1']);
  t.match(table.out, /^DRONE.*\ns1\s+online/);
});

t.test('status tells the truth: current drift, last repair, pending desired, off-target and unknown drones', async (t) => {
  const now = Date.parse('2026-11-26T14:00:00Z');
  const sha = (c: string) => c.repeat(64);
  const rep = (version: number, s: string, fc: Record<string, unknown> = {}) => ({
    version,
    id: `v${version}`,
    sha256: sha(s),
    appliedAt: '2026-11-26T13:00:00Z',
    fc: { verified: true, drift: [], ...fc },
  });
  const desired = (version: number, s: string) => ({ config: aimConfig(`v${version}`, -60, { version }), sha256: sha(s) });
  const views = {
    d1: { status: { state: 'online' as const }, reported: rep(45, 'a'), desired: desired(45, 'a') },
    // Repaired at boot: the agent's report carries no drift any more, and says when it repaired what.
    d2: { status: { state: 'online' as const }, reported: rep(45, 'a', { driftRepaired: true, repairedAt: '2026-11-26T13:55:00Z', repaired: Array(6).fill({ name: 'MNT1_RC_RATE', want: 30, got: 5 }) }), desired: desired(45, 'a') },
    // The d3: still on the halted 44, offline, its restore waiting on the broker.
    d3: { status: { state: 'offline' as const }, reported: rep(44, 'b'), desired: desired(46, 'c') },
  };
  const target = fleetTarget(Object.values(views));
  t.equal(target, 46, 'the highest retained desired version');
  const rows = Object.entries(views).map(([d, v]) => statusRow(d, v, undefined, now, target));
  t.match(rows[1], { drift: 0, repaired: 6, repairedAt: '2026-11-26T13:55:00Z', finalKnown: true });
  t.match(rows[2], { appliedVersion: 44, desiredVersion: 46, offTarget: true, finalKnown: false, why: /offline; desired v46 waits/ });
  const table = statusTable(rows, now);
  t.match(table, /d2\s+online\s+-\s+45 \(target 46\)\s+v45\s+0\s+6 param\(s\) 5m ago/);
  t.match(table, /d3\s+offline\s+-\s+44 \(target 46\)\s+v44\s+0\s+-\s+46 \(pending\)/);
  t.match(table, /fleet target: version 46; 3 drone\(s\) off target: d1, d2, d3/);
  t.match(table, /final state NOT KNOWN for 1 drone\(s\):\n  d3: offline; desired v46 waits on the broker/);
});
