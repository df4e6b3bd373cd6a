import t from 'tap';
import { getEventListeners } from 'node:events';
import { linkedSignal } from './linked-signal.js';

t.test('linkedSignal: aborts with the first source\'s reason, and leaves nothing behind on a long-lived source', async (t) => {
  const long = new AbortController();
  for (let i = 0; i < 1000; i++) {
    const call = new AbortController();
    const l = linkedSignal([call.signal, long.signal]);
    t.notOk(l.signal.aborted);
    l.dispose();
  }
  t.equal(getEventListeners(long.signal, 'abort').length, 0, 'no listener (and no dependant) per call stays on the long-lived signal');

  const a = new AbortController();
  const l = linkedSignal([a.signal, long.signal]);
  a.abort(new Error('cancelled'));
  t.ok(l.signal.aborted);
  t.match(l.signal.reason, { message: 'cancelled' });
  t.equal(getEventListeners(long.signal, 'abort').length, 0, 'an abort unhooks the others');

  const done = new AbortController();
  done.abort('already');
  const pre = linkedSignal([long.signal, done.signal]);
  t.ok(pre.signal.aborted, 'an already-aborted source aborts at once');
  t.equal(pre.signal.reason, 'already');
  t.equal(getEventListeners(long.signal, 'abort').length, 0);
});
