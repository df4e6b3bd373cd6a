import t from 'tap';
import { fleetFilter, parseTopic, topicFor } from './topics.js';

t.test('builds the four DESIGN.md topics with the default and a custom prefix', async (t) => {
  t.equal(topicFor('drone-07', 'desired'), 'aim/drone-07/config/desired');
  t.equal(topicFor('drone-07', 'ack'), 'aim/drone-07/config/ack');
  t.equal(topicFor('drone-07', 'reported'), 'aim/drone-07/config/reported');
  t.equal(topicFor('drone-07', 'status'), 'aim/drone-07/status');
  t.equal(topicFor('d1', 'status', 'fleet/eu'), 'fleet/eu/d1/status');
  t.equal(fleetFilter('status'), 'aim/+/status');
});

t.test('rejects drone ids and prefixes that would break topic matching', async (t) => {
  for (const bad of ['', 'a/b', 'a+', '#', 'x'.repeat(65), 'drone 7']) t.throws(() => topicFor(bad, 'ack'), RangeError, bad);
  for (const bad of ['', 'a/#', '+/x', '/aim', 'aim/', 'a//b']) t.throws(() => topicFor('d1', 'ack', bad), RangeError, bad);
});

t.test('parses topics back and ignores foreign ones', async (t) => {
  t.same(parseTopic('aim/drone-07/config/ack'), { droneId: 'drone-07', kind: 'ack' });
  t.same(parseTopic('fleet/eu/d1/status', 'fleet/eu'), { droneId: 'd1', kind: 'status' });
  t.equal(parseTopic('aim/drone-07/config/other'), undefined);
  t.equal(parseTopic('other/drone-07/status'), undefined);
  t.equal(parseTopic('aim/bad+id/status'), undefined);
});
