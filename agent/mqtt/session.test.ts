import t, { type Test } from 'tap';
import { EventEmitter } from 'node:events';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IClientOptions, IPublishPacket } from 'mqtt';
import { waitFor } from '../../test/support/index.js';
import { createLogger } from '../log.js';
import { SettingsSchema } from '../settings.js';
import { outboxPath, replay } from './outbox.js';
import { MqttSession, type DesiredMessage, type SessionClient, type SessionTimers } from './session.js';

// The session through a fake MQTT.js client and hand-driven timers (as MQTT.js tests its keepalive):
// every reconnect delay, replay and PUBACK outcome is exact, with no broker and no sleeps.

type PubCb = (err?: Error) => void;
interface Published {
  topic: string;
  payload: string;
  opts: { qos: 1; retain: boolean; properties?: { correlationData: Buffer } };
  cb: PubCb;
}

class FakeClient extends EventEmitter implements SessionClient {
  connected = false;
  get disconnected(): boolean {
    return !this.connected;
  }
  readonly published: Published[] = [];
  readonly subscribed: string[] = [];
  readonly asyncPublished: { topic: string; payload: string; retain: boolean }[] = [];
  reconnects = 0;
  ended = false;
  readonly stream = { noDelay: false, destroyed: false, setNoDelay(on: boolean) { this.noDelay = on; }, destroy() { this.destroyed = true; } };

  subscribe(topic: string, _opts: unknown, cb: (err: Error | null | undefined) => void): void {
    this.subscribed.push(topic);
    cb(null);
  }
  publish(topic: string, payload: string, opts: Published['opts'], cb: PubCb): void {
    this.published.push({ topic, payload, opts, cb });
  }
  async publishAsync(topic: string, payload: string, opts: { retain: boolean }): Promise<void> {
    this.asyncPublished.push({ topic, payload, retain: opts.retain });
  }
  reconnect(): void {
    this.reconnects++;
  }
  async endAsync(): Promise<void> {
    this.ended = true;
  }
  end(): void {
    this.ended = true;
  }
  /** The broker accepted the connection. */
  up(sessionPresent = false): void {
    this.connected = true;
    this.emit('connect', { sessionPresent });
  }
  /** The connection dropped. */
  down(): void {
    this.connected = false;
    this.emit('close');
  }
  take(): Published[] {
    return this.published.splice(0);
  }
}

class ManualTimers implements SessionTimers {
  readonly pending: { fn: () => void; ms: number; id: number }[] = [];
  private next = 1;
  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.next++;
    this.pending.push({ fn, ms, id });
    return id;
  }
  clearTimeout(handle: unknown): void {
    const i = this.pending.findIndex((p) => p.id === handle);
    if (i >= 0) this.pending.splice(i, 1);
  }
  /** Run the earliest timer; returns its delay. */
  fire(): number {
    const p = this.pending.shift();
    if (p === undefined) throw new Error('no timer pending');
    p.fn();
    return p.ms;
  }
}

function setup(t: Test, opts: { protocolVersion?: 4 | 5; outbox?: string } = {}) {
  const stateDir = mkdtempSync(join(tmpdir(), 'aim-session-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  if (opts.outbox !== undefined) writeFileSync(outboxPath(stateDir), opts.outbox);
  const logs: { level: number; msg: string; err?: { message: string } }[] = [];
  const logger = createLogger({ level: 'debug', destination: { write: (line: string) => void logs.push(JSON.parse(line) as (typeof logs)[number]) } });
  const client = new FakeClient();
  const timers = new ManualTimers();
  const connects: { url: string; options: IClientOptions }[] = [];
  const broker = SettingsSchema.shape.broker.parse({ url: 'mqtt://127.0.0.1:1883', protocolVersion: opts.protocolVersion ?? 5 });
  const session = new MqttSession({
    droneId: 'drone-07',
    broker,
    stateDir,
    logger,
    timers,
    random: () => 0.5,
    connect: (url, options) => {
      connects.push({ url, options });
      return client;
    },
  });
  t.teardown(() => session.stop({ timeoutMs: 10 }));
  const onDisk = () => replay(readFileSync(outboxPath(stateDir), 'utf8'));
  return { stateDir, client, timers, session, connects, logs, onDisk };
}

t.test('connects as DESIGN.md says: stable client id, persistent session, Last Will offline, our own reconnects', async (t) => {
  const s = setup(t);
  await s.session.start();
  t.equal(s.connects.length, 1);
  const o = s.connects[0]!.options;
  t.match(o, { clientId: 'aim-agent-drone-07', clean: false, protocolVersion: 5, reconnectPeriod: 0, properties: { sessionExpiryInterval: 86_400 } });
  t.match(o.will, { topic: 'aim/drone-07/status', qos: 1, retain: true });
  t.equal(o.will?.payload.toString(), '{"state":"offline"}');
  const connected: unknown[] = [];
  s.session.on('connect', (info) => connected.push(info));
  s.client.up(true);
  t.same(s.client.subscribed, ['aim/drone-07/config/desired'], 'subscribes on every connect');
  t.same(connected, [{ sessionPresent: true }]);
  t.ok(s.session.connected);
  t.ok(s.client.stream.noDelay, 'Nagle off on the broker socket: an ack does not wait for a delayed ACK');

  const v4 = setup(t, { protocolVersion: 4 });
  await v4.session.start();
  t.notOk('properties' in v4.connects[0]!.options, 'MQTT 3.1.1 has no session expiry property');
});

t.test('reconnect backoff: 500 ms doubling to 30 s (±20 % jitter), reset by a good connect, stopped by stop()', async (t) => {
  const s = setup(t);
  await s.session.start();
  let offline = 0;
  s.session.on('offline', () => offline++);
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    s.client.down();
    t.equal(s.timers.pending.length, 1, 'one reconnect timer at a time');
    s.client.emit('close'); // MQTT.js may report close twice: still one timer
    t.equal(s.timers.pending.length, 1);
    delays.push(s.timers.fire());
  }
  t.same(delays, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  t.equal(s.client.reconnects, 8, 'each timer calls client.reconnect()');
  t.equal(offline, 8);
  s.client.up();
  s.client.down();
  t.equal(s.timers.fire(), 500, 'a good connect starts the backoff over');
  s.client.down();
  t.equal(s.timers.pending.length, 1);
  await s.session.stop({ timeoutMs: 10 });
  t.equal(s.timers.pending.length, 0, 'stop cancels the pending reconnect');
  s.client.emit('close');
  t.equal(s.timers.pending.length, 0, 'and no reconnect is scheduled after stop');
});

t.test('outbox replay: what a previous run still owed is sent in order on connect, and leaves once PUBACKed', async (t) => {
  const owed = [
    { add: { seq: 1, topic: 'aim/drone-07/config/ack', payload: '{"version":1}', retain: false } },
    { add: { seq: 2, topic: 'aim/drone-07/config/reported', payload: '{"version":1}', retain: true } },
    { add: { seq: 3, topic: 'aim/drone-07/config/ack', payload: '{"version":2}', retain: false } },
    { del: 1 },
  ];
  const s = setup(t, { outbox: owed.map((l) => JSON.stringify(l)).join('\n') + '\n{"add":{"seq":4,"top' });
  await s.session.start();
  t.same(s.client.published, [], 'nothing is sent before the broker is up');
  s.client.up();
  const sent = s.client.take();
  t.same(sent.map((p) => [p.topic, p.payload, p.opts.retain]), [
    ['aim/drone-07/config/reported', '{"version":1}', true],
    ['aim/drone-07/config/ack', '{"version":2}', false],
  ], 'the delivered entry and the torn last line are not sent');
  s.client.up();
  t.same(s.client.take(), [], 'a reconnect while PUBACKs are outstanding does not send duplicates');
  sent[0]!.cb();
  sent[1]!.cb();
  await waitFor('both marked delivered on disk', () => s.onDisk().size === 0, { timeoutMs: 5000 });
});

t.test('publish outcomes: not acknowledged stays for the next connect; refused by the broker leaves the outbox', async (t) => {
  const s = setup(t);
  await s.session.start();
  await s.session.publishAck({ version: 5 }, { topic: 'ground/replies', correlationData: Buffer.from('c1') });
  await s.session.publishReported({ version: 5 });
  t.same(s.client.published, [], 'offline: queued, not sent');
  t.equal(s.onDisk().size, 3, 'ack, response copy and reported are on disk before anything is sent');
  s.client.up();
  const [ack, response, reported] = s.client.take();
  t.match(ack, { topic: 'aim/drone-07/config/ack', payload: '{"version":5}', opts: { qos: 1, retain: false } });
  t.match(response, { topic: 'ground/replies', opts: { properties: { correlationData: Buffer.from('c1') } } });
  t.match(reported, { topic: 'aim/drone-07/config/reported', opts: { retain: true } });

  ack!.cb(new Error('connection closed')); // no reason code: the broker never answered
  response!.cb(Object.assign(new Error('Publish error: Not authorized'), { code: 135 })); // the broker refused
  reported!.cb();
  await waitFor('refused and delivered entries leave the outbox', () => s.onDisk().size === 1, { timeoutMs: 5000 });
  t.match([...s.onDisk().values()], [{ topic: 'aim/drone-07/config/ack' }], 'the unacknowledged ack is kept');
  t.ok(s.logs.some((l) => /broker refused a publish; dropped/.test(l.msg)));
  s.client.down();
  s.client.up();
  const again = s.client.take();
  t.same(again.map((p) => p.topic), ['aim/drone-07/config/ack'], 'sent again on the next connect');
  again[0]!.cb();
  await waitFor('delivered', () => s.onDisk().size === 0, { timeoutMs: 5000 });
});

t.test('desired messages: only the desired topic, with retain, response topic and correlation data', async (t) => {
  const s = setup(t);
  await s.session.start();
  const got: DesiredMessage[] = [];
  s.session.on('desired', (m) => got.push(m));
  const packet = (retain: boolean, properties?: IPublishPacket['properties']) => ({ cmd: 'publish', qos: 1, dup: false, retain, topic: '', payload: '', ...(properties ? { properties } : {}) }) as IPublishPacket;
  s.client.emit('message', 'aim/drone-07/config/desired', Buffer.from('jws-1'), packet(true));
  s.client.emit('message', 'aim/drone-08/config/desired', Buffer.from('other'), packet(false));
  s.client.emit('message', 'aim/drone-07/config/desired', Buffer.from('jws-2'), packet(false, { responseTopic: 'r/1', correlationData: Buffer.from('cd') }));
  t.same(got, [
    { payload: Buffer.from('jws-1'), retained: true },
    { payload: Buffer.from('jws-2'), retained: false, responseTopic: 'r/1', correlationData: Buffer.from('cd') },
  ]);
});

t.test('status: retained, only when connected; stop publishes offline first, then ends the client', async (t) => {
  const s = setup(t);
  await s.session.start();
  const status = { state: 'online', agentVersion: '0', link: 'up', armed: false, lock: 'free', uptimeS: 1 } as Parameters<MqttSession['publishStatus']>[0];
  s.session.publishStatus(status);
  t.same(s.client.published, [], 'offline: status is not queued (the service re-sends it on connect)');
  s.client.up();
  s.session.publishStatus(status);
  t.match(s.client.take(), [{ topic: 'aim/drone-07/status', opts: { qos: 1, retain: true } }]);
  await s.session.stop({ timeoutMs: 50 });
  t.same(s.client.asyncPublished, [{ topic: 'aim/drone-07/status', payload: '{"state":"offline"}', retain: true }]);
  t.ok(s.client.ended);
});

t.test('broker errors are logged with a hint, never swallowed', async (t) => {
  const s = setup(t);
  await s.session.start();
  s.client.emit('error', new Error('Connection refused: Unsupported protocol version'));
  const line = s.logs.find((l) => /broker connection error/.test(l.msg));
  t.match(line, { msg: /does not speak MQTT 5: set broker.protocolVersion to 4/, err: { message: /Unsupported protocol version/ } });
});

t.test('a credentials file that is not there: start fails with AIM_ERR_SETTINGS `path: no such file`, nothing connects', async (t) => {
  const stateDir = mkdtempSync(join(tmpdir(), 'aim-session-'));
  t.teardown(() => rmSync(stateDir, { recursive: true, force: true }));
  let connects = 0;
  const broker = SettingsSchema.shape.broker.parse({ url: 'mqtts://127.0.0.1:8883', passwordFile: join(stateDir, 'mqtt.pass') });
  const session = new MqttSession({ droneId: 'd', broker, stateDir, logger: createLogger({ level: 'silent' }), connect: () => (connects++, new FakeClient()) });
  await t.rejects(session.start(), { code: 'AIM_ERR_SETTINGS', message: `${join(stateDir, 'mqtt.pass')}: no such file` });
  t.equal(connects, 0);
});
