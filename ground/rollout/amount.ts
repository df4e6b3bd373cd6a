/**
 * A count (`5`) or a percentage (`12.5%`) as operators write them in `--waves` and `--max-failures`.
 * A percentage is kept as an exact integer fraction (`125/1000`), so a share of the fleet is computed
 * in integers and never suffers float rounding (10% of 30 is 3, not 3.0000000000000004 → 4).
 */
export type Amount = { kind: 'count'; count: number; text: string } | { kind: 'percent'; num: number; den: number; text: string };

const COUNT_RE = /^\d{1,9}$/;
const PERCENT_RE = /^(\d{1,3})(?:\.(\d{1,3}))?%$/;

/** @example parseAmount('12.5%') // { kind: 'percent', num: 125, den: 1000, text: '12.5%' } */
export function parseAmount(text: string): Amount {
  const s = text.trim();
  if (COUNT_RE.test(s)) return { kind: 'count', count: Number(s), text: s };
  const m = PERCENT_RE.exec(s);
  if (m === null) throw new RangeError(`${JSON.stringify(text)} is neither a count (5) nor a percentage (10%, 12.5%)`);
  const decimals = m[2] ?? '';
  const num = Number(m[1]! + decimals);
  const den = 100 * 10 ** decimals.length;
  if (num > den) throw new RangeError(`${JSON.stringify(text)} is more than 100%`);
  return { kind: 'percent', num, den, text: s };
}

/** The share of `total` an amount names, rounded up (a non-zero percentage is at least one drone), at most `total`. */
export function amountCeil(a: Amount, total: number): number {
  if (a.kind === 'count') return Math.min(a.count, total);
  const n = a.num * total;
  return Math.min(total, Math.floor(n / a.den) + (n % a.den === 0 ? 0 : 1));
}

/** The share of `total` an amount names, rounded down (a count is taken as is). */
export function amountFloor(a: Amount, total: number): number {
  if (a.kind === 'count') return a.count;
  return Math.floor((a.num * total) / a.den);
}
