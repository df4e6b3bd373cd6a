import t from 'tap';
import { allowedFailures, parseMaxFailures, pastThreshold } from './threshold.js';

t.test('a count tolerates exactly that many failures', async (t) => {
  const limit = parseMaxFailures('2');
  t.equal(allowedFailures(limit, 10), 2);
  t.equal(allowedFailures(limit, 1), 1, 'never more than the drones there are');
  t.notOk(pastThreshold(2, 2));
  t.ok(pastThreshold(3, 2));
});

t.test('a percentage is of the targeted drones and rounds down', async (t) => {
  t.equal(allowedFailures(parseMaxFailures('10%'), 200), 20);
  t.equal(allowedFailures(parseMaxFailures('10%'), 25), 2, '2.5 rounds down to 2');
  t.equal(allowedFailures(parseMaxFailures('5%'), 10), 0, '0.5 rounds down to 0: the first failure halts');
  t.equal(allowedFailures(parseMaxFailures('20%'), 10), 2);
  t.equal(allowedFailures(parseMaxFailures('33.4%'), 3), 1);
  t.equal(allowedFailures(parseMaxFailures('100%'), 7), 7);
  t.equal(allowedFailures(parseMaxFailures('0'), 7), 0);
});

t.test('the default of 0 halts at the first failure', async (t) => {
  const allowed = allowedFailures(parseMaxFailures('0'), 50);
  t.notOk(pastThreshold(0, allowed));
  t.ok(pastThreshold(1, allowed));
});
