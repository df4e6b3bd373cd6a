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

/**
 * Whether a drone may be running (or may later run) the new config, so a rollback must re-issue its
 * previous one: it applied it, or it got it and may still apply it (no ack, deferred), or its failed
 * apply did not restore the previous config. A rejected config changed nothing; an offline drone was
 * never sent one.
 */
export function needsRollback(rec: DroneRecord): boolean {
  switch (rec.state) {
    case 'applied':
    case 'published':
    case 'deferred':
    case 'timeout':
      return true;
    case 'failed':
      return rec.ack?.rolledBack !== true;
    default:
      return false;
  }
}

export function isRollbackFinal(state: RollbackState): boolean {
  return state !== 'published' && state !== 'deferred';
}
