import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import {
  canonicalJson,
  generateKeyPair,
  loadPrivateKey,
  signJws,
  topicFor,
  AckSchema,
  ReportedSchema,
  StatusSchema,
  type Ack,
  type AimConfig,
  type Reported,
  type Status,
} from '../../protocol/index.js';
import { startEmbeddedBroker } from '../../sim/embedded-broker.js';
import { startFcSim, type FcSim, type FcSimOptions } from '../../sim/index.js';
import { startMosquitto, waitFor, type Mosquitto, type Teardown } from '../../test/support/index.js';
import { silentLogger } from '../log.js';
import { startAgent, type Agent } from '../service.js';
import type { SettingsInput } from '../settings.js';

/**
 * One drone on loopback for agent tests: a real broker (aedes in-process or Mosquitto as a process),
 * fc-sim over TCP, a temp state dir, a fresh key pair, the agent in-process, and a ground client that
 * records every ack / reported / status message. Everything is torn down with the test.
 */
export interface Harness {
  droneId: string;
  dir: string;
  stateDir: string;
  brokerUrl: string;
  protocolVersion: 4 | 5;
  mosquitto?: Mosquitto;
  fc: FcSim;
  keys: { privatePem: string; publicPem: string; kid: string; pubFile: string };
  settings: SettingsInput;
  settingsFile: string;
  agent: Agent | undefined;
  ground: MqttClient;
  acks: Ack[];
  reported: Reported[];
  statuses: Status[];
  startAgent(overrides?: Partial<SettingsInput>): Promise<Agent>;
  stopAgent(): Promise<void>;
  config(version: number, extra?: Partial<AimConfig>): AimConfig;
  sign(config: unknown): string;
  publish(payload: string | Buffer, opts?: { retain?: boolean; responseTopic?: string; correlationData?: Buffer }): Promise<void>;
  waitAck(pred: (a: Ack) => boolean, what: string, timeoutMs?: number): Promise<Ack>;
}

export async function harness(
  t: Teardown & { fail(message: string): void },
  opts: { broker?: 'aedes' | 'mosquitto'; mosquittoPersistence?: boolean; mosquittoConfig?: string[]; fc?: Partial<FcSimOptions>; settings?: Partial<SettingsInput>; droneId?: string; startAgent?: boolean } = {},
): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'aim-agent-test-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const droneId = opts.droneId ?? 'drone-07';
  let brokerUrl: string;
  let protocolVersion: 4 | 5;
  let mosquitto: Mosquitto | undefined;
  if (opts.broker === 'mosquitto') {
    mosquitto = await startMosquitto(t, { persistence: opts.mosquittoPersistence ?? false, ...(opts.mosquittoConfig ? { extraConfig: opts.mosquittoConfig } : {}) });
    brokerUrl = mosquitto.url;
    protocolVersion = 5;
  } else {
    const b = await startEmbeddedBroker();
    t.teardown(() => b.close());
    brokerUrl = b.url;
    protocolVersion = 4;
  }
  const fc = await startFcSim({ link: 'tcp:127.0.0.1:0', readLatencyMs: 5, ...opts.fc });
  t.teardown(() => fc.stop());
  const k = generateKeyPair();
  const pubFile = join(dir, 'ground.pub.pem');
  writeFileSync(pubFile, k.publicPem);
  const stateDir = join(dir, 'state');
  const settings: SettingsInput = {
    droneId,
    broker: { url: brokerUrl, protocolVersion, ...(opts.settings?.broker ?? {}) },
    fc: { link: fc.link, paramTimeoutMs: 300, paramRetries: 2, ...(opts.settings?.fc ?? {}) },
    security: { requireSignature: true, trustedKeys: [pubFile], ...(opts.settings?.security ?? {}) },
    stateDir,
    lock: { ttlS: 10, sweepS: 2, acquireTimeoutS: 5 },
    apply: { shutdownTimeoutS: 5, aimTimeoutMs: 1000 },
    logLevel: (process.env.AIM_TEST_LOG ?? 'silent') as 'silent',
    ...Object.fromEntries(Object.entries(opts.settings ?? {}).filter(([k2]) => !['broker', 'fc', 'security'].includes(k2))),
  };
  const settingsFile = join(dir, 'agent.json');
  writeFileSync(settingsFile, JSON.stringify(settings, null, 2));

  const ground = await mqtt.connectAsync(brokerUrl, { protocolVersion, clientId: `ground-${process.pid}-${Math.random().toString(16).slice(2)}`, reconnectPeriod: 200 });
  t.teardown(() => ground.endAsync(true));
  const acks: Ack[] = [];
  const reported: Reported[] = [];
  const statuses: Status[] = [];
  ground.on('message', (topic, payload) => {
    let body: unknown;
    try {
      body = JSON.parse(payload.toString());
    } catch {
      return;
    }
    // Every message the drone sends must match the published JSON Schema's source.
    const check = (schema: { safeParse(v: unknown): { success: boolean; error?: unknown } }, what: string) => {
      const r = schema.safeParse(body);
      if (!r.success) t.fail(`${what} does not match its schema: ${JSON.stringify(r.error)} in ${payload.toString().slice(0, 300)}`);
    };
    if (topic === topicFor(droneId, 'ack')) {
      check(AckSchema, 'ack');
      acks.push(body as Ack);
    } else if (topic === topicFor(droneId, 'reported')) {
      check(ReportedSchema, 'reported');
      reported.push(body as Reported);
    } else if (topic === topicFor(droneId, 'status')) {
      check(StatusSchema, 'status');
      statuses.push(body as Status);
    }
  });
  await ground.subscribeAsync([topicFor(droneId, 'ack'), topicFor(droneId, 'reported'), topicFor(droneId, 'status')], { qos: 1 });

  const h: Harness = {
    droneId,
    dir,
    stateDir,
    brokerUrl,
    protocolVersion,
    ...(mosquitto ? { mosquitto } : {}),
    fc,
    keys: { ...k, pubFile },
    settings,
    settingsFile,
    agent: undefined,
    ground,
    acks,
    reported,
    statuses,
    async startAgent(overrides = {}) {
      const agent = await startAgent({ settings: { ...settings, ...overrides }, logger: silentLogger(), readyTimeoutMs: 5000 });
      h.agent = agent;
      t.teardown(() => agent.stop({ graceMs: 1000 }));
      await agent.ready;
      return agent;
    },
    async stopAgent() {
      await h.agent?.stop({ graceMs: 2000 });
      h.agent = undefined;
    },
    config(version, extra = {}) {
      return {
        kind: 'aim-config',
        schemaVersion: 1,
        version,
        id: `test-v${version}`,
        issuedAt: new Date(Date.now() - 1000).toISOString(),
        mount: { pitch: { minDeg: -80, maxDeg: 10 + (version % 10) }, rcRateDegS: 30 + (version % 50), defaultMode: 'mavlink-targeting' },
        aim: { pitchDeg: -30, yawDeg: 5, yawFrame: 'vehicle' },
        ...extra,
      } as AimConfig;
    },
    sign(config) {
      return signJws(canonicalJson(config), loadPrivateKey(k.privatePem));
    },
    async publish(payload, popts = {}) {
      const properties =
        popts.responseTopic !== undefined ? { responseTopic: popts.responseTopic, ...(popts.correlationData ? { correlationData: popts.correlationData } : {}) } : undefined;
      await ground.publishAsync(topicFor(droneId, 'desired'), payload, { qos: 1, retain: popts.retain ?? true, ...(properties ? { properties } : {}) });
    },
    waitAck(pred, what, timeoutMs = 10_000) {
      return waitFor(what, () => acks.find(pred), { timeoutMs });
    },
  };
  if (opts.startAgent !== false) await h.startAgent();
  return h;
}
