import t from 'tap';
import { amountCeil, amountFloor, parseAmount } from './amount.js';

t.test('parses counts and percentages, with up to three decimals', async (t) => {
  t.same(parseAmount('5'), { kind: 'count', count: 5, text: '5' });
  t.same(parseAmount(' 10% '), { kind: 'percent', num: 10, den: 100, text: '10%' });
  t.same(parseAmount('12.5%'), { kind: 'percent', num: 125, den: 1000, text: '12.5%' });
  t.same(parseAmount('100%'), { kind: 'percent', num: 100, den: 100, text: '100%' });
  for (const bad of ['', '%', '-1', '1.5', '101%', '100.1%', 'ten', '5 %', '1e3', '0x10']) t.throws(() => parseAmount(bad), RangeError, bad);
});

t.test('rounds in exact integers, never through floats', async (t) => {
  // 10% of 30 as a float is 3.0000000000000004; ceil of that would wrongly be 4.
  t.equal(amountCeil(parseAmount('10%'), 30), 3);
  t.equal(amountCeil(parseAmount('10%'), 31), 4);
  t.equal(amountCeil(parseAmount('1%'), 1), 1, 'a non-zero percentage is at least one drone');
  t.equal(amountCeil(parseAmount('0%'), 50), 0);
  t.equal(amountCeil(parseAmount('12.5%'), 8), 1);
  t.equal(amountCeil(parseAmount('12.5%'), 9), 2);
  t.equal(amountCeil(parseAmount('100%'), 200), 200);
  t.equal(amountCeil(parseAmount('500'), 200), 200, 'a count is capped at the total');
  t.equal(amountFloor(parseAmount('5%'), 10), 0);
  t.equal(amountFloor(parseAmount('5%'), 20), 1);
  t.equal(amountFloor(parseAmount('5%'), 39), 1);
  t.equal(amountFloor(parseAmount('7%'), 100), 7, '7% of 100 is 7 (7 * 100 / 100 in floats is 7.000000000000001)');
  t.equal(amountFloor(parseAmount('2.5%'), 200), 5);
  t.equal(amountFloor(parseAmount('3'), 2), 3);
});
