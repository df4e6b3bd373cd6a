/**
 * What ArduPilot stored for a PARAM_SET whose float was sent as-is (not pre-rounded), read back from
 * the echo. Measured on ../shared/sitl (ArduCopter V4.7.0-dev, SITL, TCP) with raw frames:
 * MNT1_DEFLT_MODE (INT8), MNT1_PITCH_MIN (INT16), RTL_ALT (INT32). These are data, not computed: the
 * cast model (param-cast.ts) is tested against them, and hw-tests send the same floats to every target
 * (SITL included) and expect the same answers.
 *
 * Not listed because it is not a value: an INT32 PARAM_SET whose float32 is ≥ 2^31 (3e9, or
 * 2147483647, whose float32 is 2^31) kills SITL with "Floating point exception" (SITL traps FE_INVALID
 * on the float → int conversion after the float clamp). A real board saturates instead. Never send one:
 * the agent's range check refuses it before the wire.
 */
export const MEASURED_CASTS: readonly { type: 'INT8' | 'INT16' | 'INT32'; sent: number; stored: number }[] = [
  { type: 'INT8', sent: 2.7, stored: 2 },
  { type: 'INT8', sent: 2.989, stored: 2 },
  { type: 'INT8', sent: 2.991, stored: 3 },
  { type: 'INT8', sent: 2.995, stored: 3 },
  { type: 'INT8', sent: -2.7, stored: -2 },
  { type: 'INT8', sent: -2.989, stored: -2 },
  { type: 'INT8', sent: -2.991, stored: -3 },
  { type: 'INT8', sent: -2.995, stored: -3 },
  { type: 'INT8', sent: 0.99, stored: 1 },
  { type: 'INT8', sent: 0.9899, stored: 0 },
  { type: 'INT8', sent: 0.995, stored: 1 },
  { type: 'INT8', sent: -0.995, stored: -1 },
  { type: 'INT8', sent: -0.5, stored: 0 },
  { type: 'INT8', sent: -0.009, stored: 0 },
  { type: 'INT8', sent: -0.011, stored: 0 },
  { type: 'INT8', sent: 300, stored: 127 },
  { type: 'INT8', sent: -300, stored: -128 },
  { type: 'INT8', sent: 127.5, stored: 127 },
  { type: 'INT8', sent: -128.9, stored: -128 },
  { type: 'INT16', sent: 40000, stored: 32767 },
  { type: 'INT16', sent: -40000, stored: -32768 },
  { type: 'INT16', sent: -10.995, stored: -11 },
  { type: 'INT16', sent: -10.989, stored: -10 },
  { type: 'INT32', sent: 16777217, stored: 16777216 },
  { type: 'INT32', sent: 2.995, stored: 3 },
  { type: 'INT32', sent: 1500.991, stored: 1501 },
  { type: 'INT32', sent: -1500.991, stored: -1501 },
  { type: 'INT32', sent: -1500.989, stored: -1500 },
  { type: 'INT32', sent: 2147483520, stored: 2147483520 },
  { type: 'INT32', sent: -3e9, stored: -2147483648 },
];

/** The parameter each type was measured on (all exist on ArduCopter 4.7 with the servo mount). */
export const CAST_PROBE_PARAMS: Readonly<Record<'INT8' | 'INT16' | 'INT32', string>> = {
  INT8: 'MNT1_DEFLT_MODE',
  INT16: 'MNT1_PITCH_MIN',
  INT32: 'RTL_ALT',
};
