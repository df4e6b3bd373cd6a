import type { AimConfig } from '../../protocol/index.js';
import { INT_PARAM_RANGES, type ParamType } from '../../protocol/param-table.js';

/** One value that does not fit its parameter's type on this FC, with the config path it came from. */
export interface FitError {
  path: string;
  message: string;
}

export type FitResult = { ok: true } | { ok: false; errors: FitError[] };

/** Where each mapped MNT1_* parameter comes from in an aim-config (protocol/mapping.ts configToFcParams). */
const MAPPED_PATHS: Readonly<Record<string, string>> = {
  MNT1_DEFLT_MODE: 'mount.defaultMode',
  MNT1_RC_RATE: 'mount.rcRateDegS',
  MNT1_ROLL_MIN: 'mount.roll.minDeg',
  MNT1_ROLL_MAX: 'mount.roll.maxDeg',
  MNT1_PITCH_MIN: 'mount.pitch.minDeg',
  MNT1_PITCH_MAX: 'mount.pitch.maxDeg',
  MNT1_YAW_MIN: 'mount.yaw.minDeg',
  MNT1_YAW_MAX: 'mount.yaw.maxDeg',
  MNT1_RETRACT_X: 'mount.retract.rollDeg',
  MNT1_RETRACT_Y: 'mount.retract.pitchDeg',
  MNT1_RETRACT_Z: 'mount.retract.yawDeg',
  MNT1_NEUTRAL_X: 'mount.neutral.rollDeg',
  MNT1_NEUTRAL_Y: 'mount.neutral.pitchDeg',
  MNT1_NEUTRAL_Z: 'mount.neutral.yawDeg',
};

/** The aim-config path a parameter's value came from: `params.NAME` for free ones. */
export function configPathOf(config: Pick<AimConfig, 'params'>, name: string): string {
  if (config.params !== undefined && Object.hasOwn(config.params, name)) return `params.${name}`;
  return MAPPED_PATHS[name] ?? `params.${name}`;
}

/**
 * Check every value against its parameter's type before anything is written. ArduPilot casts a PARAM_SET
 * float to the parameter's type and saturates without a word (INT16 40000 is stored as 32767), so a value
 * that cannot fit must stop the whole config before the first PARAM_SET, never halfway through a push.
 * Types are the FC's (from its read or cache) or the protocol table's; an unknown type is taken as REAL32.
 * @example checkParamsFit([{ name: 'GPS_HDOP_GOOD', value: 40000, type: 'INT16' }], (n) => `params.${n}`)
 *   // { ok: false, errors: [{ path: 'params.GPS_HDOP_GOOD', message: '40000 is outside INT16 (-32768..32767)' }] }
 */
export function checkParamsFit(
  list: readonly { name: string; value: number; type?: ParamType | undefined }[],
  pathOf: (name: string) => string = (n) => `params.${n}`,
): FitResult {
  const errors: FitError[] = [];
  for (const p of list) {
    const message = fitError(p.value, p.type);
    if (message !== undefined) errors.push({ path: pathOf(p.name), message });
  }
  return errors.length === 0 ? { ok: true } : { ok: false, errors };
}

function fitError(value: number, type: ParamType | undefined): string | undefined {
  if (!Number.isFinite(value)) return `${value} is not a finite number`;
  if (type === undefined || type === 'REAL32') return Number.isFinite(Math.fround(value)) ? undefined : `${value} does not fit a float32 (REAL32)`;
  const [lo, hi] = INT_PARAM_RANGES[type];
  // What the FC stores: the float32 we send, truncated toward zero (C-cast).
  const stored = Math.trunc(Math.fround(value));
  return stored < lo || stored > hi ? `${value} is outside ${type} (${lo}..${hi})` : undefined;
}
