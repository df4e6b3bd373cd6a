import t from 'tap';
import { DEFAULT_BACKOFF, nextDelay } from './backoff.js';

t.test('backoff: min first, doubling to max, ±20 % jitter that never leaves the bounds', async (t) => {
  const opts = { minMs: 500, maxMs: 30_000 };
  const seq: number[] = [];
  let d: number | undefined;
  for (let i = 0; i < 9; i++) seq.push((d = nextDelay(d, opts, () => 0.5)));
  t.same(seq, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  t.equal(nextDelay(undefined, opts, () => 1), 600, '+20 %');
  t.equal(nextDelay(undefined, opts, () => 0), 400, '−20 %');
  t.equal(nextDelay(30_000, opts, () => 1), 30_000, 'never above max');
  t.same(DEFAULT_BACKOFF, { minMs: 500, maxMs: 5000 });
});
