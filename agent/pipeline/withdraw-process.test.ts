import t from 'tap';
import { waitFor } from '../../test/support/index.js';
import { harness } from '../test-helpers/harness.js';

// Over a real broker: the ground clears its retained desired config (an empty retained payload) while
// the drone holds it deferred (armed): the deferred config is cancelled with a superseded ack.
t.test('an empty desired payload withdraws a deferred config', async (t) => {
  const h = await harness(t, { fc: { armed: true } });
  await waitFor('armed seen', () => h.agent?.fc.vehicle?.armed === true);
  await h.publish(h.sign(h.config(1, { apply: { when: 'disarmed' } })));
  await h.waitAck((a) => a.version === 1 && a.status === 'deferred', 'deferred');
  await h.publish(Buffer.alloc(0), { retain: true });
  const ack = await h.waitAck((a) => a.version === 1 && a.status === 'superseded', 'withdrawn');
  t.match(ack, { reason: /withdrawn/ });
  h.fc.setArmed(false);
  await h.publish(h.sign(h.config(2)), { retain: false });
  await h.waitAck((a) => a.version === 2 && a.status === 'applied', 'v2 applied');
  t.notOk(h.acks.some((a) => a.version === 1 && a.status === 'applied'), 'v1 never applied');
});
