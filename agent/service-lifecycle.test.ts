import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { startFcSim } from '../sim/index.js';
import { freePort, requireTool, spawnCli, waitFor, type Tracked } from '../test/support/index.js';
import { startAgent, type NotifierPort } from './service.js';
import { harness, type Harness } from './test-helpers/harness.js';

// The service's life: a start that fails, a stop that comes while starting, a boot without its FC,
// and a stop with the broker frozen. Each bound below is far from the old behaviour (10-30 s) and
// far above what the fixed code takes, so a loaded machine does not make them flaky.

/** Every notifier call in order, as systemd would see them. */
function recordingNotifier() {
  const events: string[] = [];
  const notifier: NotifierPort = {
    ready: async (s) => void events.push(`ready ${s ?? ''}`),
    status: async (s) => void events.push(`status ${s}`),
    stopping: async () => void events.push('stopping'),
    startWatchdog: () => void events.push('watchdog'),
    stopWatchdog: () => undefined,
  };
  return { events, notifier };
}

function captureLogger() {
  const lines: { msg: string; [k: string]: unknown }[] = [];
  const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(JSON.parse(l) as { msg: string }) });
  return { lines, logger, msgs: () => lines.map((l) => l.msg) };
}

/** Resolves with the exit code, or 'alive' when the process is still running after `ms`. */
const exitWithin = (p: Tracked, ms: number) => Promise.race([p.exited, new Promise<'alive'>((r) => setTimeout(() => r('alive'), ms))]);

/** Everything the broker delivered to the ground client before this call has arrived once it resolves. */
async function brokerRoundTrip(h: Harness): Promise<void> {
  const topic = `test/echo/${Math.random().toString(16).slice(2)}`;
  let seen = false;
  h.ground.on('message', (tp) => void (tp === topic && (seen = true)));
  await h.ground.subscribeAsync(topic, { qos: 1 });
  await h.ground.publishAsync(topic, 'x', { qos: 1 });
  await waitFor('echo', () => seen);
}

/** A state dir with v1 applied, then the FC gone: boot reconciliation would wait for it. */
async function appliedThenFcGone(t: Parameters<typeof harness>[0], broker: 'aedes' | 'mosquitto' = 'aedes') {
  const h = await harness(t, { broker });
  await h.publish(h.sign(h.config(1)));
  await h.waitAck((a) => a.version === 1 && a.status === 'applied', 'v1 applied');
  await h.stopAgent();
  await h.fc.stop();
  return h;
}

t.test('a failed start (state dir under a regular file) exits 1 at once and never says online', async (t) => {
  const h = await harness(t, { startAgent: false });
  const blocker = join(h.dir, 'blocker');
  writeFileSync(blocker, 'a file, not a directory');
  const settingsFile = join(h.dir, 'bad-state.json');
  writeFileSync(settingsFile, JSON.stringify({ ...h.settings, stateDir: join(blocker, 'state') }));
  const p = spawnCli(t, 'aim-agent', ['run', '--settings', settingsFile]);
  t.equal(await exitWithin(p, 10_000), 1, 'exits 1 (it used to stay alive)');
  t.match(p.stderr(), /AIM_ERR_STORE_IO/);
  await brokerRoundTrip(h);
  t.same(h.statuses.filter((s) => s.state !== 'offline'), [], 'no online status went out');
});

t.test('a failed start in-process: rejects, and nothing it started is left running', async (t) => {
  const h = await harness(t, { startAgent: false });
  const { lines, logger } = captureLogger();
  const keyFile = join(h.dir, 'bad-signing.key');
  writeFileSync(keyFile, 'not hex\n');
  await t.rejects(startAgent({ settings: { ...h.settings, fc: { ...h.settings.fc, signingKeyFile: keyFile } }, logger }), { code: 'AIM_ERR_KEY', message: /fc.signingKeyFile: .*64 hex characters/ });
  await brokerRoundTrip(h);
  t.same(h.statuses, [], 'the key is checked before the broker is contacted');
  t.notOk(lines.some((l) => l.msg === 'broker connected'));
});

t.test('stop while boot reconciliation waits for an absent FC: prompt; no READY, watchdog or `agent ready` after it', async (t) => {
  const h = await appliedThenFcGone(t);
  const { events, notifier } = recordingNotifier();
  const { logger, msgs } = captureLogger();
  // readyTimeoutMs long: the ready sequence is still waiting when stop() comes.
  const agent = await startAgent({ settings: h.settings, logger, notifier, readyTimeoutMs: 60_000 });
  await waitFor('reconciliation waiting for the FC', () => agent.pipeline.state === 'idle' && msgs().includes('broker connected'), { timeoutMs: 5000 });
  const t0 = performance.now();
  await agent.stop();
  const ms = performance.now() - t0;
  t.ok(ms < 3000, `stop took ${Math.round(ms)} ms (was the reconcile wait, ~10 s)`);
  await agent.ready;
  t.notOk(events.some((e) => e.startsWith('ready')), 'no READY=1');
  t.notOk(events.includes('watchdog'), 'no watchdog');
  t.ok(events.includes('stopping'));
  const m = msgs();
  t.notOk(m.includes('agent ready'), 'no `agent ready`');
  t.equal(m.at(-1), 'stopped');
  await t.rejects(agent.pipeline.exclusive('late', async () => undefined), /pipeline closed/, 'a task after close() settles');
});

t.test('stop right after READY: STOPPING comes after READY and no watchdog is started after it', async (t) => {
  const h = await harness(t, { startAgent: false });
  const { events, notifier } = recordingNotifier();
  const agent = await startAgent({ settings: h.settings, logger: pino({ level: 'silent' }), notifier });
  await agent.stop();
  await agent.ready;
  const stop = events.indexOf('stopping');
  t.ok(stop >= 0);
  t.notOk(events.slice(stop).some((e) => e.startsWith('ready') || e === 'watchdog'), events.join(' | '));
});

t.test('FC absent at boot: READY at once with a degraded STATUS, status topic says link down, FC found later', async (t) => {
  const h = await harness(t, { startAgent: false });
  const port = await freePort();
  await h.fc.stop();
  const { events, notifier } = recordingNotifier();
  const t0 = performance.now();
  const agent = await startAgent({ settings: { ...h.settings, fc: { ...h.settings.fc, link: `tcp:127.0.0.1:${port}` } }, logger: pino({ level: 'silent' }), notifier });
  t.teardown(() => agent.stop({ graceMs: 500 }));
  await agent.ready;
  const ms = performance.now() - t0;
  t.ok(ms < 3000, `READY after ${Math.round(ms)} ms (was 15 s)`);
  t.match(events.find((e) => e.startsWith('ready')), /degraded: flight controller link down/);
  t.ok(events.includes('watchdog'), 'the watchdog runs while degraded');
  await waitFor('status: online, link down', () => h.statuses.find((s) => s.state === 'online' && s.link === 'down'));
  t.match(events.filter((e) => e.startsWith('status')).at(-1), /fc down .*\(degraded\)/);
  // The FC shows up: the link is found in the background.
  const fc = await startFcSim({ link: `tcp:127.0.0.1:${port}`, readLatencyMs: 5 });
  t.teardown(() => fc.stop());
  await waitFor('status: link up', () => h.statuses.find((s) => s.link === 'up'), { timeoutMs: 15_000 });
  await h.publish(h.sign(h.config(3)));
  t.equal((await h.waitAck((a) => a.version === 3, 'v3', 20_000)).status, 'applied');
});

t.test('with a MAVLink signing key, unsigned FC frames are refused unless acceptUnsigned is set explicitly', async (t) => {
  const h = await harness(t, { startAgent: false });
  const keyFile = join(h.dir, 'signing.key');
  writeFileSync(keyFile, 'ab'.repeat(32) + '\n');
  const fcSettings = { ...h.settings.fc, signingKeyFile: keyFile };
  const quiet = pino({ level: 'silent' });
  const strict = await startAgent({ settings: { ...h.settings, fc: fcSettings }, logger: quiet });
  t.teardown(() => strict.stop({ graceMs: 500 }));
  // fc-sim does not sign: its heartbeats arrive and are dropped.
  await waitFor('unsigned heartbeats dropped', () => strict.fc.status().unsignedDropped >= 2, { timeoutMs: 10_000 });
  t.equal(strict.fc.status().state, 'down', 'no unsigned frame counts as the FC');
  await strict.stop();
  const lax = await startAgent({ settings: { ...h.settings, fc: { ...fcSettings, acceptUnsigned: true } }, logger: quiet });
  t.teardown(() => lax.stop({ graceMs: 500 }));
  await waitFor('link up when the operator says so', () => lax.fc.status().state === 'up', { timeoutMs: 10_000 });
});

const haveMosquitto = requireTool({ fail: (m) => t.fail(m), comment: (m) => t.comment(m) }, 'mosquitto');

t.test('SIGTERM while the FC is absent at boot: the process exits 0 promptly, no `agent ready` after `stopped`', { skip: !haveMosquitto && 'mosquitto not installed' }, async (t) => {
  const h = await appliedThenFcGone(t, 'mosquitto');
  writeFileSync(h.settingsFile, JSON.stringify({ ...h.settings, logLevel: 'info' }));
  const p = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile]);
  await p.waitForLine(/"msg":"broker connected"/, 20_000);
  p.kill('SIGTERM');
  t.equal(await exitWithin(p, 6000), 0, 'exited 0 within 6 s (it took 22.7 s under systemd)');
  const msgs = p.stdout().split('\n').filter(Boolean).map((l) => (JSON.parse(l) as { msg: string }).msg);
  t.equal(msgs.at(-1), 'stopped', msgs.join(' | '));
  t.notOk(msgs.slice(msgs.indexOf('signal received; shutting down')).includes('agent ready'), 'no `agent ready` after the signal');
});

t.test('SIGTERM with the broker frozen (SIGSTOPped Mosquitto): exits within apply.shutdownTimeoutS', { skip: !haveMosquitto && 'mosquitto not installed' }, async (t) => {
  const h = await harness(t, { broker: 'mosquitto', startAgent: false });
  writeFileSync(h.settingsFile, JSON.stringify({ ...h.settings, logLevel: 'info', apply: { shutdownTimeoutS: 4, aimTimeoutMs: 1000 } }));
  const p = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile]);
  await waitFor('online with the FC up', () => h.statuses.find((s) => s.state === 'online' && s.link === 'up'), { timeoutMs: 20_000 });
  const mosquittoPid = h.mosquitto!.proc.child.pid!;
  process.kill(mosquittoPid, 'SIGSTOP');
  t.teardown(() => {
    try {
      process.kill(mosquittoPid, 'SIGCONT');
    } catch {
      /* already gone */
    }
  });
  const t0 = performance.now();
  p.kill('SIGTERM');
  // 4 s budget; the rest is node's own exit and a loaded machine.
  t.equal(await exitWithin(p, 7000), 0, 'exited 0 (it used to hang on the broker until systemd killed it)');
  t.comment(`stop took ${Math.round(performance.now() - t0)} ms`);
  t.match(p.stdout(), /"msg":"stopped"/);
});
