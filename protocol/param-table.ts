/**
 * The ArduPilot mount parameters aim-config maps to, with their MAVLink types, defaults and the ranges
 * we enforce before sending (ArduPilot casts and saturates, see param-cast.ts, but never range-checks a
 * PARAM_SET, so range checking is ours). Types, defaults and read-only flags are checked against
 * ArduCopter 4.7 SITL's own list by sim/sitl-params.test.ts.
 *
 * Source of every range, type and default: ArduPilot `libraries/AP_Mount/AP_Mount_Params.cpp`
 * (@Range / @Values / AP_GROUPINFO defaults, master as of 2026) and the types measured on SITL
 * (ARDUPILOT-FACTS.md "Parameters"). Types: AP_Int8 → INT8, AP_Int16 → INT16, AP_Vector3f → REAL32.
 */
export type ParamType = 'UINT8' | 'INT8' | 'UINT16' | 'INT16' | 'UINT32' | 'INT32' | 'REAL32';

/** MAV_PARAM_TYPE values, as they travel in PARAM_SET / PARAM_VALUE. */
export const MAV_PARAM_TYPE: Record<ParamType, number> = {
  UINT8: 1,
  INT8: 2,
  UINT16: 3,
  INT16: 4,
  UINT32: 5,
  INT32: 6,
  REAL32: 9,
};

/** The value range of each integer MAV_PARAM_TYPE (ArduPilot saturates a cast value to it): the only such table in the repo. */
export const INT_PARAM_RANGES: Record<Exclude<ParamType, 'REAL32'>, readonly [number, number]> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65535],
  INT16: [-32768, 32767],
  UINT32: [0, 4294967295],
  INT32: [-2147483648, 2147483647],
};

export interface ParamSpec {
  name: string;
  type: ParamType;
  default: number;
  min?: number;
  max?: number;
  units?: string;
  /** ArduPilot's @RebootRequired: the change takes effect only after an FC reboot. */
  rebootRequired?: boolean;
  /** Writes are refused by the FC ("Param write denied"). */
  readOnly?: boolean;
}

const deg = (name: string, type: ParamType, dflt: number, min: number, max: number): ParamSpec => ({
  name,
  type,
  default: dflt,
  min,
  max,
  units: 'deg',
});

export const MOUNT_PARAMS: readonly ParamSpec[] = [
  { name: 'MNT1_TYPE', type: 'INT8', default: 0, min: 0, max: 13, rebootRequired: true },
  { name: 'MNT1_DEFLT_MODE', type: 'INT8', default: 3, min: 0, max: 6 },
  { name: 'MNT1_RC_RATE', type: 'INT16', default: 0, min: 0, max: 90, units: 'deg/s' },
  deg('MNT1_ROLL_MIN', 'INT16', -30, -180, 180),
  deg('MNT1_ROLL_MAX', 'INT16', 30, -180, 180),
  deg('MNT1_PITCH_MIN', 'INT16', -90, -90, 90),
  deg('MNT1_PITCH_MAX', 'INT16', 20, -90, 90),
  deg('MNT1_YAW_MIN', 'INT16', -180, -180, 180),
  deg('MNT1_YAW_MAX', 'INT16', 180, -180, 180),
  deg('MNT1_RETRACT_X', 'REAL32', 0, -180, 180),
  deg('MNT1_RETRACT_Y', 'REAL32', 0, -180, 180),
  deg('MNT1_RETRACT_Z', 'REAL32', 0, -180, 180),
  deg('MNT1_NEUTRAL_X', 'REAL32', 0, -180, 180),
  deg('MNT1_NEUTRAL_Y', 'REAL32', 0, -180, 180),
  deg('MNT1_NEUTRAL_Z', 'REAL32', 0, -180, 180),
  { name: 'MNT1_LEAD_RLL', type: 'REAL32', default: 0, min: 0, max: 0.2, units: 's' },
  { name: 'MNT1_LEAD_PTCH', type: 'REAL32', default: 0, min: 0, max: 0.2, units: 's' },
  { name: 'MNT1_SYSID_DFLT', type: 'INT8', default: 0, min: 0, max: 127, rebootRequired: true },
  { name: 'MNT1_DEVID', type: 'INT32', default: 0, readOnly: true },
  { name: 'MNT1_OPTIONS', type: 'INT8', default: 0, min: 0, max: 3 },
];

const byName = new Map(MOUNT_PARAMS.map((p) => [p.name, p]));

/** The spec for a known parameter, or undefined for a parameter we carry without knowing its type. */
export function paramSpec(name: string): ParamSpec | undefined {
  return byName.get(name);
}

/** MNT1_DEFLT_MODE values (ArduPilot @Values; MAV_MOUNT_MODE). */
export const MOUNT_MODES = {
  retracted: 0,
  neutral: 1,
  'mavlink-targeting': 2,
  'rc-targeting': 3,
  'gps-point': 4,
  'sysid-target': 5,
  'home-location': 6,
} as const;
export type MountModeName = keyof typeof MOUNT_MODES;

/** Whether a change to `name` only takes effect after a reboot (`*_TYPE` enables and @RebootRequired). */
export function needsReboot(name: string): boolean {
  return byName.get(name)?.rebootRequired === true || /_TYPE$/.test(name);
}
