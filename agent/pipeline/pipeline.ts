import { EventEmitter } from 'node:events';
import { configToFcParams, type Ack, type AimConfig, type FcParam, type Reported, type TrustedKey } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { makeAck, type AckFields, type AckSubject } from './ack.js';
import { applyTransaction, readOptions, type Timing } from './apply-transaction.js';
import { waitForWindow, windowClosedReason, windowOpen } from './apply-window.js';
import { diffEntry } from './diff.js';
import { linkDownReason, readFailure } from './link-diagnosis.js';
import { FcCache } from './fc-cache.js';
import { intake, type Outcome } from './intake.js';
import { failure } from './outcome.js';
import { systemClock, systemTimers, type Clock, type FcPort, type LockHandlePort, type LockPort, type StorePort, type Timers } from './ports.js';
import { Scheduler, type SchedJob } from './scheduler.js';
import { versionCheck } from './version-check.js';

/** Where a desired message came from; passed back with its ack so the session can answer a response topic. */
export interface DeliveryMeta {
  responseTopic?: string;
  correlationData?: Buffer;
  /** A retained delivery (start-up, resubscribe) rather than a live publish. */
  retained?: boolean;
}

export interface PipelineOptions {
  droneId: string;
  trusted: ReadonlyMap<string, TrustedKey>;
  requireSignature: boolean;
  fc: FcPort;
  store: StorePort;
  lock: LockPort;
  logger: Logger;
  clock?: Clock;
  timers?: Timers;
  lockTimeoutMs?: number;
  /** The aim lock's TTL: FC writes stop at once when this process was frozen for half of it (see FreezeFence). */
  lockTtlMs?: number;
  /** Wait for one echo or read answer, per attempt. */
  paramTimeoutMs?: number;
  /** Requests per parameter in total. */
  paramRetries?: number;
  aimTimeoutMs?: number;
  /** How long an apply waits for a flight-controller link that is down before failing (default 5 s). */
  linkWaitMs?: number;
}

export type PipelineState = 'idle' | 'applying' | 'deferred';

export interface PipelineEvents {
  ack: [ack: Ack, meta: DeliveryMeta];
  reported: [reported: Reported];
  state: [state: PipelineState];
  /** The FC may differ from the aim file (a rollback that was not verified): check it against the file. */
  reconcile: [reason: string];
}

interface Job extends SchedJob {
  raw: Buffer;
  meta: DeliveryMeta;
  receivedAt: number;
}

/** Test hook: `AIM_AGENT_TEST_CRASH=after-commit` kills the process between the commit and its ack. */
const CRASH_POINT = process.env.AIM_AGENT_TEST_CRASH;

/**
 * The apply pipeline: receive → size → verify → validate → target/expiry → version → dry run → apply
 * window → lock → apply transaction (apply-transaction.ts) → ack. One apply at a time; only a newer
 * desired replaces a queued or deferred one (scheduler.ts). Never throws at its caller: every outcome
 * becomes an ack event.
 */
export class ApplyPipeline extends EventEmitter<PipelineEvents> {
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly cache: FcCache;
  private readonly scheduler: Scheduler<Job>;
  private trusted: ReadonlyMap<string, TrustedKey>;
  private requireSignature: boolean;
  private stateValue: PipelineState = 'idle';
  private stateSince: number;

  constructor(private opts: PipelineOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.timers = opts.timers ?? systemTimers;
    this.log = opts.logger.child({ component: 'pipeline' });
    this.stateSince = this.clock.monotonic();
    this.trusted = opts.trusted;
    this.requireSignature = opts.requireSignature;
    this.cache = new FcCache(opts.fc, this.clock);
    this.scheduler = new Scheduler<Job>((job) => this.runJob(job), this.log);
  }

  /** New trusted keys / signature policy (SIGHUP reload); applies to messages received from now on. */
  updateTrust(trusted: ReadonlyMap<string, TrustedKey>, requireSignature: boolean): void {
    this.trusted = trusted;
    this.requireSignature = requireSignature;
  }

  /** New timeouts and retries (settings reload), used from the next lock wait, push or aim command on. */
  updateTiming(timing: Pick<PipelineOptions, 'lockTimeoutMs' | 'paramTimeoutMs' | 'paramRetries' | 'aimTimeoutMs'>): void {
    this.opts = { ...this.opts, ...timing };
  }

  /** Run `fn` between applies, never alongside one (boot reconciliation, drift repair). Tasks go before queued configs. */
  exclusive(name: string, fn: () => Promise<void>): Promise<void> {
    return this.scheduler.exclusive(name, fn);
  }

  get state(): PipelineState {
    return this.stateValue;
  }

  /** How long the pipeline has been in its current state (the watchdog uses it to spot a wedged apply). */
  stateAgeMs(): number {
    return this.clock.monotonic() - this.stateSince;
  }

  /** Take one desired message. Cheap checks answer at once; the rest runs in order behind any apply in progress. */
  submit(raw: Buffer, meta: DeliveryMeta = {}): void {
    const receivedAt = this.clock.monotonic();
    if (this.scheduler.closed) {
      this.log.warn('desired message ignored: shutting down');
      return;
    }
    const checked = intake(raw, { trusted: this.trusted, requireSignature: this.requireSignature, droneId: this.opts.droneId, now: this.clock.now() });
    if ('status' in checked) {
      this.emitAck(checked.subject ?? { version: null, id: null, sha256: null }, checked, receivedAt, meta);
      return;
    }
    if (!checked.signed) this.log.warn('accepting an unsigned desired config (security.requireSignature is false)');
    const job: Job = { raw, meta, receivedAt, config: checked.config, sha256: checked.sha256, wait: new AbortController(), push: new AbortController() };
    const admitted = this.scheduler.admit(job, this.stateValue === 'deferred');
    if (admitted.kind === 'repeat') {
      this.log.info({ version: job.config.version, id: job.config.id }, 'desired message repeats the one in progress; ignored');
    } else if (admitted.kind === 'refused') {
      this.emitAck(subjectOf(job), admitted.outcome, receivedAt, meta);
    } else if (admitted.replaced !== undefined) {
      const old = admitted.replaced;
      // A retained re-delivery that never started (a restart, a reconnect burst) may be the config that is
      // already applied: "superseded" would be false news about it, and the newer message speaks for the ground.
      if (old.meta.retained === true) {
        this.log.info({ version: old.config.version, by: job.config.version }, 'retained desired replaced before it started');
        return;
      }
      this.emitAck(subjectOf(old), { status: 'superseded', stage: 'queue', reason: `superseded by version ${job.config.version} (${job.config.id})` }, old.receivedAt, old.meta);
    }
  }

  /**
   * The ground cleared its retained desired config: a queued or deferred config is cancelled with a
   * `superseded` ack. An apply already writing the FC finishes (its result is acked as usual).
   */
  withdraw(): boolean {
    const deferred = this.stateValue === 'deferred';
    const cancelled = this.scheduler.withdraw(deferred);
    for (const job of cancelled) {
      this.emitAck(subjectOf(job), { status: 'superseded', stage: 'queue', reason: WITHDRAWN }, job.receivedAt, job.meta);
    }
    return cancelled.length > 0 || deferred;
  }

  /**
   * The ack reached the outbox: record it durably, so that after a crash between commit and ack a
   * restart can tell whether the applied config still owes its ack.
   */
  async ackDelivered(ack: Ack): Promise<void> {
    if ((ack.status !== 'applied' && ack.status !== 'duplicate') || ack.sha256 === null) return;
    await this.opts.store.markAcked(ack.sha256).catch((err: unknown) => this.log.warn({ err }, 'could not record the ack; it may be sent again after a restart'));
  }

  /** Resolves when nothing is queued or running (tests, `aim-agent apply`). */
  idle(): Promise<void> {
    return this.scheduler.idle();
  }

  /**
   * Stop taking messages; let an apply in progress finish or roll back within `graceMs`, then abort
   * its FC traffic (which rolls back). A deferred config is dropped without an ack: the retained
   * desired message brings it back at the next start.
   */
  async close(graceMs = 10_000): Promise<void> {
    const current = this.scheduler.current;
    const run = this.scheduler.close();
    if (run === undefined) return;
    const cancel = this.timers.setTimer(graceMs, () => current?.push.abort('shutdown'));
    try {
      await run;
    } finally {
      cancel();
    }
  }

  private async runJob(job: Job): Promise<void> {
    try {
      const outcome = await this.execute(job);
      if (outcome !== undefined) this.emitAck(outcome.subject ?? subjectOf(job), outcome, job.receivedAt, job.meta);
    } catch (err) {
      // execute() maps expected failures itself; this is a bug path, still answered with an ack.
      this.log.error({ err, version: job.config.version }, 'apply pipeline failed unexpectedly');
      this.emitAck(subjectOf(job), { ...failure('internal', err), rolledBack: false }, job.receivedAt, job.meta);
    } finally {
      this.setState('idle');
    }
  }

  private timing(): Timing {
    return { paramTimeoutMs: this.opts.paramTimeoutMs ?? 1000, paramRetries: this.opts.paramRetries ?? 3, aimTimeoutMs: this.opts.aimTimeoutMs ?? 3000 };
  }

  /** Everything after intake, for one job. Returns the final ack's fields, or undefined when no ack is due. */
  private async execute(job: Job): Promise<Outcome | undefined> {
    const { config, sha256 } = job;
    const log = this.log.child({ id: config.id, version: config.version });
    const known = await versionCheck(this.opts.store, { config, sha256, retained: job.meta.retained === true }, log);
    if (known !== 'go') return known;
    if (config.apply?.dryRun === true) return this.dryRun(configToFcParams(config), job, log);

    const deadlineSec = config.apply?.deadlineSec;
    let deferredAt: number | undefined;
    for (;;) {
      if (!windowOpen(config, this.opts.fc)) {
        // Armed again after a newer config queued behind this one: that one waits for the window instead.
        const next = this.scheduler.queued;
        if (next !== undefined) return { status: 'superseded', stage: 'window', reason: `superseded by version ${next.config.version} (${next.config.id}) while deferred` };
        if (deferredAt === undefined) {
          deferredAt = this.clock.monotonic();
          this.emitAck(subjectOf(job), { status: 'deferred', stage: 'window', reason: `${windowClosedReason(this.opts.fc)}; applying when disarmed${deadlineSec ? ` (deadline ${deadlineSec} s)` : ''}` }, job.receivedAt, job.meta);
        }
        this.setState('deferred');
        log.info('stage window: deferred until disarmed');
        const remaining = deadlineSec === undefined ? undefined : deadlineSec * 1000 - (this.clock.monotonic() - deferredAt);
        const waited = await waitForWindow(config, this.opts.fc, this.timers, remaining, job.wait.signal);
        if (waited === 'deadline') {
          return { status: 'failed', stage: 'window', code: 'AIM_ERR_ARMED', reason: `vehicle stayed armed past apply.deadlineSec (${deadlineSec} s); nothing was changed`, rolledBack: true };
        }
        if (waited === 'aborted') return this.abortedWait(job);
        log.info('stage window: disarmed, applying');
      }
      this.setState('applying');
      const t0 = this.clock.monotonic();
      let lock: LockHandlePort;
      try {
        lock = await this.opts.lock.acquire({ timeoutMs: this.opts.lockTimeoutMs ?? 30_000, signal: job.push.signal });
      } catch (err) {
        return { ...failure('lock', err), rolledBack: true };
      }
      log.info({ token: lock.token, ms: Math.round(this.clock.monotonic() - t0) }, 'stage lock: acquired');
      let result: Awaited<ReturnType<typeof applyTransaction>>;
      try {
        result = await applyTransaction(
          { fc: this.opts.fc, store: this.opts.store, clock: this.clock, cache: this.cache, timing: this.timing(), linkUp: (s) => this.linkUp(s), ...(this.opts.lockTtlMs !== undefined ? { fence: { timers: this.timers, lockTtlMs: this.opts.lockTtlMs } } : {}) },
          { config, sha256, signal: job.push.signal },
          lock,
          log,
        );
      } finally {
        await lock.release().catch((err: unknown) => log.warn({ err }, 'lock release failed'));
      }
      if ('rearmed' in result) {
        log.warn('vehicle armed again before the write; waiting for the window again');
        deferredAt ??= this.clock.monotonic();
        continue;
      }
      if (result.reported !== undefined) {
        if (CRASH_POINT === 'after-commit') process.kill(process.pid, 'SIGKILL');
        this.emit('reported', result.reported);
      }
      if (result.reconcile !== undefined) this.emit('reconcile', result.reconcile);
      return result.outcome;
    }
  }

  private abortedWait(job: Job): Outcome | undefined {
    const why = job.wait.signal.reason;
    const next = this.scheduler.queued;
    if (why === 'superseded' && next !== undefined) {
      return { status: 'superseded', stage: 'window', reason: `superseded by version ${next.config.version} (${next.config.id}) while deferred` };
    }
    if (why === 'withdrawn') return { status: 'superseded', stage: 'window', reason: WITHDRAWN };
    return undefined; // shutdown: no ack; the retained desired returns at the next start
  }

  private async dryRun(wanted: FcParam[], job: Job, log: Logger): Promise<Outcome> {
    if (!(await this.linkUp(job.push.signal))) {
      return { status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', reason: linkDownReason(this.opts.fc.status(), 'dry run needs the flight controller, and its link is down'), rolledBack: true };
    }
    let current: Map<string, { value: number; type: number } | undefined>;
    try {
      current = await this.opts.fc.params.getMany(wanted.map((p) => p.name), { ...readOptions(this.timing()), signal: job.push.signal });
    } catch (err) {
      return { ...readFailure(err, this.opts.fc.status()), rolledBack: true };
    }
    const params = wanted.map((p) => diffEntry(p, current.get(p.name)));
    const changes = params.filter((p) => p.result !== 'unchanged').length;
    log.info({ changes }, 'stage dry-run: diff read from the FC');
    return { status: 'dry-run', stage: 'dry-run', reason: `${changes} of ${params.length} parameters would change`, params };
  }

  /** True when the FC link is up, waiting a bounded time for it to come (back) first. */
  private async linkUp(signal: AbortSignal): Promise<boolean> {
    if (this.opts.fc.status().state === 'up') return true;
    try {
      await this.opts.fc.waitForVehicle({ timeoutMs: this.opts.linkWaitMs ?? 5000, signal });
    } catch {
      return false;
    }
    return this.opts.fc.status().state === 'up';
  }

  private setState(s: PipelineState): void {
    if (s === this.stateValue) return;
    this.stateValue = s;
    this.stateSince = this.clock.monotonic();
    this.emit('state', s);
  }

  private emitAck(subject: AckSubject, fields: AckFields, receivedAt: number, meta: DeliveryMeta): void {
    const ack = makeAck(subject, fields, this.clock.monotonic() - receivedAt, new Date(this.clock.now()));
    const level = fields.status === 'failed' ? 'error' : fields.status === 'rejected' ? 'warn' : 'info';
    this.log[level]({ version: ack.version, id: ack.id, status: ack.status, stage: ack.stage, reason: ack.reason, code: ack.code, ms: ack.timings.totalMs }, `ack ${ack.status}`);
    this.emit('ack', ack, meta);
  }
}

const WITHDRAWN = 'the desired config was withdrawn (the ground cleared its retained desired message)';

function subjectOf(job: { config: AimConfig; sha256: string }): AckSubject {
  return { version: job.config.version, id: job.config.id, sha256: job.sha256 };
}
