/**
 * Every expected failure carries a stable code from this one table. README's error-code table is
 * checked against it by errors.test.ts, so add a row there when you add one here.
 */
export const ERROR_CODES = {
  AIM_ERR_USAGE: 'a command was called with wrong arguments',
  AIM_ERR_INVALID: 'a document failed parsing or validation; `errors` lists path and reason',
  AIM_ERR_SIGNATURE: 'a JWS was malformed, unsigned when a signature is required, signed by an untrusted key, or tampered with',
  AIM_ERR_KEY: 'a key file could not be read or is not an Ed25519 PEM key',
  AIM_ERR_SETTINGS: 'agent settings are missing or invalid',
  AIM_ERR_STALE: 'a config version is older than the one applied',
  AIM_ERR_CONFLICT: 'a config reuses the applied version with different content',
  AIM_ERR_EXPIRED: 'a config is past its expiresAt',
  AIM_ERR_NOT_TARGET: 'a config does not name this drone',
  AIM_ERR_LOCK_HELD: 'the aim lock is held by a live owner',
  AIM_ERR_LOCK_TIMEOUT: 'the aim lock could not be taken before the timeout',
  AIM_ERR_LOCK_LOST: 'the holder lost the aim lock (it was reclaimed as stale or broken by force)',
  AIM_ERR_FENCED: 'a commit carried a fencing token that is no longer the current holder\'s',
  AIM_ERR_STORE_IO: 'the aim file or state could not be written (disk full, I/O error); the current file is untouched',
  AIM_ERR_STORE_CORRUPT: 'the aim file or state on disk is not a valid document',
  AIM_ERR_FC_LINK: 'the flight-controller link is down or could not be opened',
  AIM_ERR_FC_TIMEOUT: 'the flight controller did not answer in time',
  AIM_ERR_FC_REJECTED: 'the flight controller refused a parameter or command',
  AIM_ERR_FC_VERIFY: 'the flight controller echoed a value other than the one requested',
  AIM_ERR_ARMED: 'the vehicle is armed and the config asks for the disarmed window',
  AIM_ERR_ABORTED: 'the operation was cancelled (shutdown, newer config, AbortSignal)',
  AIM_ERR_BROKER: 'the MQTT broker could not be reached or refused the session',
  AIM_ERR_ROLLOUT_HALTED: 'a roll-out stopped because failures passed the threshold',
} as const;

export type AimErrorCode = keyof typeof ERROR_CODES;

/** An expected failure with a stable `code`; `details` carries structured context for acks and logs. */
export class AimError extends Error {
  readonly code: AimErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: AimErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'AimError';
    this.code = code;
    this.details = options?.details;
  }
}

/** True when `err` is an AimError, optionally with the given code. */
export function isAimError(err: unknown, code?: AimErrorCode): err is AimError {
  return err instanceof AimError && (code === undefined || err.code === code);
}

/** One validation finding: a JSON path (`mount.pitch.minDeg`, `params.FOO`, `$` for the root) and a reason. */
export interface PathError {
  path: string;
  message: string;
}

/** Render findings as the `path: message` lines the CLIs print. */
export function formatPathErrors(errors: readonly PathError[]): string {
  return errors.map((e) => `${e.path}: ${e.message}`).join('\n');
}
