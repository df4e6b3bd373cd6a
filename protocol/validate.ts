import { AimConfigSchema, semanticErrors, type AimConfig } from './aim-config.js';
import { canonicalSha256 } from './canonical.js';
import type { PathError } from './errors.js';
import { parseStrictJson, type StrictJsonOptions } from './strict-json.js';
import { issuesToPathErrors } from './zod-errors.js';

export type ValidationResult = { ok: true; config: AimConfig; sha256: string } | { ok: false; errors: PathError[] };

/**
 * Validate an already-parsed value as aim-config v1: structure, then the rules across fields.
 * Every finding is returned at once, each with its JSON path.
 * @example validateAimConfig(JSON.parse(text)) // { ok: false, errors: [{ path: 'mount.pitch.minDeg', message: '…' }] }
 */
export function validateAimConfig(value: unknown): ValidationResult {
  const parsed = AimConfigSchema.safeParse(value, { reportInput: true });
  const errors = parsed.success ? [] : issuesToPathErrors(parsed.error.issues);
  const seen = new Set<string>();
  const unique = errors.filter((e) => !seen.has(e.path + '\0' + e.message) && seen.add(e.path + '\0' + e.message));
  const paths = new Set(unique.map((e) => e.path));
  for (const e of semanticErrors(value)) if (!paths.has(e.path)) unique.push(e);
  errors.length = 0;
  errors.push(...unique);
  if (!parsed.success || errors.length > 0) return { ok: false, errors };
  return { ok: true, config: parsed.data, sha256: canonicalSha256(parsed.data) };
}

/** Parse bytes or text with the strict JSON rules (strict-json.ts), then validate. Never throws on bad input. */
export function parseAimConfig(input: Uint8Array | string, options?: StrictJsonOptions): ValidationResult {
  const parsed = parseStrictJson(input, options);
  if (!parsed.ok) return parsed;
  return validateAimConfig(parsed.value);
}
