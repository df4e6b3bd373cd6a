import { readFileSync } from 'node:fs';
import { AimError, loadPublicKey, trustStore, type TrustedKey } from '../../protocol/index.js';
import type { Logger } from '../log.js';

export function loadTrustedKeys(files: readonly string[]): Map<string, TrustedKey> {
  const keys = files.map((f) => {
    let pem: Buffer;
    try {
      pem = readFileSync(f);
    } catch (cause) {
      throw new AimError('AIM_ERR_KEY', `${f}: cannot read trusted key (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
    }
    return loadPublicKey(pem, f);
  });
  return trustStore(keys, files);
}

/** At start and on reload: a policy that applies anything, or trusts nothing, is said out loud. */
export function warnSecurity(log: Logger, requireSignature: boolean, trustedKeys: number): void {
  if (!requireSignature) log.warn('security.requireSignature is false: unsigned desired configs will be applied (bench use only)');
  else if (trustedKeys === 0) log.warn('no trusted keys configured: every signed config will be rejected');
}
