import t from 'tap';
import { readFileSync } from 'node:fs';
import { common, MavLinkProtocolV2, minimal, standard, ardupilotmega, type MavLinkData, type MavLinkDataConstructor } from 'node-mavlink';
import { dialectSource } from '../../scripts/gen-dialect.js';
import * as d from './dialect.js';

t.test('the committed dialect matches the pinned mavlink-mappings (run `npm run gen:dialect` to update)', async (t) => {
  t.equal(readFileSync(new URL('./dialect.ts', import.meta.url), 'utf8'), dialectSource());
});

const PAIRS: [MavLinkDataConstructor<MavLinkData>, MavLinkDataConstructor<MavLinkData>][] = [
  [d.Heartbeat, minimal.Heartbeat],
  [d.ParamValue, common.ParamValue],
  [d.ParamSet, common.ParamSet],
  [d.ParamRequestRead, common.ParamRequestRead],
  [d.CommandLong, common.CommandLong],
  [d.CommandInt, common.CommandInt],
  [d.CommandAck, common.CommandAck],
  [d.StatusText, common.StatusText],
  [d.GimbalDeviceAttitudeStatus, common.GimbalDeviceAttitudeStatus],
  [d.AutopilotVersion, standard.AutopilotVersion],
  [d.MountStatus, ardupilotmega.MountStatus],
];

t.test('each message has the library class’s id, CRC extra, length and fields, and its bytes read back the same', async (t) => {
  const proto = new MavLinkProtocolV2();
  for (const [ours, lib] of PAIRS) {
    t.equal(ours.MSG_ID, lib.MSG_ID, `${lib.MSG_NAME} id`);
    t.equal(ours.MAGIC_NUMBER, lib.MAGIC_NUMBER, `${lib.MSG_NAME} CRC extra`);
    t.equal(ours.PAYLOAD_LENGTH, lib.PAYLOAD_LENGTH, `${lib.MSG_NAME} length`);
    t.same(ours.FIELDS, lib.FIELDS, `${lib.MSG_NAME} fields`);
    // A message built from our class (every field non-zero) decodes through the library class to the same values.
    const msg = new ours() as unknown as Record<string, unknown>;
    ours.FIELDS.forEach((f, i) => {
      const v = f.type.startsWith('char') ? 'X'.repeat(Math.min(f.length || 1, 5)) : /int64/.test(f.type) ? BigInt(i + 1) : i + 1;
      msg[f.name] = f.type.endsWith('[]') && !f.type.startsWith('char') ? new Array(f.length).fill(v) : v;
    });
    const frame = proto.serialize(msg as unknown as MavLinkData, 1);
    const payload = frame.subarray(10, 10 + frame[1]!);
    const back = proto.data(payload, lib) as unknown as Record<string, unknown>;
    for (const f of ours.FIELDS) t.same(back[f.name], msg[f.name], `${lib.MSG_NAME}.${f.name}`);
  }
});

t.test('enums carry the library’s numbers', async (t) => {
  t.equal(d.MavCmd.DO_MOUNT_CONTROL, common.MavCmd.DO_MOUNT_CONTROL);
  t.equal(d.MavCmd.DO_GIMBAL_MANAGER_PITCHYAW, common.MavCmd.DO_GIMBAL_MANAGER_PITCHYAW);
  t.equal(d.MavResult.COMMAND_INT_ONLY, common.MavResult.COMMAND_INT_ONLY);
  t.equal(d.MavType.ONBOARD_CONTROLLER, minimal.MavType.ONBOARD_CONTROLLER);
  t.equal(d.MavComponent.ONBOARD_COMPUTER, minimal.MavComponent.ONBOARD_COMPUTER);
  t.equal(d.MavProtocolCapability.PARAM_ENCODE_BYTEWISE, standard.MavProtocolCapability.PARAM_ENCODE_BYTEWISE);
});
