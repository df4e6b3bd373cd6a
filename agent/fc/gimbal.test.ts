import { common, type MavLinkData } from 'node-mavlink';
import t from 'tap';
import { readMessage, type Frame } from '../../sim/frames.js';
import { angleDiffDeg, quaternionToEulerDeg } from './gimbal.js';
import { MavCmd } from './messages.js';
import { simFc, testLink } from './test-helpers/index.js';

// Against fc-sim (ArduPilot's mount and command handling, checked on SITL by hw-tests) behind a fault
// proxy that stands in for firmware variants: no gimbal manager, busy, slow. Real time: attempt counts that
// a late ack could change are bounds here; retry-timing.test.ts proves them exactly on driven time.

const commandOf = (f: Frame) => (f.msgid === common.CommandLong.MSG_ID ? readMessage(f, common.CommandLong).command : undefined);
const ack = (command: number, result: number): MavLinkData => {
  const a = new common.CommandAck();
  [a.command, a.result, a.targetSystem, a.targetComponent] = [command, result, 0, 0];
  return a;
};

t.test('timeout path: no COMMAND_ACK', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l);
  proxy.rules.deaf = true;
  const r = await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 }, { timeoutMs: 80, retries: 2 });
  t.same(r, { result: 'timeout', via: 'gimbal-manager', attempts: 2 }, 'exact whatever the timing: a deaf FC gets exactly `retries` sends');
});

t.test('DO_GIMBAL_MANAGER_PITCHYAW: angles, NaN rates, frame flags, gimbal id', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l);
  t.match(await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 1 }), { result: 'accepted', via: 'gimbal-manager', attempts: 1 });
  const sent = () => proxy.sent(common.CommandLong).filter((c) => c.command === MavCmd.DO_GIMBAL_MANAGER_PITCHYAW);
  const c = sent()[0];
  t.same([c?._param1, c?._param2, c?._param5, c?._param7], [-45, 10, 32, 1]);
  t.ok(Number.isNaN(c?._param3) && Number.isNaN(c?._param4), 'rates NaN: angle mode');
  await link.gimbal.point({ pitchDeg: -10, yawDeg: 90, yawFrame: 'earth', gimbalId: 0 });
  const earthFlags = sent()[1]?._param5 ?? 0;
  t.ok((earthFlags & 16) !== 0, 'earth frame sets YAW_LOCK (what ArduPilot reads)');
  t.match(await link.gimbal.point({ pitchDeg: -10, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 2 }), { result: 'failed' }, 'an absent gimbal id: FAILED, as on SITL');
});

t.test('UNSUPPORTED falls back to DO_MOUNT_CONTROL (vehicle frame only)', async (t) => {
  const { proxy, link: l } = await simFc(t);
  // Firmware without a gimbal manager answers PITCHYAW UNSUPPORTED.
  proxy.rules.up = (f, inject) => {
    if (commandOf(f) !== MavCmd.DO_GIMBAL_MANAGER_PITCHYAW) return 'forward';
    inject(ack(MavCmd.DO_GIMBAL_MANAGER_PITCHYAW, common.MavResult.UNSUPPORTED));
    return 'drop';
  };
  const link = await testLink(t, l);
  t.match(await link.gimbal.point({ pitchDeg: -30, yawDeg: 15, yawFrame: 'vehicle', gimbalId: 0 }), { result: 'accepted', via: 'mount-control', attempts: 2 });
  const mc = proxy.sent(common.CommandLong).find((c) => c.command === MavCmd.DO_MOUNT_CONTROL);
  t.same([mc?._param1, mc?._param2, mc?._param3, mc?._param4, mc?._param5, mc?._param6, mc?._param7], [-30, 0, 15, 0, 0, 0, 2], 'p1 pitch, p2 roll, p3 yaw, p7 MAVLINK_TARGETING');
  const earth = await link.gimbal.point({ pitchDeg: -30, yawDeg: 15, yawFrame: 'earth', gimbalId: 0 });
  t.match(earth, { result: 'unsupported', via: 'gimbal-manager' }, 'an earth-frame yaw is not silently turned into a body-frame one');
});

t.test('TEMPORARILY_REJECTED retries; IN_PROGRESS keeps waiting', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l);
  let rejects = 2;
  let inProgressMs = 0;
  proxy.rules.up = (f, inject) => {
    const cmd = commandOf(f);
    if (cmd !== MavCmd.DO_GIMBAL_MANAGER_PITCHYAW) return 'forward';
    if (rejects > 0) {
      rejects--;
      inject(ack(cmd, common.MavResult.TEMPORARILY_REJECTED));
      return 'drop';
    }
    if (inProgressMs > 0) {
      inject(ack(cmd, common.MavResult.IN_PROGRESS));
      return inProgressMs; // fc-sim answers ACCEPTED once the command reaches it
    }
    return 'forward';
  };
  t.match(await link.gimbal.point({ pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 }, { retryDelayMs: 20 }), { result: 'accepted', attempts: 3 });
  rejects = 5;
  t.match(await link.gimbal.point({ pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 }, { retryDelayMs: 10, retries: 2 }), { result: 'temporarily-rejected', attempts: 2 });
  rejects = 0;
  // The final ack comes 500 ms after the send, later than 3 sends × 100 ms: only a sender that keeps
  // waiting after IN_PROGRESS sees it. How many sends went out depends on how late the IN_PROGRESS ack
  // was (exactly 1 on driven time, retry-timing.test.ts).
  inProgressMs = 500;
  const started = Date.now();
  t.match(await link.gimbal.point({ pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 }, { timeoutMs: 100 }), { result: 'accepted' });
  t.ok(Date.now() - started >= 450, 'waited past the per-attempt timeouts for the final ack');
});

t.test('ROI by DO_SET_ROI_LOCATION (COMMAND_INT), clear by DO_SET_ROI_NONE', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l);
  t.match(await link.gimbal.roi({ latDeg: 47.3977419, lonDeg: 8.5455938, altM: 30 }), { result: 'accepted', via: 'command-int' });
  const roi = proxy.sent(common.CommandInt).find((c) => c.command === MavCmd.DO_SET_ROI_LOCATION);
  t.ok(roi !== undefined, 'sent as COMMAND_INT');
  t.same([roi?._param5, roi?._param6, roi?._param7], [473977419, 85455938, 30], 'lat/lon as degE7, exact');
  t.match(await link.gimbal.clearRoi(), { result: 'accepted' });
  t.ok([...proxy.sent(common.CommandLong), ...proxy.sent(common.CommandInt)].some((c) => c.command === MavCmd.DO_SET_ROI_NONE));
});

t.test('waitForAttitude: requests GIMBAL_DEVICE_ATTITUDE_STATUS and watches it', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l);
  await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 });
  t.equal(await link.gimbal.waitForAttitude({ pitchDeg: -45, yawDeg: 10 }, { toleranceDeg: 1, timeoutMs: 2000 }), true);
  const att = link.gimbal.attitude();
  t.ok(att !== undefined && Math.abs(att.pitchDeg + 45) < 0.01 && Math.abs(att.yawDeg - 10) < 0.01, `attitude ${JSON.stringify(att)}`);
  t.ok(proxy.sent(common.CommandLong).some((c) => c.command === MavCmd.SET_MESSAGE_INTERVAL && c._param1 === 285 && c._param2 > 0));
  // A pitch past the mount's limit is clamped by the FC, so the attitude never gets there.
  await link.gimbal.point({ pitchDeg: -120, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 });
  t.equal(await link.gimbal.waitForAttitude({ pitchDeg: -120, yawDeg: 10 }, { toleranceDeg: 1, timeoutMs: 300 }), false);
});

t.test('quaternion and angle helpers', async (t) => {
  const r = Math.PI / 180;
  const [p, y] = [-30 * r, 120 * r];
  const e = quaternionToEulerDeg(Math.cos(y / 2) * Math.cos(p / 2), -Math.sin(y / 2) * Math.sin(p / 2), Math.cos(y / 2) * Math.sin(p / 2), Math.sin(y / 2) * Math.cos(p / 2));
  t.ok(Math.abs(e.pitchDeg + 30) < 1e-9 && Math.abs(e.yawDeg - 120) < 1e-9 && Math.abs(e.rollDeg) < 1e-9);
  t.equal(angleDiffDeg(179, -179), -2);
  t.equal(angleDiffDeg(-179, 179), 2);
  t.equal(angleDiffDeg(10, 10), 0);
});
