import type { PathError } from './errors.js';

/**
 * A strict JSON reader for documents that arrive from the network.
 *
 * JSON.parse is fast but lets hostile input through in ways that matter for signed configs:
 * duplicate keys (parsers disagree on which one wins, so a signer and a verifier could see two
 * different documents), `__proto__` keys, unbounded nesting and Infinity from `1e999`. The rules here:
 * - input is UTF-8 bytes; invalid UTF-8 and a byte order mark are rejected (signatures cover bytes,
 *   so we never silently change them);
 * - a duplicate key in one object is an error, as are the keys `__proto__`, `constructor`, `prototype`;
 * - nesting deeper than `maxDepth` (default 32) is an error, found without recursion;
 * - a number that does not fit a finite float64 is an error;
 * - size is checked before anything is decoded.
 * Objects come back with a null prototype, so no key can reach Object.prototype.
 */
export interface StrictJsonOptions {
  maxBytes?: number;
  maxDepth?: number;
}

export type StrictJsonResult = { ok: true; value: unknown } | { ok: false; errors: PathError[] };

export const DEFAULT_MAX_BYTES = 64 * 1024;
export const DEFAULT_MAX_DEPTH = 32;
const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

export function parseStrictJson(input: Uint8Array | string, options: StrictJsonOptions = {}): StrictJsonResult {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  const byteLength = typeof input === 'string' ? Buffer.byteLength(input, 'utf8') : input.byteLength;
  if (byteLength > maxBytes) {
    return fail('$', `document is ${byteLength} bytes, more than the ${maxBytes}-byte limit`);
  }
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else {
    try {
      text = decoder.decode(input);
    } catch {
      return fail('$', 'not valid UTF-8');
    }
  }
  if (text.charCodeAt(0) === 0xfeff) return fail('$', 'starts with a byte order mark; save the file as UTF-8 without BOM');
  try {
    return { ok: true, value: new Reader(text, options.maxDepth ?? DEFAULT_MAX_DEPTH).document() };
  } catch (err) {
    if (err instanceof JsonSyntaxError) return fail(err.path, err.message);
    throw err;
  }
}

function fail(path: string, message: string): StrictJsonResult {
  return { ok: false, errors: [{ path, message }] };
}

class JsonSyntaxError extends Error {
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
  }
}

type Frame =
  | { kind: 'object'; value: Record<string, unknown>; key: string | undefined; path: string }
  | { kind: 'array'; value: unknown[]; path: string };

/** Formats a child path the way operators read it: `mount.pitch.minDeg`, `errors[2]`, `params["a b"]`. */
export function childPath(parent: string, key: string | number): string {
  if (typeof key === 'number') return `${parent === '$' ? '' : parent}[${key}]`;
  const plain = /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key);
  if (parent === '$') return plain ? key : `[${JSON.stringify(key)}]`;
  return plain ? `${parent}.${key}` : `${parent}[${JSON.stringify(key)}]`;
}

class Reader {
  private pos = 0;

  constructor(
    private readonly text: string,
    private readonly maxDepth: number,
  ) {}

  document(): unknown {
    this.ws();
    const stack: Frame[] = [];
    let result: unknown;
    let value: unknown;
    // Iterative descent: an explicit stack instead of recursion, so depth is bounded by maxDepth only.
    for (;;) {
      const path = stack.length === 0 ? '$' : this.pathOf(stack[stack.length - 1]!);
      const c = this.text[this.pos];
      let opened = false;
      if (c === '{' || c === '[') {
        if (stack.length >= this.maxDepth) this.error(path, `nested deeper than ${this.maxDepth} levels`);
        this.pos++;
        this.ws();
        if (c === '{') {
          const obj = Object.create(null) as Record<string, unknown>;
          if (this.text[this.pos] === '}') {
            this.pos++;
            value = obj;
          } else {
            const frame: Frame = { kind: 'object', value: obj, key: undefined, path };
            frame.key = this.key(frame);
            stack.push(frame);
            opened = true;
          }
        } else {
          const arr: unknown[] = [];
          if (this.text[this.pos] === ']') {
            this.pos++;
            value = arr;
          } else {
            stack.push({ kind: 'array', value: arr, path });
            opened = true;
          }
        }
      } else {
        value = this.scalar(path);
      }
      if (opened) {
        this.ws();
        continue;
      }
      // Attach `value` to its parent and close every container that ends here.
      for (;;) {
        const top = stack[stack.length - 1];
        if (top === undefined) {
          result = value;
          this.ws();
          if (this.pos < this.text.length) this.error('$', `unexpected ${this.describe()} after the document`);
          return result;
        }
        if (top.kind === 'object') top.value[top.key!] = value;
        else top.value.push(value);
        this.ws();
        const sep = this.text[this.pos];
        const closer = top.kind === 'object' ? '}' : ']';
        if (sep === ',') {
          this.pos++;
          this.ws();
          if (top.kind === 'object') top.key = this.key(top);
          break;
        }
        if (sep === closer) {
          this.pos++;
          stack.pop();
          value = top.value;
          continue;
        }
        this.error(top.path, `expected ',' or '${closer}' but found ${this.describe()}`);
      }
      this.ws();
    }
  }

  private pathOf(frame: Frame): string {
    return frame.kind === 'object' ? childPath(frame.path, frame.key!) : childPath(frame.path, frame.value.length);
  }

  private key(frame: Extract<Frame, { kind: 'object' }>): string {
    if (this.text[this.pos] !== '"') this.error(frame.path, `expected a quoted key but found ${this.describe()}`);
    const start = this.pos;
    const key = this.string(frame.path);
    const bad = FORBIDDEN_KEYS.has(key) ? `key "${key}" is not allowed` : Object.prototype.hasOwnProperty.call(frame.value, key) ? 'duplicate key' : undefined;
    if (bad !== undefined) {
      this.pos = start; // point at the key itself
      this.error(childPath(frame.path, key), bad);
    }
    this.ws();
    if (this.text[this.pos] !== ':') this.error(frame.path, `expected ':' after key "${key}" but found ${this.describe()}`);
    this.pos++;
    this.ws();
    return key;
  }

  private scalar(path: string): unknown {
    const c = this.text[this.pos];
    if (c === '"') return this.string(path);
    if (c === 't' && this.text.startsWith('true', this.pos)) return (this.pos += 4), true;
    if (c === 'f' && this.text.startsWith('false', this.pos)) return (this.pos += 5), false;
    if (c === 'n' && this.text.startsWith('null', this.pos)) return (this.pos += 4), null;
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number(path);
    return this.error(path, `expected a value but found ${this.describe()}`);
  }

  private number(path: string): number {
    const re = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (m === null) return this.error(path, `malformed number at ${this.where()}`);
    this.pos += m[0].length;
    const n = Number(m[0]);
    if (!Number.isFinite(n)) this.error(path, `number ${m[0].length > 24 ? m[0].slice(0, 24) + '…' : m[0]} is out of range`);
    return n;
  }

  private string(path: string): string {
    const start = ++this.pos;
    let out = '';
    let chunk = start;
    for (;;) {
      const code = this.text.charCodeAt(this.pos);
      if (Number.isNaN(code)) return this.error(path, 'unterminated string');
      if (code === 0x22) {
        out += this.text.slice(chunk, this.pos);
        this.pos++;
        return out;
      }
      if (code < 0x20) return this.error(path, `control character in string at ${this.where()}`);
      if (code === 0x5c) {
        out += this.text.slice(chunk, this.pos);
        const e = this.text[this.pos + 1];
        const simple: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };
        if (e !== undefined && e in simple) {
          out += simple[e];
          this.pos += 2;
        } else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(this.text.slice(this.pos + 2, this.pos + 6))) {
          out += String.fromCharCode(parseInt(this.text.slice(this.pos + 2, this.pos + 6), 16));
          this.pos += 6;
        } else {
          return this.error(path, `bad escape in string at ${this.where()}`);
        }
        chunk = this.pos;
        continue;
      }
      this.pos++;
    }
  }

  private ws(): void {
    for (;;) {
      const c = this.text.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else return;
    }
  }

  private where(): string {
    let line = 1;
    let col = 1;
    for (let i = 0; i < this.pos && i < this.text.length; i++) {
      if (this.text.charCodeAt(i) === 0x0a) {
        line++;
        col = 1;
      } else col++;
    }
    return `line ${line} column ${col}`;
  }

  private describe(): string {
    if (this.pos >= this.text.length) return 'the end of the input';
    return `${JSON.stringify(this.text[this.pos])} at ${this.where()}`;
  }

  /** Every syntax error names its line and column, so an operator can find it in an editor. */
  private error(path: string, message: string): never {
    const at = /line \d+ column \d+/.test(message) ? '' : ` at ${this.where()}`;
    throw new JsonSyntaxError(path, `invalid JSON: ${message}${at}`);
  }
}
