import { AimError } from '../../protocol/errors.js';
import { storeIoError, unlinkQuiet } from './durable-fs.js';
import { readTokenCounter } from './fence-token.js';
import type { HeartbeatWriter } from './heartbeat-file.js';
import type { LockDir } from './lock-dir.js';
import { parseRecord, type LockRecord } from './lock-record.js';

/** A holding of the aim lock, as `Locksmith.acquire` hands it out. */
export interface LockHandle {
  /** The fencing token: writes carry it, and the store refuses one that is no longer current. */
  readonly token: number;
  /** True once the holder has learned that it lost the lock (broken as stale, or by force). */
  readonly lost: boolean;
  /** The owner record as written when the lock was taken. */
  readonly record: LockRecord;
  /** The hand-over secret for borrow(), when acquired with `handOver`; never logged or printed. */
  readonly capability?: string | undefined;
  /** Aborted (with the AimError) when the lock is lost: pass it to work that must stop then. */
  readonly signal: AbortSignal;
  /** Check on disk that this holding is still the current one. Throws AIM_ERR_FENCED, AIM_ERR_LOCK_LOST, or AIM_ERR_STORE_IO when the lock cannot be read. */
  assertHeld(): Promise<void>;
  /** Give the lock up (idempotent). Never removes a lock that another holder has taken since. */
  release(): Promise<void>;
}

export interface LostInfo {
  token: number;
  reason: string;
  /** The record that holds the lock now, when there is one. */
  current?: LockRecord;
}

/** The heartbeat's timer; tests drive it by hand. */
export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

/** Real intervals that do not keep the process alive: a holder that exits leaves a lock whose pid is gone. */
export const unrefIntervals: IntervalTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms).unref(),
  clearInterval: (h) => clearInterval(h as NodeJS.Timeout),
};

/** What a HeldLock needs from the Locksmith that made it. */
export interface HeldLockHost {
  lockDir: LockDir;
  ttlMs: number;
  timers: IntervalTimers;
  onLost(info: LostInfo): void;
  onReleased(handle: HeldLock): void;
}

export class HeldLock implements LockHandle {
  #lost: AimError | undefined;
  #released = false;
  #lastBeatMs: number;
  #timer: unknown;
  #busy: Promise<void> = Promise.resolve();
  readonly #abort = new AbortController();

  constructor(
    private readonly host: HeldLockHost,
    readonly record: LockRecord,
    private readonly heartbeat: HeartbeatWriter,
    readonly capability?: string,
  ) {
    this.#lastBeatMs = record.heartbeatUptimeMs;
  }

  get token(): number {
    return this.record.token;
  }
  get lost(): boolean {
    return this.#lost !== undefined;
  }
  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  /** Heartbeat every TTL/4. */
  start(): void {
    this.#timer = this.host.timers.setInterval(() => void this.#serial(() => this.#beat()), Math.max(10, Math.floor(this.host.ttlMs / 4)));
  }

  async assertHeld(): Promise<void> {
    if (this.#released) throw new AimError('AIM_ERR_LOCK_LOST', `aim lock token ${this.token} was already released`, { details: { token: this.token } });
    await this.#serial(async () => {
      if (this.#lost !== undefined) return;
      const { lockDir } = this.host;
      // After a freeze our own heartbeat may be old: renew it first, so a breaker that is judging us
      // right now re-judges the record as live (it re-checks after moving it aside) and puts it back.
      if (lockDir.proc.uptimeMs() - this.#lastBeatMs > this.host.ttlMs / 2) await this.#beat(true);
      else await this.#verify(true);
    });
    if (this.#lost !== undefined) throw this.#lost;
  }

  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    this.#stopTimer();
    await this.#busy;
    const { lockDir } = this.host;
    try {
      if (this.#lost === undefined) {
        // Unlink aim.lock before the heartbeat file: a judge that saw the record must still find its beat.
        await lockDir.removeIf((raw) => parseRecord(raw)?.nonce === this.record.nonce);
      }
    } catch (err) {
      throw storeIoError('cannot release the aim lock', lockDir.lockPath, err);
    } finally {
      await this.heartbeat.close();
      await unlinkQuiet(lockDir.fs, this.heartbeat.path);
      this.host.onReleased(this);
    }
    lockDir.log.debug({ token: this.token }, 'aim lock released');
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) this.host.timers.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #serial(fn: () => Promise<void>): Promise<void> {
    const next = this.#busy.then(fn, fn);
    this.#busy = next.catch(() => undefined);
    return next;
  }

  /** Renew the heartbeat, then check ownership; `strict`: a lock that cannot be read is an error, not a shrug. */
  async #beat(strict = false): Promise<void> {
    if (this.#lost !== undefined || this.#released) return;
    const { lockDir } = this.host;
    const now = lockDir.proc.uptimeMs();
    try {
      await this.heartbeat.beat(now, Date.now());
      this.#lastBeatMs = now;
    } catch (err) {
      lockDir.log.warn({ err, token: this.token }, 'aim lock heartbeat write failed');
    }
    await this.#verify(strict);
  }

  async #verify(strict = false): Promise<void> {
    const { lockDir } = this.host;
    let owned: Awaited<ReturnType<LockDir['ownership']>>;
    try {
      owned = await lockDir.ownership(this.record.nonce);
    } catch (err) {
      if (strict) throw storeIoError('cannot read the aim lock to check ownership', lockDir.lockPath, err);
      lockDir.log.warn({ err, token: this.token }, 'cannot read the aim lock to check ownership');
      return;
    }
    if (owned.owned) return;
    const counter = await readTokenCounter(lockDir.fs, lockDir.dir).catch(() => undefined);
    const current = owned.current;
    const taken = current !== undefined || (counter !== undefined && counter > this.token);
    const reason =
      current !== undefined
        ? `the lock was taken over by pid ${current.pid} (token ${current.token})`
        : taken
          ? `the lock was taken over by a newer holder (token ${counter})`
          : 'the lock was removed (broken as stale or by force)';
    this.#lost = new AimError(
      taken ? 'AIM_ERR_FENCED' : 'AIM_ERR_LOCK_LOST',
      `aim lock token ${this.token} is no longer held: ${reason}`,
      { details: { token: this.token, current } },
    );
    this.#stopTimer();
    lockDir.log.warn({ token: this.token, reason, current }, 'aim lock lost');
    this.#abort.abort(this.#lost);
    const info: LostInfo = { token: this.token, reason };
    if (current !== undefined) info.current = current;
    this.host.onLost(info);
  }
}
