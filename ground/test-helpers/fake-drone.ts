import { EventEmitter } from 'node:events';
import type { KeyObject } from 'node:crypto';
import { connect, type IPublishPacket, type MqttClient } from 'mqtt';
import {
  parseAimConfig,
  topicFor,
  trustStore,
  verifyEnvelope,
  type Ack,
  type AckStatus,
  type AimConfig,
  type ParamResult,
  type Reported,
  type Status,
} from '../../protocol/index.js';

/**
 * A protocol-level stand-in for aim-agent: same topics, session, Last Will, signature check, version
 * rules and ack statuses, but no FC and no files. It lets the ground tool be tested fast and in bulk.
 * `behaviour` says what an apply does: apply, fail (FC verification, rolled back), reject, silent
 * (never acks), hold (waits for release()). Armed + `apply.when: "disarmed"` defers, like the agent.
 */
export type Behaviour = 'apply' | 'fail' | 'reject' | 'silent' | 'hold';

export interface FakeDroneOptions {
  id: string;
  brokerUrl: string;
  topicPrefix?: string;
  trusted: readonly KeyObject[];
  behaviour?: Behaviour;
  armed?: boolean;
  /** How long an apply takes (ms), fixed or drawn per apply (benches draw it per config). */
  applyDelayMs?: number | ((config: AimConfig) => number);
  /** Whether this apply fails (FC verification, rolled back), on top of `behaviour`: benches draw a failure rate. */
  failWhen?: (config: AimConfig) => boolean;
  /**
   * Verification results shared by the drones of one simulator process, keyed by payload: a real drone
   * verifies on its own CPU, so a fleet bench must not charge 2,500 signature checks to one event loop.
   */
  verifyCache?: Map<string, { env: ReturnType<typeof verifyEnvelope>; parsed: ReturnType<typeof parseAimConfig> }>;
  /** Wall clock (ms) for expiry checks and ack times; tests move it to simulate hours passing. */
  now?: () => number;
}

interface Request {
  config: AimConfig;
  sha256: string;
  responseTopic: string | undefined;
  correlation: Buffer | undefined;
  /** performance.now() when the message arrived: `timings.totalMs` counts from there, as the agent's does. */
  arrivedAt: number;
}

export interface FakeDroneEvents {
  /** A desired message reached the drone (before it is queued behind a held apply). */
  arrived: [];
  /** A desired message was verified and is being handled. */
  desired: [config: AimConfig | undefined];
  ack: [ack: Ack];
}

export class FakeDrone extends EventEmitter<FakeDroneEvents> {
  behaviour: Behaviour;
  applied: { config: AimConfig; sha256: string } | undefined;
  /** Every config this drone applied, in order (to assert "nothing else changed"). */
  readonly history: AimConfig[] = [];
  /** Every desired it received (after verification), dry runs included. */
  readonly received: AimConfig[] = [];
  private client: MqttClient | undefined;
  private armed: boolean;
  private deferred: Request | undefined;
  private held: (() => void)[] = [];
  private queue: Promise<void> = Promise.resolve();
  private readonly trusted;
  private readonly prefix: string;
  private readonly startedAt = Date.now();
  /** Wall clock; replaceable so a test can let an hour pass. */
  now: () => number;

  constructor(private readonly opts: FakeDroneOptions) {
    super();
    this.behaviour = opts.behaviour ?? 'apply';
    this.armed = opts.armed ?? false;
    this.trusted = trustStore([...opts.trusted]);
    this.prefix = opts.topicPrefix ?? 'aim';
    this.now = opts.now ?? Date.now;
  }

  get id(): string {
    return this.opts.id;
  }

  private topic(kind: 'desired' | 'ack' | 'reported' | 'status'): string {
    return topicFor(this.opts.id, kind, this.prefix);
  }

  /** Connect (persistent session, Last Will offline), publish online status, subscribe to desired. */
  async start(): Promise<void> {
    const client = connect(this.opts.brokerUrl, {
      protocolVersion: 5,
      clientId: `aim-agent-${this.opts.id}`,
      clean: false,
      reconnectPeriod: 0,
      properties: { sessionExpiryInterval: 86400 },
      will: { topic: this.topic('status'), payload: Buffer.from('{"state":"offline"}'), qos: 1, retain: true },
    });
    this.client = client;
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    client.on('error', () => undefined);
    client.on('message', (_topic, payload, packet) => {
      const arrivedAt = performance.now();
      this.emit('arrived');
      void this.enqueue(() => this.onDesired(payload, packet, arrivedAt));
    });
    await this.publishStatus();
    await client.subscribeAsync(this.topic('desired'), { qos: 1 });
  }

  /** Like a power cut: the socket dies, the broker publishes the Last Will. */
  async kill(): Promise<void> {
    const c = this.client;
    this.client = undefined;
    if (c === undefined) return;
    c.stream.destroy();
    await c.endAsync(true);
  }

  /** A clean shutdown: offline status, then disconnect. */
  async stop(): Promise<void> {
    const c = this.client;
    if (c === undefined) return;
    await c.publishAsync(this.topic('status'), JSON.stringify({ state: 'offline' }), { qos: 1, retain: true });
    this.client = undefined;
    await c.endAsync();
  }

  setArmed(armed: boolean): void {
    this.armed = armed;
    void this.enqueue(async () => {
      await this.publishStatus();
      const d = this.deferred;
      if (!armed && d !== undefined) {
        this.deferred = undefined;
        await this.apply(d);
      }
    });
  }

  /** Let held applies go on. */
  release(): void {
    const h = this.held;
    this.held = [];
    this.behaviour = 'apply';
    for (const r of h) r();
  }

  /** Resolves once every message received so far has been handled. */
  idle(): Promise<void> {
    return this.queue;
  }

  private enqueue(f: () => Promise<void>): Promise<void> {
    this.queue = this.queue.then(f, f).catch(() => undefined);
    return this.queue;
  }

  private async publishStatus(): Promise<void> {
    const s: Status = {
      state: this.deferred !== undefined ? 'deferred' : 'online',
      agentVersion: 'fake-0',
      link: 'up',
      armed: this.armed,
      lock: 'free',
      uptimeS: Math.round((Date.now() - this.startedAt) / 1000),
      appliedVersion: this.applied?.config.version ?? null,
    };
    await this.client?.publishAsync(this.topic('status'), JSON.stringify(s), { qos: 1, retain: true });
  }

  private async ack(req: Partial<Request> & Pick<Request, 'responseTopic' | 'correlation'>, status: AckStatus, extra: Partial<Ack> = {}): Promise<void> {
    const a: Ack = {
      version: req.config?.version ?? null,
      id: req.config?.id ?? null,
      sha256: req.sha256 ?? null,
      status,
      stage: extra.stage ?? (status === 'applied' ? 'done' : 'version'),
      reason: null,
      errors: [],
      params: [],
      aim: null,
      lockToken: null,
      timings: { totalMs: 0, pushMs: null },
      at: new Date(this.now()).toISOString(),
      ...extra,
    };
    this.emit('ack', a);
    const c = this.client;
    if (c === undefined) return;
    const body = JSON.stringify(a);
    await Promise.all([
      c.publishAsync(this.topic('ack'), body, { qos: 1 }),
      req.responseTopic === undefined ? undefined : c.publishAsync(req.responseTopic, body, { qos: 1, ...(req.correlation !== undefined ? { properties: { correlationData: req.correlation } } : {}) }),
    ]);
  }

  private async onDesired(payload: Buffer, packet: IPublishPacket, arrivedAt: number): Promise<void> {
    const base = { responseTopic: packet.properties?.responseTopic, correlation: packet.properties?.correlationData };
    // An empty retained desired: the ground withdrew it. A deferred job is dropped (superseded); nothing else.
    if (payload.length === 0) {
      const old = this.deferred;
      this.deferred = undefined;
      if (old !== undefined) {
        await this.ack(old, 'superseded', { stage: 'window', reason: 'the desired config was withdrawn (empty retained desired) while deferred' });
        await this.publishStatus();
      }
      return;
    }
    const key = this.opts.verifyCache === undefined ? '' : payload.toString('latin1');
    const hit = this.opts.verifyCache?.get(key);
    const env = hit?.env ?? verifyEnvelope(payload, this.trusted, { requireSignature: true });
    if (!env.ok) {
      this.emit('desired', undefined);
      return this.ack(base, 'rejected', { stage: 'verify', reason: env.errors[0]?.message ?? 'bad signature', code: 'AIM_ERR_SIGNATURE', errors: env.errors });
    }
    const parsed = hit?.parsed ?? parseAimConfig(env.payload);
    this.opts.verifyCache?.set(key, { env, parsed });
    if (!parsed.ok) {
      this.emit('desired', undefined);
      return this.ack(base, 'rejected', { stage: 'validate', reason: 'invalid', code: 'AIM_ERR_INVALID', errors: parsed.errors });
    }
    const req: Request = { ...base, config: parsed.config, sha256: parsed.sha256, arrivedAt };
    this.received.push(parsed.config);
    this.emit('desired', parsed.config);
    const cfg = parsed.config;
    if (cfg.targets !== undefined && !cfg.targets.includes(this.opts.id)) return this.ack(req, 'rejected', { reason: 'not for this drone', code: 'AIM_ERR_NOT_TARGET' });
    if (cfg.expiresAt !== undefined && Date.parse(cfg.expiresAt) <= this.now()) return this.ack(req, 'rejected', { stage: 'expiry', reason: `config expired at ${cfg.expiresAt}`, code: 'AIM_ERR_EXPIRED' });
    const cur = this.applied;
    if (cur !== undefined && cfg.version < cur.config.version) return this.ack(req, 'rejected', { reason: `stale: version ${cfg.version} < applied ${cur.config.version}`, code: 'AIM_ERR_STALE' });
    if (cur !== undefined && cfg.version === cur.config.version) {
      return cur.sha256 === req.sha256 ? this.ack(req, 'duplicate', { stage: 'version' }) : this.ack(req, 'rejected', { reason: 'conflict: same version, other content', code: 'AIM_ERR_CONFLICT' });
    }
    if (cfg.apply?.dryRun === true) {
      const want = cfg.mount?.pitch?.minDeg ?? -90;
      const got = cur?.config.mount?.pitch?.minDeg ?? -90;
      const params: ParamResult[] = [{ name: 'MNT1_PITCH_MIN', want, got }];
      return this.ack(req, 'dry-run', { stage: 'dry-run', params });
    }
    if (this.deferred !== undefined) {
      const old = this.deferred;
      this.deferred = undefined;
      await this.ack(old, 'superseded', { stage: 'window', reason: `superseded by version ${cfg.version}` });
    }
    if (this.armed && cfg.apply?.when === 'disarmed') {
      this.deferred = req;
      await this.ack(req, 'deferred', { stage: 'window', reason: 'vehicle armed; waiting for the disarmed window' });
      await this.publishStatus();
      return;
    }
    await this.apply(req);
  }

  private async apply(req: Request): Promise<void> {
    const behaviour = this.behaviour;
    if (behaviour === 'silent') return;
    if (behaviour === 'hold') await new Promise<void>((r) => this.held.push(r));
    const d = this.opts.applyDelayMs;
    const delay = typeof d === 'function' ? d(req.config) : (d ?? 0);
    const t0 = performance.now();
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    const timings = { totalMs: Math.round(performance.now() - req.arrivedAt), pushMs: Math.round(performance.now() - t0) };
    if (this.behaviour === 'reject') return this.ack(req, 'rejected', { stage: 'validate', reason: 'told to reject', code: 'AIM_ERR_INVALID', timings });
    if (this.behaviour === 'fail' || this.opts.failWhen?.(req.config) === true) {
      return this.ack(req, 'failed', { stage: 'push', reason: 'MNT1_PITCH_MIN: FC echoed another value', code: 'AIM_ERR_FC_VERIFY', rolledBack: true, timings });
    }
    this.applied = { config: req.config, sha256: req.sha256 };
    this.history.push(req.config);
    const reported: Reported = { version: req.config.version, id: req.config.id, sha256: req.sha256, appliedAt: new Date(this.now()).toISOString(), fc: { verified: true, drift: [] } };
    // In order on the one connection (MQTT keeps a client's QoS 1 order), without a round trip each.
    await Promise.all([
      this.client?.publishAsync(this.topic('reported'), JSON.stringify(reported), { qos: 1, retain: true }),
      this.publishStatus(),
      this.ack(req, 'applied', { stage: 'done', timings }),
    ]);
  }
}

/** Start drones (in parallel) and stop them at teardown. */
export async function startFakeDrones(t: { teardown(fn: () => unknown): void }, base: Omit<FakeDroneOptions, 'id'>, ids: readonly string[]): Promise<Map<string, FakeDrone>> {
  const drones = new Map(ids.map((id) => [id, new FakeDrone({ ...base, id })]));
  t.teardown(() => Promise.all([...drones.values()].map((d) => d.kill())));
  await Promise.all([...drones.values()].map((d) => d.start()));
  return drones;
}
