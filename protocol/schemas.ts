import * as z from 'zod/mini';
import { AimConfigSchema } from './aim-config.js';
import { AckSchema, ReportedSchema, StatusSchema } from './messages.js';

/** JSON Schema documents generated from the zod schemas; gen-schemas.ts writes them to protocol/schemas/. */
export function jsonSchemas(): Record<string, string> {
  const out: Record<string, string> = {};
  const all = { 'aim-config': AimConfigSchema, ack: AckSchema, reported: ReportedSchema, status: StatusSchema };
  for (const [name, schema] of Object.entries(all)) {
    const doc = { $id: `https://aim-agent.dev/schemas/${name}.json`, ...z.toJSONSchema(schema, { target: 'draft-2020-12' }) };
    out[`${name}.json`] = JSON.stringify(doc, null, 2) + '\n';
  }
  return out;
}
