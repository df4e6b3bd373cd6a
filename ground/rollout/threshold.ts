import { amountFloor, parseAmount, type Amount } from './amount.js';

/**
 * `--max-failures N|P%`: how many failed drones a roll-out tolerates before it halts. A percentage is of
 * the drones the roll-out targets and rounds DOWN (5% of 30 drones tolerates 1 failure, 5% of 10
 * tolerates none): when in doubt the roll-out stops. The canary tolerates no failure at all.
 */
export function parseMaxFailures(text: string): Amount {
  return parseAmount(text);
}

/** Failures tolerated out of `total` targeted drones. @example allowedFailures(parseMaxFailures('10%'), 25) // 2 */
export function allowedFailures(limit: Amount, total: number): number {
  return Math.min(amountFloor(limit, total), total);
}

/** True once `failures` is past what is tolerated: the roll-out halts and starts no further wave. */
export function pastThreshold(failures: number, allowed: number): boolean {
  return failures > allowed;
}
