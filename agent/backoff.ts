/** Reconnect backoff bounds: the one backoff for the FC link and the broker session. */
export interface BackoffOptions {
  minMs: number;
  maxMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 5000 };

/**
 * The next reconnect delay: `minMs` first, then doubling up to `maxMs`, with ±20 % jitter so a fleet
 * of agents behind one router does not retry in step. `prev` undefined = first attempt.
 */
export function nextDelay(prev: number | undefined, opts: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const base = prev === undefined ? opts.minMs : Math.min(opts.maxMs, Math.max(opts.minMs, prev * 2));
  const jittered = base * (0.8 + 0.4 * random());
  return Math.round(Math.min(opts.maxMs, Math.max(opts.minMs * 0.8, jittered)));
}
