import t from 'tap';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseAimConfig } from '../../protocol/index.js';
import { spawnCli, waitFor, type Tracked } from '../../test/support/index.js';
import { harness } from '../test-helpers/harness.js';

// `aim-agent run` killed (SIGKILL) between the commit of the aim file and its ack reaching the
// outbox, at that exact point (AIM_AGENT_TEST_CRASH=after-commit). After a restart the retained
// desired is the applied config: its ack is owed and must be sent, once.
t.test('an ack lost to a crash after the commit is sent after the restart, once', async (t) => {
  const h = await harness(t, { startAgent: false });
  const start = async (env: NodeJS.ProcessEnv = {}) => {
    const n = h.statuses.length;
    const agent = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile], { env: { ...process.env, ...env } });
    await waitFor('agent online', () => h.statuses.slice(n).some((s) => s.state === 'online'), { timeoutMs: 20_000 });
    return agent;
  };
  let agent: Tracked = await start({ AIM_AGENT_TEST_CRASH: 'after-commit' });
  await h.publish(h.sign(h.config(1)));
  t.equal(await agent.exited, 137, 'killed right after the commit');
  const onDisk = parseAimConfig(readFileSync(join(h.stateDir, 'aim-params.json')));
  t.ok(onDisk.ok && onDisk.config.version === 1, 'v1 is committed');
  t.notOk(h.acks.some((a) => a.version === 1), 'no ack for v1 went out');

  agent = await start();
  const ack = await h.waitAck((a) => a.version === 1, 'the owed ack', 20_000);
  t.match(ack, { status: 'applied', reason: /lost to a restart/ });
  agent.kill('SIGTERM');
  await agent.exited;

  // Again: the retained v1 comes back, already acked. A live v2 behind it shows the pipeline got past it.
  agent = await start();
  await h.publish(h.sign(h.config(2)), { retain: false });
  await h.waitAck((a) => a.version === 2 && a.status === 'applied', 'v2 applied', 20_000);
  t.equal(h.acks.filter((a) => a.version === 1).length, 1, 'v1 was acked once');
  agent.kill('SIGTERM');
  await agent.exited;
});
