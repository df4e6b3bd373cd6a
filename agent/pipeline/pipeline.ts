import { EventEmitter } from 'node:events';
import {
  configToAimCommand,
  configToFcParams,
  float32Display,
  isAimError,
  needsReboot,
  type Ack,
  type AimConfig,
  type AimErrorCode,
  type FcParam,
  type ParamResult,
  type Reported,
  type TrustedKey,
} from '../../protocol/index.js';
import type { Logger } from '../log.js';
import { makeAck, type AckFields, type AckSubject } from './ack.js';
import { intake, type Outcome } from './intake.js';
import { diffEntry } from './diff.js';
import { paramTypeName } from './param-types.js';
import { systemClock, type Clock, type FcPort, type LockHandlePort, type LockPort, type StorePort } from './ports.js';

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
  lockTimeoutMs?: number;
  paramTimeoutMs?: number;
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
}

interface Job {
  raw: Buffer;
  meta: DeliveryMeta;
  receivedAt: number;
  config: AimConfig;
  sha256: string;
  /** Aborts a deferred wait (superseded, shutdown); a push in progress ignores it until shutdown. */
  wait: AbortController;
  /** Aborts FC traffic; only shutdown past its grace period fires it. */
  push: AbortController;
}

const WITHDRAWN = 'the desired config was withdrawn (empty retained desired)';

/**
 * The apply pipeline (issue 5): receive → size → verify → validate → target/expiry → version →
 * dry run → apply window → lock → stage → read FC → push + verify → aim → commit → ack.
 * One apply at a time; a newer desired replaces a queued or deferred one. Never throws at its
 * caller: every outcome becomes an ack event.
 */
export class ApplyPipeline extends EventEmitter<PipelineEvents> {
  private readonly clock: Clock;
  private readonly log: Logger;
  private current: Job | undefined;
  private queued: Job | undefined;
  private readonly tasks: { name: string; fn: () => Promise<void>; done: (err?: unknown) => void }[] = [];
  private trusted: ReadonlyMap<string, TrustedKey>;
  private requireSignature: boolean;
  /** Wall time since which the FC link has been up without a break: cached values seen since are current. */
  private linkUpSince: number | undefined;
  private running: Promise<void> | undefined;
  private closed = false;
  private stateValue: PipelineState = 'idle';
  private stateSince: number;

  constructor(private opts: PipelineOptions) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger.child({ component: 'pipeline' });
    this.stateSince = this.clock.monotonic();
    this.trusted = opts.trusted;
    this.requireSignature = opts.requireSignature;
    if (opts.fc.status().state === 'up') this.linkUpSince = this.clock.now();
    opts.fc.on('up', () => (this.linkUpSince = this.clock.now()));
    opts.fc.on('down', () => (this.linkUpSince = undefined));
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

  /**
   * Run `fn` between applies, never alongside one (boot reconciliation, drift repair). Tasks go
   * before queued configs.
   */
  exclusive(name: string, fn: () => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.tasks.push({ name, fn, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.kick();
    });
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
    if (this.closed) {
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
    const same = (j: Job | undefined) => j !== undefined && j.config.version === job.config.version && j.sha256 === job.sha256;
    if (same(this.current) || same(this.queued)) {
      this.log.info({ version: job.config.version, id: job.config.id }, 'desired message repeats the one in progress; ignored');
      return;
    }
    // An older config than the one waiting (a retained re-delivery behind a session's queued newer one)
    // must not supersede it: the retained copy is ignored, anything else rejected as stale.
    if (this.queued !== undefined && job.config.version < this.queued.config.version) {
      const newer = this.queued.config.version;
      if (meta.retained !== true) this.emitAck(subjectOf(job), { status: 'rejected', stage: 'version', code: 'AIM_ERR_STALE', reason: `version ${job.config.version} is older than the queued version ${newer}`, errors: [{ path: 'version', message: `must be greater than ${newer}` }] }, receivedAt, meta);
      return;
    }
    const replaced = this.queued;
    this.queued = job;
    if (replaced !== undefined) this.supersede(replaced, job);
    if (this.current !== undefined && this.stateValue === 'deferred') this.current.wait.abort('superseded');
    this.kick();
  }

  /**
   * The ground withdrew the desired config (an empty retained message on the desired topic): cancel a
   * queued or deferred job, acked `superseded`. Anything else is left alone. Returns whether a job was cancelled.
   */
  withdraw(): boolean {
    const q = this.queued;
    this.queued = undefined;
    if (q !== undefined) this.emitAck(subjectOf(q), { status: 'superseded', stage: 'queue', reason: WITHDRAWN }, q.receivedAt, q.meta);
    const deferred = this.current !== undefined && this.stateValue === 'deferred';
    if (deferred) this.current!.wait.abort('withdrawn');
    return q !== undefined || deferred;
  }

  /** Resolves when nothing is queued or running (tests, `aim-agent apply`). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /**
   * Stop taking messages; let an apply in progress finish or roll back within `graceMs`, then abort
   * its FC traffic (which rolls back). A deferred config is dropped without an ack: the retained
   * desired message brings it back at the next start.
   */
  async close(graceMs = 10_000): Promise<void> {
    this.closed = true;
    this.queued = undefined;
    for (const t of this.tasks.splice(0)) t.done(new Error('pipeline closed'));
    this.current?.wait.abort('shutdown');
    const run = this.running;
    if (run === undefined) return;
    const timer = setTimeout(() => this.current?.push.abort('shutdown'), graceMs);
    try {
      await run;
    } finally {
      clearTimeout(timer);
    }
  }

  private kick(): void {
    if (this.running !== undefined) return;
    this.running = (async () => {
      // Let a burst in (a session's queued messages at reconnect, the messages held for boot
      // reconciliation): a newer desired then supersedes an older one before the older one is applied.
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        while ((this.queued !== undefined || this.tasks.length > 0) && !this.closed) {
          const task = this.tasks.shift();
          if (task !== undefined) {
            try {
              await task.fn();
              task.done();
            } catch (err) {
              this.log.error({ err, task: task.name }, 'pipeline task failed');
              task.done(err);
            }
            continue;
          }
          const job = this.queued;
          if (job === undefined) continue;
          this.queued = undefined;
          this.current = job;
          try {
            const outcome = await this.execute(job);
            if (outcome !== undefined) this.emitAck(outcome.subject ?? subjectOf(job), outcome, job.receivedAt, job.meta);
          } catch (err) {
            // execute() maps expected failures itself; this is a bug path, still answered with an ack.
            this.log.error({ err, version: job.config.version }, 'apply pipeline failed unexpectedly');
            this.emitAck(subjectOf(job), { status: 'failed', stage: 'internal', reason: String(err), rolledBack: false }, job.receivedAt, job.meta);
          } finally {
            this.current = undefined;
            this.setState('idle');
          }
        }
      } finally {
        this.running = undefined;
      }
    })();
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
    this.log[level](
      { version: ack.version, id: ack.id, status: ack.status, stage: ack.stage, reason: ack.reason, code: ack.code, ms: ack.timings.totalMs },
      `ack ${ack.status}`,
    );
    this.emit('ack', ack, meta);
  }

  private supersede(old: Job, by: Job): void {
    this.emitAck(subjectOf(old), { status: 'superseded', stage: 'queue', reason: `superseded by version ${by.config.version} (${by.config.id})` }, old.receivedAt, old.meta);
  }

  /** Everything after intake, for one job. Returns the final ack's fields, or undefined when no ack is due. */
  private async execute(job: Job): Promise<Outcome | undefined> {
    const { config, sha256 } = job;
    const log = this.log.child({ id: config.id, version: config.version });
    const state = await this.opts.store.readState();
    const applied = state.appliedVersion;
    if (applied !== null && config.version < applied) {
      return { status: 'rejected', stage: 'version', code: 'AIM_ERR_STALE', reason: `version ${config.version} is older than the applied version ${applied}`, errors: [{ path: 'version', message: `must be greater than ${applied}` }] };
    }
    if (applied !== null && config.version === applied) {
      if (state.sha256 === sha256) {
        if (job.meta.retained === true) {
          log.info('retained desired config is the one applied; nothing to do');
          return undefined;
        }
        return { status: 'duplicate', stage: 'version', reason: `version ${applied} was applied at ${state.appliedAt ?? 'an earlier time'}` };
      }
      return { status: 'rejected', stage: 'version', code: 'AIM_ERR_CONFLICT', reason: `version ${applied} is already applied with different content (sha256 ${state.sha256 ?? '?'})`, errors: [{ path: 'version', message: 'reused with different content; issue a new version' }] };
    }
    const wanted = configToFcParams(config);
    if (config.apply?.dryRun === true) return this.dryRun(wanted, job, log);

    const window = await this.applyWindow(job, log);
    if (window !== undefined) return window;

    this.setState('applying');
    const t0 = this.clock.monotonic();
    let lock: LockHandlePort;
    try {
      lock = await this.opts.lock.acquire({ timeoutMs: this.opts.lockTimeoutMs ?? 30_000, signal: job.push.signal });
    } catch (err) {
      return this.failure('lock', err, true, {});
    }
    log.info({ token: lock.token, ms: ms(this.clock.monotonic() - t0) }, 'stage lock: acquired');
    try {
      return await this.applyLocked(job, wanted, lock, log);
    } finally {
      await lock.release().catch((err: unknown) => log.warn({ err }, 'lock release failed'));
    }
  }

  private async dryRun(wanted: FcParam[], job: Job, log: Logger): Promise<Outcome> {
    if (!(await this.linkUp(job.push.signal))) {
      return { status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', reason: 'dry run needs the flight controller, and its link is down', rolledBack: true };
    }
    let current: Map<string, { value: number; type: number } | undefined>;
    try {
      current = await this.opts.fc.params.getMany(wanted.map((p) => p.name), { timeoutMs: this.readBudgetMs(wanted.length), signal: job.push.signal });
    } catch (err) {
      return this.failure('read', err, true, {});
    }
    const params = wanted.map((p) => diffEntry(p, current.get(p.name)));
    const changes = params.filter((p) => p.result !== 'unchanged').length;
    log.info({ changes }, 'stage dry-run: diff read from the FC');
    return { status: 'dry-run', stage: 'dry-run', reason: `${changes} of ${params.length} parameters would change`, params };
  }

  /** Wait for the disarmed window when the config asks for it. Undefined = go ahead. */
  private async applyWindow(job: Job, log: Logger): Promise<Outcome | undefined> {
    if (job.config.apply?.when !== 'disarmed' || this.opts.fc.vehicle?.armed === false) return undefined;
    const deadlineSec = job.config.apply.deadlineSec;
    this.emitAck(subjectOf(job), {
      status: 'deferred',
      stage: 'window',
      reason: `${this.opts.fc.vehicle === undefined ? 'vehicle state unknown' : 'vehicle is armed'}; applying when disarmed${deadlineSec ? ` (deadline ${deadlineSec} s)` : ''}`,
    }, job.receivedAt, job.meta);
    this.setState('deferred');
    log.info('stage window: deferred until disarmed');
    const outcome = await new Promise<'disarmed' | 'deadline' | 'aborted'>((resolve) => {
      const onArmed = (armed: boolean) => {
        if (!armed) done('disarmed');
      };
      const onAbort = () => done('aborted');
      const timer = deadlineSec !== undefined ? setTimeout(() => done('deadline'), deadlineSec * 1000) : undefined;
      const done = (r: 'disarmed' | 'deadline' | 'aborted') => {
        this.opts.fc.off('armed', onArmed);
        job.wait.signal.removeEventListener('abort', onAbort);
        if (timer) clearTimeout(timer);
        resolve(r);
      };
      this.opts.fc.on('armed', onArmed);
      job.wait.signal.addEventListener('abort', onAbort);
      if (job.wait.signal.aborted) done('aborted');
    });
    if (outcome === 'disarmed') {
      log.info('stage window: disarmed, applying');
      return undefined;
    }
    if (outcome === 'deadline') {
      return { status: 'failed', stage: 'window', code: 'AIM_ERR_ARMED', reason: `vehicle stayed armed past apply.deadlineSec (${deadlineSec} s); nothing was changed`, rolledBack: true };
    }
    if (job.wait.signal.reason === 'superseded' && this.queued !== undefined) {
      return { status: 'superseded', stage: 'window', reason: `superseded by version ${this.queued.config.version} (${this.queued.config.id}) while deferred` };
    }
    if (job.wait.signal.reason === 'withdrawn') return { status: 'superseded', stage: 'window', reason: `${WITHDRAWN} while deferred` };
    return undefined; // shutdown: no ack; the retained desired returns at the next start
  }

  private async applyLocked(job: Job, wanted: FcParam[], lock: LockHandlePort, log: Logger): Promise<Outcome> {
    const { config } = job;
    const base = { lockToken: lock.token };
    const signal = job.push.signal;
    // Re-check the version under the lock: another writer (aim-agent apply) may have moved it.
    const state = await this.opts.store.readState();
    if (state.appliedVersion !== null && config.version <= state.appliedVersion) {
      return { ...base, status: 'rejected', stage: 'version', code: 'AIM_ERR_STALE', reason: `version ${state.appliedVersion} was applied meanwhile`, errors: [{ path: 'version', message: `must be greater than ${state.appliedVersion}` }] };
    }
    let staged: unknown;
    try {
      staged = await this.opts.store.stage(config);
    } catch (err) {
      return this.failure('stage', err, true, base);
    }
    const abortStaged = () => this.opts.store.abort(staged).catch((err: unknown) => log.warn({ err }, 'could not remove the staged file'));
    if (!(await this.linkUp(signal))) {
      await abortStaged();
      return { ...base, status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', reason: 'flight-controller link is down; nothing was changed', rolledBack: true };
    }
    const tPush = this.clock.monotonic();
    // ArduPilot answers a read in ~100 ms and sends every PARAM_VALUE (its set echoes included) to every
    // link, so values cached since the link last came up are what the FC holds. With all of them cached
    // the read is skipped and every parameter is set (not only the changed ones): each set is verified by
    // its echo, so a cache that missed a frame can never turn into a skipped parameter.
    const fromCache = this.cachedValues(wanted);
    let before: Map<string, { value: number; type: number } | undefined>;
    if (fromCache !== undefined) {
      before = fromCache;
    } else {
      try {
        before = await this.opts.fc.params.getMany(wanted.map((p) => p.name), { timeoutMs: this.readBudgetMs(wanted.length), signal });
      } catch (err) {
        await abortStaged();
        return this.failure('read', err, true, base);
      }
    }
    const diff = wanted.map((p) => diffEntry(p, before.get(p.name)));
    const unknown = diff.filter((d) => d.result === 'unknown');
    if (unknown.length > 0) {
      await abortStaged();
      return {
        ...base,
        status: 'failed',
        stage: 'read',
        code: 'AIM_ERR_FC_REJECTED',
        reason: `the flight controller has no parameter ${unknown.map((u) => u.name).join(', ')}; nothing was changed`,
        params: diff,
        rolledBack: true,
      };
    }
    const toSet = wanted
      .filter((_, i) => fromCache !== undefined || diff[i]!.result !== 'unchanged')
      .map((p) => ({ name: p.name, value: p.value, type: p.type ?? paramTypeName(before.get(p.name)?.type) }));
    log.info({ params: wanted.length, changes: diff.filter((d) => d.result !== 'unchanged').length, source: fromCache ? 'cache' : 'read' }, 'stage read: FC parameters known');
    let results: Awaited<ReturnType<FcPort['params']['setMany']>> = [];
    if (toSet.length > 0) {
      try {
        results = await this.opts.fc.params.setMany(toSet, { timeoutMs: this.opts.paramTimeoutMs ?? 1000, retries: this.opts.paramRetries ?? 3, force: true, signal });
      } catch (err) {
        // The whole call failed (link lost, aborted): any parameter may have been written.
        const rolledBack = await this.restore(toSet.map((p) => p.name), before, log);
        await abortStaged();
        return this.failure('push', err, rolledBack, { ...base, params: diff, pushMs: this.clock.monotonic() - tPush });
      }
    }
    const byName = new Map(results.map((r) => [r.name, r]));
    const params: ParamResult[] = diff.map((d) => {
      const r = byName.get(d.name);
      if (r === undefined) return d;
      const entry: ParamResult = { name: d.name, want: d.want, got: r.got === null ? null : float32Display(r.got), result: r.result };
      if (r.rebootRequired || needsReboot(d.name)) entry.rebootRequired = true;
      return entry;
    });
    const pushMs = this.clock.monotonic() - tPush;
    const bad = results.filter((r) => r.result !== 'ok' && r.result !== 'unchanged');
    if (bad.length > 0) {
      log.error({ bad }, 'stage push: verification failed, rolling back');
      const rolledBack = await this.restore(toSet.map((p) => p.name), before, log);
      await abortStaged();
      return {
        ...base,
        status: 'failed',
        stage: 'push',
        code: bad.some((b) => b.result === 'timeout') ? 'AIM_ERR_FC_TIMEOUT' : bad.some((b) => b.result === 'mismatch') ? 'AIM_ERR_FC_VERIFY' : 'AIM_ERR_FC_REJECTED',
        reason: `${bad.length} parameter(s) not verified: ${bad.map((b) => `${b.name} ${b.result}`).join(', ')}`,
        params,
        pushMs,
        rolledBack,
      };
    }
    log.info({ ms: ms(pushMs), set: toSet.length }, 'stage push: every parameter verified');

    let aim: { result: string; via?: string } | null = null;
    const cmd = configToAimCommand(config);
    if (cmd !== undefined) {
      const aimOpts = { timeoutMs: this.opts.aimTimeoutMs ?? 3000, signal };
      try {
        const r = cmd.kind === 'roi' ? await this.opts.fc.gimbal.roi(cmd, aimOpts) : await this.opts.fc.gimbal.point(cmd, aimOpts);
        aim = { result: r.result, ...(typeof r.via === 'string' ? { via: r.via } : {}) };
      } catch (err) {
        aim = { result: isAimError(err) ? err.code : 'error' };
      }
      if (aim.result !== 'accepted') {
        log.error({ aim }, 'stage aim: command not accepted, rolling back');
        const rolledBack = await this.restore(toSet.map((p) => p.name), before, log);
        await abortStaged();
        return { ...base, status: 'failed', stage: 'aim', code: 'AIM_ERR_FC_REJECTED', reason: `aim command answered ${aim.result}`, params, aim, pushMs, rolledBack };
      }
      log.info({ aim: aim.result }, 'stage aim: accepted');
    }

    const appliedAt = new Date(this.clock.now()).toISOString();
    try {
      await this.opts.store.commit(staged, lock, { appliedAt });
    } catch (err) {
      if (isAimError(err, 'AIM_ERR_FENCED') || isAimError(err, 'AIM_ERR_LOCK_LOST')) {
        // Another writer owns the aim now; touching the FC again would fight it.
        await abortStaged();
        return this.failure('commit', err, false, { ...base, params, aim, pushMs });
      }
      const rolledBack = await this.restore(toSet.map((p) => p.name), before, log);
      await abortStaged();
      return this.failure('commit', err, rolledBack, { ...base, params, aim, pushMs });
    }
    log.info({ appliedAt }, 'stage commit: aim file swapped');
    this.emit('reported', { version: config.version, id: config.id, sha256: job.sha256, appliedAt, fc: { verified: true, drift: [] } });
    const reboot = params.filter((p) => p.rebootRequired && p.result === 'ok').map((p) => p.name);
    return {
      ...base,
      status: 'applied',
      stage: 'done',
      reason: reboot.length > 0 ? `applied; ${reboot.join(', ')} take effect after a flight-controller reboot` : null,
      params,
      aim,
      pushMs,
    };
  }

  /** Put the FC back on the values read before the push; true when every one verified. */
  private async restore(names: string[], before: Map<string, { value: number; type: number } | undefined>, log: Logger): Promise<boolean> {
    const list = names.flatMap((name) => {
      const b = before.get(name);
      return b === undefined ? [] : [{ name, value: b.value, type: paramTypeName(b.type) }];
    });
    if (list.length === 0) return true;
    if (this.opts.fc.status().state !== 'up') {
      log.error({ params: names }, 'rollback impossible: FC link is down; reconciliation repairs drift when it returns');
      return false;
    }
    try {
      const results = await this.opts.fc.params.setMany(list, { timeoutMs: this.opts.paramTimeoutMs ?? 1000, retries: this.opts.paramRetries ?? 3, force: true, signal: AbortSignal.timeout(15_000) });
      const ok = results.every((r) => r.result === 'ok' || r.result === 'unchanged');
      log[ok ? 'warn' : 'error']({ restored: results.filter((r) => r.result === 'ok').length, results: ok ? undefined : results }, ok ? 'rollback verified' : 'rollback incomplete');
      return ok;
    } catch (err) {
      log.error({ err }, 'rollback failed');
      return false;
    }
  }

  /** Current values of `wanted` from the link's cache, or undefined when any is missing or older than the link session. */
  private cachedValues(wanted: FcParam[]): Map<string, { value: number; type: number }> | undefined {
    const since = this.linkUpSince;
    if (since === undefined || this.opts.fc.status().state !== 'up') return undefined;
    const out = new Map<string, { value: number; type: number }>();
    for (const p of wanted) {
      const c = this.opts.fc.params.cached(p.name);
      if (c === undefined || c.at < since) return undefined;
      out.set(p.name, { value: c.value, type: c.type });
    }
    return out;
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

  private failure(stage: string, err: unknown, rolledBack: boolean, extra: Partial<AckFields>): Outcome {
    const code: AimErrorCode = isAimError(err) ? err.code : 'AIM_ERR_STORE_IO';
    const reason = err instanceof Error ? err.message : String(err);
    return { ...extra, status: 'failed', stage, code, reason, rolledBack };
  }

  private readBudgetMs(n: number): number {
    // ArduPilot answers a read in ~100 ms; reads are pipelined, so budget per-read timeout plus slack.
    return (this.opts.paramTimeoutMs ?? 1000) * ((this.opts.paramRetries ?? 3) + 1) + n * 20;
  }
}

function subjectOf(job: Job): AckSubject {
  return { version: job.config.version, id: job.config.id, sha256: job.sha256 };
}

function ms(x: number): number {
  return Math.round(x * 10) / 10;
}
