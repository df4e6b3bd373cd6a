import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAimError } from '../../protocol/index.js';
import { nextEvent, waitFor } from '../../test/support/index.js';
import { Locksmith, nodeFs, procInfo, readUptimeMs, type LockRecord, type LocksmithOptions, type ReclaimInfo } from './index.js';
import { decodeHeartbeat } from './heartbeat-file.js';
import { LockDir } from './lock-dir.js';
import { silentStoreLogger, type StoreLogger } from './logger.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-lock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function smithFor(t: Test, stateDir: string, opts: Partial<LocksmithOptions> = {}): Locksmith {
  const s = new Locksmith({ stateDir, ...opts });
  t.teardown(() => s.close());
  return s;
}

/** A lock record as another process would have written it; fields default to a live owner: us. */
function writeRecord(dir: string, over: Partial<LockRecord> = {}): LockRecord {
  const now = readUptimeMs();
  const rec: LockRecord = {
    pid: process.pid,
    startTime: procInfo.startTime(process.pid) ?? '0',
    bootId: procInfo.bootId(),
    host: hostname(),
    acquiredAt: new Date().toISOString(),
    acquiredUptimeMs: now,
    heartbeatAt: new Date().toISOString(),
    heartbeatUptimeMs: now,
    token: 7,
    ttlMs: 10_000,
    nonce: 'feedfacefeedface',
    ...over,
  };
  writeFileSync(join(dir, 'aim.lock'), JSON.stringify(rec) + '\n');
  return rec;
}

function capturingLogger(): StoreLogger & { warnings: { obj: object; msg?: string }[] } {
  const warnings: { obj: object; msg?: string }[] = [];
  return { ...silentStoreLogger, warn: (obj, msg) => void warnings.push({ obj, msg }), warnings };
}

t.test('acquire writes the owner record; release frees it; tokens increase across instances', async (t) => {
  const dir = join(tempDir(t), 'state');
  const tokens: number[] = [];
  for (let i = 0; i < 3; i++) {
    const smith = smithFor(t, dir, { command: 'test' });
    const h = await smith.acquire({ timeoutMs: 0 });
    tokens.push(h.token);
    const v = await smith.status();
    t.equal(v.state, 'held');
    if (v.state === 'held') {
      t.match(v.owner, { pid: process.pid, startTime: procInfo.startTime(process.pid), bootId: procInfo.bootId(), host: hostname(), token: h.token, command: 'test' });
      t.ok(v.heartbeatAgeMs < 1000);
    }
    await h.release();
    await h.release();
    t.same(await smith.status(), { state: 'free' });
  }
  t.same(tokens, [1, 2, 3]);
  t.equal(readFileSync(join(dir, 'fence.token'), 'utf8').trim(), '3', 'the counter is persisted');
  t.same(readdirSync(dir).sort(), ['fence.token'], 'release leaves no lock, heartbeat or temp file');
});

t.test('eight racers for a free lock: exactly one wins', async (t) => {
  const dir = tempDir(t);
  for (let round = 0; round < 5; round++) {
    const smiths = Array.from({ length: 8 }, () => smithFor(t, dir));
    const results = await Promise.allSettled(smiths.map((s) => s.acquire({ timeoutMs: 0 })));
    const winners = results.filter((r) => r.status === 'fulfilled');
    t.equal(winners.length, 1, `round ${round}: one winner`);
    for (const r of results) if (r.status === 'rejected') t.ok(isAimError(r.reason, 'AIM_ERR_LOCK_TIMEOUT'), String(r.reason));
    for (const w of winners) if (w.status === 'fulfilled') await w.value.release();
  }
});

t.test('staleness: boot id, pid gone, pid reused, heartbeat age — never the wall clock', async (t) => {
  const dir = tempDir(t);
  const smith = smithFor(t, dir);
  writeRecord(dir, { acquiredAt: '1970-01-01T00:00:00.000Z', heartbeatAt: '2099-01-01T00:00:00.000Z' });
  t.match(await smith.status(), { state: 'held' }, 'wall times in the record are ignored');
  writeRecord(dir, { bootId: '00000000-0000-0000-0000-000000000000', startTime: '1' });
  t.match(await smith.status(), { state: 'stale', reason: /another boot/ });
  writeRecord(dir, { pid: 2 ** 22 + 5 });
  t.match(await smith.status(), { state: 'stale', reason: /is gone/ });
  writeRecord(dir, { startTime: '1' });
  t.match(await smith.status(), { state: 'stale', reason: /another process/ }, 'live pid, other start time: pid reuse');
  writeRecord(dir, { heartbeatUptimeMs: readUptimeMs() - 11_000, heartbeatAt: new Date().toISOString() });
  t.match(await smith.status(), { state: 'stale', reason: /heartbeat is \d+ ms old/ }, 'wall-clock-fresh but monotonic-old heartbeat');
  writeFileSync(join(dir, 'aim.lock'), '');
  t.match(await smith.status(), { state: 'stale', reason: /unreadable/ });
});

t.test('a lock from another boot is reclaimed at start, logged with the dead owner\'s record', async (t) => {
  const dir = tempDir(t);
  const logger = capturingLogger();
  const smith = smithFor(t, dir, { logger });
  const dead = writeRecord(dir, { bootId: 'b0075000-0000-0000-0000-000000000000', startTime: '1', token: 41 });
  const event = nextEvent<ReclaimInfo>(smith, 'reclaimed');
  const r = await smith.reclaimStale();
  t.match(r, { owner: dead, reason: /another boot/ });
  t.match(await event, { owner: { token: 41 } });
  t.match(logger.warnings, [{ obj: { owner: dead }, msg: /reclaimed stale/ }]);
  t.same(await smith.status(), { state: 'free' });
  t.equal(await smith.reclaimStale(), undefined, 'nothing left to reclaim');
  const h = await smith.acquire({ timeoutMs: 0 });
  t.ok(h.token > 41, 'the next token is above the reclaimed one');
});

t.test('the heartbeat keeps a live holder fresh past its TTL; without beats it is stale exactly after the TTL (injected clock and timer)', async (t) => {
  const dir = tempDir(t);
  let now = readUptimeMs();
  const proc = { ...procInfo, uptimeMs: () => now };
  const beats: (() => void)[] = [];
  const periods: number[] = [];
  const timers = {
    setInterval: (fn: () => void, ms: number) => (periods.push(ms), beats.push(fn)),
    clearInterval: () => undefined,
  };
  const holder = smithFor(t, dir, { proc, timers });
  const h = await holder.acquire();
  t.same(periods, [2500], 'one heartbeat timer, every TTL/4');
  const judge = smithFor(t, dir, { proc });
  const beatOnDisk = () => decodeHeartbeat(readFileSync(join(dir, `aim.lock.hb-${h.token}`)))?.uptimeMs;
  for (let i = 1; i <= 12; i++) {
    now += 2500; // three TTLs in all
    beats[0]!();
    await waitFor(`beat ${i} written`, () => beatOnDisk() === now, { timeoutMs: 5000 });
    t.match(await judge.status(), { state: 'held', owner: { token: h.token }, heartbeatAgeMs: 0 }, `after ${i * 2.5} s`);
  }
  t.notOk(h.lost);
  now += 10_000;
  t.match(await judge.status(), { state: 'held', heartbeatAgeMs: 10_000 }, 'a beat exactly one TTL old is still live');
  now += 1;
  t.match(await judge.status(), { state: 'stale', reason: /heartbeat is 10001 ms old, more than the 10000 ms TTL/ });
});

t.test('a frozen holder (heartbeat older than TTL) is broken; it learns it lost and is fenced', async (t) => {
  const dir = tempDir(t);
  const holder = smithFor(t, dir);
  const h = await holder.acquire();
  // Another process whose clock has moved 11 s on: the holder's last beat is older than the TTL.
  const later = smithFor(t, dir, { proc: { ...procInfo, uptimeMs: () => readUptimeMs() + 11_000 } });
  t.match(await later.status(), { state: 'stale', reason: /heartbeat/ });
  t.match(await later.breakLock({ force: false }), { broken: true });
  const next = await smithFor(t, dir).acquire({ timeoutMs: 0 });
  t.equal(next.token, h.token + 1);
  const lost = nextEvent(holder, 'lost');
  await t.rejects(h.assertHeld(), { code: 'AIM_ERR_FENCED' });
  t.match(await lost, { token: h.token, current: { token: next.token } });
  t.ok(h.lost);
  t.ok(h.signal.aborted, 'the handle\'s signal aborts so in-flight work can stop');
  await h.release();
  t.match(await smithFor(t, dir).status(), { state: 'held', owner: { token: next.token } }, 'releasing a lost handle leaves the new holder alone');
});

t.test('break: refuses a live lock without force; with force the old holder is fenced', async (t) => {
  const dir = tempDir(t);
  const holder = smithFor(t, dir);
  const h = await holder.acquire();
  const breaker = smithFor(t, dir);
  const err = await breaker.breakLock({ force: false }).catch((e: unknown) => e);
  t.ok(isAimError(err, 'AIM_ERR_LOCK_HELD'));
  t.match((err as Error).message, new RegExp(`live pid ${process.pid}`));
  t.match(await breaker.breakLock({ force: true }), { broken: true, verdict: { state: 'held' } });
  const next = await breaker.acquire({ timeoutMs: 0 });
  t.ok(next.token > h.token);
  await t.rejects(h.assertHeld(), { code: 'AIM_ERR_FENCED' });
  t.same(await breaker.breakLock({ force: false }).catch((e: unknown) => (e as { code: string }).code), 'AIM_ERR_LOCK_HELD');
});

t.test('a lock force-broken and not yet retaken: the old holder gets AIM_ERR_LOCK_LOST', async (t) => {
  const dir = tempDir(t);
  const holder = smithFor(t, dir);
  const h = await holder.acquire();
  await smithFor(t, dir).breakLock({ force: true });
  await t.rejects(h.assertHeld(), { code: 'AIM_ERR_LOCK_LOST' });
});

t.test('two breakers of one stale lock: exactly one breaks it', async (t) => {
  const dir = tempDir(t);
  for (let i = 0; i < 20; i++) {
    writeRecord(dir, { bootId: 'other-boot', startTime: '1', token: i });
    const a = smithFor(t, dir);
    const b = smithFor(t, dir);
    const events: unknown[] = [];
    a.on('reclaimed', (e) => events.push(e));
    b.on('reclaimed', (e) => events.push(e));
    const [ra, rb] = await Promise.all([a.breakLock({ force: false }), b.breakLock({ force: false })]);
    t.equal(Number(ra.broken) + Number(rb.broken), 1, `round ${i}: one breaker wins`);
    t.equal(events.length, 1);
  }
  t.same(readdirSync(dir).filter((n) => n.endsWith('.tomb')), []);
});

t.test('stale lock + waiting acquirers: one takes it, the rest wait for it', async (t) => {
  const dir = tempDir(t);
  writeRecord(dir, { pid: 2 ** 22 + 9, token: 3 });
  const smiths = Array.from({ length: 4 }, () => smithFor(t, dir));
  const results = await Promise.allSettled(smiths.map((s) => s.acquire({ timeoutMs: 0 })));
  t.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
});

t.test('a record moved aside that is not the one meant is put back', async (t) => {
  const dir = tempDir(t);
  writeRecord(dir);
  const before = readFileSync(join(dir, 'aim.lock'));
  const lockDir = new LockDir(dir, nodeFs, procInfo, silentStoreLogger);
  t.equal(await lockDir.removeIf(() => false), 'kept');
  t.same(readFileSync(join(dir, 'aim.lock')), before);
  t.equal(await lockDir.removeIf(() => true), 'removed');
  t.equal(await lockDir.removeIf(() => true), 'absent');
  t.same(readdirSync(dir), []);
});

t.test('waiting: released lock is taken at once; timeout names the holder; abort and close cancel', async (t) => {
  const dir = tempDir(t);
  const holder = smithFor(t, dir, { command: 'the-holder' });
  const h = await holder.acquire();
  const waiter = smithFor(t, dir);
  const err = await waiter.acquire({ timeoutMs: 100 }).catch((e: unknown) => e);
  t.ok(isAimError(err, 'AIM_ERR_LOCK_TIMEOUT'));
  t.match((err as Error).message, new RegExp(`pid ${process.pid} .*the-holder`));
  const ac = new AbortController();
  const aborted = waiter.acquire({ signal: ac.signal });
  ac.abort();
  await t.rejects(aborted, { code: 'AIM_ERR_ABORTED' });
  const closing = smithFor(t, dir);
  const pending = closing.acquire();
  await closing.close();
  await t.rejects(pending, { code: 'AIM_ERR_ABORTED' });
  const later = waiter.acquire({ timeoutMs: 5000 });
  await h.release();
  t.equal((await later).token, h.token + 1);
  await t.rejects(waiter.acquire({ timeoutMs: 1000 }), { code: 'AIM_ERR_LOCK_HELD' }, 'not re-entrant: a second acquire by the holder fails fast');
});

t.test('the sweep reclaims a stale lock within its period', async (t) => {
  const dir = tempDir(t);
  const smith = smithFor(t, dir, { sweepMs: 100 });
  smith.startSweep();
  smith.startSweep();
  writeRecord(dir, { bootId: 'gone-boot', startTime: '1', token: 5 });
  const ev = await nextEvent<ReclaimInfo>(smith, 'reclaimed', { timeoutMs: 3000 });
  t.match(ev, { owner: { token: 5 }, reason: /another boot/ });
  smith.stopSweep();
  t.same(await smith.status(), { state: 'free' });
});

t.test('a lost fence.token falls back to the highest token the state dir remembers', async (t) => {
  const dir = tempDir(t);
  const smith = smithFor(t, dir);
  await (await smith.acquire()).release();
  unlinkSync(join(dir, 'fence.token'));
  writeFileSync(join(dir, 'state.json'), JSON.stringify({ appliedVersion: 1, lastToken: 41 }));
  const h = await smith.acquire();
  t.equal(h.token, 42);
  await h.release();
  writeFileSync(join(dir, 'fence.token'), 'garbage');
  t.equal((await smith.acquire()).token, 42, 'an unreadable counter also falls back (state says 41)');
});

t.test('reclaimStale cleans crash leftovers and restores a live record a dead breaker left in a tombstone', async (t) => {
  const dir = tempDir(t);
  const smith = smithFor(t, dir);
  const h = await smith.acquire();
  const raw = readFileSync(join(dir, 'aim.lock'));
  writeFileSync(join(dir, 'aim.lock.00000000-4-4.aaaa.tmp'), 'x');
  writeFileSync(join(dir, 'fence.token.00000000-4-4.bbbb.tmp'), '9');
  writeFileSync(join(dir, 'aim.lock.hb-0'), 'old');
  // A breaker died right after moving our live record aside.
  unlinkSync(join(dir, 'aim.lock'));
  writeFileSync(join(dir, 'aim.lock.00000000-4-4.cccc.tomb'), raw);
  await smith.reclaimStale();
  t.same(readFileSync(join(dir, 'aim.lock')), raw, 'live record put back');
  t.same(readdirSync(dir).sort(), ['aim.lock', `aim.lock.hb-${h.token}`, 'fence.token']);
  await h.assertHeld();
  t.ok(existsSync(join(dir, 'fence.token')));
});

t.test('borrow: only the holder\'s secret capability hands the lock over, never its token; the fence closes when that holding ends', async (t) => {
  const dir = tempDir(t);
  const holder = smithFor(t, dir);
  const other = smithFor(t, dir);
  await t.rejects(other.borrow('x'.repeat(43)), { code: 'AIM_ERR_LOCK_LOST', message: /AIM_LOCK_CAPABILITY is not the live holder's \(the lock is free\)/ });
  const plain = await holder.acquire();
  t.equal(plain.capability, undefined, 'no hand-over unless asked for');
  await t.rejects(other.borrow(''), { code: 'AIM_ERR_LOCK_LOST' }, 'a holding without a capability cannot be borrowed');
  await plain.release();

  const h = await holder.acquire({ handOver: true });
  const cap = h.capability!;
  t.match(cap, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, base64url');
  const onDisk = readFileSync(join(dir, 'aim.lock'), 'utf8');
  t.notOk(onDisk.includes(cap), 'the lock record never holds the capability itself');
  t.match(JSON.parse(onDisk), { capabilitySha256: createHash('sha256').update(cap).digest('hex') });
  await t.rejects(other.borrow(String(h.token)), { code: 'AIM_ERR_LOCK_LOST', message: /the lock is held with token 2/ }, 'the public token is no key');
  await t.rejects(other.borrow(cap.slice(0, -1) + (cap.endsWith('A') ? 'B' : 'A')), { code: 'AIM_ERR_LOCK_LOST' });
  const b = await other.borrow(cap);
  t.equal(b.token, h.token);
  await b.assertHeld();
  await b.release();
  t.equal((await other.status()).state, 'held', "releasing a borrowed lock leaves the holder's lock alone");
  await h.release();
  await t.rejects(b.assertHeld(), { code: 'AIM_ERR_FENCED' }, 'the holder let go: a commit under the borrowed lock is fenced');
  const next = await holder.acquire({ handOver: true });
  await t.rejects(b.assertHeld(), { code: 'AIM_ERR_FENCED' }, 'and stays fenced when a newer holder has it');
  t.not(next.capability, cap, 'every holding has its own capability');
  await next.release();
});
