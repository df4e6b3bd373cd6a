import { readFileSync } from 'node:fs';
import { AimError, fileProblem, loadPublicKey, trustStore, type PathError, type TrustedKey } from '../../protocol/index.js';
import { parseLinkString } from '../fc/link-string.js';
import type { Logger } from '../log.js';
import type { Settings } from '../settings.js';

/** The key material a start (and, for the trusted keys, a reload) reads from the files the settings name. */
export interface LocalKeys {
  trusted: Map<string, TrustedKey>;
  /** MAVLink 2 signing key (32 bytes), when fc.signingKeyFile is set. */
  signingKey: Buffer | undefined;
}

export function loadTrustedKeys(files: readonly string[]): Map<string, TrustedKey> {
  const errors: PathError[] = [];
  const keys = readTrustedKeys(files, errors);
  // Messages start with the file name; the settings path means nothing to a caller that adds --trust files.
  if (errors.length > 0) throw new AimError('AIM_ERR_KEY', errors.map((e) => e.message).join('\n'), { details: { errors } });
  return trustStore(keys, files);
}

/**
 * What the schema cannot check, done the way `run` and a reload do it: read every file the settings
 * name (trusted keys, the MAVLink signing key, broker credentials) and parse the FC link string,
 * collecting every problem as `path: message`. `aim-agent check-settings` prints them; a start
 * refuses to go on with any, before it touches the network.
 */
export function checkSettingsFiles(settings: Settings): { keys?: LocalKeys; errors: PathError[] } {
  const errors: PathError[] = [];
  try {
    parseLinkString(settings.fc.link);
  } catch (err) {
    errors.push({ path: 'fc.link', message: err instanceof Error ? err.message : String(err) });
  }
  const trustedKeys = readTrustedKeys(settings.security.trustedKeys, errors);
  const signingKey = readSigningKey(settings.fc.signingKeyFile, errors);
  const b = settings.broker;
  for (const field of ['passwordFile', 'ca', 'cert', 'key'] as const) {
    const file = b[field];
    if (file === undefined) continue;
    try {
      readFileSync(file);
    } catch (cause) {
      errors.push({ path: `broker.${field}`, message: `${file}: ${fileProblem(cause)}` });
    }
  }
  if (errors.length > 0) return { errors };
  return { keys: { trusted: trustStore(trustedKeys, settings.security.trustedKeys), signingKey }, errors };
}

/** As checkSettingsFiles, throwing AIM_ERR_KEY or AIM_ERR_SETTINGS (every finding in details.errors) when anything is wrong. */
export function loadLocalKeys(settings: Settings): LocalKeys {
  const { keys, errors } = checkSettingsFiles(settings);
  if (keys === undefined) throw keyError(errors);
  return keys;
}

/** At start and on reload: a policy that applies anything, or trusts nothing, is said out loud. */
export function warnSecurity(log: Logger, requireSignature: boolean, trustedKeys: number): void {
  if (!requireSignature) log.warn('security.requireSignature is false: unsigned desired configs will be applied (bench use only)');
  else if (trustedKeys === 0) log.warn('no trusted keys configured: every signed config will be rejected');
}

function readTrustedKeys(files: readonly string[], errors: PathError[]) {
  const keys = [];
  for (const [i, f] of files.entries()) {
    const path = `security.trustedKeys[${i}]`;
    let pem: Buffer;
    try {
      pem = readFileSync(f);
    } catch (cause) {
      errors.push({ path, message: `${f}: ${fileProblem(cause)}` });
      continue;
    }
    // createPublicKey() happily derives the public half of a private key: a signing key copied onto
    // the drone by mistake would be trusted and sit there readable. Refuse it.
    if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString('latin1'))) {
      errors.push({ path, message: `${f}: is a private key; the drone needs only the public key` });
      continue;
    }
    try {
      keys.push(loadPublicKey(pem, f));
    } catch (err) {
      errors.push({ path, message: err instanceof Error ? err.message : String(err) });
    }
  }
  return keys;
}

function readSigningKey(file: string | undefined, errors: PathError[]): Buffer | undefined {
  if (file === undefined) return undefined;
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (cause) {
    errors.push({ path: 'fc.signingKeyFile', message: `${file}: ${fileProblem(cause)}` });
    return undefined;
  }
  // Buffer.from(hex) silently stops at the first non-hex character: a typo would become a short key.
  if (!/^[0-9a-fA-F]{64}$/.test(text)) {
    errors.push({ path: 'fc.signingKeyFile', message: `${file}: must hold 64 hex characters (a 32-byte MAVLink 2 signing key)` });
    return undefined;
  }
  return Buffer.from(text, 'hex');
}

/** AIM_ERR_KEY when only files are at fault; a bad link string is a settings error. */
function keyError(errors: PathError[]): AimError {
  const code = errors.some((e) => e.path === 'fc.link') ? 'AIM_ERR_SETTINGS' : 'AIM_ERR_KEY';
  return new AimError(code, errors.map((e) => `${e.path}: ${e.message}`).join('\n'), { details: { errors } });
}

