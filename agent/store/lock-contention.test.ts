import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AimStore } from './index.js';
import { spawnWorker } from './test-fixtures/workers.js';

// Mutual exclusion under contention, with real processes. The state dir lives on tmpfs (/dev/shm)
// when there is one: this test is about who holds the lock, not about fsync (the kill -9 test in
// crash-writer.test.ts covers durability on a real disk), and it keeps 1000 rounds fast.

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'aim-contend-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

t.test('4 processes × 250 acquire/stage/commit/release rounds: never two holders, tokens strictly increase', async (t) => {
  const dir = tempDir(t);
  const workers = [0, 1, 2, 3].map((i) => spawnWorker(t, ['contend', '--dir', dir, '--rounds', '250', '--id', String(i), '--pad', '10']));
  await Promise.all(workers.map((w) => w.waitForLine(/^(done|error .*)$/, 150_000)));
  const codes = await Promise.all(workers.map((w) => w.exited));
  t.same(codes, [0, 0, 0, 0], 'every worker finished');
  for (const w of workers) t.notMatch(w.stdout(), /^(error|lost) /m, 'no errors, no lost locks');

  const intervals = workers
    .flatMap((w) => w.stdout().split('\n'))
    .filter((l) => l.startsWith('iv '))
    .map((l) => {
      const [, t0, t1, token, id] = l.split(' ');
      return { t0: BigInt(t0 ?? '0'), t1: BigInt(t1 ?? '0'), token: Number(token), id: id ?? '' };
    })
    .sort((x, y) => (x.t0 < y.t0 ? -1 : x.t0 > y.t0 ? 1 : 0));
  t.equal(intervals.length, 1000);
  let overlaps = 0;
  let nonIncreasing = 0;
  for (let i = 1; i < intervals.length; i++) {
    const prev = intervals[i - 1]!;
    const cur = intervals[i]!;
    if (cur.t0 <= prev.t1) overlaps++;
    if (cur.token <= prev.token) nonIncreasing++;
  }
  t.equal(overlaps, 0, 'holding intervals (CLOCK_MONOTONIC, shared by all processes) never overlap');
  t.equal(nonIncreasing, 0, 'tokens strictly increase in holding order');
  t.equal(new Set(intervals.map((i) => i.id)).size, 4, 'all four processes held the lock');

  const store = new AimStore({ stateDir: dir });
  const cur = await store.readCurrent();
  t.equal(cur?.config.version, intervals.at(-1)?.token, 'the final file is the last holder\'s, and valid');
  t.same(readdirSync(dir).sort(), ['aim-params.json', 'aim-params.prev.json', 'fence.token', 'state.json']);
});
