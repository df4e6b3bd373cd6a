import { EventEmitter } from 'node:events';
import { AimError, canonicalSha256, type AimConfig, type ParamType } from '../../../protocol/index.js';
import { silentLogger } from '../../log.js';
import { ApplyPipeline, type PipelineOptions } from '../pipeline.js';
import type { Ack } from '../../../protocol/index.js';
import type { AgentState, Clock, FcPort, LockHandlePort, LockPort, ParamSetResult, StoredConfig, StorePort, Timers } from '../ports.js';

/**
 * Fakes of the pipeline's ports for unit tests: a clock whose wall and monotonic times move only when
 * told (and can step apart, as NTP does), timers on that clock, an FC, a store and a lock in memory.
 */
export class FakeTime implements Clock, Timers {
  wall = Date.parse('2026-12-01T12:00:00Z');
  mono = 1000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 1;
  now(): number {
    return this.wall;
  }
  monotonic(): number {
    return this.mono;
  }
  setTimer(ms: number, fn: () => void): () => void {
    const id = this.nextId++;
    this.timers.push({ at: this.mono + ms, fn, id });
    return () => (this.timers = this.timers.filter((t) => t.id !== id));
  }
  /** Move both clocks forward by `ms`, firing due timers in order. */
  advance(ms: number): void {
    const end = this.mono + ms;
    for (;;) {
      const due = this.timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
      if (due === undefined) break;
      this.timers = this.timers.filter((t) => t !== due);
      this.wall += Math.max(0, due.at - this.mono);
      this.mono = Math.max(this.mono, due.at);
      due.fn();
    }
    this.wall += end - this.mono;
    this.mono = end;
  }
  /** The process was frozen (SIGSTOP) for `ms`: both clocks jump, then every overdue timer fires once. */
  freeze(ms: number): void {
    this.mono += ms;
    this.wall += ms;
    this.advance(0);
  }
  pendingTimers(): number {
    return this.timers.length;
  }
}

type SetHook = (list: { name: string; value: number; type?: ParamType }[], opts: { signal?: AbortSignal; timeoutMs?: number; retries?: number }, call: number) => Promise<ParamSetResult[]> | undefined;

export class FakeFc extends EventEmitter implements FcPort {
  vehicle: { armed: boolean } | undefined = { armed: false };
  up = true;
  values = new Map<string, number>();
  cache = new Map<string, { value: number; type: number; at: number; seenMono: number }>();
  getCalls: { names: string[]; timeoutMs?: number; retries?: number }[] = [];
  setCalls: { name: string; value: number }[][] = [];
  /** Replace a setMany call's behaviour (undefined: the default, every value set and echoed). */
  onSet: SetHook | undefined;
  aimResult = 'accepted';
  aimCalls = 0;

  constructor(private readonly time: FakeTime) {
    super();
  }

  status(): { state: 'up' | 'down' } {
    return { state: this.up ? 'up' : 'down' };
  }
  async waitForVehicle(): Promise<unknown> {
    if (!this.up) throw new AimError('AIM_ERR_FC_TIMEOUT', 'no heartbeat');
    return this.vehicle;
  }
  setArmed(armed: boolean): void {
    this.vehicle = { armed };
    this.emit('armed', armed);
  }
  /** An echo seen on the link now: the value changes and the cache records it. */
  echo(name: string, value: number): void {
    this.values.set(name, value);
    this.cache.set(name, { value, type: 9, at: this.time.now(), seenMono: this.time.monotonic() });
  }

  readonly params = {
    cached: (name: string) => this.cache.get(name),
    getMany: async (names: string[], opts: { timeoutMs?: number; retries?: number; signal?: AbortSignal } = {}) => {
      this.getCalls.push({ names, ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}), ...(opts.retries !== undefined ? { retries: opts.retries } : {}) });
      // A name the FC lacks stays silent: every attempt waits out its timeout (pipelined, so once for all).
      if (names.some((n) => !this.values.has(n))) this.time.advance((opts.timeoutMs ?? 1000) * (opts.retries ?? 3));
      else this.time.advance(100);
      return new Map(names.map((n) => [n, this.values.has(n) ? { value: this.values.get(n)!, type: 9 } : undefined]));
    },
    setMany: async (list: { name: string; value: number; type?: ParamType }[], opts: { signal?: AbortSignal; timeoutMs?: number; retries?: number } = {}) => {
      this.setCalls.push(list.map((p) => ({ name: p.name, value: p.value })));
      const hooked = this.onSet?.(list, opts, this.setCalls.length);
      if (hooked !== undefined) return hooked;
      this.time.advance(50);
      return list.map((p) => {
        this.echo(p.name, p.value);
        return { name: p.name, want: p.value, got: p.value, result: 'ok' as const, attempts: 1 };
      });
    },
  };

  readonly gimbal = {
    point: async () => (this.aimCalls++, { result: this.aimResult }),
    roi: async () => (this.aimCalls++, { result: this.aimResult }),
  };
}

export class FakeLock implements LockPort {
  token = 0;
  held: (LockHandlePort & { lose(code?: 'AIM_ERR_FENCED' | 'AIM_ERR_LOCK_LOST'): void; takeOver(): void; released: boolean }) | undefined;
  /** Runs while the lock is being acquired (another writer's turn, time passing). */
  onAcquire: (() => Promise<void> | void) | undefined;
  acquireError: unknown;

  async acquire(): Promise<LockHandlePort> {
    await this.onAcquire?.();
    if (this.acquireError !== undefined) throw this.acquireError;
    const ac = new AbortController();
    const token = ++this.token;
    let lost: AimError | undefined;
    const handle = {
      token,
      signal: ac.signal,
      released: false,
      lose(code: 'AIM_ERR_FENCED' | 'AIM_ERR_LOCK_LOST' = 'AIM_ERR_FENCED') {
        lost = new AimError(code, `aim lock token ${token} is no longer held`);
        ac.abort(lost);
      },
      /** Another process took the lock; this holder learns it at its next check on disk. */
      takeOver() {
        lost = new AimError('AIM_ERR_FENCED', `aim lock token ${token} was taken over`);
      },
      async assertHeld() {
        if (lost !== undefined) {
          ac.abort(lost);
          throw lost;
        }
      },
      async release() {
        handle.released = true;
      },
    };
    this.held = handle;
    return handle;
  }
}

export class FakeStore implements StorePort<{ config: AimConfig; done: boolean }> {
  current: StoredConfig | 'corrupt' | undefined;
  appliedAt: string | null = null;
  acked: string | null = null;
  keptAside: string[] = [];
  staged = 0;
  aborted = 0;
  stateError: unknown;
  stageError: unknown;
  commitError: unknown;
  commits: number[] = [];

  async readCurrent(): Promise<StoredConfig | undefined> {
    if (this.current === 'corrupt') throw new AimError('AIM_ERR_STORE_CORRUPT', 'aim-params.json is not a valid aim config');
    return this.current;
  }
  async readState(): Promise<AgentState> {
    if (this.stateError !== undefined) throw this.stateError;
    const cur = await this.readCurrent();
    return { appliedVersion: cur?.config.version ?? null, id: cur?.config.id ?? null, sha256: cur?.sha256 ?? null, appliedAt: this.appliedAt, lastToken: 0, derived: false };
  }
  async stage(config: AimConfig) {
    if (this.stageError !== undefined) throw this.stageError;
    this.staged++;
    return { config, done: false };
  }
  async commit(staged: { config: AimConfig; done: boolean }, lock: LockHandlePort, meta: { appliedAt: string }): Promise<void> {
    staged.done = true;
    if (this.commitError !== undefined) throw this.commitError;
    await lock.assertHeld();
    this.current = { config: staged.config, sha256: canonicalSha256(staged.config) };
    this.appliedAt = meta.appliedAt;
    this.commits.push(staged.config.version);
  }
  async abort(staged: { done: boolean }): Promise<void> {
    if (staged.done) throw new TypeError('staged file was already committed or aborted');
    staged.done = true;
    this.aborted++;
  }
  async setAsideCorrupt(lock: LockHandlePort): Promise<string | undefined> {
    if (this.current !== 'corrupt') return undefined;
    await lock.assertHeld();
    this.current = undefined;
    const name = `aim-params.corrupt-${this.keptAside.length}.json`;
    this.keptAside.push(name);
    return name;
  }
  async restoreCorrupt(): Promise<void> {
    if (this.current === undefined) this.current = 'corrupt';
  }
  async markAcked(sha256: string): Promise<void> {
    this.acked = sha256;
  }
  async readAcked(): Promise<string | null> {
    return this.acked;
  }
}

export function config(version: number, extra: Partial<AimConfig> = {}): AimConfig {
  return { kind: 'aim-config', schemaVersion: 1, version, id: `v${version}`, issuedAt: '2026-12-01T11:00:00Z', params: { TST_A: version, TST_B: version + 0.5 }, ...extra };
}

export function raw(c: unknown): Buffer {
  return Buffer.from(JSON.stringify(c));
}

/** A pipeline wired to fakes; `acks` records every ack, `reconciles` every reconciliation request. */
export function rig(opts: Partial<PipelineOptions> = {}) {
  const time = new FakeTime();
  const fc = new FakeFc(time);
  fc.values.set('TST_A', 0);
  fc.values.set('TST_B', 0);
  const store = new FakeStore();
  const lock = new FakeLock();
  const pipeline = new ApplyPipeline({
    droneId: 'd1',
    trusted: new Map(),
    requireSignature: false,
    fc,
    store,
    lock,
    logger: silentLogger(),
    clock: time,
    timers: time,
    paramTimeoutMs: 1000,
    paramRetries: 3,
    ...opts,
  });
  const acks: Ack[] = [];
  const reconciles: string[] = [];
  pipeline.on('ack', (a) => acks.push(a));
  pipeline.on('reconcile', (r) => reconciles.push(r));
  const last = () => acks[acks.length - 1];
  return { time, fc, store, lock, pipeline, acks, reconciles, last };
}
