import { isAimError } from '../../protocol/index.js';
import type { AckFields } from './ack.js';
import type { Outcome } from './intake.js';

/**
 * A `failed` outcome for an error thrown at `stage`. Only an AimError carries a code: an unexpected
 * error is reported as what it is (its message, no code), never dressed up as a disk or link error.
 * `rolledBack` is left to the caller (the transaction's compensation path decides it).
 */
export function failure(stage: string, err: unknown, extra: Partial<AckFields> = {}): Outcome {
  const reason = err instanceof Error ? err.message : String(err);
  if (isAimError(err)) return { ...extra, status: 'failed', stage, code: err.code, reason };
  return { ...extra, status: 'failed', stage, reason: `unexpected error: ${reason}` };
}
