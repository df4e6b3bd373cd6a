import { EventEmitter } from 'node:events';
import mqtt, { type IClientOptions, type IPublishPacket } from 'mqtt';
import { topicFor, type Status } from '../../protocol/index.js';
import { nextDelay, type BackoffOptions } from '../backoff.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';
import { brokerClientOptions } from './broker-options.js';
import { Outbox, type OutboxEntry } from './outbox.js';

/** The part of an MQTT.js client the session uses; tests pass a fake. */
export interface SessionClient {
  readonly connected: boolean;
  readonly disconnected: boolean;
  /** The socket under the client; cut when a graceful end cannot finish (a frozen broker). */
  readonly stream?: { destroy(): unknown; setNoDelay?(on: boolean): unknown };
  on(event: 'connect', listener: (connack: { sessionPresent: boolean }) => void): unknown;
  on(event: 'message', listener: (topic: string, payload: Buffer, packet: IPublishPacket) => void): unknown;
  on(event: 'close', listener: () => void): unknown;
  on(event: 'error', listener: (err: Error) => void): unknown;
  subscribe(topic: string, opts: { qos: 1; rh: 0 }, cb: (err: Error | null | undefined) => void): unknown;
  publish(topic: string, payload: string, opts: { qos: 1; retain: boolean; properties?: { correlationData: Buffer } }, cb: (err?: Error) => void): unknown;
  publishAsync(topic: string, payload: string, opts: { qos: 1; retain: boolean }): Promise<unknown>;
  reconnect(): unknown;
  endAsync(force: boolean): Promise<void>;
  end(force: boolean): unknown;
}

/** Timers the session schedules reconnects with; tests drive them by hand. */
export interface SessionTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realTimers: SessionTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface DesiredMessage {
  payload: Buffer;
  retained: boolean;
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface SessionEvents {
  desired: [msg: DesiredMessage];
  connect: [info: { sessionPresent: boolean }];
  offline: [];
}

export interface SessionOptions {
  droneId: string;
  broker: Settings['broker'];
  stateDir: string;
  logger: Logger;
  /** Backoff between reconnects (default 500 ms doubling to 30 s, ±20 % jitter). */
  backoff?: BackoffOptions;
  /** Opens the client (default mqtt.connect). */
  connect?: (url: string, options: IClientOptions) => SessionClient;
  timers?: SessionTimers;
  random?: () => number;
}

const SESSION_BACKOFF: BackoffOptions = { minMs: 500, maxMs: 30_000 };

/**
 * The drone's MQTT 5 session (DESIGN.md "MQTT topics"): stable client id `aim-agent-<drone>`, clean
 * start false with a session expiry (MQTT.js defaults to 0, which would silently drop a desired config
 * sent while the drone was offline), QoS 1 subscription to the desired topic, retained status with a
 * Last Will of `{"state":"offline"}`, and an outbox for acks/reported. Reconnects with jittered
 * exponential backoff of our own (MQTT.js only knows a fixed period).
 */
export class MqttSession extends EventEmitter<SessionEvents> {
  private client: SessionClient | undefined;
  private readonly outbox: Outbox;
  private readonly log: Logger;
  private readonly topics: { desired: string; ack: string; reported: string; status: string };
  private readonly timers: SessionTimers;
  private reconnectTimer: unknown;
  private lastDelay: number | undefined;
  private attempt = 0;
  private closing = false;
  private readonly inflight = new Set<number>();
  private outboxReady = false;

  constructor(private readonly opts: SessionOptions) {
    super();
    this.log = opts.logger.child({ component: 'mqtt' });
    this.outbox = new Outbox(opts.stateDir, this.log);
    this.timers = opts.timers ?? realTimers;
    const p = opts.broker.topicPrefix;
    this.topics = {
      desired: topicFor(opts.droneId, 'desired', p),
      ack: topicFor(opts.droneId, 'ack', p),
      reported: topicFor(opts.droneId, 'reported', p),
      status: topicFor(opts.droneId, 'status', p),
    };
  }

  get connected(): boolean {
    return this.client?.connected === true;
  }

  /** Start connecting (returns at once; the session keeps trying in the background). */
  async start(): Promise<void> {
    const b = this.opts.broker;
    const options: IClientOptions = {
      ...brokerClientOptions(b, { clientId: `aim-agent-${this.opts.droneId}`, clean: false }),
      ...(b.protocolVersion === 5 ? { properties: { sessionExpiryInterval: b.sessionExpiryS } } : {}),
      will: { topic: this.topics.status, payload: Buffer.from(JSON.stringify({ state: 'offline' })), qos: 1, retain: true },
    };
    // Connect first and read the outbox meanwhile: what it holds is flushed once both are done.
    const loaded = this.outbox.load();
    const client = (this.opts.connect ?? ((url, o) => mqtt.connect(url, o) as unknown as SessionClient))(b.url, options);
    this.client = client;
    client.on('connect', (connack) => {
      // Nagle off: an ack written behind the status and reported publishes otherwise waits for the broker's delayed ACK (~25 ms).
      client.stream?.setNoDelay?.(true);
      this.attempt = 0;
      this.lastDelay = undefined;
      const sessionPresent = connack.sessionPresent;
      this.log.info({ sessionPresent, url: b.url }, 'broker connected');
      // Subscribe on every connect (cheap, idempotent): the retained desired config comes again and
      // the pipeline answers a repeat of the applied one quietly.
      client.subscribe(this.topics.desired, { qos: 1, rh: 0 }, (err) => {
        if (err) this.log.error({ err }, 'subscribe failed');
      });
      this.flush();
      this.emit('connect', { sessionPresent });
    });
    client.on('message', (topic, payload, packet: IPublishPacket) => {
      if (topic !== this.topics.desired) return;
      const props = packet.properties;
      const msg: DesiredMessage = { payload, retained: packet.retain };
      if (typeof props?.responseTopic === 'string') msg.responseTopic = props.responseTopic;
      if (props?.correlationData !== undefined) msg.correlationData = Buffer.from(props.correlationData);
      this.emit('desired', msg);
    });
    client.on('close', () => {
      this.inflight.clear();
      if (!this.closing) this.scheduleReconnect();
    });
    client.on('error', (err) => {
      const code = (err as NodeJS.ErrnoException & { code?: unknown }).code;
      const hint = /unsupported protocol version|unacceptable protocol version/i.test(err.message) ? ' (the broker does not speak MQTT 5: set broker.protocolVersion to 4)' : '';
      this.log.warn({ err: { message: err.message, code } }, `broker connection error${hint}`);
    });
    await loaded;
    this.outboxReady = true;
    this.flush();
  }

  private scheduleReconnect(): void {
    if (this.reconnectTimer !== undefined || this.closing) return;
    const delay = nextDelay(this.lastDelay, this.opts.backoff ?? SESSION_BACKOFF, this.opts.random);
    this.lastDelay = delay;
    this.attempt++;
    this.log.info({ delayMs: delay, attempt: this.attempt }, 'broker offline; reconnecting');
    this.emit('offline');
    this.reconnectTimer = this.timers.setTimeout(() => {
      this.reconnectTimer = undefined;
      if (!this.closing) this.client?.reconnect();
    }, delay);
  }

  /** Publish an ack on the drone's ack topic (and on a response topic when the desired message had one). */
  async publishAck(ack: object, response?: { topic: string; correlationData?: Buffer }): Promise<void> {
    const payload = JSON.stringify(ack);
    await this.enqueue({ topic: this.topics.ack, payload, retain: false });
    if (response !== undefined) {
      await this.enqueue({ topic: response.topic, payload, retain: false, ...(response.correlationData ? { correlation: response.correlationData.toString('base64') } : {}) });
    }
  }

  async publishReported(reported: object): Promise<void> {
    await this.enqueue({ topic: this.topics.reported, payload: JSON.stringify(reported), retain: true });
  }

  /** Status is retained and not queued: only the newest matters, and it is re-sent on every connect by the service. */
  publishStatus(status: Status): void {
    if (!this.connected) return;
    this.client?.publish(this.topics.status, JSON.stringify(status), { qos: 1, retain: true }, (err) => {
      if (err) this.log.debug({ err: err.message }, 'status publish not acknowledged');
    });
  }

  private async enqueue(entry: Omit<OutboxEntry, 'seq'>): Promise<void> {
    const e = await this.outbox.add(entry);
    this.send(e);
  }

  private flush(): void {
    if (!this.outboxReady) return;
    for (const e of this.outbox.pending()) this.send(e);
  }

  private send(e: OutboxEntry): void {
    const client = this.client;
    if (client === undefined || !client.connected || this.inflight.has(e.seq)) return;
    this.inflight.add(e.seq);
    const properties = e.correlation !== undefined ? { correlationData: Buffer.from(e.correlation, 'base64') } : undefined;
    client.publish(e.topic, e.payload, { qos: 1, retain: e.retain, ...(properties ? { properties } : {}) }, (err) => {
      this.inflight.delete(e.seq);
      const reasonCode = (err as (Error & { code?: unknown }) | undefined)?.code;
      if (err && typeof reasonCode === 'number') {
        // The broker answered and refused (e.g. an ACL that denies a response topic): resending the
        // same message would be refused forever, so it leaves the outbox. The ack topic copy is separate.
        this.log.warn({ err: err.message, reasonCode, topic: e.topic }, 'broker refused a publish; dropped from the outbox');
      } else if (err) {
        this.log.warn({ err: err.message, topic: e.topic }, 'publish not acknowledged; kept in the outbox');
        return;
      }
      this.outbox.remove(e.seq);
    });
  }

  /**
   * Publish `offline` status and disconnect cleanly. A clean DISCONNECT suppresses the Last Will, so
   * the retained offline status is published explicitly first.
   */
  async stop(opts: { timeoutMs?: number } = {}): Promise<void> {
    this.closing = true;
    if (this.reconnectTimer !== undefined) this.timers.clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    const client = this.client;
    if (client === undefined) return;
    const timeoutMs = opts.timeoutMs ?? 3000;
    if (client.connected) {
      await Promise.race([
        client.publishAsync(this.topics.status, JSON.stringify({ state: 'offline' }), { qos: 1, retain: true }).catch(() => undefined),
        delay(timeoutMs),
      ]);
    }
    await Promise.race([client.endAsync(false).catch(() => undefined), delay(timeoutMs)]);
    // end(true) does nothing while the graceful end above still waits (a frozen broker never acks):
    // cut the socket, or it keeps the process alive past the unit's stop timeout.
    if (!client.disconnected) client.stream?.destroy();
    client.end(true);
    await this.outbox.close();
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}
