import { EventEmitter } from 'node:events';
import { randomBytes } from 'node:crypto';
import type { IPublishPacket, MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import {
  AckSchema,
  ReportedSchema,
  StatusSchema,
  fleetFilter,
  parseStrictJson,
  parseTopic,
  topicFor,
  type Ack,
  type Reported,
  type Status,
  type TopicKind,
} from '../protocol/index.js';
import { decodeDesired, type LoadedConfig } from './config-io.js';

/** What a drone has retained on the broker, as the ground last saw it. */
export interface DroneView {
  status?: Status;
  reported?: Reported;
  desired?: LoadedConfig;
}

export interface FleetLinkEvents {
  status: [droneId: string, status: Status];
  reported: [droneId: string, reported: Reported];
  /** An ack from the drone's ack topic (correlation undefined) or from our response topic. */
  ack: [droneId: string, ack: Ack, correlation: string | undefined];
  connection: [state: 'offline' | 'reconnect' | 'connect'];
}

export interface PublishOptions {
  /** Retained: the drone gets it even if it connects later. Dry runs are not retained: they must change nothing on the broker. */
  retain: boolean;
  /** Correlation data for the MQTT 5 response topic; the ack comes back there with it. */
  correlation: string;
}

/** Up to this many named drones, `open` subscribes to each drone's topics; beyond it, to the fleet's wildcards. */
const PER_DRONE_SUBSCRIPTIONS_UP_TO = 50;

/**
 * The ground's view of the fleet over one MQTT connection: retained status/reported/desired per drone,
 * acks from the ack topics and from a private MQTT 5 response topic, and publishing desired configs.
 * `open()` resolves once every retained message that existed at subscribe time has arrived.
 */
export class FleetLink extends EventEmitter<FleetLinkEvents> {
  readonly responseTopic: string;
  private readonly syncTopic: string;
  private readonly views = new Map<string, DroneView>();
  private readonly syncWaiters = new Map<string, () => void>();
  /** A fleet mostly retains the same desired JWS: decode (verify-free parse + validation) each distinct one once. */
  private readonly decoded = new Map<string, LoadedConfig | undefined>();
  private readonly onMessage = (topic: string, payload: Buffer, packet: IPublishPacket) => this.handle(topic, payload, packet);
  private closing = false;
  /** Drones asked for by name (`open` with a list): messages about others are dropped before parsing. */
  private only: ReadonlySet<string> | undefined;
  /**
   * Which drones' acks are worth parsing (a roll-out: the drones it still waits for); unset = all. A big
   * wave sends every ack twice (ack topic and response topic) and settles most drones on their retained
   * report, which comes first: validating 20,000 acks nobody waits for was most of aimctl's CPU.
   */
  ackInterest: ((droneId: string) => boolean) | undefined;
  // Late QoS 1 acks can still arrive while we disconnect; their PUBACK then fails with EPIPE: not news.
  private readonly onError = (err: Error) => this.logger[this.closing ? 'debug' : 'warn']({ err: err.message }, 'broker connection error');
  private readonly onOffline = () => this.emit('connection', 'offline');
  private readonly onReconnect = () => this.emit('connection', 'reconnect');
  private readonly onConnect = () => this.emit('connection', 'connect');

  private constructor(
    readonly client: MqttClient,
    readonly topicPrefix: string,
    private readonly logger: Logger,
  ) {
    super();
    const base = `${topicPrefix}/ground/${client.options.clientId ?? 'aimctl'}`;
    this.responseTopic = `${base}/ack`;
    this.syncTopic = `${base}/sync`;
    client.on('message', this.onMessage);
    client.on('error', this.onError);
    client.on('offline', this.onOffline);
    client.on('reconnect', this.onReconnect);
    client.on('connect', this.onConnect);
  }

  /**
   * Subscribe to the drones' topics (`'all'`: the whole fleet under the prefix) and wait for their retained
   * messages. Retained messages are queued to us at subscribe time, before anything published later, so a
   * marker we publish to ourselves after the SUBACKs arrives after the last of them.
   */
  static async open(client: MqttClient, opts: { topicPrefix: string; drones: readonly string[] | 'all'; logger: Logger; timeoutMs?: number }): Promise<FleetLink> {
    const link = new FleetLink(client, opts.topicPrefix, opts.logger);
    try {
      const kinds: TopicKind[] = ['status', 'reported', 'desired', 'ack'];
      // Beyond a handful of drones, four wildcard subscriptions (filtered here) instead of four per drone:
      // 40,000 subscriptions for a 10,000-drone resume cost the broker and us far more than the filtering.
      const wildcard = opts.drones === 'all' || opts.drones.length > PER_DRONE_SUBSCRIPTIONS_UP_TO;
      if (opts.drones !== 'all' && wildcard) link.only = new Set(opts.drones);
      const topics = wildcard ? kinds.map((k) => fleetFilter(k, opts.topicPrefix)) : (opts.drones as readonly string[]).flatMap((d) => kinds.map((k) => topicFor(d, k, opts.topicPrefix)));
      await client.subscribeAsync(`${opts.topicPrefix}/ground/${client.options.clientId ?? 'aimctl'}/+`, { qos: 1 });
      for (let i = 0; i < topics.length; i += 200) {
        const chunk = topics.slice(i, i + 200);
        // No-local on desired: our own publishes need not come back to us.
        await client.subscribeAsync(Object.fromEntries(chunk.map((t) => [t, { qos: 1 as const, nl: t.endsWith('/config/desired') }])));
      }
      await link.sync(opts.timeoutMs ?? 10000);
    } catch (err) {
      link.detach();
      throw err;
    }
    return link;
  }

  /** Resolve once everything the broker queued to us before this call has been handled. */
  async sync(timeoutMs = 10000): Promise<void> {
    const nonce = randomBytes(8).toString('hex');
    const arrived = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncWaiters.delete(nonce);
        reject(new Error(`no echo from the broker within ${timeoutMs} ms`));
      }, timeoutMs);
      this.syncWaiters.set(nonce, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    await this.client.publishAsync(this.syncTopic, nonce, { qos: 1 });
    await arrived;
  }

  view(droneId: string): DroneView {
    return this.views.get(droneId) ?? {};
  }

  /** Drones that have retained status or reported under the prefix, sorted. */
  knownDrones(): string[] {
    return [...this.views.entries()]
      .filter(([, v]) => v.status !== undefined || v.reported !== undefined)
      .map(([d]) => d)
      .sort();
  }

  /** Publish a desired config (QoS 1) with our response topic and correlation data. */
  async publishDesired(droneId: string, jws: string, opts: PublishOptions): Promise<void> {
    await this.client.publishAsync(topicFor(droneId, 'desired', this.topicPrefix), jws, {
      qos: 1,
      retain: opts.retain,
      properties: { responseTopic: this.responseTopic, correlationData: Buffer.from(opts.correlation) },
    });
  }

  /**
   * Withdraw a drone's desired config: an empty retained message clears the topic on the broker, and an
   * agent that still holds a queued or deferred job for it cancels that job (acked `superseded`).
   */
  async clearDesired(droneId: string): Promise<void> {
    await this.client.publishAsync(topicFor(droneId, 'desired', this.topicPrefix), Buffer.alloc(0), { qos: 1, retain: true });
    delete this.viewOf(droneId).desired;
  }

  /** Stop listening and close the connection. */
  async close(): Promise<void> {
    this.closing = true;
    this.detach();
    await this.client.endAsync();
  }

  private detach(): void {
    this.client.off('message', this.onMessage);
    this.client.off('offline', this.onOffline);
    this.client.off('reconnect', this.onReconnect);
    this.client.off('connect', this.onConnect);
    // The error listener stays until the end: a late socket error must still be logged, not thrown.
    this.client.once('end', () => this.client.off('error', this.onError));
  }

  private viewOf(droneId: string): DroneView {
    let v = this.views.get(droneId);
    if (v === undefined) this.views.set(droneId, (v = {}));
    return v;
  }

  private handle(topic: string, payload: Buffer, packet: IPublishPacket): void {
    if (topic === this.syncTopic) {
      this.syncWaiters.get(payload.toString())?.();
      this.syncWaiters.delete(payload.toString());
      return;
    }
    if (topic === this.responseTopic) {
      const correlation = packet.properties?.correlationData?.toString();
      const droneId = correlation?.split('|')[1];
      if (droneId !== undefined && this.ackInterest !== undefined && !this.ackInterest(droneId)) return;
      const ack = this.parse(topic, payload, AckSchema);
      if (ack !== undefined && droneId !== undefined) this.emit('ack', droneId, ack, correlation);
      return;
    }
    const t = parseTopic(topic, this.topicPrefix);
    if (t === undefined || (this.only !== undefined && !this.only.has(t.droneId))) return;
    if (t.kind === 'desired') {
      // An empty retained message clears the topic.
      const desired = payload.length === 0 ? undefined : this.decode(payload);
      if (desired === undefined) delete this.viewOf(t.droneId).desired;
      else this.viewOf(t.droneId).desired = desired;
      return;
    }
    if (payload.length === 0) {
      if (t.kind === 'status') delete this.viewOf(t.droneId).status;
      if (t.kind === 'reported') delete this.viewOf(t.droneId).reported;
      return;
    }
    if (t.kind === 'status') {
      const s = this.parse(topic, payload, StatusSchema);
      if (s === undefined) return;
      this.viewOf(t.droneId).status = s;
      this.emit('status', t.droneId, s);
    } else if (t.kind === 'reported') {
      const r = this.parse(topic, payload, ReportedSchema);
      if (r === undefined) return;
      this.viewOf(t.droneId).reported = r;
      this.emit('reported', t.droneId, r);
    } else {
      if (this.ackInterest !== undefined && !this.ackInterest(t.droneId)) return;
      const a = this.parse(topic, payload, AckSchema);
      if (a !== undefined) this.emit('ack', t.droneId, a, undefined);
    }
  }

  private decode(payload: Buffer): LoadedConfig | undefined {
    const key = payload.toString('latin1');
    if (this.decoded.has(key)) return this.decoded.get(key);
    const d = decodeDesired(payload);
    if (this.decoded.size > 1000) this.decoded.clear();
    this.decoded.set(key, d);
    return d;
  }

  private parse<T>(topic: string, payload: Buffer, schema: { safeParse(v: unknown): { success: true; data: T } | { success: false } }): T | undefined {
    const json = parseStrictJson(payload);
    const r = json.ok ? schema.safeParse(json.value) : undefined;
    if (r?.success) return r.data;
    this.logger.warn({ topic, bytes: payload.length }, 'ignored a message that is not a valid document for its topic');
    return undefined;
  }
}

/** Correlation data for one request: `rolloutId|droneId|version`, so a response-topic ack names its drone. */
export function correlationFor(requestId: string, droneId: string, version: number): string {
  return `${requestId}|${droneId}|${version}`;
}
