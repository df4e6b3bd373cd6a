import t from 'tap';
import { parseStrictJson } from './strict-json.js';
import { parseAimConfig } from './validate.js';

const firstError = (input: Uint8Array | string, opts = {}) => {
  const r = parseStrictJson(input, opts);
  return r.ok ? undefined : r.errors[0];
};

t.test('parses ordinary JSON like JSON.parse', async (t) => {
  for (const s of ['{}', '[]', '0', '-1.5e3', '"a\\u00e9\\n"', '{"a":[1,{"b":null}],"c":true,"d":false}', ' \n{ "x" : 1 } \t']) {
    const r = parseStrictJson(s);
    t.ok(r.ok, s);
    if (r.ok) t.same(JSON.stringify(r.value), JSON.stringify(JSON.parse(s)), s);
  }
});

t.test('objects have no prototype, and prototype keys are rejected', async (t) => {
  const r = parseStrictJson('{"a":{"b":1}}');
  t.ok(r.ok);
  if (r.ok) t.equal(Object.getPrototypeOf((r.value as Record<string, unknown>).a), null);
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const e = firstError(`{"mount":{"${key}":{"polluted":true}}}`);
    t.equal(e?.path, `mount.${key}`, key);
    t.match(e?.message, /not allowed/);
  }
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched');
});

t.test('duplicate keys are rejected at the duplicate', async (t) => {
  const e = firstError('{"version":1,"mount":{"pitch":{"minDeg":1,"minDeg":2}}}');
  t.same(e, { path: 'mount.pitch.minDeg', message: 'invalid JSON: duplicate key at line 1 column 43' });
});

t.test('deep nesting is rejected without recursion, in bounded time', async (t) => {
  for (const depth of [33, 100_000]) {
    const s = '['.repeat(depth) + ']'.repeat(depth);
    const t0 = performance.now();
    const e = firstError(s, { maxBytes: 10_000_000 });
    t.match(e?.message, /nested deeper than 32/);
    t.ok(performance.now() - t0 < 500, `depth ${depth} answered quickly`);
  }
  const obj = '{"a":'.repeat(100_000) + '1' + '}'.repeat(100_000);
  t.match(firstError(obj, { maxBytes: 10_000_000 })?.message, /nested deeper/);
  t.ok(parseStrictJson('['.repeat(32) + ']'.repeat(32)).ok, '32 levels are fine');
});

t.test('size is checked before decoding', async (t) => {
  const big = Buffer.alloc(10 * 1024 * 1024, 0x20);
  const t0 = performance.now();
  t.match(firstError(big)?.message, /10485760 bytes, more than the 65536-byte limit/);
  t.ok(performance.now() - t0 < 100);
});

t.test('bytes: invalid UTF-8 and BOM are rejected, UTF-8 text is fine', async (t) => {
  t.same(firstError(Buffer.from([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), { path: '$', message: 'not valid UTF-8' });
  t.match(firstError(Buffer.from('\ufeff{}', 'utf8'))?.message, /byte order mark/);
  t.ok(parseStrictJson(Buffer.from('{"id":"äöü→"}', 'utf8')).ok);
});

t.test('numbers: Infinity from 1e999 and malformed numbers', async (t) => {
  t.match(firstError('{"params":{"X":1e999}}'), { path: 'params.X', message: /out of range/ });
  t.match(firstError('{"a":-1e999}'), { path: 'a' });
  for (const bad of ['01', '1.', '.5', '+1', '0x10', 'NaN', 'Infinity', '-']) t.notOk(parseStrictJson(`{"a":${bad}}`).ok, bad);
});

t.test('syntax errors name where they are', async (t) => {
  t.match(firstError('{"mount":{"pitch":{"minDeg":1 "maxDeg":2}}}'), { path: 'mount.pitch', message: /expected ',' or '}'.*line 1 column/ });
  t.match(firstError('{"a":1}x'), { path: '$', message: /after the document/ });
  t.match(firstError('{"a":"unterminated'), { message: /unterminated string/ });
  t.match(firstError('{"a":"tab\there"}'), { message: /control character/ });
  t.match(firstError('{"a":"\\x"}'), { message: /bad escape/ });
  t.match(firstError('{a:1}'), { message: /quoted key/ });
  t.match(firstError(''), { message: /expected a value.*end of the input/ });
  t.match(firstError('[1,]'), { path: '[1]', message: /expected a value/ });
  // Failed on main: these named no place at all.
  t.match(firstError('{\n  "a": 1,\n  "a": 2\n}'), { path: 'a', message: /duplicate key at line 3 column \d+$/ });
  t.match(firstError('{\n  "a": "unterminated'), { message: /unterminated string at line 2 column \d+$/ });
  t.match(firstError('{"a":\n'), { message: /expected a value but found the end of the input at line 2 column 1$/ });
  t.match(firstError('{"x": {"__proto__": 1}}'), { message: /not allowed at line 1 column \d+$/ });
  t.match(firstError('[[[1]]]', { maxDepth: 2 }), { message: /nested deeper than 2 levels at line 1 column \d+$/ });
  t.match(firstError('{"a":1e999}'), { message: /out of range at line 1 column \d+$/ });
});

t.test('hostile documents end as validation errors, never as exceptions', async (t) => {
  const hostile = [
    '{"__proto__":{"admin":true},"kind":"aim-config"}',
    '[' .repeat(100_000),
    '{"kind":"aim-config","schemaVersion":1,"version":1,"id":"x","issuedAt":"2026-11-26T13:00:00Z","params":{"constructor":1}}',
    '"just a string"',
    'null',
  ];
  for (const h of hostile) {
    const r = parseAimConfig(h, { maxBytes: 1_000_000 });
    t.notOk(r.ok, h.slice(0, 40));
  }
});
