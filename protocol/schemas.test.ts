import t from 'tap';
import { readFileSync } from 'node:fs';
import { jsonSchemas } from './schemas.js';

t.test('committed JSON Schema files match the zod source (run `npm run gen:schemas` to update)', async (t) => {
  const files = jsonSchemas();
  t.same(Object.keys(files).sort(), ['ack.json', 'aim-config.json', 'reported.json', 'status.json']);
  for (const [name, text] of Object.entries(files)) {
    const committed = readFileSync(new URL(`./schemas/${name}`, import.meta.url), 'utf8');
    t.equal(committed, text, `${name} is up to date`);
  }
});

t.test('the aim-config schema forbids unknown fields and names every top-level field', async (t) => {
  const schema = JSON.parse(jsonSchemas()['aim-config.json']!) as { additionalProperties: boolean; properties: Record<string, unknown>; required: string[] };
  t.equal(schema.additionalProperties, false);
  t.same(Object.keys(schema.properties).sort(), ['aim', 'apply', 'expiresAt', 'id', 'issuedAt', 'kind', 'mount', 'params', 'schemaVersion', 'targets', 'version']);
  t.same(schema.required.sort(), ['id', 'issuedAt', 'kind', 'schemaVersion', 'version']);
});
