import type { Logger } from '../log.js';
import type { ApplyPipeline } from './pipeline.js';

/**
 * An empty retained message on the desired topic: the ground cleared it (after a halted roll-out, for
 * a drone that had no previous config). Messages still waiting for boot reconciliation are dropped, a
 * queued or deferred job is cancelled with a `superseded` ack; otherwise there is nothing to do, and
 * no `rejected` ack either (clearing a retained topic is how MQTT withdraws it).
 */
export function withdrawDesired(early: unknown[], pipeline: Pick<ApplyPipeline, 'withdraw'> | undefined, log: Logger): void {
  const dropped = early.splice(0).length;
  const cancelled = pipeline?.withdraw() ?? false;
  log.info({ dropped, cancelled }, 'desired config withdrawn by the ground (empty retained desired)');
}
