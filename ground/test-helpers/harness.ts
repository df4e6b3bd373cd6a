import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KeyObject } from 'node:crypto';
import { pino } from 'pino';
import { generateKeyPair, loadPrivateKey, loadPublicKey, type AimConfig } from '../../protocol/index.js';
import { connect as netConnect } from 'node:net';
import { startMosquitto, waitFor, type Mosquitto } from '../../test/support/index.js';
import { connectBroker } from '../broker.js';
import type { CliIO } from '../cli-io.js';
import { main } from '../cli.js';
import { signConfig } from '../config-io.js';
import { FleetLink } from '../fleet-link.js';
import type { ProgressEvent } from '../rollout/events.js';
import type { FakeDrone } from './fake-drone.js';

type Teardown = { teardown(fn: () => unknown): void };

export interface Workspace {
  dir: string;
  keyPath: string;
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** Write a JSON document into the workspace and return its path. */
  file(name: string, value: unknown): string;
}

/** A temp dir with a signing key pair, removed at teardown. */
export function workspace(t: Teardown): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'aimctl-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const pair = generateKeyPair();
  const keyPath = join(dir, 'ground.key.pem');
  writeFileSync(keyPath, pair.privatePem, { mode: 0o600 });
  writeFileSync(join(dir, 'ground.pub.pem'), pair.publicPem);
  return {
    dir,
    keyPath,
    privateKey: loadPrivateKey(pair.privatePem),
    publicKey: loadPublicKey(pair.publicPem),
    file(name, value) {
      const p = join(dir, name);
      writeFileSync(p, typeof value === 'string' ? value : JSON.stringify(value, null, 2));
      return p;
    },
  };
}

export function aimConfig(id: string, pitchMin: number, extra: Partial<AimConfig> = {}): AimConfig {
  return {
    kind: 'aim-config',
    schemaVersion: 1,
    version: 1,
    id,
    issuedAt: '2026-11-26T13:00:00Z',
    mount: { pitch: { minDeg: pitchMin, maxDeg: 20 }, rcRateDegS: 30 },
    ...extra,
  };
}

/**
 * startMosquitto, then wait until the port really accepts connections: the support helper returns on
 * Mosquitto's "Opening ipv4 listen socket" line, which is logged just before bind/listen, and on a
 * busy machine the first client can be refused.
 */
export async function startBroker(t: Teardown, opts: Parameters<typeof startMosquitto>[1] = {}): Promise<Mosquitto> {
  const m = await startMosquitto(t, opts);
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const s = netConnect(m.port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  await waitFor(`mosquitto to accept connections on ${m.port}`, accepts, { timeoutMs: 10000, intervalMs: 20 });
  return m;
}

export interface Run {
  code: number;
  out: string;
  err: string;
  events: ProgressEvent[];
}

/** Run aimctl in this process (JSON output), as a pipe would. */
export async function aimctl(args: string[], opts: { env?: NodeJS.ProcessEnv; signal?: AbortSignal } = {}): Promise<Run> {
  let out = '';
  let err = '';
  const io: CliIO = {
    out: (s) => void (out += s),
    err: (s) => void (err += s),
    env: { AIMCTL_LOG_LEVEL: 'error', ...opts.env },
    isTTY: false,
    ...(opts.signal !== undefined ? { signal: opts.signal } : {}),
  };
  const code = await main(args, io);
  return { code, out, err, events: parseEvents(out) };
}

export function parseEvents(out: string): ProgressEvent[] {
  return out
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as ProgressEvent);
}

export function summaryOf(run: Pick<Run, 'events'>) {
  const s = run.events.find((e) => e.event === 'summary');
  if (s === undefined || s.event !== 'summary') throw new Error('no summary event');
  return { ...s, byDrone: new Map(s.drones.map((r) => [r.drone, r])) };
}

/** Publish `config` (signed, retained) to every drone and wait until each has applied it: the fleet's "previous" config. */
export async function seedFleet(brokerUrl: string, drones: ReadonlyMap<string, FakeDrone>, config: AimConfig, key: KeyObject): Promise<void> {
  const signed = signConfig(config, key);
  const client = await connectBroker({ url: brokerUrl, topicPrefix: 'aim' });
  try {
    await Promise.all([...drones.keys()].map((d) => client.publishAsync(`aim/${d}/config/desired`, signed.jws, { qos: 1, retain: true })));
    await waitFor('the fleet to apply the seed config', () => [...drones.values()].every((d) => d.applied?.sha256 === signed.sha256), { timeoutMs: 10000 });
    // ...and to have published its reported/status/ack (acknowledged by the broker).
    await Promise.all([...drones.values()].map((d) => d.idle()));
  } finally {
    await client.endAsync();
  }
}

/** The retained desired JWS and reported document of each drone, to compare before and after. */
export async function retainedSnapshot(brokerUrl: string, ids: readonly string[]): Promise<Record<string, { desired: string | null; reported: string | null; status: string | null }>> {
  const client = await connectBroker({ url: brokerUrl, topicPrefix: 'aim' });
  const link = await FleetLink.open(client, { topicPrefix: 'aim', drones: ids, logger: pino({ level: 'silent' }) });
  try {
    return Object.fromEntries(
      ids.map((d) => {
        const v = link.view(d);
        return [d, { desired: v.desired?.jws ?? null, reported: v.reported === undefined ? null : JSON.stringify(v.reported), status: v.status?.state ?? null }];
      }),
    );
  } finally {
    await link.close();
  }
}
