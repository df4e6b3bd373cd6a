import type { AimConfig } from '../../protocol/index.js';
import type { FcPort, Timers } from './ports.js';

export type WindowWait = 'open' | 'deadline' | 'aborted';

/** True when the config may be written now: it does not ask for the disarmed window, or the vehicle is known to be disarmed. */
export function windowOpen(config: AimConfig, fc: FcPort): boolean {
  return config.apply?.when !== 'disarmed' || fc.vehicle?.armed === false;
}

/** Why the window is closed, in words for the deferred ack. */
export function windowClosedReason(fc: FcPort): string {
  return fc.vehicle === undefined ? 'vehicle state unknown' : 'vehicle is armed';
}

/**
 * Wait until the vehicle disarms, `remainingMs` passes (undefined: no deadline) or `signal` aborts.
 * Resolves at once when the window is already open.
 */
export function waitForWindow(config: AimConfig, fc: FcPort, timers: Timers, remainingMs: number | undefined, signal: AbortSignal): Promise<WindowWait> {
  if (windowOpen(config, fc)) return Promise.resolve('open');
  return new Promise<WindowWait>((resolve) => {
    const onArmed = (armed: boolean) => {
      if (!armed) done('open');
    };
    const onAbort = () => done('aborted');
    const cancel = remainingMs !== undefined ? timers.setTimer(Math.max(0, remainingMs), () => done('deadline')) : undefined;
    let settled = false;
    function done(r: WindowWait) {
      if (settled) return;
      settled = true;
      fc.off('armed', onArmed);
      signal.removeEventListener('abort', onAbort);
      cancel?.();
      resolve(r);
    }
    fc.on('armed', onArmed);
    signal.addEventListener('abort', onAbort);
    if (signal.aborted) done('aborted');
  });
}
