import type { AimConfig } from '../../../protocol/aim-config.js';

/** protocol's MAX_CONFIG_PARAMS, repeated so the lock workers that import this start without zod. */
const MAX_CONFIG_PARAMS = 64;

/**
 * The aim config test writers commit for `version`: deterministic, so a reader can tell a whole
 * document from a mixture of two, and a few KiB, so a torn write would span several pages.
 * Valid by construction; aim-store.test.ts checks that protocol/ agrees.
 */
export function docFor(version: number, padParams = 200): AimConfig {
  // At most MAX_CONFIG_PARAMS parameters; the rest of the padding goes into `targets` to keep the size.
  const params: Record<string, number> = {};
  const n = Math.min(padParams, MAX_CONFIG_PARAMS);
  for (let i = 0; i < n; i++) params[`P${version % 97}_${i}`] = version + i / 1000;
  const targets = Array.from({ length: padParams - n }, (_, i) => `drone-${version}-${i}`);
  return {
    ...(targets.length > 0 ? { targets } : {}),
    kind: 'aim-config',
    schemaVersion: 1,
    version,
    id: `test-v${version}`,
    issuedAt: '2026-11-26T13:00:00Z',
    mount: { pitch: { minDeg: -90, maxDeg: 20 }, yaw: { minDeg: -180, maxDeg: 180 } },
    aim: { pitchDeg: -45, yawDeg: version % 10 },
    params,
  };
}
