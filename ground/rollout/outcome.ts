import type { AckStatus } from '../../protocol/index.js';
import type { DroneRecord, DroneState, RollbackState } from './state.js';

/** The drone state an ack status moves a drone to. `deferred` is not final: the drone holds the config for the disarmed window. */
export function stateForAck(status: AckStatus): DroneState {
  switch (status) {
    case 'applied':
    case 'duplicate':
      return 'applied';
    case 'dry-run':
      return 'dry-run';
    case 'deferred':
      return 'deferred';
    case 'rejected':
      return 'rejected';
    case 'superseded':
      return 'superseded';
    case 'failed':
      return 'failed';
  }
}

export function rollbackStateForAck(status: AckStatus): RollbackState {
  switch (status) {
    case 'applied':
    case 'duplicate':
      return 'restored';
    case 'deferred':
      return 'deferred';
    case 'rejected':
      return 'rejected';
    case 'superseded':
      return 'superseded';
    case 'dry-run':
    case 'failed':
      return 'failed';
  }
}

const PENDING: ReadonlySet<DroneState> = new Set(['planned', 'published', 'deferred']);

export function isFinal(state: DroneState): boolean {
  return !PENDING.has(state);
}

/** What counts as done for a drone: `applied`, or `dry-run` in a dry run. */
export function isSuccess(state: DroneState, dryRun: boolean): boolean {
  return dryRun ? state === 'dry-run' : state === 'applied';
}

/** A final state that is not a success, and not a drone the operator chose to skip. */
export function isFailure(state: DroneState, dryRun: boolean): boolean {
  return isFinal(state) && state !== 'skipped' && !isSuccess(state, dryRun);
}

/** Whether the drone was sent the roll-out's config (the state file records that before the publish). */
export function wasSent(rec: DroneRecord): boolean {
  return rec.publishedAt !== null;
}

/**
 * Whether a halt must restore this drone so the halted config can never land on it later: every drone
 * that was sent it (`all-sent`, i.e. --rollback), or those of them that did not apply it (`not-applied`:
 * a plain halt leaves the operator's halted config where it applied). Failed, rejected, timed-out and
 * deferred drones keep the halted config as their retained desired otherwise, and apply it at their next
 * start or disarm.
 */
export function needsRestore(rec: DroneRecord, scope: 'all-sent' | 'not-applied'): boolean {
  return wasSent(rec) && (scope === 'all-sent' || rec.state !== 'applied');
}

export function isRollbackFinal(state: RollbackState): boolean {
  return state !== 'published' && state !== 'deferred';
}

/** Rollback states in which the drone runs (or will run, once online) a config the operator chose. */
export function isRestoredState(state: RollbackState): boolean {
  return state === 'restored' || state === 'cleared';
}
