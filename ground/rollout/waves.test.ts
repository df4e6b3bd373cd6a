import t from 'tap';
import { parseWaves, planWaves } from './waves.js';

const fleet = (n: number) => Array.from({ length: n }, (_, i) => `d${String(i + 1).padStart(3, '0')}`);
const sizes = (plan: ReturnType<typeof planWaves>) => plan.map((w) => w.drones.length);

t.test('the canary goes first and alone, waves are cumulative shares rounded up', async (t) => {
  const plan = planWaves(fleet(200), { canary: 3, waves: parseWaves('10%,50%,100%') });
  t.same(plan.map((w) => w.name), ['canary', 'wave 1', 'wave 2', 'wave 3']);
  t.same(sizes(plan), [3, 17, 80, 100]);
  t.same(plan[0]!.drones, ['d001', 'd002', 'd003'], 'canary = the first N in the order given');
  t.same(plan.flatMap((w) => w.drones), fleet(200), 'every drone exactly once, in order');
  t.same(sizes(planWaves(fleet(7), { canary: 1, waves: parseWaves('10%,50%,100%') })), [1, 3, 3], '10% of 7 rounds up to 1, already covered by the canary');
});

t.test('named canary drones go first; the rest keeps its order', async (t) => {
  const plan = planWaves(fleet(5), { canary: ['d004', 'd002'], waves: parseWaves('100%') });
  t.same(plan.map((w) => w.drones), [['d004', 'd002'], ['d001', 'd003', 'd005']]);
});

t.test('counts and percentages mix; waves already reached are dropped', async (t) => {
  t.same(sizes(planWaves(fleet(20), { canary: 2, waves: parseWaves('2,25%,50%,100%') })), [2, 3, 5, 10]);
  t.same(sizes(planWaves(fleet(3), { canary: 3, waves: parseWaves('100%') })), [3], 'a canary of the whole fleet leaves no wave');
});

t.test('plans that cannot run as asked are refused', async (t) => {
  t.throws(() => planWaves(fleet(5), { canary: 0, waves: parseWaves('100%') }), /canary cannot be skipped/);
  t.throws(() => planWaves(fleet(5), { canary: [], waves: parseWaves('100%') }), /canary cannot be skipped/);
  t.throws(() => planWaves(fleet(5), { canary: 6, waves: parseWaves('100%') }), /more than the 5/);
  t.throws(() => planWaves(fleet(5), { canary: ['x'], waves: parseWaves('100%') }), /not among/);
  t.throws(() => planWaves(fleet(10), { canary: 1, waves: parseWaves('10%,50%') }), /end --waves with 100%/);
  t.throws(() => planWaves(fleet(10), { canary: 1, waves: parseWaves('50%,10%,100%') }), /must not decrease/);
  t.throws(() => planWaves(['a', 'a'], { canary: 1, waves: parseWaves('100%') }), /listed twice/);
  t.throws(() => planWaves([], { canary: 1, waves: parseWaves('100%') }), /no drones/);
  t.throws(() => parseWaves('10%,,100%'), RangeError);
});
