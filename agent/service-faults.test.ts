import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { configToFcParams, parseAimConfig, validateAimConfig, type AimConfig } from '../protocol/index.js';
import { startFcSim } from '../sim/index.js';
import { spawnCli, waitFor, type Tracked } from '../test/support/index.js';
import { Locksmith } from './store/index.js';
import { harness, type Harness } from './test-helpers/harness.js';

// Faults: the agent killed mid-apply, the FC link cut mid-push, a full disk, hostile payloads.
// 50 process restarts take a while on a loaded 2-core machine: this file gets 15 minutes.
t.setTimeout(900_000);

const aimFile = (h: Harness) => join(h.stateDir, 'aim-params.json');
const fcMatches = (h: Harness, cfg: AimConfig) => configToFcParams(cfg).every((p) => Math.fround(h.fc.getParam(p.name) ?? NaN) === Math.fround(p.value));

t.test('agent SIGKILLed at 50 random points of an apply: after restart the file is whole, the lock reclaimed, FC matches file, reported tells the truth', { timeout: 600_000 }, async (t) => {
  // fc-sim answers 15 ms late, so an apply of ~10 parameters spans the kill window.
  const h = await harness(t, { startAgent: false, fc: { latencyMs: 15 } });
  const rounds = 50;
  const delays = fc.sample(fc.integer({ min: 0, max: 400 }), { numRuns: rounds, seed: 42 });
  let agent: Tracked | undefined;
  const start = async () => {
    const n = h.statuses.length;
    agent = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile]);
    await waitFor('agent online', () => h.statuses.slice(n).some((s) => s.state === 'online'), { timeoutMs: 20_000 });
  };
  await start();
  const killedIn = { before: 0, after: 0 };
  for (let i = 0; i < rounds; i++) {
    const version = i + 1;
    const cfg = h.config(version, { params: { MNT1_LEAD_RLL: (version % 20) / 100, MNT1_LEAD_PTCH: ((version + 7) % 20) / 100 } });
    await h.publish(h.sign(cfg));
    // The kill point is the random part of the test; it is not used to wait for anything.
    await new Promise((r) => setTimeout(r, delays[i]));
    agent!.kill('SIGKILL');
    await agent!.exited;
    // Right after the kill, before any restart: the file is whole (old or new document, never torn).
    let onDisk: AimConfig | undefined;
    try {
      const r = parseAimConfig(readFileSync(aimFile(h)));
      t.ok(r.ok, `round ${version}: the aim file parses and validates`);
      if (r.ok) onDisk = r.config;
    } catch (err) {
      t.equal((err as NodeJS.ErrnoException).code, 'ENOENT', `round ${version}: no file yet is the only other state`);
      t.equal(version, 1);
    }
    if (onDisk !== undefined) {
      t.ok(onDisk.version === version || onDisk.version === version - 1, `round ${version}: file holds v${onDisk.version}`);
      if (onDisk.version === version) killedIn.after++;
      else killedIn.before++;
    }
    await start();
    // After restart: the stale lock was reclaimed and the retained desired applied (or found applied).
    await waitFor(`round ${version}: reported v${version} verified`, () => h.reported.some((r) => r.version === version && r.fc.verified), { timeoutMs: 20_000 });
    const file = parseAimConfig(readFileSync(aimFile(h)));
    t.ok(file.ok && file.config.version === version, `round ${version}: file holds v${version}`);
    await waitFor(`round ${version}: FC matches the file`, () => fcMatches(h, cfg), { timeoutMs: 5000 });
    const verdict = await new Locksmith({ stateDir: h.stateDir }).status();
    t.not(verdict.state, 'stale', `round ${version}: no stale lock left behind`);
  }
  t.comment(`kills landed before the commit ${killedIn.before}×, after it ${killedIn.after}×`);
  agent!.kill('SIGTERM');
  await agent!.exited;
});

t.test('FC link lost mid-push: failed ack; when the FC returns, reconciliation puts it back on the file', async (t) => {
  const h = await harness(t, { fc: { latencyMs: 20 } });
  await h.publish(h.sign(h.config(1)));
  await h.waitAck((a) => a.version === 1 && a.status === 'applied', 'v1');
  const link = h.fc.link;
  const sets = h.fc.stats.paramSets;
  const cfg2 = h.config(2, { mount: { pitch: { minDeg: -60, maxDeg: 5 }, rcRateDegS: 70, defaultMode: 'neutral', roll: { minDeg: -20, maxDeg: 20 } } });
  await h.publish(h.sign(cfg2));
  await waitFor('push under way', () => h.fc.stats.paramSets > sets, { timeoutMs: 10_000, intervalMs: 1 });
  const values = Object.fromEntries([...h.fc.params].map(([k, v]) => [k, v.value]));
  await h.fc.stop();
  const ack = await h.waitAck((a) => a.version === 2, 'v2 ack', 30_000);
  t.equal(ack.status, 'failed');
  t.equal(ack.stage, 'push');
  t.equal(ack.rolledBack, false, 'with the link gone the FC could not be restored, and the ack says so');
  t.equal((JSON.parse(readFileSync(aimFile(h), 'utf8')) as AimConfig).version, 1, 'the file still holds v1');
  // The FC comes back (same port) holding whatever it had when the link dropped: reconciliation repairs it.
  const port = Number(link.split(':').pop());
  const fc2 = await startFcSim({ link: `tcp:127.0.0.1:${port}`, params: values, readLatencyMs: 5 });
  t.teardown(() => fc2.stop());
  h.fc = fc2;
  await waitFor('reported v1 verified after the link returned', () => h.reported.some((r) => r.version === 1 && r.fc.verified && r.fc.driftRepaired !== undefined) || (fcMatches(h, h.config(1)) && h.reported.filter((r) => r.version === 1).length >= 2), { timeoutMs: 20_000 });
  t.ok(fcMatches(h, h.config(1)), 'the FC is back on the file');
});

t.test('disk full while staging: failed, nothing changed on the FC or in the file', async (t) => {
  if (process.getuid?.() !== 0) {
    t.comment('skipped: needs root to mount a small tmpfs');
    return;
  }
  const h = await harness(t, { startAgent: false });
  mkdirSync(h.stateDir, { recursive: true });
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', h.stateDir]);
  } catch (err) {
    if (process.env.CI) t.fail(`cannot mount tmpfs: ${String(err)}`);
    else t.comment('skipped: mount not permitted here');
    return;
  }
  t.teardown(() => execFileSync('umount', ['-l', h.stateDir]));
  await h.startAgent();
  await h.publish(h.sign(h.config(1)));
  await h.waitAck((a) => a.version === 1 && a.status === 'applied', 'v1');
  const before = readFileSync(aimFile(h), 'utf8');
  const fcBefore = h.fc.getParam('MNT1_RC_RATE');
  // Fill the disk, then free 16 KiB: enough for the lock's small files, not for a ~40 KB aim file.
  const filler = join(h.stateDir, 'filler');
  try {
    execFileSync('dd', ['if=/dev/zero', `of=${filler}`, 'bs=4k'], { stdio: 'ignore' });
  } catch {
    /* dd stops with ENOSPC: that is the point */
  }
  execFileSync('truncate', ['-s', '-16K', filler]);
  const big = h.config(2, { params: Object.fromEntries(Array.from({ length: 1500 }, (_, i) => [`P${i}`, i])) as Record<string, number> });
  t.ok(validateAimConfig(big).ok);
  await h.publish(h.sign(big));
  const ack = await h.waitAck((a) => a.version === 2, 'v2 ack', 15_000);
  t.match(ack, { status: 'failed', stage: 'stage', code: 'AIM_ERR_STORE_IO', rolledBack: true });
  t.equal(readFileSync(aimFile(h), 'utf8'), before, 'the aim file is untouched');
  t.equal(h.fc.getParam('MNT1_RC_RATE'), fcBefore, 'nothing was sent to the FC');
  t.equal(h.agent?.status().state, 'online', 'the agent is still up');
});

t.test('2,000 hostile payloads: every one rejected with a reason, the agent stays up, the file unchanged', async (t) => {
  const h = await harness(t);
  await h.publish(h.sign(h.config(100)));
  await h.waitAck((a) => a.version === 100 && a.status === 'applied', 'v100');
  const before = readFileSync(aimFile(h), 'utf8');
  const valid = JSON.stringify(h.config(101));
  const jws = h.sign(h.config(101));
  const other = h.sign({ ...h.config(101), mount: { pitch: { minDeg: 50, maxDeg: -50 } } });
  const payloads = fc.sample(
    fc.oneof(
      fc.uint8Array({ minLength: 0, maxLength: 400 }).map((b) => Buffer.from(b)),
      fc.nat(jws.length - 1).map((n) => Buffer.from(jws.slice(0, n))),
      fc.tuple(fc.nat(jws.length - 1), fc.string({ minLength: 1, maxLength: 1 })).map(([i, c]) => Buffer.from(jws.slice(0, i) + c + jws.slice(i + 1))),
      fc.constant(Buffer.from(valid)),
      fc.constant(Buffer.from(other)),
      fc.constant(Buffer.from('['.repeat(50_000))),
      fc.constant(Buffer.alloc(200_000, 0x41)),
      fc.constant(Buffer.from(`{"a":${'{"a":'.repeat(1000)}1${'}'.repeat(1001)}`)),
      fc.constant(Buffer.from('{"__proto__":{"polluted":1}}')),
    ),
    { numRuns: 2000, seed: 2026 },
    // A mutation that happens to leave the JWS intact is not hostile; nor is an empty message: it withdraws
    // the desired config (no ack; agent/withdraw.test.ts).
  ).filter((p) => p.toString() !== jws && p.length > 0);
  const n0 = h.acks.length;
  for (const p of payloads) await h.publish(p, { retain: false });
  await waitFor(`${payloads.length} acks`, () => h.acks.length - n0 >= payloads.length, { timeoutMs: 120_000, intervalMs: 50 });
  const acks = h.acks.slice(n0);
  t.equal(acks.filter((a) => a.status !== 'rejected').length, 0, 'every payload was rejected');
  t.ok(acks.every((a) => typeof a.reason === 'string' && a.reason.length > 0 && a.errors.length > 0), 'each with a reason and errors');
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'no prototype pollution');
  t.equal(readFileSync(aimFile(h), 'utf8'), before, 'the aim file is unchanged');
  t.equal(h.agent?.status().state, 'online');
  await h.publish(h.sign(h.config(102)));
  t.equal((await h.waitAck((a) => a.version === 102, 'v102 after the storm')).status, 'applied');
});
