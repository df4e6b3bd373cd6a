import { isAimError } from '../../protocol/index.js';
import type { AckFields } from './ack.js';
import type { Outcome } from './intake.js';
import { failure } from './outcome.js';

/** The link counters that tell a signing mismatch apart from a dead or silent FC. */
export interface SigningCounters {
  framesIn?: number;
  badSignatures?: number;
  unsignedDropped?: number;
  signedUnverified?: number;
}

/**
 * Why the flight controller cannot hear us or we cannot hear it because of MAVLink 2 signing, from the
 * link's counters; undefined when signing is not the trouble. ArduPilot with a key set signs every
 * frame it sends and drops unsigned frames without a word on every port but channel 0 (measured on SITL,
 * hw-tests/README.md), so a key mismatch looks like a dead link or like parameters that do not exist.
 */
export function signingTrouble(s: SigningCounters): string | undefined {
  if ((s.badSignatures ?? 0) > 0) {
    return `${s.badSignatures} frame(s) from the flight controller failed the MAVLink signature check: fc.signingKeyFile does not hold the FC's signing key`;
  }
  if ((s.unsignedDropped ?? 0) > 0 && (s.framesIn ?? 0) === 0) {
    return 'the flight controller does not sign its frames and fc.acceptUnsigned is false: set the key on the FC (SETUP_SIGNING) or accept unsigned frames';
  }
  if ((s.signedUnverified ?? 0) > 0) {
    return 'the flight controller signs its frames (MAVLink 2 signing is on) and ignores unsigned requests on this port: set fc.signingKeyFile to its key';
  }
  return undefined;
}

/** The reason for an apply refused because the link is down, with the signing diagnosis when there is one. */
export function linkDownReason(s: SigningCounters, what = 'flight-controller link is down'): string {
  const why = signingTrouble(s);
  return why === undefined ? what : `${what}: ${why}`;
}

/**
 * A read that failed: when the FC's silence comes from MAVLink signing (it drops our unsigned frames, or
 * our keys differ), that is a link problem (AIM_ERR_FC_LINK), not a timeout of a healthy link.
 */
export function readFailure(err: unknown, s: SigningCounters, extra: Partial<AckFields> = {}): Outcome {
  const why = isAimError(err) && err.code === 'AIM_ERR_FC_TIMEOUT' ? signingTrouble(s) : undefined;
  if (why !== undefined) return { ...extra, status: 'failed', stage: 'read', code: 'AIM_ERR_FC_LINK', reason: `${why}; nothing was changed` };
  return failure('read', err, extra);
}
