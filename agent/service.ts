import { readFileSync } from 'node:fs';
import { AimError } from '../protocol/index.js';
import type { FcLink } from './fc/index.js';
import { createLogger } from './log.js';
import { MqttSession } from './mqtt/session.js';
import { ApplyPipeline } from './pipeline/pipeline.js';
import { parseSettings } from './settings.js';
import { AimStore, Locksmith } from './store/index.js';
import { loadTrustedKeys, warnSecurity } from './service/keys.js';
import { readySequence } from './service/ready.js';
import { ReconcileRunner } from './service/reconcile-runner.js';
import { mergeReload } from './service/reload.js';
import { StatusPublisher } from './service/status-publisher.js';
import type { Agent, AgentOptions } from './service/types.js';

export type { Agent, AgentOptions, NotifierPort } from './service/types.js';
export { loadTrustedKeys } from './service/keys.js';

/**
 * Start the on-drone service: reclaim stale locks and clean leftovers (first act), open the FC link,
 * connect the MQTT session, reconcile the FC with the aim file, then take desired configs.
 * This file wires the parts together; each concern lives in agent/service/.
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
  const lifetime = new AbortController();

  // The broker session starts first: its connect runs while the store and lock are checked and the
  // MAVLink module (the largest to load) is read, so `online` goes out as early as it can. Status says
  // link: down until the FC link exists; desired messages wait for boot reconciliation (below).
  const session = new MqttSession({ droneId: settings.droneId, broker: settings.broker, stateDir: settings.stateDir, logger: log });
  let pipelineRef: ApplyPipeline | undefined;
  let reconciled = false;
  // Desired messages wait until boot reconciliation has run, so an apply never races it.
  const early: Parameters<ApplyPipeline['submit']>[] = [];
  session.on('desired', (msg) => {
    const meta = { retained: msg.retained, ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}), ...(msg.correlationData ? { correlationData: msg.correlationData } : {}) };
    if (reconciled && pipelineRef !== undefined) pipelineRef.submit(msg.payload, meta);
    else early.push([msg.payload, meta]);
  });
  const sessionStarted = session.start();
  sessionStarted.catch(() => undefined); // awaited below; this only keeps an early failure from counting as unhandled

  const store = new AimStore({ stateDir: settings.stateDir, logger: log });
  const { removedTemps } = await store.init();
  if (removedTemps.length > 0) log.warn({ removedTemps }, 'removed leftovers of an interrupted write');
  const locksmith = new Locksmith({ stateDir: settings.stateDir, ttlMs: settings.lock.ttlS * 1000, sweepMs: settings.lock.sweepS * 1000, logger: log, command: 'aim-agent run' });
  const status = new StatusPublisher({ session, locksmith, notifier: opts.notifier, startedAt });
  session.on('connect', () => status.publish(true));
  const reclaimed = await locksmith.reclaimStale();
  if (reclaimed !== undefined) log.warn({ owner: reclaimed.owner, reason: reclaimed.reason }, 'reclaimed a stale aim lock at start');
  locksmith.startSweep();
  status.appliedVersion = (await store.readState()).appliedVersion;

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
  const fc: FcLink = await openFcLink(settings.fc.link, {
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
  pipelineRef = pipeline;
  status.attach(fc, () => pipeline.state);
  const reconciler = new ReconcileRunner({ pipeline, fc, store, locksmith, session, logger: log, settings: () => settings, signal: lifetime.signal });

  pipeline.on('ack', (ack, meta) => {
    void session
      .publishAck(ack, meta.responseTopic !== undefined ? { topic: meta.responseTopic, ...(meta.correlationData ? { correlationData: meta.correlationData } : {}) } : undefined)
      .catch((err: unknown) => log.error({ err }, 'ack could not be queued'));
  });
  pipeline.on('reported', (reported) => {
    status.appliedVersion = reported.version;
    void session.publishReported(reported).catch((err: unknown) => log.error({ err }, 'reported could not be queued'));
    status.publish();
  });
  pipeline.on('state', () => status.publish());
  fc.on('up', () => {
    status.publish();
    // The link came back (FC reboot, cable, a push cut short): the FC may hold anything now, so check it
    // against the aim file again. Boot reconciliation covers the first link-up.
    if (reconciled) void reconciler.run();
  });
  fc.on('down', () => status.publish());
  fc.on('armed', (armed) => {
    status.publish();
    if (!armed && reconciler.last?.state === 'drift-armed') void reconciler.run();
  });

  status.startTimers();
  status.publish();

  const wedgedAfter = opts.wedgedAfterMs ?? 120_000;
  const ready = (async () => {
    await reconciler.run();
    reconciled = true;
    for (const args of early.splice(0)) pipeline.submit(...args);
    await readySequence({
      session,
      fc,
      notifier: opts.notifier,
      logger: log,
      waitMs: opts.readyTimeoutMs ?? 15_000,
      startedAt,
      appliedVersion: () => status.appliedVersion,
      healthy: () => !(pipeline.state === 'applying' && pipeline.stateAgeMs() > wedgedAfter),
    });
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
    status: () => status.now(),
    reload(next) {
      const trustedNext = loadTrustedKeys(next.security.trustedKeys);
      const merged = mergeReload(settings, next);
      settings = merged.settings;
      pipeline.updateTrust(trustedNext, next.security.requireSignature);
      pipeline.updateTiming({ lockTimeoutMs: settings.lock.acquireTimeoutS * 1000, paramTimeoutMs: settings.fc.paramTimeoutMs, paramRetries: settings.fc.paramRetries, aimTimeoutMs: settings.apply.aimTimeoutMs });
      log.level = next.logLevel;
      warnSecurity(log, next.security.requireSignature, trustedNext.size);
      log.info({ applied: merged.applied, trustedKeys: trustedNext.size }, 'settings reloaded');
      if (merged.needRestart.length > 0) log.warn({ needRestart: merged.needRestart }, `settings changed that take effect only after a restart (systemctl restart aim-agent): ${merged.needRestart.join(', ')}`);
      return { applied: merged.applied, needRestart: merged.needRestart };
    },
    stop(stopOpts = {}) {
      stopping ??= (async () => {
        log.info('stopping');
        lifetime.abort();
        opts.notifier?.stopWatchdog();
        await opts.notifier?.stopping();
        status.stopTimers();
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
