import { amountCeil, parseAmount, type Amount } from './amount.js';

/** One step of a roll-out: the canary (always first, always alone) or a wave. */
export interface PlannedWave {
  name: string;
  /** What the operator wrote for this wave (`10%`, `25`), or `canary`. */
  spec: string;
  drones: string[];
}

/**
 * `--waves 10%,50%,100%`: each entry is the CUMULATIVE share of all targeted drones (canary included)
 * updated once that wave is done; percentages round up. The last entry must reach every drone.
 * @example parseWaves('10%,50%,100%')
 */
export function parseWaves(text: string): Amount[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.length === 0 || parts.some((p) => p === '')) throw new RangeError(`--waves ${JSON.stringify(text)}: give a comma-separated list such as 10%,50%,100%`);
  return parts.map(parseAmount);
}

export interface PlanOptions {
  /** The first N drones in the order given, or the named drones. */
  canary: number | readonly string[];
  waves: readonly Amount[];
}

/**
 * Split the ordered drone list into the canary and the waves. A wave whose cumulative target is already
 * reached (10% of 20 drones after a canary of 3) is dropped rather than run empty.
 * Throws RangeError for a plan that cannot be run as asked.
 */
export function planWaves(drones: readonly string[], opts: PlanOptions): PlannedWave[] {
  const total = drones.length;
  if (total === 0) throw new RangeError('no drones to roll out to');
  const seen = new Set<string>();
  for (const d of drones) {
    if (seen.has(d)) throw new RangeError(`drone ${d} is listed twice`);
    seen.add(d);
  }
  let canary: string[];
  if (typeof opts.canary === 'number') {
    if (!Number.isInteger(opts.canary) || opts.canary < 1) throw new RangeError('the canary cannot be skipped: --canary must be at least 1');
    if (opts.canary > total) throw new RangeError(`--canary ${opts.canary} is more than the ${total} drone(s) targeted`);
    canary = drones.slice(0, opts.canary);
  } else {
    if (opts.canary.length === 0) throw new RangeError('the canary cannot be skipped: name at least one canary drone');
    for (const c of opts.canary) if (!seen.has(c)) throw new RangeError(`canary drone ${c} is not among the targeted drones`);
    if (new Set(opts.canary).size !== opts.canary.length) throw new RangeError('a canary drone is listed twice');
    canary = [...opts.canary];
  }
  const inCanary = new Set(canary);
  const rest = drones.filter((d) => !inCanary.has(d));
  const plan: PlannedWave[] = [{ name: 'canary', spec: 'canary', drones: canary }];
  let done = canary.length;
  let previous = 0;
  let n = 0;
  for (const step of opts.waves) {
    const target = amountCeil(step, total);
    if (target < previous) throw new RangeError(`--waves must not decrease (${step.text} after a larger wave)`);
    previous = target;
    if (target <= done) continue;
    n++;
    plan.push({ name: `wave ${n}`, spec: step.text, drones: rest.slice(done - canary.length, target - canary.length) });
    done = target;
  }
  if (done < total) {
    const last = opts.waves[opts.waves.length - 1]?.text ?? '(none)';
    throw new RangeError(`the last wave (${last}) reaches ${done} of ${total} drones; end --waves with 100%`);
  }
  return plan;
}
