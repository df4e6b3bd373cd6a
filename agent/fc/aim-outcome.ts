import type { AimErrorCode } from '../../protocol/errors.js';

/**
 * The ack code and reason for an aim command that was not accepted. A command the FC never acknowledged
 * is a timeout, and a link that failed under it is a link error, not a refusal: only an answer other
 * than ACCEPTED is AIM_ERR_FC_REJECTED. `result` is the command outcome (`timeout`, `failed`, …) or the
 * code of the error the gimbal call threw.
 */
export function aimFailure(result: string): { code: AimErrorCode; reason: string } {
  if (result === 'timeout') return { code: 'AIM_ERR_FC_TIMEOUT', reason: 'aim command got no COMMAND_ACK from the flight controller after every attempt' };
  if (result.startsWith('AIM_ERR_')) return { code: result as AimErrorCode, reason: `aim command not answered: ${result}` };
  return { code: 'AIM_ERR_FC_REJECTED', reason: `aim command answered ${result}` };
}
