import t from 'tap';
import { castParamValue } from './mapping.js';
import { MEASURED_CASTS } from './param-cast-facts.js';
import { castToParamType } from './param-cast.js';

t.test('the cast model reproduces every value ArduPilot SITL stored', async (t) => {
  for (const { type, sent, stored } of MEASURED_CASTS) t.equal(castToParamType(sent, type), stored, `${type} ${sent} → ${stored}`);
});

t.test('the agent predicts with the same model', async (t) => {
  for (const { type, sent, stored } of MEASURED_CASTS) t.equal(castParamValue(sent, type), stored, `${type} ${sent}`);
});

t.test('REAL32 and unknown types keep the float32', async (t) => {
  t.equal(castToParamType(0.2, 'REAL32'), Math.fround(0.2));
  t.equal(castToParamType(0.1, undefined), Math.fround(0.1));
  t.equal(castToParamType(-0, 'INT16'), 0);
});

t.test('the facts themselves are not a plain C cast (the table catches a truncating model)', async (t) => {
  const truncating = (v: number) => Math.trunc(Math.fround(v));
  t.ok(MEASURED_CASTS.some((c) => c.stored !== Math.max(-128, Math.min(127, truncating(c.sent))) && c.type === 'INT8'));
});
