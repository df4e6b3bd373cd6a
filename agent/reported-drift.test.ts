import t from 'tap';
import { waitFor } from '../test/support/index.js';
import { harness } from './test-helpers/harness.js';

// After boot reconciliation repairs drift, `reported` must describe the FC as it is (no drift), with
// when it was repaired and what was pushed back; it used to repeat the pre-repair drift.

t.test('reported after a drift repair: drift empty, repairedAt and the repaired parameters', async (t) => {
  const h = await harness(t);
  await h.publish(h.sign(h.config(90)));
  await h.waitAck((a) => a.version === 90 && a.status === 'applied', 'applied');
  await h.stopAgent();
  h.fc.setParam('MNT1_RC_RATE', 5);
  const before = Date.now();
  await h.startAgent();
  const rep = await waitFor('reported after the repair', () => h.reported.find((r) => r.fc.driftRepaired === true));
  t.same(rep.fc.drift, [], 'the FC matches the aim file: no drift left');
  t.equal(rep.fc.verified, true);
  t.match(rep.fc.repaired, [{ name: 'MNT1_RC_RATE', got: 5 }], 'what was pushed back');
  t.ok(Date.parse(rep.fc.repairedAt ?? '') >= before - 1000, 'when it was repaired');
  t.equal(h.fc.getParam('MNT1_RC_RATE'), h.config(90).mount!.rcRateDegS);
});
