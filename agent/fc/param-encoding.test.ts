import t from 'tap';
import { MEASURED_CASTS } from '../../protocol/param-cast-facts.js';
import { chooseEncoding, expectedValue, paramTypeError, readParamValue, sameParamValue, writeParamValue } from './param-encoding.js';

t.test('encoding choice follows ARDUPILOT-FACTS: ArduPilot is C-cast although it sets neither bit', async (t) => {
  t.equal(chooseEncoding(3, 0xfbefn), 'c-cast', 'ArduPilot 4.7 capabilities');
  t.equal(chooseEncoding(3, undefined), 'c-cast');
  t.equal(chooseEncoding(12, 1n << 4n), 'bytewise', 'BYTEWISE bit');
  t.equal(chooseEncoding(12, undefined), 'bytewise', 'PX4 without capabilities');
  t.equal(chooseEncoding(0, 1n << 17n), 'c-cast', 'C_CAST bit');
  t.equal(chooseEncoding(0, 0n), 'c-cast');
});

t.test('C-cast: the values ArduPilot SITL stored (protocol/param-cast-facts.ts), saturation, float32', async (t) => {
  for (const c of MEASURED_CASTS) t.equal(expectedValue(c.sent, c.type), c.stored, `${c.type} ${c.sent} → ${c.stored}`);
  t.equal(expectedValue(2.7, 'INT8'), 2);
  t.equal(expectedValue(-2.7, 'INT8'), -2);
  t.equal(expectedValue(16777217, 'INT32'), 16777216);
  t.equal(expectedValue(0.1, 'REAL32'), Math.fround(0.1));
  t.equal(paramTypeError(127, 'INT8'), undefined);
  t.match(paramTypeError(128, 'INT8'), /INT8 range -128..127/);
  t.match(paramTypeError(40000, 'INT16'), /INT16/);
  t.match(paramTypeError(-1, 'UINT8'), /UINT8/);
  t.match(paramTypeError(Number.NaN, 'REAL32'), /finite/);
  t.match(paramTypeError(Number.POSITIVE_INFINITY, 'INT16'), /finite/);
  t.match(paramTypeError(1e39, 'REAL32'), /float32/);
  t.match(paramTypeError(2147483647, 'INT32'), /INT32/, 'C-cast: 2^31−1 rounds up to 2^31 as a float');
  t.equal(paramTypeError(2147483647, 'INT32', 'bytewise'), undefined, 'bytewise carries it exactly');
  t.ok(sameParamValue(0.1, Math.fround(0.1)));
  t.notOk(sameParamValue(0.1, 0.2));
});

t.test('bytewise: integers ride bit-exact in the float field', async (t) => {
  const field = Buffer.alloc(4);
  for (const [type, mav, v] of [
    ['INT8', 2, -5],
    ['UINT8', 1, 250],
    ['INT16', 4, -30000],
    ['UINT16', 3, 65000],
    ['INT32', 6, 123456789],
    ['UINT32', 5, 4000000000],
    ['INT32', 6, 0x7fc00001], // a NaN bit pattern as a float
  ] as const) {
    writeParamValue(field, v, type, 'bytewise');
    t.equal(readParamValue(field, mav, 'bytewise'), v, `${type} ${v}`);
  }
  writeParamValue(field, 1.5, 'REAL32', 'bytewise');
  t.equal(readParamValue(field, 9, 'bytewise'), 1.5, 'REAL32 is a float either way');
  writeParamValue(field, -90, 'INT16', 'c-cast');
  t.equal(field.readFloatLE(0), -90);
  t.equal(readParamValue(field, 4, 'c-cast'), -90);
});
