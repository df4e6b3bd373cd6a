import { EventEmitter } from 'node:events';
import { watch, type FSWatcher } from 'node:fs';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { join } from 'node:path';
import { AimError, isAimError } from '../../protocol/errors.js';
import { DIR_MODE, deadLeftovers, errnoCode, nodeFs, readIfExists, storeIoError, tempPath, unlinkQuiet, writeDurable, type StoreFs } from './durable-fs.js';
import { readTokenCounter, tokenFloorFromDir, writeTokenCounter } from './fence-token.js';
import { HeartbeatWriter, heartbeatPath, heartbeatToken } from './heartbeat-file.js';
import { HeldLock, unrefIntervals, type IntervalTimers, type LockHandle, type LostInfo } from './held-lock.js';
import { linkedSignal } from './linked-signal.js';
import { LOCK_FILE, LockDir, type Inspection } from './lock-dir.js';
import { parseRecord, serializeRecord, type LockRecord, type LockVerdict } from './lock-record.js';
import { silentStoreLogger, type StoreLogger } from './logger.js';
import { procInfo, type ProcInfo } from './proc.js';

/*
 * The lock protocol (state dir files: aim.lock, aim.lock.hb-<token>, fence.token):
 *
 * acquire  write the owner record to a temp file and link() it to aim.lock: link never overwrites,
 *          so of two racers exactly one wins, and aim.lock only ever appears whole. The winner then
 *          advances fence.token (fsync file + dir) and opens its heartbeat file before the handle is
 *          handed out. The record carries the token, so it is never rewritten.
 * beat     every TTL/4 the holder rewrites aim.lock.hb-<token> in place and checks aim.lock still
 *          holds its nonce; if not, it is lost: 'lost' is emitted and its signal aborts.
 * stale    other boot id; pid gone (or a zombie); pid alive with another start time; heartbeat
 *          older than the owner's TTL on the shared /proc/uptime clock. Never wall time or mtimes.
 * break    rename aim.lock to a tombstone (one breaker wins the rename), re-read it and re-judge it:
 *          only if it is still the same record and still stale is it dropped; otherwise it is linked
 *          back. Release uses the same path with "is it my nonce" as the check.
 *
 * Windows we cannot close (POSIX has no compare-and-rename): a holder that is frozen for longer than
 * the TTL exactly between a successful check and the rename that follows it (the store's commit, the
 * tombstone restore) can still act once on a lock it has lost. Fencing narrows this to the few
 * microseconds between the check and the rename; see AimStore.commit.
 */

export interface LocksmithOptions {
  stateDir: string;
  /** A holder whose heartbeat is older than this is stale (default 10 000 ms; heartbeat every TTL/4). */
  ttlMs?: number;
  /** How often startSweep() reclaims stale locks (default 2000 ms). */
  sweepMs?: number;
  /** How often a waiting acquire re-checks a held lock, e.g. whether its pid died (default 50 ms). */
  pollMs?: number;
  logger?: StoreLogger;
  /** Recorded in the owner record, for `aim-agent lock status`. */
  command?: string;
  fs?: StoreFs;
  proc?: ProcInfo;
  /** The heartbeat's interval timer (default: real, unref'd). */
  timers?: IntervalTimers;
}

export interface ReclaimInfo {
  owner: LockRecord;
  reason: string;
}

export interface BreakResult {
  broken: boolean;
  /** What the lock was before the break. */
  verdict: LockVerdict;
}

/** A lock used on its holder's behalf (Locksmith.borrow): the holder heart-beats and releases it. */
export interface BorrowedLock {
  readonly token: number;
  readonly borrowed: true;
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

export interface LocksmithEvents {
  /** A holder learned it lost the lock; its commits are fenced from now on. */
  lost: [LostInfo];
  /** A stale lock was removed; `owner` is the dead owner's record. */
  reclaimed: [ReclaimInfo];
}

/** The aim lock. `const h = await smith.acquire({ timeoutMs: 5000 }); try { … } finally { await h.release(); }` */
export class Locksmith extends EventEmitter<LocksmithEvents> {
  readonly stateDir: string;
  readonly ttlMs: number;
  readonly sweepMs: number;
  readonly pollMs: number;
  readonly #fs: StoreFs;
  readonly #proc: ProcInfo;
  readonly #timers: IntervalTimers;
  readonly #log: StoreLogger;
  readonly #command: string | undefined;
  readonly #dir: LockDir;
  readonly #held = new Set<HeldLock>();
  readonly #closing = new AbortController();
  #sweepTimer: NodeJS.Timeout | undefined;
  #sweeping = false;
  /** The highest token seen in any record: the next token goes above it even if fence.token lags (hand edits, lost file). */
  #seenToken = 0;

  constructor(opts: LocksmithOptions) {
    super();
    this.stateDir = opts.stateDir;
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.sweepMs = opts.sweepMs ?? 2000;
    this.pollMs = opts.pollMs ?? 50;
    this.#fs = opts.fs ?? nodeFs;
    this.#proc = opts.proc ?? procInfo;
    this.#timers = opts.timers ?? unrefIntervals;
    this.#log = opts.logger ?? silentStoreLogger;
    this.#command = opts.command;
    this.#dir = new LockDir(this.stateDir, this.#fs, this.#proc, this.#log);
  }

  /**
   * Take the lock, waiting up to `timeoutMs` (default: forever; 0 = one try). With `handOver` the
   * handle carries a fresh `capability` that lets another process borrow() this holding. Throws AIM_ERR_LOCK_TIMEOUT, AIM_ERR_ABORTED, AIM_ERR_STORE_IO.
   */
  async acquire(opts: { timeoutMs?: number; signal?: AbortSignal; handOver?: boolean } = {}): Promise<LockHandle> {
    const started = performance.now();
    const linked = opts.signal === undefined ? undefined : linkedSignal([opts.signal, this.#closing.signal]);
    const signal = linked?.signal ?? this.#closing.signal;
    let floor = 0;
    let watcher: DirWatch | undefined;
    const capability = opts.handOver === true ? randomBytes(32).toString('base64url') : undefined;
    try {
      await this.#ensureDir();
      for (;;) {
        if (signal.aborted) throw new AimError('AIM_ERR_ABORTED', 'aim lock acquire was cancelled', { cause: signal.reason });
        const ins = await this.#inspect();
        const v = ins.verdict;
        if (v.state === 'stale') {
          floor = Math.max(floor, v.owner.token);
          await this.#breakStale(ins);
          continue;
        }
        if (v.state === 'held') {
          if ([...this.#held].some((h) => h.record.nonce === v.owner.nonce)) {
            throw new AimError('AIM_ERR_LOCK_HELD', `aim lock is already held by this process (token ${v.owner.token})`, { details: { owner: v.owner } });
          }
          floor = Math.max(floor, v.owner.token);
          const left = (opts.timeoutMs ?? Infinity) - (performance.now() - started);
          if (left <= 0) {
            throw new AimError('AIM_ERR_LOCK_TIMEOUT', `aim lock is held by live pid ${v.owner.pid} (token ${v.owner.token}${v.owner.command ? `, ${v.owner.command}` : ''}) after waiting ${Math.round(performance.now() - started)} ms`, { details: { owner: v.owner } });
          }
          watcher ??= new DirWatch(this.stateDir);
          await watcher.wait(Math.min(this.pollMs, left), signal);
          continue;
        }
        const got = await this.#tryTake(floor, capability);
        if (got instanceof HeldLock) return got;
        floor = Math.max(floor, got);
      }
    } finally {
      watcher?.close();
      linked?.dispose();
    }
  }

  /**
   * Work under a lock another live process holds and handed over (`aim-agent lock run` puts
   * AIM_LOCK_CAPABILITY in its command's environment, like flock(1) passing its descriptor). The
   * capability is 32 random bytes that only the holder and its child know; the lock record keeps
   * its sha256, so neither `lock status` nor the token (a small public number) grants anything.
   * Nothing is taken or released here: the holder keeps heart-beating and releases it. The handle's
   * assertHeld (the store's commit fence) fails once that holding is over.
   * Throws AIM_ERR_LOCK_LOST when the capability is not the live holder's now.
   */
  async borrow(capability: string): Promise<BorrowedLock> {
    const wanted = sha256(capability);
    let nonce: string | undefined;
    const check = async (code: 'AIM_ERR_LOCK_LOST' | 'AIM_ERR_FENCED') => {
      const v = (await this.#inspect()).verdict;
      const ok = v.state === 'held' && v.owner.capabilitySha256 !== undefined && sameHex(v.owner.capabilitySha256, wanted) && (nonce === undefined || v.owner.nonce === nonce);
      if (!ok) {
        const now = v.state === 'free' ? 'the lock is free' : `the lock is ${v.state === 'held' ? 'held' : 'stale'} with token ${v.owner.token}`;
        throw new AimError(code, `AIM_LOCK_CAPABILITY is not the live holder's (${now})`);
      }
      nonce = v.owner.nonce;
      return v.owner.token;
    };
    const token = await check('AIM_ERR_LOCK_LOST');
    this.#log.info({ token }, 'aim lock borrowed from its holder (AIM_LOCK_CAPABILITY)');
    return { token, borrowed: true, assertHeld: async () => void (await check('AIM_ERR_FENCED')), release: async () => undefined };
  }

  /** The lock as it is now: free, held by a live owner (for how long), or stale and why. */
  async status(): Promise<LockVerdict> {
    return (await this.#inspect()).verdict;
  }

  /** The highest fencing token handed out so far (0 before the first). */
  async lastToken(): Promise<number> {
    return this.#counter();
  }

  /** Remove a stale lock (and crash leftovers). The service's first act at start; the sweep runs it too. */
  async reclaimStale(): Promise<ReclaimInfo | undefined> {
    await this.#cleanLeftovers().catch((err: unknown) => {
      throw isAimError(err) ? err : storeIoError('cannot clean lock leftovers in', this.stateDir, err);
    });
    const ins = await this.#inspect();
    return ins.verdict.state === 'stale' ? this.#breakStale(ins) : undefined;
  }

  startSweep(): void {
    if (this.#sweepTimer !== undefined) return;
    this.#sweepTimer = setInterval(() => {
      if (this.#sweeping) return;
      this.#sweeping = true;
      this.reclaimStale()
        .catch((err: unknown) => this.#log.warn({ err }, 'aim lock sweep failed'))
        .finally(() => (this.#sweeping = false));
    }, this.sweepMs);
    this.#sweepTimer.unref();
  }

  stopSweep(): void {
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  /** Remove a stale lock; a live one only with `force` (its holder is fenced out). Throws AIM_ERR_LOCK_HELD otherwise. */
  async breakLock(opts: { force: boolean }): Promise<BreakResult> {
    const ins = await this.#inspect();
    const verdict = ins.verdict;
    if (verdict.state === 'free') return { broken: false, verdict };
    if (verdict.state === 'stale') return { broken: (await this.#breakStale(ins)) !== undefined, verdict };
    if (!opts.force) {
      throw new AimError('AIM_ERR_LOCK_HELD', `aim lock is held by live pid ${verdict.owner.pid} (token ${verdict.owner.token}); not breaking it without --force`, { details: { owner: verdict.owner } });
    }
    const raw = ins.raw;
    const r = await this.#dir.removeIf((now) => raw !== undefined && now.equals(raw)).catch((err: unknown) => {
      throw storeIoError('cannot break the aim lock', this.#dir.lockPath, err);
    });
    if (r === 'removed') this.#log.warn({ owner: verdict.owner }, 'aim lock of a live owner broken by force');
    return { broken: r === 'removed', verdict };
  }

  /** Stop timers, cancel waiting acquires, release held locks. A closed Locksmith cannot acquire again. */
  async close(): Promise<void> {
    this.stopSweep();
    this.#closing.abort(new Error('Locksmith closed'));
    await Promise.all([...this.#held].map((h) => h.release().catch((err: unknown) => this.#log.warn({ err }, 'release at close failed'))));
  }

  async #inspect(): Promise<Inspection> {
    try {
      const ins = await this.#dir.inspect();
      if (ins.verdict.state !== 'free') this.#seenToken = Math.max(this.#seenToken, ins.verdict.owner.token);
      return ins;
    } catch (err) {
      throw storeIoError('cannot read the aim lock', this.#dir.lockPath, err);
    }
  }

  async #ensureDir(): Promise<void> {
    try {
      const created = await this.#fs.mkdir(this.stateDir, DIR_MODE);
      if (created !== undefined) await this.#fs.chmod(this.stateDir, DIR_MODE);
    } catch (err) {
      throw storeIoError('cannot create the state directory', this.stateDir, err);
    }
  }

  async #counter(): Promise<number> {
    let c: number | undefined;
    try {
      c = await readTokenCounter(this.#fs, this.stateDir);
    } catch (err) {
      throw storeIoError('cannot read the fencing token', join(this.stateDir, 'fence.token'), err);
    }
    if (c !== undefined && !Number.isNaN(c)) return c;
    const floor = await tokenFloorFromDir(this.#fs, this.stateDir);
    if (c !== undefined) this.#log.error({ floor }, 'fence.token is unreadable; continuing above the highest token the state dir remembers');
    return floor;
  }

  /** One attempt on a free lock: the new HeldLock, or a token floor to retry above. */
  async #tryTake(floor: number, capability: string | undefined): Promise<HeldLock | number> {
    const token = Math.max(await this.#counter(), floor, this.#seenToken) + 1;
    const now = this.#proc.uptimeMs();
    const wall = new Date().toISOString();
    const record: LockRecord = {
      pid: this.#proc.pid,
      startTime: this.#proc.startTime(this.#proc.pid) ?? '0',
      bootId: this.#proc.bootId(),
      host: this.#proc.hostname(),
      acquiredAt: wall,
      acquiredUptimeMs: now,
      heartbeatAt: wall,
      heartbeatUptimeMs: now,
      token,
      ttlMs: this.ttlMs,
      nonce: randomBytes(8).toString('hex'),
    };
    if (this.#command !== undefined) record.command = this.#command;
    if (capability !== undefined) record.capabilitySha256 = sha256(capability);
    const raw = Buffer.from(serializeRecord(record));
    const tmp = tempPath(this.#dir.lockPath, 'tmp', this.#proc);
    try {
      // No fsync: a lock record is void after a reboot anyway (its boot id no longer matches).
      await writeDurable(this.#fs, tmp, raw, { sync: false });
      await this.#fs.link(tmp, this.#dir.lockPath);
    } catch (err) {
      await unlinkQuiet(this.#fs, tmp);
      if (errnoCode(err) === 'EEXIST') return floor;
      throw storeIoError('cannot create the aim lock', this.#dir.lockPath, err);
    }
    await unlinkQuiet(this.#fs, tmp);
    const giveBack = () => this.#dir.removeIf((r) => r.equals(raw)).catch(() => undefined);
    let heartbeat: HeartbeatWriter;
    try {
      // A racer that read the counter before us and stalled may have handed out this token already.
      const again = await this.#counter();
      if (again >= token) {
        await giveBack();
        return again;
      }
      await writeTokenCounter(this.#fs, this.stateDir, token, this.#proc);
      heartbeat = await HeartbeatWriter.create(this.#fs, this.stateDir, token, now, Date.now());
    } catch (err) {
      await giveBack();
      throw err instanceof AimError ? err : storeIoError('cannot persist the fencing token', join(this.stateDir, 'fence.token'), err);
    }
    const handle = new HeldLock(
      {
        lockDir: this.#dir,
        ttlMs: this.ttlMs,
        timers: this.#timers,
        onLost: (info) => this.emit('lost', info),
        onReleased: (h) => this.#held.delete(h),
      },
      record,
      heartbeat,
      capability,
    );
    if (!(await this.#dir.ownership(record.nonce)).owned) {
      await heartbeat.close();
      await unlinkQuiet(this.#fs, heartbeat.path);
      return token;
    }
    this.#held.add(handle);
    handle.start();
    this.#log.info({ token, pid: record.pid }, 'aim lock acquired');
    return handle;
  }

  async #breakStale(ins: Inspection): Promise<ReclaimInfo | undefined> {
    const { raw, verdict } = ins;
    if (raw === undefined || verdict.state !== 'stale') return undefined;
    const r = await this.#dir
      .removeIf(async (now) => now.equals(raw) && (await this.#dir.judge(now)).state === 'stale')
      .catch((err: unknown) => {
        throw storeIoError('cannot break the stale aim lock', this.#dir.lockPath, err);
      });
    if (r !== 'removed') return undefined;
    if (verdict.owner.nonce !== '') await unlinkQuiet(this.#fs, heartbeatPath(this.stateDir, verdict.owner.token));
    const info: ReclaimInfo = { owner: verdict.owner, reason: verdict.reason };
    this.#log.warn({ owner: verdict.owner, reason: verdict.reason }, 'reclaimed stale aim lock');
    this.emit('reclaimed', info);
    return info;
  }

  /** Temp files and tombstones of dead processes, and heartbeat files of holdings that are over. */
  async #cleanLeftovers(): Promise<void> {
    const fs = this.#fs;
    const dir = this.stateDir;
    const mine = (name: string) => name.startsWith(`${LOCK_FILE}.`) || name.startsWith('fence.token.');
    for (const name of (await deadLeftovers(fs, dir, 'tmp', this.#proc)).filter(mine)) await unlinkQuiet(fs, join(dir, name));
    for (const name of (await deadLeftovers(fs, dir, 'tomb', this.#proc)).filter(mine)) {
      // Its breaker died between moving the record aside and deciding; put back a live owner's record.
      const path = join(dir, name);
      const raw = await readIfExists(fs, path);
      if (raw !== undefined && (await this.#dir.judge(raw)).state === 'held') await fs.link(path, this.#dir.lockPath).catch(() => undefined);
      await unlinkQuiet(fs, path);
    }
    // Read the counter before listing: a heartbeat file is created only after its token was counted.
    const counter = await readTokenCounter(fs, dir).catch(() => undefined);
    if (counter === undefined || Number.isNaN(counter)) return;
    const current = parseRecord((await readIfExists(fs, this.#dir.lockPath)) ?? Buffer.alloc(0))?.token;
    for (const name of await fs.readdir(dir)) {
      const t = heartbeatToken(name);
      if (t !== undefined && t < counter && t !== current && ![...this.#held].some((h) => h.token === t)) await unlinkQuiet(fs, join(dir, name));
    }
  }
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const sameHex = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Wakes a waiting acquire as soon as aim.lock changes, with polling as the fallback. */
class DirWatch {
  #watcher: FSWatcher | undefined;
  #wake: (() => void) | undefined;

  constructor(dir: string) {
    try {
      this.#watcher = watch(dir, { persistent: false }, (_event, name) => {
        if (name === null || name === LOCK_FILE) this.#wake?.();
      });
      this.#watcher.on('error', () => this.close());
    } catch {
      this.#watcher = undefined;
    }
  }

  wait(ms: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.#wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(1, ms));
      signal.addEventListener('abort', done, { once: true });
      this.#wake = done;
    });
  }

  close(): void {
    this.#watcher?.close();
    this.#watcher = undefined;
  }
}
