import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalJson, generateKeyPair, loadPrivateKey, signJws, type AimConfig } from '../protocol/index.js';
import { spawnCli, waitFor } from '../test/support/index.js';
import { parseSettings, type Settings, type SettingsInput } from './settings.js';
import { harness } from './test-helpers/harness.js';

// SIGHUP / Agent.reload: what changes at once (keys, signature policy, log level, timeouts), what is
// named as needing a restart, and that a bad reload changes nothing.

const settingsOf = (input: SettingsInput): Settings => {
  const r = parseSettings(input);
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.settings;
};

t.test('reload: a newly trusted key works at once; restart-only changes are named, not half-applied', async (t) => {
  const h = await harness(t);
  const agent = h.agent!;
  const k2 = generateKeyPair();
  const k2File = join(h.dir, 'second.pub.pem');
  writeFileSync(k2File, k2.publicPem);
  const signK2 = (c: AimConfig) => signJws(canonicalJson(c), loadPrivateKey(k2.privatePem));

  await h.publish(signK2(h.config(2)));
  // An unverified document's version is not believed, so the rejection is found by its code.
  const before = await h.waitAck((a) => a.code === 'AIM_ERR_SIGNATURE', 'ack for the k2-signed config before reload');
  t.equal(before.status, 'rejected');
  t.equal(before.code, 'AIM_ERR_SIGNATURE');

  const next = settingsOf({
    ...h.settings,
    security: { requireSignature: true, trustedKeys: [h.keys.pubFile, k2File] },
    fc: { ...h.settings.fc, paramTimeoutMs: 400 },
    broker: { ...h.settings.broker, keepaliveS: 45 },
    stateDir: join(h.dir, 'elsewhere'),
  });
  const r = agent.reload(next);
  t.same(r, { applied: ['fc.paramTimeoutMs', 'security.trustedKeys'], needRestart: ['broker.keepaliveS', 'stateDir'] });
  t.equal(agent.settings.fc.paramTimeoutMs, 400, 'timeouts taken');
  t.equal(agent.settings.broker.keepaliveS, h.settings.broker!.keepaliveS ?? 30, 'the broker session keeps its settings until a restart');
  t.equal(agent.settings.stateDir, h.stateDir, 'the state directory is not switched under a running agent');

  await h.publish(signK2(h.config(3)));
  t.equal((await h.waitAck((a) => a.version === 3, 'ack after reload')).status, 'applied', 'k2 is trusted now');

  // A trusted key that cannot be read: the reload throws and nothing changes (k2 stays trusted).
  t.throws(() => agent.reload(settingsOf({ ...h.settings, security: { trustedKeys: [join(h.dir, 'missing.pem')] } })), { code: 'AIM_ERR_KEY' });
  t.same(agent.settings.security.trustedKeys, [h.keys.pubFile, k2File]);
  // Every file is read as a start would read it (and as check-settings does): a reload that a restart
  // would refuse is refused now.
  const badSigning = join(h.dir, 'bad-signing.key');
  writeFileSync(badSigning, 'xyz');
  t.throws(() => agent.reload(settingsOf({ ...h.settings, fc: { ...h.settings.fc, signingKeyFile: badSigning } })), { code: 'AIM_ERR_KEY', message: /fc\.signingKeyFile/ });
  t.same(agent.settings.security.trustedKeys, [h.keys.pubFile, k2File]);
  await h.publish(signK2(h.config(4)));
  t.equal((await h.waitAck((a) => a.version === 4, 'ack after the failed reload')).status, 'applied');
  t.same(agent.reload(agent.settings), { applied: [], needRestart: [] }, 'reloading the same settings changes nothing');
});

t.test('SIGHUP to the real process: the settings file is read again; an invalid one is refused and the agent carries on', async (t) => {
  const h = await harness(t, { startAgent: false });
  const k2 = generateKeyPair();
  const k2File = join(h.dir, 'second.pub.pem');
  writeFileSync(k2File, k2.publicPem);
  const signK2 = (c: AimConfig) => signJws(canonicalJson(c), loadPrivateKey(k2.privatePem));
  const write = (s: unknown) => writeFileSync(h.settingsFile, typeof s === 'string' ? s : JSON.stringify(s));
  write({ ...h.settings, logLevel: 'info' });
  const agent = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile]);
  await waitFor('agent online', () => h.statuses.some((s) => s.state === 'online'), { timeoutMs: 20_000 });
  await agent.waitForLine(/"msg":"agent ready"/, 20_000);
  const count = (re: RegExp) => agent.stdout().split('\n').filter((l) => re.test(l)).length;

  write({ ...h.settings, logLevel: 'info', security: { trustedKeys: [h.keys.pubFile, k2File] }, broker: { ...h.settings.broker, keepaliveS: 50 } });
  agent.kill('SIGHUP');
  await waitFor('settings reloaded', () => count(/"msg":"settings reloaded"/) === 1, { timeoutMs: 10_000 });
  t.match(agent.stdout(), /"needRestart":\["broker.keepaliveS"\]/, 'the broker change is named as needing a restart');
  await h.publish(signK2(h.config(5)));
  t.equal((await h.waitAck((a) => a.version === 5, 'ack after SIGHUP', 20_000)).status, 'applied', 'the new key is trusted');

  write('{"droneId": ');
  agent.kill('SIGHUP');
  await waitFor('reload refused', () => count(/"msg":"settings reload failed; keeping the current settings"/) === 1, { timeoutMs: 10_000 });
  await h.publish(signK2(h.config(6)));
  t.equal((await h.waitAck((a) => a.version === 6, 'ack after the refused reload', 20_000)).status, 'applied', 'still running, still trusting k2');

  agent.kill('SIGTERM');
  t.equal(await agent.exited, 0);
});
