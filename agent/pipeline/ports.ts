import type { SigningCounters } from './link-diagnosis.js';
import type { AimConfig, ParamType } from '../../protocol/index.js';
import type { ParamSetResult } from '../fc/index.js';
import type { AgentState, StoredConfig } from '../store/index.js';

export type { AgentState, ParamSetResult, StoredConfig };

/**
 * What the apply pipeline needs from the flight controller, the store and the lock. The real
 * implementations (agent/fc, agent/store) satisfy these structurally; tests can pass fakes, and the
 * pipeline never learns how a link or a file system works.
 */
export interface Abortable {
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface FcPort {
  readonly vehicle: { armed: boolean } | undefined;
  status(): { state: 'up' | 'down' } & SigningCounters;
  /** Resolves with the vehicle once its HEARTBEAT is seen; rejects (AIM_ERR_FC_TIMEOUT) after timeoutMs. */
  waitForVehicle(opts?: Abortable): Promise<unknown>;
  on(event: 'armed', listener: (armed: boolean) => void): unknown;
  on(event: 'up' | 'down', listener: () => void): unknown;
  off(event: 'armed', listener: (armed: boolean) => void): unknown;
  readonly params: {
    /**
     * The last value the FC reported for `name` (any PARAM_VALUE: echoes, reads, other GCSs' sets);
     * `at` is wall ms (for people), `seenMono` the monotonic ms (performance.now() timebase, the
     * Clock's `monotonic`) it arrived at: "seen since" comparisons use it, so a wall-clock step
     * (NTP on a Pi without RTC) cannot make an old value look current.
     */
    cached(name: string): { value: number; type: number; at: number; seenMono: number } | undefined;
    /** `timeoutMs` per attempt, `retries` requests in total per name. */
    getMany(names: string[], opts?: Abortable & { retries?: number }): Promise<Map<string, { value: number; type: number } | undefined>>;
    setMany(
      list: { name: string; value: number; type?: ParamType }[],
      opts?: Abortable & { retries?: number; deadlineMs?: number; force?: boolean },
    ): Promise<ParamSetResult[]>;
  };
  readonly gimbal: {
    point(cmd: { pitchDeg: number; yawDeg: number; yawFrame: 'vehicle' | 'earth'; gimbalId: number }, opts?: Abortable): Promise<{ result: string; via?: string }>;
    roi(p: { latDeg: number; lonDeg: number; altM: number }, opts?: Abortable): Promise<{ result: string; via?: string }>;
  };
}

export interface LockHandlePort {
  readonly token: number;
  /** Aborted when the holder learns it lost the lock: FC writes stop at once (they are fenced like the file). */
  readonly signal?: AbortSignal;
  /** Throws AIM_ERR_FENCED / AIM_ERR_LOCK_LOST when the holder no longer owns the lock (the store's commit checks it). */
  assertHeld(): Promise<void>;
  release(): Promise<void>;
}

export interface StorePort<Staged = unknown> {
  readCurrent(): Promise<StoredConfig | undefined>;
  readState(): Promise<AgentState>;
  stage(config: AimConfig): Promise<Staged>;
  commit(staged: Staged, lock: LockHandlePort, meta: { appliedAt: string }): Promise<void>;
  abort(staged: Staged): Promise<void>;
  /**
   * Move an aim file that is not a valid document aside (kept for forensics), under the fence.
   * Returns the name it was kept as, or undefined when the file is valid or absent.
   */
  setAsideCorrupt(lock: LockHandlePort): Promise<string | undefined>;
  /** Undo setAsideCorrupt (the commit that was to replace it failed). */
  restoreCorrupt(keptAs: string): Promise<void>;
  /** Record that the ack for `sha256` reached the outbox, so a restart knows whether it is still owed. */
  markAcked(sha256: string): Promise<void>;
  /** The sha256 markAcked last recorded (null: none). */
  readAcked(): Promise<string | null>;
}

export interface LockPort {
  acquire(opts?: { timeoutMs?: number; signal?: AbortSignal }): Promise<LockHandlePort>;
}

export interface Clock {
  /** Wall-clock ms (timestamps in acks; expiry). */
  now(): number;
  /** Monotonic ms (durations). */
  monotonic(): number;
}

export const systemClock: Clock = { now: () => Date.now(), monotonic: () => performance.now() };

/** Timers, injectable so deferral deadlines and shutdown grace are tested on fake time. */
export interface Timers {
  /** Call `fn` after `ms`; returns a cancel function. */
  setTimer(ms: number, fn: () => void): () => void;
}

export const systemTimers: Timers = {
  setTimer(ms, fn) {
    const t = setTimeout(fn, ms);
    return () => clearTimeout(t);
  },
};
