import { isAimError, type AimConfig } from '../../protocol/index.js';
import type { Logger } from '../log.js';
import type { Outcome } from './intake.js';
import { failure } from './outcome.js';
import type { AgentState, StorePort } from './ports.js';

/**
 * The config's version against what is applied: 'go', the answer (stale, conflict, duplicate, an owed
 * ack), or undefined when nothing is to be said (a retained repeat whose ack is on record).
 */
export async function versionCheck(store: StorePort, job: { config: AimConfig; sha256: string; retained: boolean }, log: Logger): Promise<Outcome | undefined | 'go'> {
  const { config, sha256 } = job;
  let state: AgentState;
  try {
    state = await store.readState();
  } catch (err) {
    // A corrupt aim file must not block every config: a valid one replaces it (the transaction keeps it aside).
    if (isAimError(err, 'AIM_ERR_STORE_CORRUPT')) {
      log.warn({ err }, 'the aim file is corrupt; this config will replace it');
      return 'go';
    }
    return { ...failure('state', err), rolledBack: true };
  }
  const applied = state.appliedVersion;
  if (applied === null || config.version > applied) return 'go';
  if (config.version < applied) {
    return { status: 'rejected', stage: 'version', code: 'AIM_ERR_STALE', reason: `version ${config.version} is older than the applied version ${applied}`, errors: [{ path: 'version', message: `must be greater than ${applied}` }] };
  }
  if (state.sha256 !== sha256) {
    return { status: 'rejected', stage: 'version', code: 'AIM_ERR_CONFLICT', reason: `version ${applied} is already applied with different content (sha256 ${state.sha256 ?? '?'})`, errors: [{ path: 'version', message: 'reused with different content; issue a new version' }] };
  }
  if (!job.retained) {
    return { status: 'duplicate', stage: 'version', reason: `version ${applied} was applied at ${state.appliedAt ?? 'an earlier time'}` };
  }
  // The retained desired is what is applied. Quiet, unless its ack never reached the outbox (a crash
  // between commit and ack): then it is owed, once.
  const acked = await store.readAcked().catch(() => null);
  if (acked === sha256) {
    log.info('retained desired config is the one applied; nothing to do');
    return undefined;
  }
  log.warn('retained desired config is applied but its ack is not on record (lost to a restart); sending it');
  return { status: 'applied', stage: 'done', reason: `applied at ${state.appliedAt ?? 'an earlier time'}; this ack was lost to a restart and is sent now` };
}
