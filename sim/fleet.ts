import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { startAgent } from '../agent/index.js';
import type { SettingsInput } from '../agent/settings.js';
import { startFcSim } from './index.js';
import type { FcSim, FcSimOptions } from './index.js';

/**
 * A simulated fleet in one process: per drone a real aim-agent with its own fc-sim (MAVLink over
 * loopback TCP) and its own state directory, all against one MQTT broker. Chosen drones can be made to
 * fail verification (their FC freezes: no PARAM_VALUE echo), be offline (agent stopped, Last Will), or
 * be armed (a `disarmed`-window config is deferred). For tests, the demo and bench/rollout.bench.ts.
 */
export interface FleetOptions {
  brokerUrl: string;
  /** Drone ids; or `size` drones named `${idPrefix}001`… */
  ids?: readonly string[];
  size?: number;
  idPrefix?: string;
  topicPrefix?: string;
  /** PEM files of the ground keys the agents trust. */
  trustedKeys: readonly string[];
  requireSignature?: boolean;
  /** Parent of the state directories; a temp dir (removed by stop()) by default. */
  baseDir?: string;
  /** Drones whose FC stops answering once they are up: every apply fails verification. */
  failVerification?: readonly string[];
  /** Drones started and then stopped: offline, with their Last Will retained. */
  offline?: readonly string[];
  /** Drones whose FC reports armed. */
  armed?: readonly string[];
  /** Extra fc-sim options for every drone (baud limit, latencies). */
  fc?: Partial<Omit<FcSimOptions, 'link' | 'armed'>>;
  /** Extra agent settings for every drone (param timeouts …). */
  agent?: { fc?: Omit<SettingsInput['fc'], 'link'>; lock?: SettingsInput['lock']; apply?: SettingsInput['apply'] };
  logger?: Logger;
  /** Drones started at once; the rest wait (default 25). */
  startConcurrency?: number;
}

type RunningAgent = Awaited<ReturnType<typeof startAgent>>;

export interface SimDrone {
  readonly id: string;
  readonly stateDir: string;
  readonly fc: FcSim;
  /** Whether its agent is running. */
  readonly online: boolean;
  setArmed(armed: boolean): void;
  /** Freeze (or thaw) its FC: a frozen FC answers nothing, so a push cannot be verified. */
  failVerification(on: boolean): void;
  /** Stop the agent (it publishes offline); its state directory and FC stay. */
  goOffline(): Promise<void>;
  /** Start the agent again on the same state directory; resolves when it is ready. */
  goOnline(): Promise<void>;
}

export interface Fleet {
  readonly ids: readonly string[];
  readonly dir: string;
  get(id: string): SimDrone;
  stop(): Promise<void>;
}

export function fleetIds(size: number, prefix = 'drone-'): string[] {
  const width = Math.max(3, String(size).length);
  return Array.from({ length: size }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`);
}

/** Start every drone (FC first, then its agent) and resolve when all agents are ready and the offline ones stopped again. */
export async function startFleet(opts: FleetOptions): Promise<Fleet> {
  const ids = opts.ids ?? fleetIds(opts.size ?? 0, opts.idPrefix);
  if (ids.length === 0) throw new RangeError('a fleet needs ids or a size');
  const ownDir = opts.baseDir === undefined;
  const dir = opts.baseDir ?? mkdtempSync(join(tmpdir(), 'aim-fleet-'));
  const logger = opts.logger ?? pino({ level: 'silent' });
  const failing = new Set(opts.failVerification ?? []);
  const offline = new Set(opts.offline ?? []);
  const armed = new Set(opts.armed ?? []);
  const drones = new Map<string, SimDrone>();
  const stoppers: (() => Promise<void>)[] = [];

  const makeDrone = async (id: string): Promise<SimDrone> => {
    const stateDir = join(dir, id);
    mkdirSync(stateDir, { recursive: true });
    const fc = await startFcSim({ ...opts.fc, link: 'tcp:127.0.0.1:0', armed: armed.has(id), logger: logger.child({ fc: id }) });
    const settings: SettingsInput = {
      droneId: id,
      broker: { url: opts.brokerUrl, topicPrefix: opts.topicPrefix ?? 'aim' },
      fc: { link: fc.link, ...opts.agent?.fc },
      security: { requireSignature: opts.requireSignature ?? true, trustedKeys: [...opts.trustedKeys] },
      stateDir,
      ...(opts.agent?.lock !== undefined ? { lock: opts.agent.lock } : {}),
      ...(opts.agent?.apply !== undefined ? { apply: opts.agent.apply } : {}),
      logLevel: 'warn',
    };
    let agent: RunningAgent | undefined;
    const start = async () => {
      agent = await startAgent({ settings, logger: logger.child({ drone: id }) });
      await agent.ready;
    };
    const drone: SimDrone = {
      id,
      stateDir,
      fc,
      get online() {
        return agent !== undefined;
      },
      setArmed: (a) => fc.setArmed(a),
      failVerification: (on) => fc.setImpairments({ frozen: on }),
      async goOffline() {
        const a = agent;
        agent = undefined;
        await a?.stop();
      },
      async goOnline() {
        if (agent === undefined) await start();
      },
    };
    stoppers.push(async () => {
      await drone.goOffline();
      await fc.stop();
    });
    await start();
    if (failing.has(id)) drone.failVerification(true);
    if (offline.has(id)) await drone.goOffline();
    return drone;
  };

  try {
    const limit = Math.max(1, opts.startConcurrency ?? 25);
    for (let i = 0; i < ids.length; i += limit) {
      const batch = await Promise.all(ids.slice(i, i + limit).map(makeDrone));
      for (const d of batch) drones.set(d.id, d);
    }
  } catch (err) {
    await Promise.allSettled(stoppers.map((s) => s()));
    if (ownDir) rmSync(dir, { recursive: true, force: true });
    throw err;
  }

  let stopped: Promise<void> | undefined;
  return {
    ids,
    dir,
    get(id) {
      const d = drones.get(id);
      if (d === undefined) throw new RangeError(`no drone ${id} in this fleet`);
      return d;
    },
    stop() {
      stopped ??= (async () => {
        await Promise.allSettled(stoppers.map((s) => s()));
        if (ownDir) rmSync(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}
