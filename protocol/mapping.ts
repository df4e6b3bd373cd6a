import type { AimConfig } from './aim-config.js';
import { castToParamType } from './param-cast.js';
import { MOUNT_MODES, paramSpec, type ParamType } from './param-table.js';

/** One flight-controller parameter to set. `type` is undefined for a raw parameter we have no spec for: the FC's own PARAM_VALUE tells. */
export interface FcParam {
  name: string;
  value: number;
  type: ParamType | undefined;
}

/** The pointing command sent once the parameters are verified. */
export type AimCommand =
  | { kind: 'pitchyaw'; pitchDeg: number; yawDeg: number; yawFrame: 'vehicle' | 'earth'; gimbalId: number }
  | { kind: 'roi'; latDeg: number; lonDeg: number; altM: number };

/**
 * aim-config → the ordered ArduPilot parameter list (mount fields first, in MNT1 table order, then raw
 * `params` sorted by name) plus the aim command. Deterministic, so two agents push the same sequence.
 * @example configToFcParams(cfg).map((p) => p.name) // ['MNT1_DEFLT_MODE', 'MNT1_RC_RATE', 'MNT1_ROLL_MIN', …]
 */
export function configToFcParams(cfg: AimConfig): FcParam[] {
  const out: FcParam[] = [];
  const add = (name: string, value: number) => out.push({ name, value, type: paramSpec(name)?.type });
  const m = cfg.mount;
  if (m !== undefined) {
    if (m.defaultMode !== undefined) add('MNT1_DEFLT_MODE', MOUNT_MODES[m.defaultMode]);
    if (m.rcRateDegS !== undefined) add('MNT1_RC_RATE', m.rcRateDegS);
    if (m.roll !== undefined) add('MNT1_ROLL_MIN', m.roll.minDeg), add('MNT1_ROLL_MAX', m.roll.maxDeg);
    if (m.pitch !== undefined) add('MNT1_PITCH_MIN', m.pitch.minDeg), add('MNT1_PITCH_MAX', m.pitch.maxDeg);
    if (m.yaw !== undefined) add('MNT1_YAW_MIN', m.yaw.minDeg), add('MNT1_YAW_MAX', m.yaw.maxDeg);
    // Vector parameters: X is roll, Y is pitch (tilt), Z is yaw (pan), as in AP_Mount_Params.cpp.
    if (m.retract !== undefined) {
      add('MNT1_RETRACT_X', m.retract.rollDeg), add('MNT1_RETRACT_Y', m.retract.pitchDeg), add('MNT1_RETRACT_Z', m.retract.yawDeg);
    }
    if (m.neutral !== undefined) {
      add('MNT1_NEUTRAL_X', m.neutral.rollDeg), add('MNT1_NEUTRAL_Y', m.neutral.pitchDeg), add('MNT1_NEUTRAL_Z', m.neutral.yawDeg);
    }
  }
  for (const name of Object.keys(cfg.params ?? {}).sort()) add(name, cfg.params![name]!);
  return out;
}

/** The aim command of a config, or undefined when it has none. */
export function configToAimCommand(cfg: AimConfig): AimCommand | undefined {
  const a = cfg.aim;
  if (a === undefined) return undefined;
  if ('roi' in a) return { kind: 'roi', ...a.roi };
  return { kind: 'pitchyaw', pitchDeg: a.pitchDeg, yawDeg: a.yawDeg, yawFrame: a.yawFrame ?? 'vehicle', gimbalId: a.gimbalId ?? 0 };
}

/**
 * The value a parameter of `type` will hold after ArduPilot stores the float32 we send (see
 * param-cast.ts castToParamType, the one cast model, measured on SITL). Used both to range-check
 * before sending and to compare the echo.
 */
export function castParamValue(value: number, type: ParamType | undefined): number {
  return castToParamType(value, type);
}

/**
 * The shortest decimal that is the same float32 as `x`: PARAM_VALUE carries float32, and an operator
 * reading an ack wants 0.2, not 0.20000000298023224. Integers and non-float32-exact doubles pass through.
 */
export function float32Display(x: number): number {
  if (!Number.isFinite(x) || Number.isInteger(x)) return x;
  const f = Math.fround(x);
  for (let p = 1; p <= 9; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f) return candidate;
  }
  return f;
}
