import t from 'tap';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { canonicalJson, configToFcParams, generateKeyPair, loadPrivateKey, signJws, type Ack, type AimConfig } from '../../protocol/index.js';
import { startEmbeddedBroker } from '../../sim/embedded-broker.js';
import { startFcSim } from '../../sim/index.js';
import { ROOT, spawnCli, waitFor, type Teardown } from '../../test/support/index.js';

// `aim-agent apply` and `aim-agent doctor` as an operator runs them: real processes, fc-sim over TCP.

async function setup(t: Teardown) {
  const dir = mkdtempSync(join(tmpdir(), 'aim-apply-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fc = await startFcSim({ link: 'tcp:127.0.0.1:0', readLatencyMs: 5 });
  t.teardown(() => fc.stop());
  const keys = generateKeyPair();
  writeFileSync(join(dir, 'k.pub.pem'), keys.publicPem);
  const cfg = (version: number, extra: Partial<AimConfig> = {}): AimConfig => ({
    kind: 'aim-config',
    schemaVersion: 1,
    version,
    id: `bench-v${version}`,
    issuedAt: '2026-11-26T13:00:00Z',
    mount: { pitch: { minDeg: -70, maxDeg: 15 }, rcRateDegS: 40 + version },
    aim: { pitchDeg: -20, yawDeg: 0 },
    ...extra,
  });
  const write = (name: string, content: string) => {
    writeFileSync(join(dir, name), content);
    return join(dir, name);
  };
  const sign = (c: AimConfig) => signJws(canonicalJson(c), loadPrivateKey(keys.privatePem));
  const stateDir = join(dir, 'state');
  const apply = async (file: string, extra: string[] = []) => {
    const p = spawnCli(t, 'aim-agent', ['apply', file, '--fc', fc.link, '--state-dir', stateDir, '--trust', join(dir, 'k.pub.pem'), ...extra]);
    const code = await p.exited;
    return { code, ack: p.stdout() ? (JSON.parse(p.stdout()) as Ack) : undefined, stderr: p.stderr() };
  };
  return { dir, fc, cfg, write, sign, stateDir, apply };
}

t.test('aim-agent apply: a signed config is applied with the service pipeline and printed as an ack', async (t) => {
  const s = await setup(t);
  const c = s.cfg(3);
  const r = await s.apply(s.write('c3.jws', s.sign(c)));
  t.equal(r.code, 0, r.stderr);
  t.match(r.ack, { status: 'applied', version: 3, aim: { result: 'accepted' } });
  t.ok(configToFcParams(c).every((p) => s.fc.getParam(p.name) === p.value), 'the FC holds v3');
  t.equal((JSON.parse(readFileSync(join(s.stateDir, 'aim-params.json'), 'utf8')) as AimConfig).version, 3);
  const again = await s.apply(s.write('c3b.jws', s.sign(c)));
  t.equal(again.code, 0, 'duplicate is success');
  t.equal(again.ack?.status, 'duplicate');
  const stale = await s.apply(s.write('c2.jws', s.sign(s.cfg(2))));
  t.equal(stale.code, 1);
  t.match(stale.ack, { status: 'rejected', code: 'AIM_ERR_STALE' });
  t.match(stale.stderr, /^version: must be greater than 3$/m, 'path: message on stderr');
  // Failed on main: a failed or rejected apply printed nothing but the JSON on stdout.
  t.match(stale.stderr, /^aim-agent apply: rejected at version: .*\[AIM_ERR_STALE\]$/m, 'the outcome and its code on stderr');
});

t.test('aim-agent apply: plain documents need --allow-unsigned; invalid ones are rejected with paths', async (t) => {
  const s = await setup(t);
  const plain = s.write('plain.json', JSON.stringify(s.cfg(5)));
  const refused = await s.apply(plain);
  t.equal(refused.code, 1);
  t.match(refused.ack, { status: 'rejected', code: 'AIM_ERR_SIGNATURE' });
  const ok = await s.apply(plain, ['--allow-unsigned']);
  t.equal(ok.code, 0);
  t.equal(ok.ack?.status, 'applied');
  const bad = await s.apply(s.write('bad.json', JSON.stringify({ ...s.cfg(6), mount: { pitch: { minDeg: 5, maxDeg: -5 } } })), ['--allow-unsigned']);
  t.equal(bad.code, 1);
  t.match(bad.stderr, 'mount.pitch.minDeg: must be less than mount.pitch.maxDeg (5 >= -5)');
  const dry = await s.apply(s.write('dry.json', JSON.stringify(s.cfg(7, { apply: { when: 'immediate', dryRun: true } }))), ['--allow-unsigned']);
  t.equal(dry.code, 0);
  t.equal(dry.ack?.status, 'dry-run');
});

t.test('aim-agent lock run -- aim-agent apply: the apply works under the inherited lock (AIM_LOCK_CAPABILITY), not against it', async (t) => {
  const s = await setup(t);
  const file = s.write('c8.jws', s.sign(s.cfg(8)));
  const bin = `${ROOT}dist/agent/bin/aim-agent.js`;
  const applyArgs = [bin, 'apply', file, '--fc', s.fc.link, '--state-dir', s.stateDir, '--trust', join(s.dir, 'k.pub.pem')];
  // Before borrowing, the apply waited for its own parent's lock until its 30 s acquire timeout and failed.
  const run = spawnCli(t, 'aim-agent', ['lock', 'run', '--timeout', '5', '--state-dir', s.stateDir, '--', process.execPath, ...applyArgs]);
  t.equal(await run.exited, 0, run.stderr());
  t.match(JSON.parse(run.stdout()) as Ack, { status: 'applied', version: 8, lockToken: 1 }, 'applied under the token lock run took');
  t.ok(configToFcParams(s.cfg(8)).every((p) => s.fc.getParam(p.name) === p.value), 'the FC holds v8');
  const status = spawnCli(t, 'aim-agent', ['lock', 'status', '--state-dir', s.stateDir]);
  t.equal(await status.exited, 0);
  t.match(status.stdout(), /^aim lock: free \(last fencing token 1\)/, 'released by lock run, once');

  // A capability that is not the live holder's is refused, and nothing is touched.
  const forged = spawnCli(t, 'aim-agent', ['apply', s.write('c9.jws', s.sign(s.cfg(9))), '--fc', s.fc.link, '--state-dir', s.stateDir, '--trust', join(s.dir, 'k.pub.pem')], { env: { ...process.env, AIM_LOCK_CAPABILITY: 'guess' } });
  t.equal(await forged.exited, 1);
  t.match(JSON.parse(forged.stdout()) as Ack, { status: 'failed', code: 'AIM_ERR_LOCK_LOST', reason: /AIM_LOCK_CAPABILITY is not the live holder's \(the lock is free\)/ });
  t.equal((JSON.parse(readFileSync(join(s.stateDir, 'aim-params.json'), 'utf8')) as AimConfig).version, 8, 'the aim file is unchanged');
});

// Failed on main: `borrow` took any token equal to the live holder's, and `lock status` prints it.
t.test('AIM_LOCK_TOKEN grants nothing: an unrelated apply with the holder\'s token waits for the lock like any writer', async (t) => {
  const s = await setup(t);
  const holdScript = 'echo "token=$AIM_LOCK_TOKEN"; exec sleep 20';
  const hold = spawnCli(t, 'aim-agent', ['lock', 'run', '--state-dir', s.stateDir, '--', 'sh', '-c', holdScript]);
  await waitFor('lock run holds the lock', () => hold.stdout().includes('token=1'), { timeoutMs: 10_000 });
  const status = spawnCli(t, 'aim-agent', ['lock', 'status', '--json', '--state-dir', s.stateDir]);
  t.equal(await status.exited, 0);
  t.notMatch(status.stdout(), /capability/i, 'lock status prints nothing about the capability');
  const token = String((JSON.parse(status.stdout()) as { owner: { token: number } }).owner.token);
  const settings = s.write('agent.json', JSON.stringify({ droneId: 'd1', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: s.fc.link }, stateDir: s.stateDir, lock: { acquireTimeoutS: 1 } }));
  const intruder = spawnCli(t, 'aim-agent', ['apply', s.write('c9.jws', s.sign(s.cfg(9))), '--settings', settings, '--trust', join(s.dir, 'k.pub.pem')], { env: { ...process.env, AIM_LOCK_TOKEN: token } });
  t.equal(await intruder.exited, 1, intruder.stderr());
  t.match(JSON.parse(intruder.stdout()) as Ack, { status: 'failed', code: 'AIM_ERR_LOCK_TIMEOUT' });
  t.notOk(existsSync(join(s.stateDir, 'aim-params.json')), 'nothing was applied under the holder\'s lock');
  hold.kill('SIGTERM');
  await hold.exited;
});

t.test('aim-agent apply: usage errors exit 2', async (t) => {
  const s = await setup(t);
  for (const args of [['apply'], ['apply', 'a', 'b', '--fc', s.fc.link, '--state-dir', s.stateDir], ['apply', 'x', '--bogus']]) {
    const p = spawnCli(t, 'aim-agent', args);
    t.equal(await p.exited, 2, args.join(' '));
  }
});

t.test('aim-agent doctor: ALL CLEAR when everything agrees; names drift, exit 1', async (t) => {
  const s = await setup(t);
  const broker = await startEmbeddedBroker();
  t.teardown(() => broker.close());
  const c = s.cfg(9);
  t.equal((await s.apply(s.write('c9.jws', s.sign(c)))).code, 0);
  const settingsFile = s.write(
    'agent.json',
    JSON.stringify({ droneId: 'drone-07', broker: { url: broker.url, protocolVersion: 4 }, fc: { link: s.fc.link }, stateDir: s.stateDir, security: { trustedKeys: [join(s.dir, 'k.pub.pem')] } }),
  );
  const ok = spawnCli(t, 'aim-agent', ['doctor', '--settings', settingsFile, '--timeout', '3']);
  t.equal(await ok.exited, 0, ok.stdout());
  t.match(ok.stdout(), /ok\s+aim file: version 9/);
  t.match(ok.stdout(), /ok\s+FC parameters: \d+ match the aim file/);
  t.match(ok.stdout(), /ok\s+broker: mqtt:\/\/127.0.0.1:\d+ reachable/);
  t.match(ok.stdout(), /ALL CLEAR\n$/);
  s.fc.setParam('MNT1_RC_RATE', 1);
  const drift = spawnCli(t, 'aim-agent', ['doctor', '--settings', settingsFile, '--timeout', '3']);
  t.equal(await drift.exited, 1);
  t.match(drift.stdout(), /PROBLEM FC parameters: 1 differ from the aim file: MNT1_RC_RATE want 49 got 1/);
  t.match(drift.stdout(), /1 problem\(s\)\n$/);
  await broker.close();
  const down = spawnCli(t, 'aim-agent', ['doctor', '--settings', settingsFile, '--timeout', '2']);
  t.equal(await down.exited, 1);
  t.match(down.stdout(), /PROBLEM broker/);
  t.match(down.stdout(), /2 problem\(s\)\n$/);
});
