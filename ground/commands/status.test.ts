import t from 'tap';
import { requireTool } from '../../test/support/index.js';
import { startFakeDrones } from '../test-helpers/fake-drone.js';
import { aimConfig, aimctl, seedFleet, startBroker, workspace } from '../test-helpers/harness.js';
import { statusRow, statusTable, type StatusRow } from './status.js';

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
  t.match(statusTable([row, unknown]), /DRONE\s+STATE\s+ARMED\s+APPLIED[\s\S]*d1\s+online\s+no\s+3\s+hot\s+1\s+-\s+-\s+60s[\s\S]*ghost\s+unknown/);
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
