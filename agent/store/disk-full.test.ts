import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAimError } from '../../protocol/index.js';
import { waitFor } from '../../test/support/index.js';
import { AimStore, Locksmith, readUptimeMs } from './index.js';
import { docFor } from './test-fixtures/docs.js';

// A real full disk: a 64 KiB tmpfs mounted for the test (we run as root in CI; elsewhere the
// injected-fs cases in aim-store.test.ts cover ENOSPC/EIO).

function mountTinyTmpfs(t: Test): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), 'aim-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k,mode=0755', 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    return undefined;
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

const skip = process.getuid?.() === 0 ? false : 'needs root to mount a tmpfs';

t.test('disk full: staging, committing and locking fail with AIM_ERR_STORE_IO; the current file is untouched', { skip }, async (t) => {
  const mnt = mountTinyTmpfs(t);
  if (mnt === undefined) {
    t.comment('mount -t tmpfs failed (no CAP_SYS_ADMIN?): the injected-fs cases in aim-store.test.ts still cover ENOSPC');
    return;
  }
  const stateDir = join(mnt, 'state');
  const store = new AimStore({ stateDir });
  await store.init();
  const smith = new Locksmith({ stateDir, ttlMs: 400 });
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
  const since = readUptimeMs();
  await waitFor('three TTLs on a full disk', () => readUptimeMs() > since + 1300, { timeoutMs: 10_000 });
  t.match(await smith.status(), { state: 'held', owner: { token: lock.token } });
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
