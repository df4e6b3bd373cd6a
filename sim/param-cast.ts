import { MAV_PARAM_TYPE, type ParamType } from '../protocol/param-table.js';

export const MAV_PARAM_TYPE_REAL32 = MAV_PARAM_TYPE.REAL32;

const INT_LIMITS: Partial<Record<ParamType, [number, number]>> = {
  INT8: [-128, 127],
  UINT8: [0, 255],
  INT16: [-32768, 32767],
  UINT16: [0, 65535],
  INT32: [-2147483648, 2147483647],
  UINT32: [0, 4294967295],
};

const F_0_01 = Math.fround(0.01);

/**
 * Store a PARAM_SET value the way ArduPilot's AP_Param::set_float does: REAL32 keeps the float; integer
 * types add ±0.01 in float32 (so 2.995 becomes 3, while 2.7 stays 2), saturate to the type's range and
 * truncate toward zero. No range check beyond the type. The caller has already rejected NaN/Inf.
 */
export function castToParamType(value: number, type: ParamType): number {
  const f = Math.fround(value);
  const limits = INT_LIMITS[type];
  if (limits === undefined) return f;
  const v = Math.fround(f + (f < 0 ? -F_0_01 : F_0_01));
  const [min, max] = limits;
  // ArduPilot clamps in float (INT32's upper bound rounds up to 2^31); clamp the integer too.
  return Math.min(max, Math.max(min, Math.trunc(Math.min(max, Math.max(min, v)))));
}

/** ArduPilot's is_equal for floats: closer than FLT_EPSILON. */
export function floatEqual(a: number, b: number): boolean {
  return Math.abs(a - b) < 1.1920928955078125e-7;
}
