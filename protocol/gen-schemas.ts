import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { jsonSchemas } from './schemas.js';

// Regenerate protocol/schemas/*.json from the zod schemas: `npm run gen:schemas`.
const dir = fileURLToPath(new URL('./schemas/', import.meta.url));
for (const [file, text] of Object.entries(jsonSchemas())) writeFileSync(dir + file, text);
process.stdout.write(`wrote ${Object.keys(jsonSchemas()).length} schemas to ${dir}\n`);
