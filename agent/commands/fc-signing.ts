import { readFileSync } from 'node:fs';
import type { Settings } from '../settings.js';

/** The FC link's MAVLink 2 signing options from settings (`fc.signingKeyFile`, `fc.acceptUnsigned`), as the service uses them. */
export function fcSigningOptions(fc: Settings['fc'] | undefined): { signingKey?: Buffer; acceptUnsigned?: boolean } {
  if (fc?.signingKeyFile === undefined) return {};
  return { signingKey: Buffer.from(readFileSync(fc.signingKeyFile, 'utf8').trim(), 'hex'), acceptUnsigned: fc.acceptUnsigned };
}
