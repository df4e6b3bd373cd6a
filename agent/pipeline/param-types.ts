import { MAV_PARAM_TYPE, type ParamType } from '../../protocol/index.js';

const BY_NUMBER = new Map<number, ParamType>(Object.entries(MAV_PARAM_TYPE).map(([k, v]) => [v, k as ParamType]));

/** MAV_PARAM_TYPE number → our type name (undefined for types we do not set, e.g. 64-bit). */
export function paramTypeName(type: number | undefined): ParamType | undefined {
  return type === undefined ? undefined : BY_NUMBER.get(type);
}
