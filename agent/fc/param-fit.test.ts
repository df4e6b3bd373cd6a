import t from 'tap';
import { aimFailure } from './aim-outcome.js';
import { checkParamsFit, configPathOf } from './param-fit.js';

t.test('every value is checked against its type, and each misfit is named by its config path', async (t) => {
  const cfg = { params: { GPS_HDOP_GOOD: 40000, RTL_ALT: 40000, MNT1_OPTIONS: 300 } };
  const r = checkParamsFit(
    [
      { name: 'GPS_HDOP_GOOD', value: 40000, type: 'INT16' },
      { name: 'RTL_ALT', value: 40000, type: 'INT32' },
      { name: 'MNT1_OPTIONS', value: 300, type: 'INT8' },
      { name: 'MNT1_PITCH_MIN', value: -200.5, type: 'INT16' },
      { name: 'PILOT_THR_FILT', value: 1e39, type: 'REAL32' },
      { name: 'NO_TYPE', value: Number.NaN },
    ],
    (n) => configPathOf(cfg, n),
  );
  t.same(r, {
    ok: false,
    errors: [
      { path: 'params.GPS_HDOP_GOOD', message: '40000 is outside INT16 (-32768..32767)' },
      { path: 'params.MNT1_OPTIONS', message: '300 is outside INT8 (-128..127)' },
      { path: 'params.PILOT_THR_FILT', message: '1e+39 does not fit a float32 (REAL32)' },
      { path: 'params.NO_TYPE', message: 'NaN is not a finite number' },
    ],
  });
  t.same(checkParamsFit([{ name: 'MNT1_RC_RATE', value: 32767.9, type: 'INT16' }, { name: 'X', value: -128.5, type: 'INT8' }]), { ok: true }, 'C-cast truncates toward zero first');
});

t.test('mapped parameters are named by the mount field they come from', async (t) => {
  t.equal(configPathOf({}, 'MNT1_PITCH_MIN'), 'mount.pitch.minDeg');
  t.equal(configPathOf({}, 'MNT1_NEUTRAL_Z'), 'mount.neutral.yawDeg');
  t.equal(configPathOf({ params: { MNT1_LEAD_RLL: 1 } }, 'MNT1_LEAD_RLL'), 'params.MNT1_LEAD_RLL');
});

t.test('an aim command that was not accepted: timeout, link error and refusal are told apart', async (t) => {
  t.match(aimFailure('timeout'), { code: 'AIM_ERR_FC_TIMEOUT', reason: /no COMMAND_ACK/ });
  t.match(aimFailure('AIM_ERR_FC_LINK'), { code: 'AIM_ERR_FC_LINK' });
  t.match(aimFailure('failed'), { code: 'AIM_ERR_FC_REJECTED', reason: 'aim command answered failed' });
});
