import t from 'tap';
import { requireTool, waitFor } from '../test/support/index.js';
import { harness } from './test-helpers/harness.js';

// A drone offline while the ground sent a config and then, after a halt, its restore: at reconnect its
// session delivers both at once. The halted one must be superseded, never applied, not even briefly.
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

t.test('a burst of queued desired configs at start: only the newest is applied, the older superseded', async (t) => {
  const h = await harness(t, { broker: 'mosquitto' });
  await h.publish(h.sign(h.config(1)));
  await h.waitAck((a) => a.version === 1 && a.status === 'applied', 'v1');
  await h.stopAgent();
  await h.publish(h.sign(h.config(2)));
  await h.publish(h.sign(h.config(3)));
  await h.startAgent();
  await h.waitAck((a) => a.version === 3 && a.status === 'applied', 'v3');
  await waitFor('the ack for v2', () => h.acks.find((a) => a.version === 2));
  t.same(h.acks.filter((a) => a.version === 2).map((a) => a.status), ['superseded'], 'v2 was superseded, never applied');
});
