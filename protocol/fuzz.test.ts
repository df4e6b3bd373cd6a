import t from 'tap';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { parseAimConfig, validateAimConfig } from './validate.js';

// Property: whatever a mutation does to a valid document, validation answers (valid, or a list of
// path errors) without throwing, in bounded time.
const seeds = ['full.json', 'minimal.json', 'roi-disarmed.json', 'dry-run.json'].map(
  (f) => JSON.parse(readFileSync(new URL(`./examples/${f}`, import.meta.url), 'utf8')) as unknown,
);

const weird = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, 1e308, -1e308, NaN, Infinity, -Infinity, 2 ** 53, '', '__proto__', [], {}, 'a'.repeat(300)),
  fc.double(),
  fc.integer(),
  fc.string(),
  fc.jsonValue({ maxDepth: 3 }),
);

type Json = unknown;
function paths(v: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out: (string | number)[][] = [prefix];
  if (Array.isArray(v)) v.forEach((x, i) => out.push(...paths(x, [...prefix, i])));
  else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) out.push(...paths(x, [...prefix, k]));
  return out;
}

function mutate(doc: Json, at: (string | number)[], op: number, value: unknown, key: string): Json {
  const copy = structuredClone(doc) as Record<string | number, unknown>;
  if (at.length === 0) return op === 0 ? value : copy;
  let parent: Record<string | number, unknown> = copy;
  for (const k of at.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>;
  const last = at[at.length - 1]!;
  if (op === 0) parent[last] = value;
  else if (op === 1) delete parent[last];
  else if (op === 2 && typeof parent === 'object') parent[key] = value;
  else parent[last] = [parent[last], value];
  return copy;
}

t.test('5,000 random mutations of valid documents never throw and answer in bounded time', async (t) => {
  let valid = 0;
  let invalid = 0;
  let slowest = 0;
  fc.assert(
    fc.property(fc.nat(seeds.length - 1), fc.nat(10_000), fc.nat(3), weird, fc.string({ maxLength: 20 }), (s, p, op, value, key) => {
      const seed = seeds[s];
      const all = paths(seed);
      const doc = mutate(seed, all[p % all.length]!, op, value, key);
      const t0 = performance.now();
      const r = validateAimConfig(doc);
      const text = JSON.stringify(doc) ?? 'null';
      const r2 = parseAimConfig(text);
      slowest = Math.max(slowest, performance.now() - t0);
      for (const x of [r, r2]) {
        if (x.ok) valid++;
        else {
          invalid++;
          if (x.errors.length === 0 || !x.errors.every((e) => typeof e.path === 'string' && e.message.length > 0)) return false;
        }
      }
      return true;
    }),
    { numRuns: 5000, seed: 20261126 },
  );
  t.ok(invalid > 1000, `most mutations are caught (${invalid} invalid, ${valid} valid)`);
  t.ok(slowest < 250, `slowest validation ${slowest.toFixed(1)} ms`);
});

t.test('random bytes and random text never throw', async (t) => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 300 }), fc.string({ maxLength: 300 }), (bytes, text) => {
      const a = parseAimConfig(bytes);
      const b = parseAimConfig(text);
      return !a.ok && !b.ok;
    }),
    { numRuns: 2000, seed: 7 },
  );
  t.pass('no exception');
});
