/**
 * When is silence proof that the FC has no such parameter? ArduPilot answers a read or set of an
 * unknown name with nothing at all, and a lossy link answers a known one with nothing now and then:
 * the two look the same, so absence is a judgement on evidence. Ours: the link is up (the FC is
 * talking), the FC has answered at least one of our requests on this connection (a parameter, a
 * command: it hears us), and the name stayed silent through enough requests that, at the frame loss
 * this link has shown, a parameter that exists would have answered one of them with all but
 * `ABSENCE_RISK` certainty.
 * Where that needs more than `MAX_REQUESTS` requests the link is too poor to tell, and the parameter is
 * unanswered (AIM_ERR_FC_TIMEOUT), never absent.
 *
 * Why not an index from PARAM_REQUEST_LIST: at 57600 the 1373-entry list takes ~9 s, and ArduPilot leaves
 * MNT1_* (all but MNT1_TYPE) out of it while MNT1_TYPE is 0 although every one of them can be set by name,
 * so the list is neither cheap nor the truth about what exists.
 */

/** The accepted chance that a parameter which exists is called absent. */
export const ABSENCE_RISK = 1e-4;
/** Requests per name at most, however lossy the link. */
export const MAX_REQUESTS = 10;

export interface WireQuality {
  framesIn: number;
  seqGaps: number;
  /** Answers from the FC to our requests on this connection. */
  answers: number;
}

/**
 * The chance that one request or its answer is lost, from the frames the FC's sequence numbers say went
 * missing. Laplace-smoothed, so a link that has shown only a few frames counts as unproven, not perfect;
 * squared in the other sense because a request and its answer must both get through.
 */
export function roundTripLoss(w: WireQuality): number {
  const lost = (w.seqGaps + 1) / (w.framesIn + w.seqGaps + 2);
  return 1 - (1 - lost) ** 2;
}

/**
 * Requests after which silence counts as absence (never fewer than `atLeast`, the caller's retries), or
 * undefined when the link loses so much that no count within MAX_REQUESTS would do.
 * @example requestsForAbsence(0.02, 3) === 3; requestsForAbsence(0.26, 3) === 7; requestsForAbsence(0.64, 3) === undefined
 */
export function requestsForAbsence(loss: number, atLeast: number): number | undefined {
  if (loss <= 0) return atLeast;
  const n = loss >= 1 ? Infinity : Math.ceil(Math.log(ABSENCE_RISK) / Math.log(loss));
  if (n > Math.max(MAX_REQUESTS, atLeast)) return undefined;
  return Math.max(n, atLeast);
}

/**
 * What `requests` unanswered requests for one name mean now: send `again`, or the name is `absent`, or
 * `unanswered`. Never decided before the caller's `retries`. A link that has lost no frame keeps today's
 * rule (silence after `retries` is absence, as MAVProxy has it); a lossy one needs as many requests as
 * its loss calls for, up to MAX_REQUESTS; an FC that has answered none of our requests proves nothing.
 */
export function judgeSilence(w: WireQuality, retries: number, requests: number): 'again' | 'absent' | 'unanswered' {
  if (requests < retries) return 'again';
  if (w.answers === 0) return 'unanswered';
  if (w.seqGaps === 0) return 'absent';
  const needed = requestsForAbsence(roundTripLoss(w), retries);
  if (needed !== undefined && requests >= needed) return 'absent';
  return requests >= Math.max(MAX_REQUESTS, retries) ? 'unanswered' : 'again';
}

/** Words for a reason: what the link showed of its quality. */
export function describeLoss(w: WireQuality & { crcErrors: number }): string {
  if (w.answers === 0) return 'the flight controller has answered none of our requests on this connection';
  const total = w.framesIn + w.seqGaps;
  const pct = total === 0 ? 0 : (100 * w.seqGaps) / total;
  return `the link lost ${pct.toFixed(1)} % of the FC's frames (${w.seqGaps} missing, ${w.crcErrors} CRC errors, ${w.framesIn} received)`;
}
