import { readFileSync } from 'node:fs';
import { AimError, loadPublicKey, trustStore, type Status, type TrustedKey } from '../protocol/index.js';
import type { FcLink } from './fc/index.js';
import { createLogger, type Logger } from './log.js';
import { MqttSession } from './mqtt/session.js';
import { ApplyPipeline, type PipelineState } from './pipeline/pipeline.js';
import { reconcile, type ReconcileResult } from './pipeline/reconcile.js';
import { reportedFc } from './pipeline/reported-fc.js';
import { withdrawDesired } from './pipeline/withdraw.js';
import { parseSettings, type Settings, type SettingsInput } from './settings.js';
import { AimStore, Locksmith } from './store/index.js';
import { AGENT_VERSION } from './version.js';

/** What the service tells systemd (agent/sd-notify.ts implements it; a no-op outside systemd). */
export interface NotifierPort {
  ready(status?: string): Promise<void>;
  status(text: string): Promise<void>;
  stopping(): Promise<void>;
  startWatchdog(healthy: () => boolean): void;
  stopWatchdog(): void;
}

export interface AgentOptions {
  settings: Settings | SettingsInput;
  logger?: Logger;
  notifier?: NotifierPort;
  /** READY=1 at the latest after this long, with STATUS= naming what is still missing (default 15 s). */
  readyTimeoutMs?: number;
  /** An apply running longer than this stops the watchdog pings (default 120 s). */
  wedgedAfterMs?: number;
}

export interface Agent {
  readonly settings: Settings;
  readonly pipeline: ApplyPipeline;
  readonly session: MqttSession;
  readonly fc: FcLink;
  readonly store: AimStore;
  readonly locksmith: Locksmith;
  /** Resolves when the FC link, broker session and boot reconciliation are up (or readyTimeoutMs passed). */
  readonly ready: Promise<void>;
  status(): Status;
  /**
   * SIGHUP: take the settings that can change at run time (RELOADABLE) and return the changed ones that
   * need a restart (droneId, broker, FC link and signing, stateDir, lock TTL/sweep). Throws, changing
   * nothing, when a trusted key cannot be read.
   */
  reload(settings: Settings): { applied: string[]; needRestart: string[] };
  stop(opts?: { graceMs?: number }): Promise<void>;
}

export function loadTrustedKeys(files: readonly string[]): Map<string, TrustedKey> {
  const keys = files.map((f) => {
    let pem: Buffer;
    try {
      pem = readFileSync(f);
    } catch (cause) {
      throw new AimError('AIM_ERR_KEY', `${f}: cannot read trusted key (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
    }
    return loadPublicKey(pem, f);
  });
  return trustStore(keys, files);
}

/**
 * Start the on-drone service: reclaim stale locks and clean leftovers (first act), open the FC link,
 * connect the MQTT session, reconcile the FC with the aim file, then take desired configs.
 * @example const agent = await startAgent({ settings }); await agent.ready; … await agent.stop();
 */
export async function startAgent(opts: AgentOptions): Promise<Agent> {
  const parsed = parseSettings(opts.settings);
  if (!parsed.ok) {
    throw new AimError('AIM_ERR_SETTINGS', `invalid settings\n${parsed.errors.map((e) => `${e.path}: ${e.message}`).join('\n')}`, { details: { errors: parsed.errors } });
  }
  let settings = parsed.settings;
  const log = (opts.logger ?? createLogger({ level: settings.logLevel })).child({ drone: settings.droneId });
  const startedAt = performance.now();
  const trusted = loadTrustedKeys(settings.security.trustedKeys);
  warnSecurity(log, settings.security.requireSignature, trusted.size);

  // The broker session starts first: its connect runs while the store and lock are checked and the
  // MAVLink module (the largest to load) is read, so `online` goes out as early as it can. Status says
  // link: down until the FC link exists; desired messages wait for boot reconciliation (below).
  const session = new MqttSession({ droneId: settings.droneId, broker: settings.broker, stateDir: settings.stateDir, logger: log });
  let fcRef: FcLink | undefined;
  let pipelineRef: ApplyPipeline | undefined;
  let appliedVersion: number | null = null;
  let lockState: Status['lock'] = 'free';
  let lastReconcile: ReconcileResult | undefined;
  let reconciled = false;
  const statusNow = (): Status => ({
    state: stateName(pipelineRef?.state ?? 'idle'),
    agentVersion: AGENT_VERSION,
    link: fcRef?.status().state ?? 'down',
    armed: fcRef?.vehicle?.armed ?? null,
    lock: lockState,
    uptimeS: Math.round((performance.now() - startedAt) / 1000),
    appliedVersion,
    at: new Date().toISOString(),
  });
  let lastStatusKey = '';
  const publishStatus = (force = false) => {
    const s = statusNow();
    const key = `${s.state}|${s.link}|${s.armed}|${s.lock}|${s.appliedVersion}`;
    if (!force && key === lastStatusKey) return;
    lastStatusKey = key;
    session.publishStatus(s);
    void opts.notifier?.status(`v${appliedVersion ?? '-'} fc ${s.link}${s.armed ? ' armed' : ''} broker ${session.connected ? 'up' : 'down'} ${s.state}`);
  };
  // Desired messages wait until boot reconciliation has run, so an apply never races it.
  const early: Parameters<ApplyPipeline['submit']>[] = [];
  session.on('desired', (msg) => {
    if (msg.payload.length === 0) return withdrawDesired(early, pipelineRef, log);
    const meta = { retained: msg.retained, ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}), ...(msg.correlationData ? { correlationData: msg.correlationData } : {}) };
    if (reconciled && pipelineRef !== undefined) pipelineRef.submit(msg.payload, meta);
    else early.push([msg.payload, meta]);
  });
  session.on('connect', () => publishStatus(true));
  const sessionStarted = session.start();
  sessionStarted.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled

  const store = new AimStore({ stateDir: settings.stateDir, logger: log });
  const { removedTemps } = await store.init();
  if (removedTemps.length > 0) log.warn({ removedTemps }, 'removed leftovers of an interrupted write');
  const locksmith = new Locksmith({ stateDir: settings.stateDir, ttlMs: settings.lock.ttlS * 1000, sweepMs: settings.lock.sweepS * 1000, logger: log, command: 'aim-agent run' });
  const reclaimed = await locksmith.reclaimStale();
  if (reclaimed !== undefined) log.warn({ owner: reclaimed.owner, reason: reclaimed.reason }, 'reclaimed a stale aim lock at start');
  locksmith.startSweep();
  appliedVersion = (await store.readState()).appliedVersion;

  await sessionStarted;
  // Loading the MAVLink module blocks the event loop for a few hundred ms on a Pi: let the broker
  // handshake (and so the online status) through first, waiting at most half a second for it.
  if (!session.connected) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, 500);
      session.once('connect', done);
      function done() {
        clearTimeout(timer);
        session.off('connect', done);
        resolve();
      }
    });
  }

  const { openFcLink } = await import('./fc/index.js');
  const fc = await openFcLink(settings.fc.link, {
    logger: log,
    acceptUnsigned: settings.fc.acceptUnsigned,
    ...(settings.fc.signingKeyFile !== undefined ? { signingKey: Buffer.from(readFileSync(settings.fc.signingKeyFile, 'utf8').trim(), 'hex') } : {}),
  });

  const pipeline = new ApplyPipeline({
    droneId: settings.droneId,
    trusted,
    requireSignature: settings.security.requireSignature,
    fc,
    store,
    lock: locksmith,
    logger: log,
    lockTimeoutMs: settings.lock.acquireTimeoutS * 1000,
    paramTimeoutMs: settings.fc.paramTimeoutMs,
    paramRetries: settings.fc.paramRetries,
    aimTimeoutMs: settings.apply.aimTimeoutMs,
  });
  fcRef = fc;
  pipelineRef = pipeline;

  pipeline.on('ack', (ack, meta) => {
    void session
      .publishAck(ack, meta.responseTopic !== undefined ? { topic: meta.responseTopic, ...(meta.correlationData ? { correlationData: meta.correlationData } : {}) } : undefined)
      .catch((err: unknown) => log.error({ err }, 'ack could not be queued'));
  });
  pipeline.on('reported', (reported) => {
    appliedVersion = reported.version;
    void session.publishReported(reported).catch((err: unknown) => log.error({ err }, 'reported could not be queued'));
    publishStatus();
  });
  pipeline.on('state', () => publishStatus());
  fc.on('up', () => {
    publishStatus();
    // The link came back (FC reboot, cable, a push cut short): the FC may hold anything now, so check it
    // against the aim file again. Boot reconciliation covers the first link-up.
    if (reconciled) void runReconcile();
  });
  fc.on('down', () => publishStatus());
  fc.on('armed', (armed) => {
    publishStatus();
    if (!armed && lastReconcile?.state === 'drift-armed') void runReconcile();
  });

  const runReconcile = () =>
    pipeline
      .exclusive('reconcile', async () => {
        lastReconcile = await reconcile({ fc, store, lock: locksmith, logger: log, paramTimeoutMs: settings.fc.paramTimeoutMs, paramRetries: settings.fc.paramRetries });
        const cur = lastReconcile.current;
        if (cur !== undefined && lastReconcile.state !== 'fc-unavailable') {
          const st = await store.readState();
          await session.publishReported({
            version: cur.config.version,
            id: cur.config.id,
            sha256: cur.sha256,
            appliedAt: st.appliedAt ?? new Date().toISOString(),
            fc: reportedFc(lastReconcile, new Date()),
          });
        }
      })
      .catch((err: unknown) => log.error({ err }, 'reconciliation failed'));

  const statusTimer = setInterval(() => {
    void locksmith.status().then(
      (v) => {
        lockState = v.state;
        publishStatus();
      },
      () => undefined,
    );
  }, 5000);
  const heartbeatTimer = setInterval(() => publishStatus(true), 60_000);
  statusTimer.unref();
  heartbeatTimer.unref();
  publishStatus();

  const ready = (async () => {
    await runReconcile();
    reconciled = true;
    for (const args of early.splice(0)) pipeline.submit(...args);
    const deadline = opts.readyTimeoutMs ?? 15_000;
    const t0 = performance.now();
    while (performance.now() - t0 < deadline && !(session.connected && fc.status().state === 'up')) {
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          session.off('connect', done);
          fc.off('up', done);
          resolve();
        };
        const timer = setTimeout(done, Math.max(0, deadline - (performance.now() - t0)));
        session.once('connect', done);
        fc.once('up', done);
      });
    }
    const missing = [session.connected ? '' : 'broker', fc.status().state === 'up' ? '' : 'flight controller'].filter(Boolean);
    const text = missing.length === 0 ? `ready: v${appliedVersion ?? '-'} applied, FC and broker up` : `ready without ${missing.join(' and ')} (retrying)`;
    log.info({ ms: Math.round(performance.now() - startedAt), missing }, 'agent ready');
    await opts.notifier?.ready(text);
    const wedgedAfter = opts.wedgedAfterMs ?? 120_000;
    opts.notifier?.startWatchdog(() => !(pipeline.state === 'applying' && pipeline.stateAgeMs() > wedgedAfter));
  })();

  let stopping: Promise<void> | undefined;
  const agent: Agent = {
    get settings() {
      return settings;
    },
    pipeline,
    session,
    fc,
    store,
    locksmith,
    ready,
    status: statusNow,
    reload(next) {
      const trustedNext = loadTrustedKeys(next.security.trustedKeys);
      const changed = changedSettings(settings, next);
      const applied = changed.filter(isReloadable);
      const needRestart = changed.filter((p) => !isReloadable(p));
      settings = {
        ...settings,
        security: next.security,
        logLevel: next.logLevel,
        apply: next.apply,
        fc: { ...settings.fc, paramTimeoutMs: next.fc.paramTimeoutMs, paramRetries: next.fc.paramRetries },
        lock: { ...settings.lock, acquireTimeoutS: next.lock.acquireTimeoutS },
      };
      pipeline.updateTrust(trustedNext, next.security.requireSignature);
      pipeline.updateTiming({ lockTimeoutMs: settings.lock.acquireTimeoutS * 1000, paramTimeoutMs: settings.fc.paramTimeoutMs, paramRetries: settings.fc.paramRetries, aimTimeoutMs: settings.apply.aimTimeoutMs });
      log.level = next.logLevel;
      warnSecurity(log, next.security.requireSignature, trustedNext.size);
      log.info({ applied, trustedKeys: trustedNext.size }, 'settings reloaded');
      if (needRestart.length > 0) log.warn({ needRestart }, `settings changed that take effect only after a restart (systemctl restart aim-agent): ${needRestart.join(', ')}`);
      return { applied, needRestart };
    },
    stop(stopOpts = {}) {
      stopping ??= (async () => {
        log.info('stopping');
        opts.notifier?.stopWatchdog();
        await opts.notifier?.stopping();
        clearInterval(statusTimer);
        clearInterval(heartbeatTimer);
        await pipeline.close(stopOpts.graceMs ?? settings.apply.shutdownTimeoutS * 1000);
        await session.stop();
        await locksmith.close();
        await fc.close();
        log.info('stopped');
      })();
      return stopping;
    },
  };
  return agent;
}

function stateName(s: PipelineState): Status['state'] {
  return s === 'idle' ? 'online' : s;
}

/** At start and on reload: a policy that applies anything, or trusts nothing, is said out loud. */
function warnSecurity(log: Logger, requireSignature: boolean, trustedKeys: number): void {
  if (!requireSignature) log.warn('security.requireSignature is false: unsigned desired configs will be applied (bench use only)');
  else if (trustedKeys === 0) log.warn('no trusted keys configured: every signed config will be rejected');
}

/** Settings a reload takes at once; every other change waits for a restart. */
const RELOADABLE = ['security.', 'logLevel', 'apply.', 'fc.paramTimeoutMs', 'fc.paramRetries', 'lock.acquireTimeoutS'];
const isReloadable = (path: string) => RELOADABLE.some((r) => (r.endsWith('.') ? path.startsWith(r) : path === r));

/** Dotted paths of the leaf settings that differ (arrays compare whole). */
function changedSettings(a: unknown, b: unknown, prefix = ''): string[] {
  const isObj = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);
  if (!isObj(a) || !isObj(b)) return JSON.stringify(a) === JSON.stringify(b) ? [] : [prefix];
  const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
  return keys.flatMap((k) => changedSettings(a[k], b[k], prefix ? `${prefix}.${k}` : k));
}
