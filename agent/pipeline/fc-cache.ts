import type { FcParam } from '../../protocol/index.js';
import type { Clock, FcPort } from './ports.js';

/**
 * When the parameter cache can stand in for a read. ArduPilot sends every PARAM_VALUE (set echoes
 * included) to every link, so a value seen since the link last came up is what the FC holds. "Since"
 * is measured on the monotonic clock on both sides: a wall-clock step (NTP on a Pi without RTC) must
 * not make a value from an earlier link session look current.
 */
export class FcCache {
  /** Monotonic ms since which the link has been up without a break; undefined while down. */
  private upSince: number | undefined;

  constructor(
    private readonly fc: FcPort,
    private readonly clock: Clock,
  ) {
    if (fc.status().state === 'up') this.upSince = clock.monotonic();
    fc.on('up', () => (this.upSince = this.clock.monotonic()));
    fc.on('down', () => (this.upSince = undefined));
  }

  /** Current values of `wanted` from the cache, or undefined when any is missing or older than the link session. */
  values(wanted: readonly FcParam[]): Map<string, { value: number; type: number }> | undefined {
    const since = this.upSince;
    if (since === undefined || this.fc.status().state !== 'up') return undefined;
    const out = new Map<string, { value: number; type: number }>();
    for (const p of wanted) {
      const c = this.fc.params.cached(p.name);
      if (c === undefined || !(c.seenMono >= since)) return undefined;
      out.set(p.name, { value: c.value, type: c.type });
    }
    return out;
  }
}
