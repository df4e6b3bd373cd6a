import t from 'tap';
import { generateKeyPair, loadPrivateKey, type Ack } from '../../protocol/index.js';
import { requireTool } from '../../test/support/index.js';
import { signConfig } from '../config-io.js';
import { startFakeDrones } from '../test-helpers/fake-drone.js';
import { aimConfig, aimctl, retainedSnapshot, seedFleet, startBroker, workspace } from '../test-helpers/harness.js';

// `aimctl push`: one drone, the exit code follows the final ack (real Mosquitto, fake drones).
if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) process.exit(0);

t.test('push: exit code by ack status', async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 }, ['p1', 'p2']);
  await seedFleet(broker.url, drones, aimConfig('seed', -90, { version: 5 }), ws.privateKey);
  const p1 = drones.get('p1')!;
  const push = (file: string, ...args: string[]) => aimctl(['push', file, '--drone', 'p1', '--timeout', '5', ...args], { env: { AIMCTL_BROKER: broker.url, AIMCTL_KEY: ws.keyPath } });
  const acks = (out: string) => out.trim().split('\n').map((l) => JSON.parse(l) as Ack & { drone: string });

  const applied = await push(ws.file('v6.json', aimConfig('six', -60, { version: 6 })));
  t.equal(applied.code, 0, applied.err);
  t.match(acks(applied.out), [{ drone: 'p1', status: 'applied', version: 6 }]);
  t.equal(p1.applied!.config.id, 'six');

  const dup = await push(ws.file('v6.json', aimConfig('six', -60, { version: 6 })));
  t.equal(dup.code, 0, 'duplicate is a success');
  t.match(acks(dup.out), [{ status: 'duplicate' }]);

  const stale = await push(ws.file('v4.json', aimConfig('old', -60, { version: 4 })));
  t.equal(stale.code, 1);
  t.match(stale.err, /rejected: stale.*AIM_ERR_STALE/);

  const conflict = await push(ws.file('v6b.json', aimConfig('other', -50, { version: 6 })));
  t.equal(conflict.code, 1);
  t.match(conflict.err, /AIM_ERR_CONFLICT/);

  const auto = await push(ws.file('v1.json', aimConfig('auto', -55)), '--version', 'auto');
  t.equal(auto.code, 0, auto.err);
  t.equal(p1.applied!.config.version, 7, '--version auto = applied + 1');

  p1.behaviour = 'fail';
  const failed = await push(ws.file('v8.json', aimConfig('bad', -40, { version: 8 })));
  t.equal(failed.code, 1);
  t.match(failed.err, /failed: MNT1_PITCH_MIN.*AIM_ERR_FC_VERIFY/);
  p1.behaviour = 'apply';

  const before = await retainedSnapshot(broker.url, ['p1']);
  const dry = await push(ws.file('dry.json', aimConfig('dry', -30, { version: 9, apply: { when: 'immediate', dryRun: true } })));
  t.equal(dry.code, 0, dry.err);
  t.match(acks(dry.out), [{ status: 'dry-run', params: [{ name: 'MNT1_PITCH_MIN', want: -30 }] }]);
  t.same(await retainedSnapshot(broker.url, ['p1']), before, 'a dry run leaves the retained desired alone');

  p1.setArmed(true);
  p1.on('ack', (a: Ack) => a.status === 'deferred' && p1.setArmed(false));
  const deferred = await push(ws.file('win.json', aimConfig('window', -35, { version: 10, apply: { when: 'disarmed' } })));
  t.equal(deferred.code, 0, deferred.err);
  t.same(acks(deferred.out).map((a) => a.status), ['deferred', 'applied'], 'the deferred ack, then the final one');

  const other = loadPrivateKey(generateKeyPair().privatePem);
  const foreign = ws.file('foreign.jws', signConfig(aimConfig('foreign', -60, { version: 11 }), other).jws);
  const untrusted = await push(foreign);
  t.equal(untrusted.code, 1, 'a JWS file is published as is; the drone rejects the untrusted key');
  t.match(untrusted.err, /rejected: signed by an untrusted key.*AIM_ERR_SIGNATURE/);

  drones.get('p2')!.behaviour = 'silent';
  const silent = await aimctl(['push', ws.file('v12.json', aimConfig('x', -60, { version: 12 })), '--drone', 'p2', '--timeout', '0.5'], { env: { AIMCTL_BROKER: broker.url, AIMCTL_KEY: ws.keyPath } });
  t.equal(silent.code, 1);
  t.match(silent.err, /no ack after 0.5 s/);
});

t.test('push usage errors exit 2; an unreachable broker exits 1', async (t) => {
  const ws = workspace(t);
  const cfg = ws.file('c.json', aimConfig('c', -60));
  t.equal((await aimctl(['push', cfg, '--broker', 'mqtt://127.0.0.1:1', '--key', ws.keyPath])).code, 2, 'no --drone');
  t.equal((await aimctl(['push', cfg, '--drone', 'x', '--key', ws.keyPath])).code, 2, 'no broker');
  t.equal((await aimctl(['push', cfg, '--drone', 'a/b', '--broker', 'mqtt://127.0.0.1:1', '--key', ws.keyPath])).code, 2, 'not a drone id');
  t.equal((await aimctl(['rollout', cfg, '--drones', 'ok,no+pe', '--broker', 'mqtt://127.0.0.1:1', '--key', ws.keyPath])).code, 2, 'not a drone id');
  t.equal((await aimctl(['push', cfg, '--drone', 'x', '--broker', 'http://x', '--key', ws.keyPath])).code, 2, 'not an MQTT URL');
  const down = await aimctl(['push', cfg, '--drone', 'x', '--broker', 'mqtt://127.0.0.1:1', '--key', ws.keyPath]);
  t.equal(down.code, 1);
  t.match(down.err, /AIM_ERR_BROKER/);
});

t.test('push: a config without version gets the next one', async (t) => {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const drones = await startFakeDrones(t, { brokerUrl: broker.url, trusted: [ws.publicKey], applyDelayMs: 5 }, ['p1']);
  await seedFleet(broker.url, drones, aimConfig('seed', -90, { version: 5 }), ws.privateKey);
  const { version: _v, ...noVersion } = aimConfig('no-version', -50);
  const run = await aimctl(['push', ws.file('nov.json', noVersion), '--drone', 'p1', '--timeout', '5'], { env: { AIMCTL_BROKER: broker.url, AIMCTL_KEY: ws.keyPath } });
  t.equal(run.code, 0, run.err);
  t.equal(drones.get('p1')!.applied!.config.version, 6, 'one above the version the drone has');
});
