import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectAsync, type MqttClient } from 'mqtt';
import { freePort, requireTool, startMosquitto, toolPath, waitFor } from '../test/support/index.js';

// The shipped example, byte for byte: what operators install is what is tested.
const ACL_EXAMPLE = fileURLToPath(new URL('./mosquitto-acl.example', import.meta.url));
const CONF_EXAMPLE = fileURLToPath(new URL('./mosquitto.conf.example', import.meta.url));
const USERS = { 'drone-a': 'pw-a', 'drone-b': 'pw-b', ground: 'pw-ground' } as const;
type User = keyof typeof USERS;

interface Received {
  topic: string;
  payload: string;
}

function need(t: Test, tool: string, pkg?: string): boolean {
  return requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, tool, pkg);
}

/** A temp dir with the password file (three users) and the ACL, readable by a privilege-dropped mosquitto. */
function brokerFiles(t: Test, extra: Record<string, string> = {}): { dir: string; passwd: string; acl: string } {
  const dir = mkdtempSync(join(tmpdir(), 'aim-acl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const passwd = join(dir, 'passwd');
  const acl = join(dir, 'aim.acl');
  copyFileSync(ACL_EXAMPLE, acl);
  let first = true;
  for (const [user, pw] of Object.entries(USERS)) {
    execFileSync(toolPath('mosquitto_passwd'), ['-b', ...(first ? ['-c'] : []), passwd, user, pw]);
    first = false;
  }
  // Started as root, mosquitto drops to its own user before reading these: give them to its group,
  // as mosquitto.conf.example tells operators to (root:mosquitto 0640).
  for (const [name, text] of Object.entries(extra)) writeFileSync(join(dir, name), text);
  const gid = process.getuid?.() === 0 ? mosquittoGid() : undefined;
  if (gid !== undefined) {
    for (const p of [dir, passwd, acl, ...Object.keys(extra).map((n) => join(dir, n))]) {
      chownSync(p, 0, gid);
      chmodSync(p, p === dir ? 0o750 : 0o640);
    }
  }
  return { dir, passwd, acl };
}

async function broker(t: Test): Promise<string> {
  const { passwd, acl } = brokerFiles(t);
  const m = await startMosquitto(t, { extraConfig: [`password_file ${passwd}`, `acl_file ${acl}`, 'allow_anonymous false'] });
  return m.url;
}

function mosquittoGid(): number | undefined {
  try {
    return Number(execFileSync('getent', ['group', 'mosquitto'], { encoding: 'utf8' }).split(':')[2]);
  } catch {
    return undefined;
  }
}

async function login(t: Test, url: string, user: User, clientId: string): Promise<{ client: MqttClient; got: Received[] }> {
  const client = await connectAsync(url, { protocolVersion: 5, username: user, password: USERS[user], clientId, reconnectPeriod: 0, connectTimeout: 5000 });
  t.teardown(() => client.endAsync(true));
  const got: Received[] = [];
  client.on('message', (topic, payload) => void got.push({ topic, payload: payload.toString() }));
  return { client, got };
}

/** Publish QoS 1 and report whether the broker accepted it (MQTT 5 PUBACK reason code). */
async function tryPublish(client: MqttClient, topic: string, payload: string, retain = false): Promise<'accepted' | 'refused'> {
  try {
    await client.publishAsync(topic, payload, { qos: 1, retain });
    return 'accepted';
  } catch {
    return 'refused';
  }
}

const has = (got: Received[], topic: string, payload: string) => got.some((m) => m.topic === topic && m.payload === payload);

t.test('a drone reads only its own desired config and writes only its own ack, reported and status', async (t) => {
  if (!need(t, 'mosquitto') || !need(t, 'mosquitto_passwd', 'mosquitto')) return;
  const url = await broker(t);

  await t.rejects(connectAsync(url, { protocolVersion: 5, username: 'drone-a', password: 'wrong', reconnectPeriod: 0, connectTimeout: 5000 }), 'a wrong password is refused');

  const ground = await login(t, url, 'ground', 'aimctl-test');
  await ground.client.subscribeAsync('aim/#', { qos: 1 });
  t.equal(await tryPublish(ground.client, 'aim/drone-a/config/desired', 'for-a-1', true), 'accepted', 'ground writes desired');
  t.equal(await tryPublish(ground.client, 'aim/drone-b/config/desired', 'for-b-1', true), 'accepted');

  // Drone A asks for everything it can think of, by name and by wildcard.
  const a = await login(t, url, 'drone-a', 'aim-agent-drone-a');
  await a.client.subscribeAsync(['aim/drone-a/config/desired', 'aim/drone-b/config/desired', 'aim/+/config/desired', 'aim/#'], { qos: 1 });
  await waitFor('A gets its own retained desired', () => has(a.got, 'aim/drone-a/config/desired', 'for-a-1'));
  // Broker order: B's update is processed before A's, so a leak of B's would reach A first.
  await ground.client.publishAsync('aim/drone-b/config/desired', 'for-b-2', { qos: 1, retain: true });
  await ground.client.publishAsync('aim/drone-a/config/desired', 'for-a-2', { qos: 1, retain: true });
  await waitFor('A gets its own next desired', () => has(a.got, 'aim/drone-a/config/desired', 'for-a-2'));
  t.same(
    a.got.filter((m) => m.topic !== 'aim/drone-a/config/desired'),
    [],
    'A saw nothing but its own desired (not B\'s retained or live config, not any status or ack)',
  );

  const b = await login(t, url, 'drone-b', 'aim-agent-drone-b');
  await b.client.subscribeAsync('aim/drone-b/config/desired', { qos: 1 });
  await waitFor('B gets its retained desired', () => has(b.got, 'aim/drone-b/config/desired', 'for-b-2'));

  // A tries to write where it must not: B's four topics and its own desired.
  const forbidden = ['aim/drone-b/config/desired', 'aim/drone-b/config/ack', 'aim/drone-b/config/reported', 'aim/drone-b/status', 'aim/drone-a/config/desired'];
  for (const topic of forbidden) t.equal(await tryPublish(a.client, topic, `forged ${topic}`, true), 'refused', `broker refuses A → ${topic}`);
  // ...then where it may. Same publisher, same broker: these arrive after anything it forged.
  for (const topic of ['aim/drone-a/config/ack', 'aim/drone-a/config/reported', 'aim/drone-a/status']) t.equal(await tryPublish(a.client, topic, `ok ${topic}`), 'accepted', `A may write ${topic}`);
  await waitFor('ground sees A\'s allowed writes', () => has(ground.got, 'aim/drone-a/status', 'ok aim/drone-a/status'));
  t.same(ground.got.filter((m) => m.payload.startsWith('forged')), [], 'none of A\'s forged publishes reached the ground');
  t.ok(has(ground.got, 'aim/drone-a/config/ack', 'ok aim/drone-a/config/ack') && has(ground.got, 'aim/drone-a/config/reported', 'ok aim/drone-a/config/reported'));

  await ground.client.publishAsync('aim/drone-b/config/desired', 'for-b-3', { qos: 1, retain: true });
  await waitFor('B gets the ground\'s next desired', () => has(b.got, 'aim/drone-b/config/desired', 'for-b-3'));
  t.same(b.got.map((m) => m.payload), ['for-b-2', 'for-b-3'], 'B never received A\'s forged desired');

  // The retained desired configs are still the ground's.
  const fresh = await login(t, url, 'ground', 'aimctl-check');
  await fresh.client.subscribeAsync('aim/+/config/desired', { qos: 1 });
  await waitFor('retained desired for both drones', () => fresh.got.length >= 2);
  t.same(
    fresh.got.map((m) => `${m.topic}=${m.payload}`).sort(),
    ['aim/drone-a/config/desired=for-a-2', 'aim/drone-b/config/desired=for-b-3'],
    'retained desired configs were not overwritten by drone A',
  );
});

/** mosquitto.conf.example as written, with paths and ports swapped for temporary ones. */
async function exampleBroker(t: Test): Promise<{ tlsUrl: string; localUrl: string; cert: string }> {
  const keyDir = mkdtempSync(join(tmpdir(), 'aim-tls-'));
  t.teardown(() => rmSync(keyDir, { recursive: true, force: true }));
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
    '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(keyDir, 'broker.key'), '-out', join(keyDir, 'broker.pem')], { stdio: 'ignore' });
  const cert = readFileSync(join(keyDir, 'broker.pem'), 'utf8');
  const { dir, passwd, acl } = brokerFiles(t, { 'broker.pem': cert, 'ca.pem': cert, 'broker.key': readFileSync(join(keyDir, 'broker.key'), 'utf8') });
  const [tlsPort, localPort] = [await freePort(), await freePort()];
  const conf = readFileSync(CONF_EXAMPLE, 'utf8')
    .replaceAll('/etc/mosquitto/aim.passwd', passwd)
    .replaceAll('/etc/mosquitto/aim.acl', acl)
    .replaceAll('/etc/mosquitto/certs/', `${dir}/`)
    .replace(/^listener 8883$/m, `listener ${tlsPort} 127.0.0.1`)
    .replace(/^listener 1883 127\.0\.0\.1$/m, `listener ${localPort} 127.0.0.1`);
  // startMosquitto sets the persistence directory itself (a second one is a config error).
  const lines = conf.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('#') && !l.startsWith('persistence_location'));
  t.notMatch(lines.join('\n'), /\/etc\/|\/var\//, 'every absolute path was swapped');
  await startMosquitto(t, { extraConfig: lines });
  return { tlsUrl: `mqtts://127.0.0.1:${tlsPort}`, localUrl: `mqtt://127.0.0.1:${localPort}`, cert };
}

function needExampleTools(t: Test): boolean {
  return need(t, 'mosquitto') && need(t, 'mosquitto_passwd', 'mosquitto') && need(t, 'openssl');
}

t.test('mosquitto.conf.example runs as written (paths and ports swapped for temp ones): TLS, passwords, ACL', async (t) => {
  if (!needExampleTools(t)) return;
  const { tlsUrl, localUrl, cert } = await exampleBroker(t);
  const drone = await connectAsync(tlsUrl, { protocolVersion: 5, username: 'drone-a', password: USERS['drone-a'], ca: cert, reconnectPeriod: 0, connectTimeout: 5000 });
  t.teardown(() => drone.endAsync(true));
  const ground = await login(t, localUrl, 'ground', 'aimctl-local');
  await ground.client.subscribeAsync('aim/+/status', { qos: 1 });
  t.equal(await tryPublish(drone, 'aim/drone-b/status', 'forged'), 'refused', 'the ACL applies on the TLS listener');
  t.equal(await tryPublish(drone, 'aim/drone-a/status', 'online'), 'accepted');
  await waitFor('ground on the local listener sees the drone over TLS', () => has(ground.got, 'aim/drone-a/status', 'online'));
  t.same(ground.got.map((m) => m.payload), ['online']);
  await t.rejects(connectAsync(localUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 }), 'anonymous clients are refused');
});

t.test('mosquitto.conf.example binds a drone\'s client id to its login: A with B\'s client id neither throws B off nor drops its queue', async (t) => {
  if (!needExampleTools(t)) return;
  const { tlsUrl, localUrl, cert } = await exampleBroker(t);
  const B_ID = 'aim-agent-drone-b';
  /** A drone session as the agent opens it: its client id, clean start false, a session that outlives the connection. */
  const droneLogin = async (user: User, clientId: string, clean = false) => {
    const client = await connectAsync(tlsUrl, {
      protocolVersion: 5, username: user, password: USERS[user], clientId, clean, ca: cert,
      properties: { sessionExpiryInterval: 3600 }, reconnectPeriod: 0, connectTimeout: 5000,
    });
    t.teardown(() => client.endAsync(true));
    const got: Received[] = [];
    client.on('message', (topic, payload) => void got.push({ topic, payload: payload.toString() }));
    return { client, got };
  };
  const ground = await login(t, localUrl, 'ground', 'aimctl-takeover');
  await ground.client.subscribeAsync('aim/+/status', { qos: 1 });

  // B online: its desired subscription is in its session.
  const b = await droneLogin('drone-b', B_ID);
  await b.client.subscribeAsync('aim/drone-b/config/desired', { qos: 1 });
  let bClosed = false;
  b.client.on('close', () => void (bClosed = true));

  // A's credentials with B's client id, both ways a takeover is tried: resume and clean start.
  for (const clean of [false, true]) {
    const a = await droneLogin('drone-a', B_ID, clean);
    // The broker handles A's CONNECT (a takeover would disconnect B right there) before it answers
    // A; so if B's next round trip completes, B was not thrown off.
    // A kicked-off client would queue the publish forever (reconnectPeriod 0): race it with the close.
    const closed = new Promise<'closed'>((resolve) => (b.client.connected ? b.client.once('close', () => resolve('closed')) : resolve('closed')));
    t.equal(await Promise.race([tryPublish(b.client, 'aim/drone-b/status', `online-${clean}`), closed]), 'accepted', `B still publishes after A connected with B's id (clean ${clean})`);
    if (bClosed) return;
    await waitFor('ground sees B\'s status', () => has(ground.got, 'aim/drone-b/status', `online-${clean}`));
    t.notOk(bClosed, 'B was never disconnected');
    t.equal(await tryPublish(a.client, 'aim/drone-b/status', 'forged'), 'refused', 'A is still only drone-a to the ACL');
    await a.client.endAsync();
  }

  // B offline with its session kept: the ground's desired configs queue for it...
  await b.client.endAsync();
  for (const n of [1, 2]) await ground.client.publishAsync('aim/drone-b/config/desired', `queued-${n}`, { qos: 1 });
  // ...while A, clean start, claims B's client id again.
  const a = await droneLogin('drone-a', B_ID, true);
  await a.client.endAsync();
  const back = await droneLogin('drone-b', B_ID);
  await waitFor('B gets what was queued while it was away', () => back.got.length >= 2);
  t.same(back.got.map((m) => m.payload), ['queued-1', 'queued-2'], 'B\'s queued messages were kept, in order');
});
