/** Time and timers, passed in so tests can drive them (STYLE.md rule 4). */
export interface Clock {
  /** Milliseconds on a monotonic scale (fractions allowed). */
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};
