import { MOUNT_PARAMS, type ParamType } from '../protocol/param-table.js';

/** One parameter the simulated FC carries. */
export interface SimParamDef {
  name: string;
  type: ParamType;
  default: number;
  /** Writes are refused: ArduPilot's AP_PARAM_FLAG_INTERNAL_USE_ONLY (MNT1_DEVID). */
  readOnly?: boolean;
  /** Element of an AP_Vector3f (`MNT1_NEUTRAL_X` is element 0 of `MNT1_NEUTRAL`). */
  vector?: { base: string; axis: 0 | 1 | 2 };
  /** Hidden from PARAM_REQUEST_LIST (and by-index reads) while this enable parameter is 0. */
  enabledBy?: string;
  /**
   * AP_Param::find compares the top-level group name case-sensitively and the member name
   * case-insensitively; this is the case-sensitive head. Absent: the whole name must match exactly.
   */
  groupPrefix?: string;
}

const mount = (instance: 1 | 2): SimParamDef[] =>
  instance === 2
    ? [{ name: 'MNT2_TYPE', type: 'INT8', default: 0, groupPrefix: 'MNT' }]
    : MOUNT_PARAMS.map((p): SimParamDef => {
        const def: SimParamDef = { name: p.name, type: p.type, default: p.default, groupPrefix: 'MNT' };
        if (p.readOnly) def.readOnly = true;
        if (p.name !== 'MNT1_TYPE') def.enabledBy = 'MNT1_TYPE';
        const v = /^(MNT1_(?:NEUTRAL|RETRACT))_([XYZ])$/.exec(p.name);
        if (v !== null) def.vector = { base: v[1]!, axis: v[2] === 'X' ? 0 : v[2] === 'Y' ? 1 : 2 };
        return def;
      });

const serial = (n: number, protocol: number, baud: number): SimParamDef[] => [
  { name: `SERIAL${n}_PROTOCOL`, type: 'INT8', default: protocol, groupPrefix: 'SERIAL' },
  { name: `SERIAL${n}_BAUD`, type: 'INT32', default: baud, groupPrefix: 'SERIAL' },
  { name: `SERIAL${n}_OPTIONS`, type: 'INT16', default: 0, groupPrefix: 'SERIAL' },
];

const p = (name: string, type: ParamType, dflt: number): SimParamDef => ({ name, type, default: dflt });

/**
 * The simulated FC's parameters in list order. The `MNT1_*` entries come from protocol/param-table.ts
 * (ArduPilot's AP_Mount_Params.cpp names, types and defaults). The rest are ordinary ArduCopter 4.7
 * parameters so that lists, counts and indexes look like a real vehicle's; their types and defaults are
 * plausible, not authoritative. The sim itself uses MAV_SYSID (system id at boot) and MNT1_* only.
 */
export const SIM_PARAM_DEFS: readonly SimParamDef[] = [
  p('FORMAT_VERSION', 'INT16', 120),
  p('MAV_SYSID', 'INT16', 1),
  p('MAV_GCS_SYSID', 'INT16', 255),
  p('PILOT_THR_FILT', 'REAL32', 0),
  p('PILOT_TKOFF_ALT', 'REAL32', 0),
  p('PILOT_THR_BHV', 'INT16', 0),
  p('TELEM_DELAY', 'INT8', 0),
  p('GCS_PID_MASK', 'INT16', 0),
  p('RTL_ALT', 'INT16', 1500),
  p('FS_GCS_ENABLE', 'INT8', 0),
  p('GPS_HDOP_GOOD', 'INT16', 140),
  p('SUPER_SIMPLE', 'INT8', 0),
  p('WP_YAW_BEHAVIOR', 'INT8', 2),
  p('LAND_SPEED', 'INT16', 50),
  p('PILOT_SPEED_UP', 'INT16', 250),
  p('PILOT_ACCEL_Z', 'INT16', 250),
  p('FS_THR_ENABLE', 'INT8', 1),
  p('FS_THR_VALUE', 'INT16', 975),
  p('THR_DZ', 'INT16', 100),
  p('FLTMODE_CH', 'INT8', 5),
  p('FLTMODE1', 'INT8', 0),
  p('FLTMODE2', 'INT8', 0),
  p('FLTMODE3', 'INT8', 0),
  p('INITIAL_MODE', 'INT8', 0),
  p('LOG_BITMASK', 'INT32', 176126),
  p('ESC_CALIBRATION', 'INT8', 0),
  p('DISARM_DELAY', 'INT8', 10),
  p('ANGLE_MAX', 'INT16', 3000),
  p('FRAME_CLASS', 'INT8', 1),
  p('FRAME_TYPE', 'INT8', 1),
  p('ARMING_CHECK', 'INT32', 1),
  p('BRD_SAFETY_DEFLT', 'INT8', 0),
  ...serial(0, 2, 115),
  ...serial(1, 2, 57),
  ...serial(2, 2, 57),
  ...mount(1),
  ...mount(2),
  p('RC8_OPTION', 'INT16', 0),
  p('SCHED_LOOP_RATE', 'INT16', 400),
];

/** fc-sim's own defaults on top of ArduPilot's: a servo mount, so `MNT1_*` are listed from the start. */
export const SIM_DEFAULT_OVERRIDES: Readonly<Record<string, number>> = { MNT1_TYPE: 1 };
