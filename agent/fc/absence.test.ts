import t from 'tap';
import { ABSENCE_RISK, judgeSilence, MAX_REQUESTS, requestsForAbsence, roundTripLoss } from './absence.js';

t.test('requests needed grow with the loss, and stop at the cap', async (t) => {
  t.equal(requestsForAbsence(0, 3), 3);
  t.equal(requestsForAbsence(0.02, 3), 3);
  t.equal(requestsForAbsence(0.26, 3), 7, '10 % loss + 0.1 % corruption: ~26 % of round trips fail');
  t.ok(0.26 ** 7 < ABSENCE_RISK && 0.26 ** 6 > ABSENCE_RISK);
  t.equal(requestsForAbsence(0.64, 3), undefined, '1 % corruption: too lossy to prove anything within the cap');
  t.equal(requestsForAbsence(1, 3), undefined);
});

t.test('round-trip loss from the FC sequence gaps, smoothed', async (t) => {
  t.ok(roundTripLoss({ framesIn: 10_000, seqGaps: 0, answers: 1 }) < 0.001);
  const lossy = roundTripLoss({ framesIn: 900, seqGaps: 100, answers: 1 });
  t.ok(lossy > 0.18 && lossy < 0.2, `10 % one way is ~19 % both ways (${lossy})`);
  t.ok(roundTripLoss({ framesIn: 1, seqGaps: 1, answers: 1 }) > 0.5, 'two frames prove little');
});

t.test('silence is judged absent, unanswered, or worth asking again', async (t) => {
  const clean = { framesIn: 50, seqGaps: 0, answers: 5 };
  t.equal(judgeSilence(clean, 3, 2), 'again', 'never before the caller’s retries');
  t.equal(judgeSilence(clean, 3, 3), 'absent', 'a link that lost nothing: absent after the retries');
  t.equal(judgeSilence({ ...clean, answers: 0 }, 3, 3), 'unanswered', 'an FC that answered nothing of ours proves nothing');
  const lossy = { framesIn: 860, seqGaps: 140, answers: 40 };
  t.equal(judgeSilence(lossy, 3, 3), 'again');
  t.equal(judgeSilence(lossy, 3, 7), 'absent');
  const awful = { framesIn: 600, seqGaps: 400, answers: 40 };
  t.equal(judgeSilence(awful, 3, MAX_REQUESTS - 1), 'again');
  t.equal(judgeSilence(awful, 3, MAX_REQUESTS), 'unanswered');
});
