import { AimError } from '../../protocol/index.js';
import type { Clock, Timers } from './ports.js';

/**
 * Stop FC writes the moment this process notices it was frozen (SIGSTOP, a stalled VM, a swap storm)
 * for so long that its aim lock may have been taken: a frozen holder is judged stale after the TTL
 * since its last heartbeat, which may be TTL/4 older than the freeze, so anything past TTL/2 is
 * treated as "maybe taken". The check is a short timer on the monotonic clock: after a freeze it is
 * overdue and runs in the first timers phase, before a PARAM_SET retry timer or an echo read from the
 * socket can send anything more. The lock's own loss signal confirms the loss later (a disk check).
 */
export class FreezeFence {
  private readonly ac = new AbortController();
  private last: number;
  private cancel: (() => void) | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly timers: Timers,
    private readonly ttlMs: number,
  ) {
    this.last = clock.monotonic();
    this.arm();
  }

  get signal(): AbortSignal {
    return this.ac.signal;
  }

  stop(): void {
    this.cancel?.();
    this.cancel = undefined;
  }

  private arm(): void {
    const every = Math.max(10, Math.min(100, Math.floor(this.ttlMs / 8)));
    this.cancel = this.timers.setTimer(every, () => {
      const now = this.clock.monotonic();
      const gap = now - this.last;
      this.last = now;
      if (gap > this.ttlMs / 2) {
        this.ac.abort(
          new AimError('AIM_ERR_ABORTED', `this process was frozen for ${Math.round(gap)} ms, more than half the ${this.ttlMs} ms lock TTL: FC writes stopped (the aim lock may have been taken)`, {
            details: { gapMs: gap },
          }),
        );
        this.cancel = undefined;
        return;
      }
      this.arm();
    });
  }
}
