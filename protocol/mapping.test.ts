import t from 'tap';
import { readFileSync } from 'node:fs';
import { castParamValue, configToAimCommand, configToFcParams } from './mapping.js';
import { parseAimConfig } from './validate.js';

const load = (f: string) => {
  const r = parseAimConfig(readFileSync(new URL(`./examples/${f}`, import.meta.url)));
  if (!r.ok) throw new Error(JSON.stringify(r.errors));
  return r.config;
};

t.test('the full example maps to the expected ArduPilot parameter list, in order', async (t) => {
  t.same(configToFcParams(load('full.json')), [
    { name: 'MNT1_DEFLT_MODE', value: 2, type: 'INT8' },
    { name: 'MNT1_RC_RATE', value: 60, type: 'INT16' },
    { name: 'MNT1_ROLL_MIN', value: -30, type: 'INT16' },
    { name: 'MNT1_ROLL_MAX', value: 30, type: 'INT16' },
    { name: 'MNT1_PITCH_MIN', value: -90, type: 'INT16' },
    { name: 'MNT1_PITCH_MAX', value: 20, type: 'INT16' },
    { name: 'MNT1_YAW_MIN', value: -180, type: 'INT16' },
    { name: 'MNT1_YAW_MAX', value: 180, type: 'INT16' },
    { name: 'MNT1_RETRACT_X', value: 0, type: 'REAL32' },
    { name: 'MNT1_RETRACT_Y', value: -90, type: 'REAL32' },
    { name: 'MNT1_RETRACT_Z', value: 0, type: 'REAL32' },
    { name: 'MNT1_NEUTRAL_X', value: 0, type: 'REAL32' },
    { name: 'MNT1_NEUTRAL_Y', value: 0, type: 'REAL32' },
    { name: 'MNT1_NEUTRAL_Z', value: 0, type: 'REAL32' },
    { name: 'MNT1_LEAD_PTCH', value: 0.2, type: 'REAL32' },
    { name: 'MNT1_LEAD_RLL', value: 0.05, type: 'REAL32' },
  ]);
  t.same(configToAimCommand(load('full.json')), { kind: 'pitchyaw', pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 });
});

t.test('ROI aim and configs without aim', async (t) => {
  t.same(configToAimCommand(load('roi-disarmed.json')), { kind: 'roi', latDeg: 47.3977, lonDeg: 8.5456, altM: 450 });
  t.equal(configToAimCommand(load('minimal.json')), undefined);
  t.same(configToFcParams(load('minimal.json')), []);
  t.same(configToFcParams(load('roi-disarmed.json')).map((p) => p.name), ['MNT1_DEFLT_MODE', 'MNT1_PITCH_MIN', 'MNT1_PITCH_MAX']);
});

t.test('castParamValue follows ArduPilot\'s C-cast (ARDUPILOT-FACTS.md)', async (t) => {
  t.equal(castParamValue(2.7, 'INT8'), 2);
  t.equal(castParamValue(-2.7, 'INT8'), -2);
  t.equal(castParamValue(16777217, 'INT32'), 16777216, 'float32 cannot carry 2^24+1');
  t.equal(castParamValue(40000, 'INT16'), 32767);
  t.equal(castParamValue(300, 'INT8'), 127);
  t.equal(castParamValue(-500, 'INT16'), -500, 'no range check inside the type');
  t.equal(castParamValue(0.2, 'REAL32'), Math.fround(0.2));
  t.equal(castParamValue(0.1, undefined), Math.fround(0.1));
});
