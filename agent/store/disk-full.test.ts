import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAimError } from '../../protocol/index.js';
import { waitFor } from '../../test/support/index.js';
import { decodeHeartbeat } from './heartbeat-file.js';
import { AimStore, Locksmith, procInfo, readUptimeMs } from './index.js';
import { docFor } from './test-fixtures/docs.js';

// A real full disk: a 64 KiB tmpfs mounted for the test (we run as root in CI). Where it cannot be
// mounted the test is skipped, visibly and with the reason (the injected-fs cases in aim-store.test.ts
// still cover ENOSPC/EIO); it never passes without having run.

function mount(dir: string): string | undefined {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', dir], { stdio: 'pipe' });
    return undefined;
  } catch (err) {
    const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
    return `cannot mount a tmpfs here (${stderr || (err as Error).message}); aim-store.test.ts covers ENOSPC with an injected fs`;
  }
}

/** Decided before the test starts, so a failed mount is a reported skip, not a silent pass. */
function mountProbe(): string | false {
  if (process.getuid?.() !== 0) return 'needs root to mount a tmpfs; aim-store.test.ts covers ENOSPC with an injected fs';
  const dir = mkdtempSync(join(tmpdir(), 'aim-full-probe-'));
  try {
    const why = mount(dir);
    if (why !== undefined) return why;
    execFileSync('umount', [dir], { stdio: 'pipe' });
    return false;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function mountTinyTmpfs(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-full-'));
  const why = mount(dir);
  if (why !== undefined) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(why);
  }
  t.teardown(() => {
    try {
      execFileSync('umount', [dir], { stdio: 'pipe' });
    } catch {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    }
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Fill the file system until ENOSPC; returns the filler's path (delete it to free the space). */
function fill(dir: string, name = 'filler'): string {
  const path = join(dir, name);
  const fd = openSync(path, 'w');
  const chunk = Buffer.alloc(4096, 0x55);
  try {
    for (;;) writeSync(fd, chunk);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
  } finally {
    closeSync(fd);
  }
  return path;
}

const skip = mountProbe();

t.test('disk full: staging, committing and locking fail with AIM_ERR_STORE_IO; the current file is untouched', { skip }, async (t) => {
  const mnt = mountTinyTmpfs(t);
  const stateDir = join(mnt, 'state');
  const store = new AimStore({ stateDir });
  await store.init();
  // The lock's clock and heartbeat timer are driven by hand, so "three TTLs on a full disk" is exact.
  let now = readUptimeMs();
  const proc = { ...procInfo, uptimeMs: () => now };
  let beat: (() => void) | undefined;
  const timers = { setInterval: (fn: () => void) => (beat = fn), clearInterval: () => undefined };
  const smith = new Locksmith({ stateDir, ttlMs: 400, proc, timers });
  t.teardown(() => smith.close());
  const lock = await smith.acquire({ timeoutMs: 1000 });
  await store.commit(await store.stage(docFor(1, 5)), lock, { appliedAt: '2026-11-26T14:00:00Z' });
  const current = readFileSync(join(stateDir, 'aim-params.json'));
  const stagedBeforeFull = await store.stage(docFor(2, 5));

  const filler = fill(mnt);
  const temps = () => readdirSync(stateDir).filter((n) => n.endsWith('.tmp'));

  const stageErr = await store.stage(docFor(3, 5)).catch((e: unknown) => e);
  t.ok(isAimError(stageErr, 'AIM_ERR_STORE_IO'), `stage: ${String(stageErr)}`);
  t.match((stageErr as Error).message, /ENOSPC.*the current aim file is untouched/);
  t.same(temps(), [stagedBeforeFull.path.split('/').pop()], 'the failed stage left nothing behind');

  const commitErr = await store.commit(stagedBeforeFull, lock, { appliedAt: 'x' }).catch((e: unknown) => e);
  t.ok(isAimError(commitErr, 'AIM_ERR_STORE_IO'), `commit: ${String(commitErr)}`);
  t.match((commitErr as { details?: unknown }).details, { errno: 'ENOSPC' });
  t.same(readFileSync(join(stateDir, 'aim-params.json')), current, 'current file untouched');
  t.equal((await store.readState()).appliedVersion, 1);
  t.same(temps(), []);

  // The heartbeat rewrites its file in place, so a full disk does not cost the holder its lock.
  const hb = join(stateDir, `aim.lock.hb-${lock.token}`);
  for (let i = 1; i <= 12; i++) {
    now += 100; // TTL/4: twelve beats are three TTLs
    beat!();
    await waitFor(`beat ${i} on a full disk`, () => decodeHeartbeat(readFileSync(hb))?.uptimeMs === now, { timeoutMs: 5000 });
  }
  t.match(await smith.status(), { state: 'held', owner: { token: lock.token }, heartbeatAgeMs: 0 });
  t.notOk(lock.lost);
  await lock.assertHeld();

  await lock.release();
  const filler2 = fill(mnt, 'filler2'); // release freed the heartbeat file's page
  await t.rejects(smith.acquire({ timeoutMs: 0 }), { code: 'AIM_ERR_STORE_IO' }, 'taking the lock needs a little space: a clear error, not a hang');

  t.same(await smith.status(), { state: 'free' }, 'the failed acquire left no lock behind');
  unlinkSync(filler);
  unlinkSync(filler2);
  const again = await smith.acquire({ timeoutMs: 1000 });
  await store.commit(await store.stage(docFor(3, 5)), again, { appliedAt: 'x' });
  t.equal((await store.readCurrent())?.config.version, 3, 'works again once space is freed');
  await again.release();
});
