import { reportedFc } from '../pipeline/reported-fc.js';
import type { FcLink } from '../fc/index.js';
import type { Logger } from '../log.js';
import type { MqttSession } from '../mqtt/session.js';
import type { ApplyPipeline } from '../pipeline/pipeline.js';
import { reconcile, type ReconcileResult } from '../pipeline/reconcile.js';
import type { Settings } from '../settings.js';
import type { AimStore, Locksmith } from '../store/index.js';

export interface ReconcileRunnerDeps {
  pipeline: ApplyPipeline;
  fc: FcLink;
  store: AimStore;
  locksmith: Locksmith;
  session: MqttSession;
  logger: Logger;
  settings: () => Settings;
  /** Aborted at stop: a reconciliation waiting for the FC or the lock gives up at once. */
  signal: AbortSignal;
}

/**
 * Reconciliation as the service runs it: between applies (a pipeline task), and its verdict published
 * as `reported` when the FC could be read. Never throws: a failure is logged and retried at the next
 * link-up or disarm.
 */
export class ReconcileRunner {
  last: ReconcileResult | undefined;

  constructor(private readonly deps: ReconcileRunnerDeps) {}

  run(): Promise<void> {
    const { pipeline, fc, store, locksmith, session, logger: log, signal } = this.deps;
    if (signal.aborted) return Promise.resolve();
    return pipeline
      .exclusive('reconcile', async () => {
        const s = this.deps.settings();
        const result = await reconcile({ fc, store, lock: locksmith, logger: log, paramTimeoutMs: s.fc.paramTimeoutMs, paramRetries: s.fc.paramRetries, signal });
        this.last = result;
        const cur = result.current;
        if (cur !== undefined && result.state !== 'fc-unavailable' && !signal.aborted) {
          const st = await store.readState();
          await session.publishReported({
            version: cur.config.version,
            id: cur.config.id,
            sha256: cur.sha256,
            appliedAt: st.appliedAt ?? new Date().toISOString(),
            fc: reportedFc(result, new Date()),
          });
        }
      })
      .catch((err: unknown) => {
        if (!signal.aborted) log.error({ err }, 'reconciliation failed');
      });
  }
}
