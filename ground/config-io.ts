import { readFile } from 'node:fs/promises';
import type { KeyObject } from 'node:crypto';
import { AimError, canonicalJson, formatPathErrors, parseAimConfig, signJws, validateAimConfig, type AimConfig } from '../protocol/index.js';

/** A config ready for the wire: the JWS plus what acks are matched on. */
export interface SignedConfig {
  version: number;
  id: string;
  sha256: string;
  jws: string;
}

export interface LoadedConfig {
  config: AimConfig;
  sha256: string;
  /** Set when the file already was a JWS (published as is; it cannot be changed without re-signing). */
  jws?: string;
  /** False when a plain file left `version` out (readConfigFile with `versionOptional`): the command picks it. */
  versionGiven?: boolean;
}

/** Stands in for a missing `version` while the rest of the document is validated; never signed. */
const PLACEHOLDER_VERSION = 1;

const JWS_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** The payload of a compact JWS, signature NOT checked (the drone checks it); undefined if it is not one. */
export function jwsPayload(text: string): Buffer | undefined {
  const s = text.trim();
  if (!JWS_RE.test(s)) return undefined;
  return Buffer.from(s.split('.')[1]!, 'base64url');
}

/**
 * A desired config as read back from the broker (a JWS or, on benches, a plain document). Undefined when
 * it is neither or does not validate: such a message cannot be a previous config worth restoring.
 */
export function decodeDesired(bytes: Buffer): LoadedConfig | undefined {
  const text = bytes.toString('utf8');
  const payload = jwsPayload(text);
  const r = parseAimConfig(payload ?? bytes);
  if (!r.ok) return undefined;
  return { config: r.config, sha256: r.sha256, ...(payload !== undefined ? { jws: text.trim() } : {}) };
}

/**
 * Read an aim-config file (plain JSON or a JWS) and validate it; AIM_ERR_INVALID lists `path: message`.
 * With `versionOptional`, a plain document may leave `version` out (`versionGiven: false`): the roll-out
 * or `push --version auto` picks the next one.
 */
export async function readConfigFile(file: string, opts: { versionOptional?: boolean } = {}): Promise<LoadedConfig> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new AimError('AIM_ERR_INVALID', `${file}: cannot read (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  const text = bytes.toString('utf8');
  const payload = jwsPayload(text);
  const missing = payload === undefined && opts.versionOptional === true ? withoutVersion(bytes) : undefined;
  const r = parseAimConfig(missing ?? payload ?? bytes);
  if (!r.ok) throw new AimError('AIM_ERR_INVALID', `${file}: not a valid aim-config\n${formatPathErrors(r.errors)}`, { details: { errors: r.errors } });
  return { config: r.config, sha256: r.sha256, versionGiven: missing === undefined, ...(payload !== undefined ? { jws: text.trim() } : {}) };
}

/** The document with a placeholder version when it is a JSON object without one; undefined otherwise. */
function withoutVersion(bytes: Buffer): Buffer | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc) || 'version' in doc) return undefined;
  return Buffer.from(JSON.stringify({ ...doc, version: PLACEHOLDER_VERSION }));
}

/** Sign a config (validated first, so its sha256 is the one the agent will compute). */
export function signConfig(config: AimConfig, key: KeyObject): SignedConfig {
  const r = validateAimConfig(config);
  if (!r.ok) throw new AimError('AIM_ERR_INVALID', `config ${config.id} is not valid\n${formatPathErrors(r.errors)}`, { details: { errors: r.errors } });
  return { version: r.config.version, id: r.config.id, sha256: r.sha256, jws: signJws(canonicalJson(r.config), key) };
}

export function withVersion(config: AimConfig, version: number): AimConfig {
  return { ...config, version };
}

/** The shadow form of a config: agents validate it, read the FC and ack `dry-run` with the diff. */
export function asDryRun(config: AimConfig): AimConfig {
  return { ...config, apply: { ...(config.apply ?? { when: 'immediate' }), dryRun: true } };
}

export function isDryRun(config: AimConfig): boolean {
  return config.apply?.dryRun === true;
}
