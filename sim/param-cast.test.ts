import t from 'tap';
import { castToParamType } from './param-cast.js';

t.test('C-cast with ArduPilot set_float rounding and saturation', async (t) => {
  const cases: [number, Parameters<typeof castToParamType>[1], number][] = [
    [2.7, 'INT8', 2],
    [2.995, 'INT8', 3],
    [-2.7, 'INT8', -2],
    [300, 'INT8', 127],
    [-300, 'INT8', -128],
    [40000, 'INT16', 32767],
    [-500, 'INT16', -500],
    [16777217, 'INT32', 16777216],
    [3e9, 'INT32', 2147483647],
    [-3e9, 'INT32', -2147483648],
    [0.2, 'REAL32', Math.fround(0.2)],
    [-0, 'INT16', 0],
  ];
  for (const [value, type, want] of cases) t.equal(castToParamType(value, type), want, `${type} ${value} → ${want}`);
});
