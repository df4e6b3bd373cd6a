import t from 'tap';
import { angleDiffDeg, quaternionToEulerDeg } from './gimbal.js';
import { MavCmd } from './messages.js';
import { fakeAutopilot, testLink } from './test-helpers/index.js';

t.test('timeout path: no COMMAND_ACK', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { deaf: true } });
  const link = await testLink(t, fake.link);
  const r = await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 }, { timeoutMs: 80, retries: 2 });
  t.same(r, { result: 'timeout', via: 'gimbal-manager', attempts: 2 });
});

t.test('DO_GIMBAL_MANAGER_PITCHYAW: angles, NaN rates, frame flags, gimbal id', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  t.match(await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 1 }), { result: 'accepted', via: 'gimbal-manager', attempts: 1 });
  const sent = fake.stats.commands.filter((c) => c.command === MavCmd.DO_GIMBAL_MANAGER_PITCHYAW);
  const [p1, p2, p3, p4, p5, , p7] = sent[0]?.params ?? [];
  t.same([p1, p2, p5, p7], [-45, 10, 32, 1]);
  t.ok(Number.isNaN(p3) && Number.isNaN(p4), 'rates NaN: angle mode');
  await link.gimbal.point({ pitchDeg: -10, yawDeg: 90, yawFrame: 'earth', gimbalId: 0 });
  const earthFlags = fake.stats.commands.filter((c) => c.command === MavCmd.DO_GIMBAL_MANAGER_PITCHYAW)[1]?.params[4] ?? 0;
  t.ok((earthFlags & 16) !== 0, 'earth frame sets YAW_LOCK (what ArduPilot reads)');
});

t.test('UNSUPPORTED falls back to DO_MOUNT_CONTROL (vehicle frame only)', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { noGimbalManager: true } });
  const link = await testLink(t, fake.link);
  t.match(await link.gimbal.point({ pitchDeg: -30, yawDeg: 15, yawFrame: 'vehicle', gimbalId: 0 }), { result: 'accepted', via: 'mount-control', attempts: 2 });
  const mc = fake.stats.commands.find((c) => c.command === MavCmd.DO_MOUNT_CONTROL);
  t.same(mc?.params, [-30, 0, 15, 0, 0, 0, 2], 'p1 pitch, p2 roll, p3 yaw, p7 MAVLINK_TARGETING');
  const earth = await link.gimbal.point({ pitchDeg: -30, yawDeg: 15, yawFrame: 'earth', gimbalId: 0 });
  t.match(earth, { result: 'unsupported', via: 'gimbal-manager' }, 'an earth-frame yaw is not silently turned into a body-frame one');
});

t.test('TEMPORARILY_REJECTED retries; IN_PROGRESS keeps waiting', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { tempRejects: 2 } });
  const link = await testLink(t, fake.link);
  t.match(await link.gimbal.point({ pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 }, { retryDelayMs: 20 }), { result: 'accepted', attempts: 3 });
  fake.behaviour.tempRejects = 5;
  t.match(await link.gimbal.point({ pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 }, { retryDelayMs: 10, retries: 2 }), { result: 'temporarily-rejected', attempts: 2 });
  fake.behaviour.tempRejects = 0;
  fake.behaviour.inProgressMs = 300;
  const started = Date.now();
  t.match(await link.gimbal.point({ pitchDeg: -20, yawDeg: 0, yawFrame: 'vehicle', gimbalId: 0 }, { timeoutMs: 100 }), { result: 'accepted', attempts: 1 });
  t.ok(Date.now() - started >= 250, 'waited past the per-attempt timeout for the final ack');
});

t.test('ROI by DO_SET_ROI_LOCATION (COMMAND_INT), clear by DO_SET_ROI_NONE', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  t.match(await link.gimbal.roi({ latDeg: 47.3977419, lonDeg: 8.5455938, altM: 30 }), { result: 'accepted', via: 'command-int' });
  const roi = fake.stats.commands.find((c) => c.command === MavCmd.DO_SET_ROI_LOCATION);
  t.equal(roi?.viaInt, true);
  t.same(roi?.params.slice(4), [473977419, 85455938, 30], 'lat/lon as degE7, exact');
  t.match(await link.gimbal.clearRoi(), { result: 'accepted' });
  t.ok(fake.stats.commands.some((c) => c.command === MavCmd.DO_SET_ROI_NONE));
});

t.test('waitForAttitude: requests GIMBAL_DEVICE_ATTITUDE_STATUS and watches it', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  await link.gimbal.point({ pitchDeg: -45, yawDeg: 10, yawFrame: 'vehicle', gimbalId: 0 });
  t.equal(await link.gimbal.waitForAttitude({ pitchDeg: -45, yawDeg: 10 }, { toleranceDeg: 1, timeoutMs: 2000 }), true);
  const att = link.gimbal.attitude();
  t.ok(att !== undefined && Math.abs(att.pitchDeg + 45) < 0.01 && Math.abs(att.yawDeg - 10) < 0.01);
  t.ok(fake.stats.commands.some((c) => c.command === MavCmd.SET_MESSAGE_INTERVAL && c.params[0] === 285 && (c.params[1] ?? 0) > 0));
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
