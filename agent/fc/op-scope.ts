import { AimError } from '../../protocol/errors.js';
import type { LinkCore } from './link-core.js';

/**
 * The life of one client call (a setMany, a point): aborted by the caller's signal or link close
 * (AIM_ERR_ABORTED) or by the link going down (AIM_ERR_FC_LINK). Owns its timers and listeners, so
 * dispose() leaves nothing behind whichever way the call ended. Its timers are the link's (core.timers).
 */
export class OpScope {
  private readonly ctl = new AbortController();
  private readonly cleanups: (() => void)[] = [];
  private readonly timers = new Set<unknown>();
  private readonly clock: LinkCore['timers'];
  private reason: AimError | undefined;

  constructor(core: LinkCore, what: string, signal?: AbortSignal) {
    this.clock = core.timers;
    const abortWith = (err: AimError) => {
      if (this.reason !== undefined) return;
      this.reason = err;
      this.ctl.abort(err);
    };
    const onUser = () => abortWith(new AimError('AIM_ERR_ABORTED', `${what}: aborted`, { cause: signal?.reason }));
    const onClose = () => abortWith(new AimError('AIM_ERR_ABORTED', `${what}: link closed`));
    if (signal?.aborted) onUser();
    else if (signal) {
      signal.addEventListener('abort', onUser, { once: true });
      this.cleanups.push(() => signal.removeEventListener('abort', onUser));
    }
    if (core.closing.aborted) onClose();
    else {
      core.closing.addEventListener('abort', onClose, { once: true });
      this.cleanups.push(() => core.closing.removeEventListener('abort', onClose));
    }
    this.cleanups.push(core.onDown((why) => abortWith(new AimError('AIM_ERR_FC_LINK', `${what}: flight-controller link down (${why})`))));
    if (!core.isUp() && this.reason === undefined) abortWith(new AimError('AIM_ERR_FC_LINK', `${what}: flight-controller link is down`));
  }

  get signal(): AbortSignal {
    return this.ctl.signal;
  }

  get aborted(): boolean {
    return this.reason !== undefined;
  }

  /** Throw the abort reason, if any. */
  check(): void {
    if (this.reason !== undefined) throw this.reason;
  }

  /** A timer cleared at dispose. */
  setTimer(ms: number, fn: () => void): unknown {
    const t = this.clock.setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }

  clearTimer(t: unknown): void {
    if (t === undefined) return;
    this.clock.clearTimeout(t);
    this.timers.delete(t);
  }

  /** Resolve after ms; reject with the abort reason if the scope ends first. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.reason) return reject(this.reason);
      const onAbort = () => {
        this.clearTimer(t);
        reject(this.reason);
      };
      const t = this.setTimer(ms, () => {
        this.signal.removeEventListener('abort', onAbort);
        resolve();
      });
      this.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  dispose(): void {
    for (const t of this.timers) this.clock.clearTimeout(t);
    this.timers.clear();
    for (const fn of this.cleanups.splice(0)) fn();
  }
}
