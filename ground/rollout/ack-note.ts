import type { Ack, Reported } from '../../protocol/index.js';
import type { AckNote } from './state.js';

/** What the state file and the summary keep of the ack that decided a drone. */
export function ackNote(ack: Ack): AckNote {
  return { status: ack.status, stage: ack.stage, code: ack.code ?? null, rolledBack: ack.rolledBack ?? null, at: ack.at, via: 'ack', totalMs: ack.timings.totalMs };
}

/**
 * A retained `reported` with the config's sha256 decides a drone too (the agent publishes it just
 * before its ack, and after a resume it is all there is): recorded as an `applied` with `via: reported`.
 */
export function reportedNote(reported: Reported): AckNote {
  return { status: 'applied', stage: 'done', code: null, rolledBack: null, at: reported.appliedAt, via: 'reported', totalMs: null };
}

/** The ack's reason, or its first `path: message`. */
export function ackReason(ack: Ack): string | null {
  if (ack.reason !== null) return ack.reason;
  const e = ack.errors[0];
  return e === undefined ? null : `${e.path}: ${e.message}`;
}
