import {
  MAX_ENVELOPE_BYTES,
  parseAimConfig,
  parseStrictJson,
  verifyEnvelope,
  type AimConfig,
  type AimErrorCode,
  type TrustedKey,
} from '../../protocol/index.js';
import { looseSubject, type AckFields, type AckSubject } from './ack.js';

/** A finished answer for a job: the ack's fields, and what the ack is about when the pipeline learned more. */
export type Outcome = AckFields & { subject?: AckSubject };

export interface IntakeContext {
  trusted: ReadonlyMap<string, TrustedKey>;
  requireSignature: boolean;
  droneId: string;
  /** Wall-clock ms, for expiry. */
  now: number;
}

/**
 * The checks that need no state and no FC: receive → size → verify the JWS → validate → target →
 * expiry. Returns the config, or a `rejected` outcome that names the stage, code, path and reason.
 */
export function intake(raw: Buffer, ctx: IntakeContext): { config: AimConfig; sha256: string; signed: boolean } | Outcome {
  const reject = (stage: string, code: AimErrorCode, reason: string, errors = [{ path: '$', message: reason }], subject?: AckSubject): Outcome => ({
    status: 'rejected',
    stage,
    code,
    reason,
    errors,
    ...(subject ? { subject } : {}),
  });
  if (raw.byteLength > MAX_ENVELOPE_BYTES) {
    return reject('receive', 'AIM_ERR_INVALID', `message is ${raw.byteLength} bytes, more than the ${MAX_ENVELOPE_BYTES}-byte limit`);
  }
  const env = verifyEnvelope(raw, ctx.trusted, { requireSignature: ctx.requireSignature });
  if (!env.ok) return reject('verify', 'AIM_ERR_SIGNATURE', env.errors[0]?.message ?? 'bad signature', env.errors);
  const parsed = parseAimConfig(env.payload);
  if (!parsed.ok) {
    const loose = parseStrictJson(env.payload);
    const subject = loose.ok ? looseSubject(loose.value) : undefined;
    const summary = parsed.errors.slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ');
    const more = parsed.errors.length > 3 ? ` (+${parsed.errors.length - 3} more)` : '';
    return reject('validate', 'AIM_ERR_INVALID', `invalid aim-config: ${summary}${more}`, parsed.errors, subject);
  }
  const { config, sha256 } = parsed;
  const subject = { version: config.version, id: config.id, sha256 };
  if (config.targets !== undefined && !config.targets.includes(ctx.droneId)) {
    return reject('target', 'AIM_ERR_NOT_TARGET', `config is for ${config.targets.join(', ')}, not ${ctx.droneId}`, [{ path: 'targets', message: `does not include ${ctx.droneId}` }], subject);
  }
  if (config.expiresAt !== undefined && Date.parse(config.expiresAt) <= ctx.now) {
    return reject('expiry', 'AIM_ERR_EXPIRED', `config expired at ${config.expiresAt}`, [{ path: 'expiresAt', message: `is in the past (now ${new Date(ctx.now).toISOString()})` }], subject);
  }
  return { config, sha256, signed: env.signed };
}
