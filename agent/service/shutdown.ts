import type { Logger } from '../log.js';

/**
 * The stop path's time, all derived from one number (apply.shutdownTimeoutS), so that it fits the
 * unit's TimeoutStopSec by construction: the shares sum to 1, each step ends by its cumulative
 * deadline whatever it is waiting for, and a step that finishes early leaves its time to the next.
 */
export interface ShutdownBudget {
  totalMs: number;
  /** STOPPING=1 to systemd, first, before anything else is torn down. */
  notifyMs: number;
  /** An apply in flight may finish on its own... */
  graceMs: number;
  /** ...then its FC traffic is aborted and it rolls back within this. */
  rollbackMs: number;
  /** Close the FC link (no FC write can go out after this), then release the aim lock. */
  releaseMs: number;
  /** Publish the retained `offline` and disconnect; a frozen broker is cut off when this ends. */
  sessionMs: number;
}

export const SHUTDOWN_SHARES = { notify: 0.05, grace: 0.4, rollback: 0.25, release: 0.1, session: 0.2 } as const;

/** Split `totalMs`; `graceCapMs` (a test or caller in a hurry) only shortens the grace. */
export function shutdownBudget(totalMs: number, graceCapMs?: number): ShutdownBudget {
  const part = (share: number) => Math.floor(totalMs * share);
  const grace = part(SHUTDOWN_SHARES.grace);
  const b = {
    notifyMs: part(SHUTDOWN_SHARES.notify),
    graceMs: graceCapMs === undefined ? grace : Math.max(0, Math.min(grace, graceCapMs)),
    rollbackMs: part(SHUTDOWN_SHARES.rollback),
    releaseMs: part(SHUTDOWN_SHARES.release),
    sessionMs: part(SHUTDOWN_SHARES.session),
  };
  return { ...b, totalMs: b.notifyMs + b.graceMs + b.rollbackMs + b.releaseMs + b.sessionMs };
}

export interface ShutdownTimers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: ShutdownTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface ShutdownStep {
  name: string;
  budgetMs: number;
  /** `remainingMs`: time left until this step's deadline, for steps that bound their own waits. */
  run(remainingMs: number): Promise<unknown>;
}

/**
 * Run the steps in order, each until it settles or its cumulative deadline passes (then the next
 * starts anyway: a hung broker must not keep the FC link open, nor the process alive). Never throws.
 * Returns the names of the steps that ran out of time.
 */
export async function runShutdown(steps: readonly ShutdownStep[], log: Logger, timers: ShutdownTimers = realTimers): Promise<string[]> {
  const overran: string[] = [];
  const t0 = timers.now();
  let deadline = t0;
  for (const step of steps) {
    deadline += step.budgetMs;
    const remaining = Math.max(0, deadline - timers.now());
    let handle: unknown;
    const outcome = await Promise.race([
      step.run(remaining).then(
        () => 'done' as const,
        (err: unknown) => {
          log.warn({ err, step: step.name }, 'shutdown step failed; carrying on');
          return 'done' as const;
        },
      ),
      new Promise<'timeout'>((resolve) => (handle = timers.setTimeout(() => resolve('timeout'), remaining))),
    ]);
    timers.clearTimeout(handle);
    if (outcome === 'timeout') {
      overran.push(step.name);
      log.warn({ step: step.name, budgetMs: step.budgetMs }, 'shutdown step ran out of time; carrying on');
    }
  }
  return overran;
}
