import t from 'tap';
import type { SettingsInput } from '../settings.js';
import { harness } from '../test-helpers/harness.js';

// fc-sim (as ArduPilot) stays silent for a parameter it lacks. The read's budgets mean what they say:
// paramTimeoutMs per attempt, paramRetries attempts, so the answer comes within ~(retries+1) x timeout
// (main passed a whole-call budget of 4 x 300 + 20 ms as the per-attempt timeout: ~3.7 s).
t.test('a config naming a parameter the FC lacks is answered within (retries+1) x paramTimeoutMs', async (t) => {
  const h = await harness(t, { settings: { fc: { paramTimeoutMs: 300, paramRetries: 3 } } as Partial<SettingsInput> });
  await h.publish(h.sign(h.config(1, { params: { NOPE_PARAM: 1 } })));
  const ack = await h.waitAck((a) => a.version === 1, 'ack', 20_000);
  t.match(ack, { status: 'failed', stage: 'read', code: 'AIM_ERR_FC_REJECTED', rolledBack: true });
  t.ok(ack.timings.totalMs <= 4 * 300, `answered in ${ack.timings.totalMs} ms (bound ${4 * 300} ms)`);
});
