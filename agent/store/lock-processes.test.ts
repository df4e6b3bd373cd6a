import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AimStore, Locksmith, readUptimeMs } from './index.js';
import { spawnWorker, tell } from './test-fixtures/workers.js';

// Real processes: lock-worker.ts children hold, freeze, die and contend for the lock.

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-lockp-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('kill -9 the holder: another process acquires at once, long before the TTL', async (t) => {
  const dir = tempDir(t);
  const a = spawnWorker(t, ['hold', '--dir', dir]); // default TTL: 10 s
  await a.waitForLine(/^acquired token=1$/, 30_000);
  const smith = new Locksmith({ stateDir: dir });
  t.teardown(() => smith.close());
  t.match(await smith.status(), { state: 'held', owner: { pid: a.child.pid, token: 1 } });
  a.kill('SIGKILL');
  await a.exited;
  const before = readUptimeMs();
  const h = await smith.acquire({ timeoutMs: 5000 });
  t.equal(h.token, 2);
  t.ok(readUptimeMs() - before < 5000, 'reclaimed on the dead pid, not on the 10 s TTL');
  await h.release();
});

t.test('SIGSTOP the holder past its TTL: another takes over; on SIGCONT the old holder is fenced', async (t) => {
  const dir = tempDir(t);
  const a = spawnWorker(t, ['hold', '--dir', dir, '--ttl', '1000']);
  await a.waitForLine(/^acquired token=1$/, 30_000);
  tell(a, 'commit 1');
  await a.waitForLine(/^committed v=1$/);
  a.kill('SIGSTOP');
  t.teardown(() => a.kill('SIGCONT'));

  const b = spawnWorker(t, ['hold', '--dir', dir, '--ttl', '1000']);
  await b.waitForLine(/^acquired token=2$/, 30_000);
  tell(b, 'commit 2');
  await b.waitForLine(/^committed v=2$/);

  a.kill('SIGCONT');
  tell(a, 'commit 3');
  await a.waitForLine(/^error AIM_ERR_FENCED /, 10_000);
  await a.waitForLine(/^lost the lock was taken over by pid \d+ \(token 2\)$/, 10_000);
  const store = new AimStore({ stateDir: dir });
  t.equal((await store.readCurrent())?.config.version, 2, 'the newer holder\'s file stays');
  t.equal((await store.readPrevious())?.config.version, 1);
  t.match(await store.readState(), { appliedVersion: 2, lastToken: 2, derived: false });

  tell(a, 'release');
  await a.waitForLine(/^released$/);
  const smith = new Locksmith({ stateDir: dir });
  t.teardown(() => smith.close());
  t.match(await smith.status(), { state: 'held', owner: { pid: b.child.pid, token: 2 } }, 'the old holder\'s release leaves the new lock alone');
  tell(b, 'release');
  await b.waitForLine(/^released$/);
  t.same(await smith.status(), { state: 'free' });
  tell(a, 'exit');
  tell(b, 'exit');
  t.equal(await a.exited, 0);
  t.equal(await b.exited, 0);
});
