import t from 'tap';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { configToFcParams, topicFor, type Ack, type AimConfig } from '../protocol/index.js';
import { requireTool, spawnCli, waitFor } from '../test/support/index.js';
import { harness, type Harness } from './test-helpers/harness.js';
import { outboxPath, replay } from './mqtt/outbox.js';

// The agent against a real Mosquitto (MQTT 5) started by the test on a random loopback port.

const haveMosquitto = requireTool({ fail: (m) => t.fail(m), comment: (m) => t.comment(m) }, 'mosquitto');
const test = haveMosquitto ? t.test.bind(t) : () => undefined;

const fileVersion = (h: Harness) => (JSON.parse(readFileSync(join(h.stateDir, 'aim-params.json'), 'utf8')) as AimConfig).version;
const fcMatches = (h: Harness, cfg: AimConfig) => configToFcParams(cfg).every((p) => Math.fround(h.fc.getParam(p.name) ?? NaN) === Math.fround(p.value));

void test('MQTT 5 happy path with a response topic and correlation data', async (t) => {
  const h = await harness(t, { broker: 'mosquitto' });
  const replies: { ack: Ack; correlation: string | undefined }[] = [];
  const responseTopic = 'ground/replies/req-1';
  h.ground.on('message', (topic, payload, packet) => {
    if (topic === responseTopic) replies.push({ ack: JSON.parse(payload.toString()) as Ack, correlation: packet.properties?.correlationData?.toString() });
  });
  await h.ground.subscribeAsync(responseTopic, { qos: 1 });
  await h.publish(h.sign(h.config(5)), { responseTopic, correlationData: Buffer.from('corr-42') });
  const reply = await waitFor('ack on the response topic', () => replies[0]);
  t.equal(reply.ack.status, 'applied');
  t.equal(reply.correlation, 'corr-42');
  const ack = await h.waitAck((a) => a.version === 5, 'ack on the ack topic');
  t.same(ack, reply.ack, 'the same ack on both topics');
});

void test('a drone offline when the desired config is published gets it on reconnect', async (t) => {
  const h = await harness(t, { broker: 'mosquitto' });
  await h.publish(h.sign(h.config(1)));
  await h.waitAck((a) => a.version === 1 && a.status === 'applied', 'v1');
  await h.stopAgent();
  await h.publish(h.sign(h.config(2)), { retain: false }); // not retained: only the persistent session can deliver it
  await h.startAgent();
  const ack = await h.waitAck((a) => a.version === 2, 'v2 after reconnect', 15_000);
  t.equal(ack.status, 'applied');
  t.equal(fileVersion(h), 2);
});

void test('retained status, and the Last Will when the agent process dies', async (t) => {
  const h = await harness(t, { broker: 'mosquitto', startAgent: false });
  const agent = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile]);
  // online goes out as soon as the broker session is up, then again once the FC link is.
  await waitFor('online status with the FC link up', () => h.statuses.find((s) => s.state === 'online' && s.link === 'up'), { timeoutMs: 15_000 });
  // A late subscriber sees the retained online status.
  const late = await mqtt.connectAsync(h.brokerUrl, { protocolVersion: 5, clientId: 'late-subscriber', reconnectPeriod: 0 });
  t.teardown(() => late.endAsync(true));
  const retained = new Promise<string>((resolve) => late.on('message', (_t2, p) => resolve(p.toString())));
  await late.subscribeAsync(topicFor(h.droneId, 'status'), { qos: 1 });
  t.match(JSON.parse(await retained), { state: 'online', agentVersion: '0.1.0', link: 'up' });
  agent.kill('SIGKILL');
  await agent.exited;
  // Mosquitto notices the dead TCP peer at once (RST) and publishes the will.
  await waitFor('will: offline', () => h.statuses[h.statuses.length - 1]?.state === 'offline', { timeoutMs: 15_000 });
  t.same(h.statuses[h.statuses.length - 1], { state: 'offline' });
});

void test('SIGTERM: offline published, lock released, exit 0', async (t) => {
  const h = await harness(t, { broker: 'mosquitto', startAgent: false });
  const agent = spawnCli(t, 'aim-agent', ['run', '--settings', h.settingsFile]);
  await waitFor('online status', () => h.statuses.find((s) => s.state === 'online'), { timeoutMs: 15_000 });
  await h.publish(h.sign(h.config(3)));
  await h.waitAck((a) => a.version === 3, 'v3');
  agent.kill('SIGTERM');
  t.equal(await agent.exited, 0);
  await waitFor('offline status', () => h.statuses[h.statuses.length - 1]?.state === 'offline');
  const status = spawnCli(t, 'aim-agent', ['lock', 'status', '--state-dir', h.stateDir]);
  await status.exited;
  t.match(status.stdout(), /free/i, 'the lock is free');
});

void test('Mosquitto killed and restarted mid-apply: exactly one applied ack; FC and file agree', async (t) => {
  const h = await harness(t, { broker: 'mosquitto', mosquittoPersistence: true, fc: { latencyMs: 30 } });
  const cfg = h.config(7, { params: { MNT1_LEAD_RLL: 0.1, MNT1_LEAD_PTCH: 0.15 } });
  await h.publish(h.sign(cfg));
  // Kill the broker while the agent is pushing parameters (the FC answers 30 ms late).
  await waitFor('apply in progress', () => h.agent?.pipeline.state === 'applying', { timeoutMs: 10_000, intervalMs: 1 });
  await h.mosquitto!.stop('SIGKILL');
  await h.mosquitto!.restart();
  const ack = await h.waitAck((a) => a.version === 7 && a.status === 'applied', 'applied after broker restart', 30_000);
  t.ok(ack);
  // Give any duplicate delivery a chance to show up: wait for a later marker published by the agent.
  await h.publish(h.sign(h.config(8)), { retain: true });
  await h.waitAck((a) => a.version === 8, 'v8', 30_000);
  t.equal(h.acks.filter((a) => a.version === 7 && a.status === 'applied').length, 1, 'exactly one applied ack for v7');
  t.equal(fileVersion(h), 8);
  t.ok(fcMatches(h, h.config(8)));
});

void test('a response topic the broker refuses (ACL) does not clog the outbox; the ack topic still gets the ack', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-acl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  chmodSync(dir, 0o755); // mosquitto started as root drops to its own user before reading the ACL
  // Anonymous clients may use aim/# only: the drone's publish to the response topic is refused.
  writeFileSync(join(dir, 'acl'), 'topic readwrite aim/#\n', { mode: 0o644 });
  const h = await harness(t, { broker: 'mosquitto', mosquittoConfig: [`acl_file ${join(dir, 'acl')}`] });
  await h.publish(h.sign(h.config(4)), { responseTopic: 'elsewhere/replies', correlationData: Buffer.from('x') });
  t.equal((await h.waitAck((a) => a.version === 4, 'ack on the ack topic')).status, 'applied');
  await waitFor('outbox drained', () => replay(readFileSync(outboxPath(h.stateDir), 'utf8')).size === 0, { timeoutMs: 10_000 });
  t.pass('the refused response-topic copy left the outbox');
});
