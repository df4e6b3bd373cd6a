import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startFcSim } from '../../sim/index.js';
import { spawnCli, waitFor } from '../../test/support/index.js';
import { Locksmith } from '../store/index.js';

// A real `aim-agent apply` pushing 32 parameters to fc-sim with 400 ms one-way latency, SIGSTOPped
// after its first PARAM_SET reached the FC, kept stopped until another process took the (1 s TTL)
// lock, then resumed: it must not send one more PARAM_SET (no rest of the push, no rollback).
t.test('a holder SIGSTOPped past its TTL while pushing to a slow FC sends no PARAM_SET after it resumes', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-fence-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const stateDir = join(dir, 'state');
  const sim = await startFcSim({ link: 'tcp:127.0.0.1:0', latencyMs: 400, readLatencyMs: 5 });
  t.teardown(() => sim.stop());
  const names = ['PILOT_THR_FILT', 'PILOT_TKOFF_ALT', 'RTL_ALT', 'GPS_HDOP_GOOD', 'LAND_SPEED', 'PILOT_SPEED_UP', 'PILOT_ACCEL_Z', 'THR_DZ', 'FS_THR_VALUE', 'ANGLE_MAX', 'GCS_PID_MASK', 'RC8_OPTION', 'FLTMODE1', 'FLTMODE2', 'FLTMODE3', 'DISARM_DELAY',
    // More than a TCP link's window of 20 sets in flight, so the push is still going when it is stopped.
    'WPNAV_SPEED', 'WPNAV_RADIUS', 'WPNAV_SPEED_UP', 'WPNAV_SPEED_DN', 'WPNAV_ACCEL', 'WPNAV_ACCEL_Z', 'WPNAV_JERK', 'WPNAV_TER_MARGIN',
    'LOIT_ANG_MAX', 'LOIT_SPEED', 'LOIT_ACC_MAX', 'LOIT_BRK_ACCEL', 'LOIT_BRK_JERK', 'LOIT_BRK_DELAY', 'CIRCLE_RADIUS', 'CIRCLE_RATE'];
  const params = Object.fromEntries(names.map((n, i) => [n, i + 3]));
  const cfgFile = join(dir, 'config.json');
  writeFileSync(cfgFile, JSON.stringify({ kind: 'aim-config', schemaVersion: 1, version: 1, id: 'fence', issuedAt: '2026-12-01T11:00:00Z', params }));
  const settingsFile = join(dir, 'agent.json');
  writeFileSync(settingsFile, JSON.stringify({ droneId: 'd1', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: sim.link }, stateDir, lock: { ttlS: 1 }, security: { requireSignature: false } }));

  const sets: { name: string; at: number }[] = [];
  sim.on('param-set', (name: string) => sets.push({ name, at: performance.now() }));
  const holder = spawnCli(t, 'aim-agent', ['apply', cfgFile, '--settings', settingsFile, '--allow-unsigned']);
  await waitFor('the first PARAM_SET at the FC', () => sets.length > 0, { timeoutMs: 20_000, intervalMs: 2 });
  holder.kill('SIGSTOP');
  t.teardown(() => holder.kill('SIGCONT'));

  // Another writer takes the lock once the frozen holder is stale (TTL 1 s on its heartbeat).
  const breaker = new Locksmith({ stateDir, ttlMs: 1000 });
  t.teardown(() => breaker.close());
  const lock = await breaker.acquire({ timeoutMs: 15_000 });
  // Everything the holder sent before its stop has crossed the 400 ms latency by now (the TTL is longer).
  await waitFor('in-flight frames delivered', () => performance.now() - sets[sets.length - 1]!.at > 450, { timeoutMs: 5000 });
  const beforeResume = sets.length;
  t.ok(beforeResume < names.length, `the holder was stopped mid-push (${beforeResume} of ${names.length} sent)`);
  holder.kill('SIGCONT');
  const code = await Promise.race([holder.exited, new Promise<number>((_, rej) => setTimeout(() => rej(new Error('holder did not exit')), 20_000))]);
  // A frame the holder sent before it exited reaches the FC at most one latency (400 ms) later.
  const exitedAt = performance.now();
  await waitFor('one latency period after the exit', () => performance.now() - exitedAt > 450, { timeoutMs: 2000 });
  t.equal(sets.length - beforeResume, 0, `no PARAM_SET after the resume (got ${sets.slice(beforeResume).map((s) => s.name).join(', ')})`);
  t.equal(code, 1, 'apply failed');
  const ack = JSON.parse(holder.stdout()) as { status: string; rolledBack?: boolean; code?: string; reason: string };
  t.match(ack, { status: 'failed', stage: 'push', rolledBack: false });
  t.ok(ack.code === 'AIM_ERR_ABORTED' || ack.code === 'AIM_ERR_FENCED' || ack.code === 'AIM_ERR_LOCK_LOST', `code ${ack.code}: ${ack.reason}`);
  await lock.release();
});
