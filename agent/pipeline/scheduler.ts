import type { AimConfig } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { Outcome } from './intake.js';

/** What the scheduler needs to know of a job. */
export interface SchedJob {
  config: AimConfig;
  sha256: string;
  /** Aborts a deferred wait (superseded, withdrawn, shutdown); a push in progress ignores it. */
  wait: AbortController;
  /** Aborts FC traffic; only shutdown past its grace period fires it. */
  push: AbortController;
}

/** How a new desired config fits next to the one running and the one queued. */
export type Admission<J> =
  | { kind: 'queued'; replaced?: J }
  | { kind: 'repeat' }
  | { kind: 'refused'; outcome: Outcome };

/**
 * One apply at a time, tasks (reconciliation) between applies, at most one job queued. Admission
 * policy: only a strictly newer version displaces a queued job or a deferred one; an older version is
 * refused as stale at once and a reused version with other content as a conflict, so a replayed old
 * config can never knock out a newer one.
 */
export class Scheduler<J extends SchedJob> {
  current: J | undefined;
  queued: J | undefined;
  private readonly tasks: { name: string; fn: () => Promise<void>; done: (err?: unknown) => void }[] = [];
  private running: Promise<void> | undefined;
  private closedFlag = false;

  constructor(
    private readonly runJob: (job: J) => Promise<void>,
    private readonly log: Logger,
  ) {}

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Decide where `job` goes; `currentDeferred`: the running job only waits for its window. */
  admit(job: J, currentDeferred: boolean): Admission<J> {
    const same = (j: J | undefined) => j !== undefined && j.config.version === job.config.version && j.sha256 === job.sha256;
    if (same(this.current) || same(this.queued)) return { kind: 'repeat' };
    // Compare with the newest job we hold (the queued one, else the running one): only a newer version goes on.
    const ahead = this.queued ?? this.current;
    if (ahead !== undefined) {
      const refused = refuse(job, ahead, ahead === this.queued ? 'queued' : currentDeferred ? 'deferred' : 'being applied');
      if (refused !== undefined) return { kind: 'refused', outcome: refused };
    }
    const replaced = this.queued;
    this.queued = job;
    if (currentDeferred && this.current !== undefined) this.current.wait.abort('superseded');
    this.kick();
    return replaced === undefined ? { kind: 'queued' } : { kind: 'queued', replaced };
  }

  /** Take back the queued job and a deferred running one (the ground cleared its desired config). */
  withdraw(currentDeferred: boolean): J[] {
    const out: J[] = [];
    if (this.queued !== undefined) out.push(this.queued);
    this.queued = undefined;
    if (currentDeferred && this.current !== undefined) this.current.wait.abort('withdrawn');
    return out;
  }

  /** Run `fn` between applies, never alongside one. Tasks go before queued configs. */
  exclusive(name: string, fn: () => Promise<void>): Promise<void> {
    if (this.closedFlag) return Promise.reject(new Error('pipeline closed'));
    return new Promise<void>((resolve, reject) => {
      this.tasks.push({ name, fn, done: (err) => (err === undefined ? resolve() : reject(err)) });
      this.kick();
    });
  }

  /** Resolves when nothing is queued or running. */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running;
  }

  /** Stop taking work; pending tasks fail, the queued job is dropped. Returns the run in progress, if any. */
  close(): Promise<void> | undefined {
    this.closedFlag = true;
    this.queued = undefined;
    for (const t of this.tasks.splice(0)) t.done(new Error('pipeline closed'));
    this.current?.wait.abort('shutdown');
    return this.running;
  }

  private kick(): void {
    if (this.running !== undefined || this.closedFlag) return;
    this.running = (async () => {
      // Let a burst in (a session's queued messages at reconnect, the messages held for boot
      // reconciliation): a newer desired then supersedes an older one before the older one is applied.
      await new Promise<void>((resolve) => setImmediate(resolve));
      try {
        while ((this.queued !== undefined || this.tasks.length > 0) && !this.closedFlag) {
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
            await this.runJob(job);
          } finally {
            this.current = undefined;
          }
        }
      } finally {
        this.running = undefined;
      }
    })();
  }
}

/** Why `job` may not take the place of `ahead`, or undefined when it is newer. */
function refuse(job: SchedJob, ahead: SchedJob, where: string): Outcome | undefined {
  const v = job.config.version;
  const a = ahead.config.version;
  if (v < a) {
    return {
      status: 'rejected',
      stage: 'queue',
      code: 'AIM_ERR_STALE',
      reason: `version ${v} is older than version ${a} (${ahead.config.id}), which is ${where}`,
      errors: [{ path: 'version', message: `must be greater than ${a}` }],
    };
  }
  if (v === a) {
    return {
      status: 'rejected',
      stage: 'queue',
      code: 'AIM_ERR_CONFLICT',
      reason: `version ${v} is ${where} with different content (sha256 ${ahead.sha256})`,
      errors: [{ path: 'version', message: 'reused with different content; issue a new version' }],
    };
  }
  return undefined;
}
