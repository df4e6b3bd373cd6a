import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readStateFile, StateSaver } from './state-file.js';
import { prepareRollout } from './prepare.js';
import { parseAmount } from './amount.js';
import { aimConfig } from '../test-helpers/harness.js';
import { waitFor } from '../../test/support/index.js';

const state = () =>
  prepareRollout(
    {
      rolloutId: 'ro-1',
      brokerUrl: 'mqtt://127.0.0.1:1',
      topicPrefix: 'aim',
      config: aimConfig('c', -60),
      drones: ['a', 'b'],
      canary: 1,
      waves: [parseAmount('100%')],
      maxFailures: parseAmount('0'),
      timeoutS: 10,
      dryRun: false,
      rollback: false,
      skipOffline: false,
      now: new Date('2026-11-26T13:00:00Z'),
    },
    () => ({}),
    (c) => ({ version: c.version, id: c.id, sha256: 'f'.repeat(64), jws: 'x.y.z' }),
  );

t.test('StateSaver batches a burst of requests into one write; flush writes at once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aimctl-saver-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'state.json');
  const s = state();
  const saver = new StateSaver(file, () => s, 50);
  await saver.flush();
  t.equal(saver.writes, 1);
  for (let i = 0; i < 1000; i++) {
    s.drones.a!.reason = `ack ${i}`;
    saver.request();
  }
  t.equal(saver.writes, 1, 'nothing written synchronously');
  await waitFor('the batched write', () => saver.writes > 1, { timeoutMs: 5000, intervalMs: 5 });
  t.equal(saver.writes, 2, '1,000 requests, one write');
  t.equal((await readStateFile(file)).drones.a!.reason, 'ack 999', 'the latest state');
  s.drones.a!.reason = 'final';
  saver.request();
  await saver.flush();
  t.equal((await readStateFile(file)).drones.a!.reason, 'final', 'flush does not wait for the batch delay');
  t.equal(saver.writes, 3);
});
