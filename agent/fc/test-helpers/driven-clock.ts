import type { Clock } from '../../../sim/clock.js';

/**
 * A clock the test drives: timers fire only when `advance` or `run` passes them, one at a time in
 * (due time, creation) order, with every pending I/O callback and promise settled before the next one.
 * It fits both the link's `timers` and fc-sim's `clock`, so the two share one time and a retry fires
 * exactly when its timeout says, however loaded the machine is.
 */
export class DrivenClock implements Clock {
  private t = 0;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = ++this.seq;
    this.due.set(id, { at: this.t + Math.max(0, ms), fn });
    return id;
  };

  clearTimeout = (handle: unknown): void => {
    this.due.delete(handle as number);
  };

  /** Timers waiting to fire. */
  get pending(): number {
    return this.due.size;
  }

  /** Move time forward by `ms`, firing what falls due on the way. */
  async advance(ms: number): Promise<void> {
    const to = this.t + ms;
    while (await this.step(to));
    this.t = to;
    await settle();
  }

  /**
   * Fire timers in order until `p` settles; its value (or rejection). Fails when `p` is still pending
   * after `limitMs` of driven time: a bug, not a slow machine.
   */
  async run<T>(p: Promise<T>, limitMs = 120_000): Promise<T> {
    let done = false;
    const watched = p.finally(() => void (done = true));
    watched.catch(() => undefined);
    const to = this.t + limitMs;
    await settle();
    while (!done && (await this.step(to)));
    if (!done) throw new Error(`still pending after ${limitMs} ms of driven time`);
    return watched;
  }

  /** Fire the earliest timer due by `to`; false when there is none. */
  private async step(to: number): Promise<boolean> {
    await settle();
    let next: [number, { at: number; fn: () => void }] | undefined;
    for (const e of this.due) if (e[1].at <= to && (next === undefined || e[1].at < next[1].at)) next = e;
    if (next === undefined) return false;
    this.due.delete(next[0]);
    this.t = next[1].at;
    next[1].fn();
    await settle();
    return true;
  }
}

/** Let every queued callback run: process.nextTick, promise jobs and the streams' deferred writes. */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
