import { INT_PARAM_RANGES, type ParamType } from './param-table.js';

const F_0_01 = Math.fround(0.01);

/**
 * The value ArduPilot stores for a PARAM_SET carrying the float `value` for a parameter of `type`:
 * the one cast model of this repository (fc-sim stores with it, the agent predicts echoes with it).
 *
 * Fact (measured on ArduCopter 4.7 SITL, evidence in param-cast-facts.ts MEASURED_CASTS): REAL32 keeps
 * the float32. Integer types add 0.01 (subtract for negatives) in float32, saturate to the type, then
 * truncate toward zero: INT8 2.7 → 2, 2.989 → 2, 2.991 → 3, −2.991 → −3, 0.99 → 1, 0.9899 → 0,
 * −0.011 → 0, 300 → 127, INT16 40000 → 32767, INT32 16777217 → 16777216 (float32 cannot carry it).
 * That is AP_Param::set_float's `v + (v < 0 ? -0.01 : 0.01)` rounding, not a plain C cast. There is no
 * range check within the type.
 */
export function castToParamType(value: number, type: ParamType | undefined): number {
  const f = Math.fround(value);
  if (type === undefined || type === 'REAL32') return f;
  const v = Math.fround(f + (f < 0 ? -F_0_01 : F_0_01));
  const [min, max] = INT_PARAM_RANGES[type];
  // ArduPilot clamps in float (INT32's upper bound rounds up to 2^31); clamp the integer too.
  return Math.min(max, Math.max(min, Math.trunc(Math.min(max, Math.max(min, v)))));
}

/** ArduPilot's is_equal for floats: closer than FLT_EPSILON. */
export function floatEqual(a: number, b: number): boolean {
  return Math.abs(a - b) < 1.1920928955078125e-7;
}
