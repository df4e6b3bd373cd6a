import t from 'tap';
import { waitFor } from '../test/support/index.js';
import { harness } from './test-helpers/harness.js';

// An empty retained desired (the ground cleared the topic after a halted roll-out) cancels a deferred or
// queued job with a `superseded` ack, and is otherwise ignored: no `rejected` ack, nothing changes.

t.test('an empty retained desired cancels a deferred job: superseded, never applied on disarm', async (t) => {
  const h = await harness(t, { fc: { armed: true } });
  await waitFor('armed seen', () => h.agent?.fc.vehicle?.armed === true);
  await h.publish(h.sign(h.config(30, { apply: { when: 'disarmed' } })));
  await h.waitAck((a) => a.version === 30 && a.status === 'deferred', 'deferred');
  await h.publish(Buffer.alloc(0));
  const s = await h.waitAck((a) => a.version === 30 && a.status === 'superseded', 'superseded by the withdrawal');
  t.match(s.reason, /withdrawn/);
  h.fc.setArmed(false);
  // A later config shows the agent is alive and that v30 was dropped, not applied.
  await h.publish(h.sign(h.config(31)));
  t.equal((await h.waitAck((a) => a.version === 31, 'v31')).status, 'applied');
  t.notOk(h.acks.some((a) => a.version === 30 && a.status === 'applied'), 'v30 never applied');
  t.notOk(h.acks.some((a) => a.status === 'rejected'), 'the empty message was not rejected');
});

t.test('an empty retained desired with nothing pending is ignored without a rejected ack', async (t) => {
  const h = await harness(t);
  await h.publish(h.sign(h.config(40)));
  await h.waitAck((a) => a.version === 40 && a.status === 'applied', 'v40');
  const n = h.acks.length;
  await h.publish(Buffer.alloc(0));
  await h.publish(h.sign(h.config(41)));
  await h.waitAck((a) => a.version === 41, 'v41');
  t.same(h.acks.slice(n).map((a) => `${a.version} ${a.status}`), ['41 applied'], 'no ack for the empty message');
});
