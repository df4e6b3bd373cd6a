import { castParamValue } from '../../protocol/mapping.js';
import { INT_PARAM_RANGES, MAV_PARAM_TYPE, type ParamType } from '../../protocol/param-table.js';
import { CAP_PARAM_ENCODE_BYTEWISE, CAP_PARAM_ENCODE_C_CAST, MavAutopilot } from './messages.js';

/**
 * How an integer parameter travels in PARAM_SET/PARAM_VALUE's float field: `c-cast` sends the number
 * as a float (ArduPilot), `bytewise` puts the integer's bytes into the float's four bytes (PX4).
 */
export type ParamEncoding = 'c-cast' | 'bytewise';

/**
 * Pick the encoding: bytewise when the BYTEWISE capability bit is set, C-cast when the C_CAST bit is set
 * or the autopilot is ArduPilot (current ArduPilot sets neither bit, see ARDUPILOT-FACTS.md), bytewise for
 * PX4 without capabilities, C-cast otherwise.
 */
export function chooseEncoding(autopilot: number, capabilities: bigint | undefined): ParamEncoding {
  if (capabilities !== undefined && (capabilities & CAP_PARAM_ENCODE_BYTEWISE) !== 0n) return 'bytewise';
  if (capabilities !== undefined && (capabilities & CAP_PARAM_ENCODE_C_CAST) !== 0n) return 'c-cast';
  if (autopilot === MavAutopilot.ARDUPILOTMEGA) return 'c-cast';
  if (autopilot === MavAutopilot.PX4) return 'bytewise';
  return 'c-cast';
}

const BY_MAV_TYPE = new Map<number, ParamType>(Object.entries(MAV_PARAM_TYPE).map(([k, v]) => [v, k as ParamType]));

/** MAV_PARAM_TYPE number → our name; undefined for 64-bit and unknown types (handled as REAL32). */
export function paramTypeFromMav(mavType: number): ParamType | undefined {
  return BY_MAV_TYPE.get(mavType);
}

export function mavParamType(type: ParamType | undefined): number {
  return MAV_PARAM_TYPE[type ?? 'REAL32'];
}

/**
 * Why `value` cannot be sent as `type`, or undefined when it can. ArduPilot saturates integers and
 * silently ignores NaN, so both checks are ours to make before anything goes on the wire. Under C-cast
 * the integer is what the float32 we send truncates to; bytewise carries it exactly.
 */
export function paramTypeError(value: number, type: ParamType | undefined, encoding: ParamEncoding = 'c-cast'): string | undefined {
  if (!Number.isFinite(value)) return `${value} is not a finite number`;
  if (type === undefined || type === 'REAL32') {
    return Number.isFinite(Math.fround(value)) ? undefined : `${value} does not fit a float32`;
  }
  const [lo, hi] = INT_PARAM_RANGES[type];
  const v = encoding === 'bytewise' ? Math.trunc(value) : Math.trunc(Math.fround(value));
  return v < lo || v > hi ? `${value} is outside ${type} range ${lo}..${hi}` : undefined;
}

/** The value the FC will hold after storing `value` as `type` (C-cast: see protocol castParamValue). */
export function expectedValue(value: number, type: ParamType | undefined, encoding: ParamEncoding = 'c-cast'): number {
  if (encoding === 'bytewise' && type !== undefined && type !== 'REAL32') {
    const [lo, hi] = INT_PARAM_RANGES[type];
    return Math.min(hi, Math.max(lo, Math.trunc(value)));
  }
  return castParamValue(value, type);
}

/**
 * Whether an echoed value equals the wanted one: after float32 rounding (the only precision a C-cast
 * float carries), exactly for bytewise integers.
 */
export function sameParamValue(got: number, want: number, exact = false): boolean {
  return exact ? got === want : Math.fround(got) === Math.fround(want);
}

/** Write `value` into the 4-byte param_value field. */
export function writeParamValue(field: Buffer, value: number, type: ParamType | undefined, encoding: ParamEncoding): void {
  if (encoding === 'c-cast' || type === undefined || type === 'REAL32') {
    field.writeFloatLE(type === undefined || type === 'REAL32' ? value : castParamValue(value, type), 0);
    return;
  }
  field.fill(0, 0, 4);
  const v = expectedValue(value, type, 'bytewise');
  switch (type) {
    case 'UINT8':
      field.writeUInt8(v, 0);
      break;
    case 'INT8':
      field.writeInt8(v, 0);
      break;
    case 'UINT16':
      field.writeUInt16LE(v, 0);
      break;
    case 'INT16':
      field.writeInt16LE(v, 0);
      break;
    case 'UINT32':
      field.writeUInt32LE(v, 0);
      break;
    case 'INT32':
      field.writeInt32LE(v, 0);
      break;
  }
}

/** Read the 4-byte param_value field of a PARAM_VALUE with the given MAV_PARAM_TYPE. */
export function readParamValue(field: Buffer, mavType: number, encoding: ParamEncoding): number {
  const type = paramTypeFromMav(mavType);
  if (encoding === 'c-cast' || type === undefined || type === 'REAL32') return field.readFloatLE(0);
  switch (type) {
    case 'UINT8':
      return field.readUInt8(0);
    case 'INT8':
      return field.readInt8(0);
    case 'UINT16':
      return field.readUInt16LE(0);
    case 'INT16':
      return field.readInt16LE(0);
    case 'UINT32':
      return field.readUInt32LE(0);
    case 'INT32':
      return field.readInt32LE(0);
  }
}
