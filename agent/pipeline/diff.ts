import { castParamValue, float32Display, type FcParam, type ParamResult, type ParamType } from '../../protocol/index.js';
import { paramTypeName } from './param-types.js';

/** want vs what the FC holds, after the parameter's own type rounding. */
export function diffEntry(p: FcParam, current: { value: number; type: number } | undefined): ParamResult {
  if (current === undefined) return { name: p.name, want: p.value, got: null, result: 'unknown' };
  const type: ParamType | undefined = p.type ?? paramTypeName(current.type);
  const want = castParamValue(p.value, type);
  const same = Math.fround(current.value) === Math.fround(want);
  return { name: p.name, want: float32Display(want), got: float32Display(current.value), result: same ? 'unchanged' : 'change' };
}

