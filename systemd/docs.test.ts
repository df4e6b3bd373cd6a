import t from 'tap';
import { readFileSync } from 'node:fs';
import * as z from 'zod/mini';
import { ERROR_CODES } from '../protocol/errors.js';
import { SettingsSchema } from '../agent/settings.js';

// docs/field-guide.md is what a technician reads on the drone; these keep its tables honest.
const guide = readFileSync(new URL('../docs/field-guide.md', import.meta.url), 'utf8');

/** The body of the `## ...` section whose title contains `title`. */
function section(title: string): string {
  const parts = guide.split(/^## /m);
  const body = parts.find((p) => p.split('\n', 1)[0]!.includes(title));
  if (body === undefined) throw new Error(`docs/field-guide.md has no section "${title}"`);
  return body;
}

/** First two cells of each table row whose first cell is `code`. */
function rows(text: string): [string, string][] {
  return [...text.matchAll(/^\|\s*`([^`]+)`\s*\|\s*([^|]*?)\s*\|/gm)].map((m) => [m[1]!, m[2]!]);
}

interface JsonSchema {
  type?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
}

/** Every leaf setting with what its default cell must say: `json`, `required` or `unset`. */
function settingLeaves(): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (s: JsonSchema, path: string, required: boolean) => {
    if (s.type === 'object' && s.properties) {
      for (const [k, v] of Object.entries(s.properties)) walk(v, path ? `${path}.${k}` : k, (s.required ?? []).includes(k));
    } else out.set(path, s.default !== undefined ? `\`${JSON.stringify(s.default)}\`` : required ? 'required' : 'unset');
  };
  walk(z.toJSONSchema(SettingsSchema, { io: 'input' }) as JsonSchema, '', true);
  return out;
}

t.test('the settings reference lists every setting of agent/settings.ts with its real default', async (t) => {
  const documented = new Map(rows(section('Settings reference')));
  const leaves = settingLeaves();
  t.same([...documented.keys()].sort(), [...leaves.keys()].sort(), 'same settings');
  for (const [path, want] of leaves) t.equal(documented.get(path), want, `${path} default`);
});

t.test('the error-code table has a row for every code in protocol/errors.ts', async (t) => {
  const documented = rows(section('Error codes')).map(([code]) => code);
  t.same([...documented].sort(), Object.keys(ERROR_CODES).sort());
  t.equal(new Set(documented).size, documented.length, 'no code twice');
});
