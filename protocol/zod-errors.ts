import type * as z from 'zod/mini';
import type { PathError } from './errors.js';
import { childPath } from './strict-json.js';

/** Turns zod issues into operator-readable `path: message` findings, one per unknown key. */
export function issuesToPathErrors(issues: readonly z.core.$ZodIssue[], base = '$'): PathError[] {
  const out: PathError[] = [];
  for (const issue of issues) {
    const path = issue.path.reduce<string>((p, k) => childPath(p, typeof k === 'number' ? k : String(k)), base);
    switch (issue.code) {
      case 'unrecognized_keys':
        for (const key of issue.keys) out.push({ path: childPath(path, key), message: 'unknown field' });
        break;
      case 'invalid_type':
        out.push({
          path,
          message: (issue.input === undefined ? 'is required' : `must be ${article(issue.expected)}`) + received(issue.input),
        });
        break;
      case 'too_small':
        out.push({ path, message: bound('at least', 'more than', issue.minimum, issue.inclusive, issue.origin) + received(issue.input) });
        break;
      case 'too_big':
        out.push({ path, message: bound('at most', 'less than', issue.maximum, issue.inclusive, issue.origin) + received(issue.input) });
        break;
      case 'invalid_value':
        out.push({ path, message: `must be ${issue.values.map((v) => JSON.stringify(v)).join(' or ')}` + received(issue.input) });
        break;
      case 'invalid_union': {
        // aim is the only union: an object with `roi` is meant as the ROI form, anything else as angles.
        const input = issue.input;
        const isObject = input !== null && typeof input === 'object' && !Array.isArray(input);
        const branch = isObject ? issue.errors['roi' in input ? 1 : 0] : undefined;
        if (branch !== undefined && branch.length > 0) out.push(...issuesToPathErrors(branch, path));
        else out.push({ path, message: 'must be either {pitchDeg, yawDeg[, yawFrame, gimbalId]} or {roi: {latDeg, lonDeg, altM}}' });
        break;
      }
      case 'invalid_format':
        out.push({ path, message: issue.message });
        break;
      case 'invalid_key':
        for (const sub of issue.issues) out.push({ path, message: `bad key: ${sub.message}` });
        break;
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}

function article(expected: string): string {
  const names: Record<string, string> = { int: 'an integer', number: 'a number', string: 'a string', object: 'an object', array: 'an array', boolean: 'true or false' };
  return names[expected] ?? expected;
}

function received(input: unknown): string {
  if (input === undefined) return '';
  if (input === null) return ' (got null)';
  if (Array.isArray(input)) return ' (got an array)';
  if (typeof input === 'object') return ' (got an object)';
  if (typeof input === 'number' && !Number.isFinite(input)) return ` (got ${input})`;
  const s = JSON.stringify(input) ?? String(input);
  return ` (got ${s.length > 40 ? s.slice(0, 40) + '…' : s})`;
}

function bound(incl: string, excl: string, limit: unknown, inclusive: boolean | undefined, origin: string): string {
  const what = origin === 'string' ? ' characters long' : origin === 'array' ? ' items' : '';
  const lim = typeof limit === 'bigint' ? limit.toString() : String(limit);
  return origin === 'string' || origin === 'array' ? `must be ${incl} ${lim}${what}` : `must be ${inclusive === false ? excl : incl} ${lim}`;
}
