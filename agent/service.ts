import { AimError } from '../protocol/index.js';
import type { FcLink } from './fc/index.js';
import { createLogger, type Logger } from './log.js';
import { MqttSession } from './mqtt/session.js';
import { withdrawDesired } from './pipeline/withdraw.js';
import { ApplyPipeline } from './pipeline/pipeline.js';
import { parseSettings } from './settings.js';
import { AimStore, Locksmith } from './store/index.js';
import { loadLocalKeys, loadTrustedKeys, warnSecurity } from './service/keys.js';
import { readySequence } from './service/ready.js';
import { ReconcileRunner } from './service/reconcile-runner.js';
import { mergeReload } from './service/reload.js';
import { runShutdown, shutdownBudget } from './service/shutdown.js';
import { StatusPublisher } from './service/status-publisher.js';
import type { Agent, AgentOptions } from './service/types.js';

export type { Agent, AgentOptions, NotifierPort } from './service/types.js';
export { loadTrustedKeys } from './service/keys.js';

/**
 * Start the on-drone service. Local checks come first (settings, key files, the store, stale locks and
 * leftovers): nothing goes on the network until they pass, so a drone that cannot work never says
 * `online`. Then the broker session and the FC link start; READY=1 follows at once (an absent FC or
 * broker is reported as degraded and retried in the background), and boot reconciliation runs before
 * the first desired config is taken. A start that fails undoes what it started and throws.
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
  const undo = new UndoStack(log);
  try {
    return await start();
  } catch (err) {
    await undo.run();
    throw err;
  }

  async function start(): Promise<Agent> {
    // --- Local: settings' files, store, lock. Nothing here talks to the network.
    const { trusted, signingKey } = loadLocalKeys(settings);
    warnSecurity(log, settings.security.requireSignature, trusted.size);
    const store = new AimStore({ stateDir: settings.stateDir, logger: log });
    const { removedTemps } = await store.init();
    if (removedTemps.length > 0) log.warn({ removedTemps }, 'removed leftovers of an interrupted write');
    const locksmith = new Locksmith({ stateDir: settings.stateDir, ttlMs: settings.lock.ttlS * 1000, sweepMs: settings.lock.sweepS * 1000, logger: log, command: 'aim-agent run' });
    undo.push('lock', () => locksmith.close());
    const reclaimed = await locksmith.reclaimStale();
    if (reclaimed !== undefined) log.warn({ owner: reclaimed.owner, reason: reclaimed.reason }, 'reclaimed a stale aim lock at start');
    locksmith.startSweep();
    const appliedVersion = (await store.readState()).appliedVersion;

    // --- Remote: the broker session, then the FC link.
    const lifetime = new AbortController();
    if (opts.signal?.aborted) lifetime.abort();
    else opts.signal?.addEventListener('abort', () => lifetime.abort(), { once: true });
    const session = new MqttSession({ droneId: settings.droneId, broker: settings.broker, stateDir: settings.stateDir, logger: log });
    const status = new StatusPublisher({ session, locksmith, notifier: opts.notifier, startedAt });
    status.appliedVersion = appliedVersion;
    let pipelineRef: ApplyPipeline | undefined;
    let reconciled = false;
    // Desired messages wait until boot reconciliation has run, so an apply never races it.
    const early: Parameters<ApplyPipeline['submit']>[] = [];
    session.on('desired', (msg) => {
      if (msg.payload.length === 0) return withdrawDesired(early, pipelineRef, log);
      const meta = { retained: msg.retained, ...(msg.responseTopic ? { responseTopic: msg.responseTopic } : {}), ...(msg.correlationData ? { correlationData: msg.correlationData } : {}) };
      if (reconciled && pipelineRef !== undefined) pipelineRef.submit(msg.payload, meta);
      else early.push([msg.payload, meta]);
    });
    session.on('connect', () => status.publish(true));
    undo.push('session', () => session.stop({ timeoutMs: 1000 }));
    await session.start();
    // Loading the MAVLink module blocks the event loop for a few hundred ms on a Pi: let the broker
    // handshake (and so the online status) through first, waiting at most half a second for it.
    if (!session.connected) await once(session, 'connect', 500);

    const { openFcLink } = await import('./fc/index.js');
    const fc: FcLink = await openFcLink(settings.fc.link, {
      logger: log,
      // With a signing key, unsigned frames are refused unless the settings say so explicitly: a
      // forged unsigned PARAM_VALUE echo must not pass verification.
      ...(settings.fc.acceptUnsigned !== undefined ? { acceptUnsigned: settings.fc.acceptUnsigned } : {}),
      ...(signingKey !== undefined ? { signingKey } : {}),
    });
    undo.push('fc', () => fc.close());

    const pipeline = new ApplyPipeline({
      droneId: settings.droneId,
      trusted,
      requireSignature: settings.security.requireSignature,
      fc,
      store,
      lock: locksmith,
      logger: log,
      lockTimeoutMs: settings.lock.acquireTimeoutS * 1000,
      lockTtlMs: settings.lock.ttlS * 1000,
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
        .then(() => pipeline.ackDelivered(ack))
        .catch((err: unknown) => log.error({ err }, 'ack could not be queued'));
    });
    pipeline.on('reported', (reported) => {
      status.appliedVersion = reported.version;
      void session.publishReported(reported).catch((err: unknown) => log.error({ err }, 'reported could not be queued'));
      status.publish();
    });
    pipeline.on('state', () => status.publish());
    pipeline.on('reconcile', () => void reconciler.run());
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

    // Boot reconciliation in the background: it may wait for an absent FC, which must not hold READY.
    void reconciler.run().then(() => {
      if (lifetime.signal.aborted) return;
      reconciled = true;
      for (const args of early.splice(0)) pipeline.submit(...args);
    });
    const wedgedAfter = opts.wedgedAfterMs ?? 120_000;
    const ready = readySequence({
      session,
      fc,
      notifier: opts.notifier,
      logger: log,
      waitMs: opts.readyTimeoutMs ?? 0,
      startedAt,
      appliedVersion: () => status.appliedVersion,
      healthy: () => !(pipeline.state === 'applying' && pipeline.stateAgeMs() > wedgedAfter),
      signal: lifetime.signal,
    });

    let stopping: Promise<void> | undefined;
    return {
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
          const budget = shutdownBudget(settings.apply.shutdownTimeoutS * 1000, stopOpts.graceMs);
          log.info({ budgetMs: budget.totalMs }, 'stopping');
          // Cancels the ready sequence and any reconciliation waiting for the FC or the lock.
          lifetime.abort();
          status.stopTimers();
          const overran = await runShutdown(
            [
              // First and awaited: the STOPPING=1 sender must be out before anything else happens.
              { name: 'notify', budgetMs: budget.notifyMs, run: async () => opts.notifier?.stopping() },
              { name: 'apply', budgetMs: budget.graceMs + budget.rollbackMs, run: () => pipeline.close(budget.graceMs) },
              // The FC link closes before the lock is released: an apply that overran its rollback can
              // send nothing more once another writer may take the lock.
              {
                name: 'release',
                budgetMs: budget.releaseMs,
                run: async () => {
                  await fc.close();
                  await locksmith.close();
                },
              },
              // Two bounded waits (offline, DISCONNECT), then the socket is cut.
              { name: 'session', budgetMs: budget.sessionMs, run: (remainingMs) => session.stop({ timeoutMs: Math.floor(remainingMs / 2) }) },
            ],
            log,
          );
          log.info(overran.length > 0 ? { overran } : {}, 'stopped');
        })();
        return stopping;
      },
    };
  }
}

/** What a failed start must undo, newest first, each bounded (a hung broker must not hold the exit). */
class UndoStack {
  readonly #steps: { name: string; fn: () => Promise<unknown> }[] = [];
  constructor(private readonly log: Logger) {}
  push(name: string, fn: () => Promise<unknown>): void {
    this.#steps.push({ name, fn });
  }
  async run(): Promise<void> {
    for (const { name, fn } of this.#steps.splice(0).reverse()) {
      await Promise.race([fn(), new Promise((r) => setTimeout(r, 2500).unref())]).catch((err: unknown) => this.log.warn({ err, step: name }, 'undo after a failed start failed'));
    }
  }
}

function once(emitter: MqttSession, event: 'connect', timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, timeoutMs);
    emitter.once(event, done);
    function done() {
      clearTimeout(timer);
      emitter.off(event, done);
      resolve();
    }
  });
}
