import { randomBytes } from 'node:crypto';
import { common, minimal } from 'node-mavlink';
import t from 'tap';
import { startFcSim } from '../../sim/index.js';
import { SimSigning } from '../../sim/signing.js';
import { nextEvent, waitFor } from '../../test/support/index.js';
import { openFcLink } from './link.js';
import { simFc, testLink } from './test-helpers/index.js';

// Against fc-sim (the one model of ArduPilot) over TCP, behind a fault proxy where the wire must fail.

t.test('identity: our HEARTBEAT is MAVLink 2, onboard controller, component 191, the FC system id', async (t) => {
  const { proxy, link: l } = await simFc(t, { systemId: 42 });
  const link = await testLink(t, l, { heartbeatIntervalMs: 50 });
  t.match(link.vehicle, { systemId: 42, componentId: 1, autopilot: 3, type: 2, armed: false });
  const hb = await waitFor('a heartbeat sent with the learned system id', () => proxy.fromAgent.find((s) => s.frame.msgid === minimal.Heartbeat.MSG_ID && s.frame.sysid === 42));
  const m = hb.frame.protocol.data(hb.frame.payload, minimal.Heartbeat);
  t.same({ sysid: hb.frame.sysid, compid: hb.frame.compid, type: m.type, autopilot: m.autopilot, mavlinkV2: hb.frame.version === 2 }, { sysid: 42, compid: 191, type: 18, autopilot: 8, mavlinkV2: true });
  const s = link.status();
  t.equal(s.state, 'up');
  t.ok(s.framesIn > 0 && s.framesOut > 0 && s.bytesIn > 0 && s.bytesOut > 0);
  t.ok(s.heartbeatAgeMs !== null && s.heartbeatAgeMs < 2000);
});

t.test('armed flag from the FC HEARTBEAT, and STATUSTEXT events', async (t) => {
  const { sim, link: l } = await simFc(t, { heartbeatMs: 50 });
  const link = await testLink(t, l);
  const armed = nextEvent<boolean>(link, 'armed');
  sim.setArmed(true);
  t.equal(await armed, true);
  t.equal(link.vehicle?.armed, true);
  const disarmed = nextEvent<boolean>(link, 'armed');
  sim.setArmed(false);
  t.equal(await disarmed, false);
  // ArduPilot's own STATUSTEXT for a refused write.
  const text = nextEvent<{ severity: number; text: string }>(link, 'statustext');
  void link.params.setMany([{ name: 'MNT1_DEVID', value: 5 }]);
  t.same(await text, { severity: 4, text: 'Param write denied (MNT1_DEVID)' });
});

t.test('capabilities: AUTOPILOT_VERSION via REQUEST_MESSAGE, C-cast for ArduPilot', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l);
  const info = await link.requestAutopilotVersion();
  t.match(info, { capabilities: 0xfbefn, flightSwVersion: '4.7.0-dev', encoding: 'c-cast', via: 'request-message' });
  t.equal(link.encoding, 'c-cast');
  t.ok(proxy.sent(common.CommandLong).some((c) => c.command === 512 && c._param1 === 148));
});

t.test('capabilities: no answer leaves ArduPilot on C-cast', async (t) => {
  const { proxy, link: l } = await simFc(t);
  proxy.rules.dropDown = (f) => f.msgid === 148; // AUTOPILOT_VERSION never arrives
  const link = await testLink(t, l, { requestCapabilities: false });
  t.equal(await link.requestAutopilotVersion({ timeoutMs: 100 }), undefined);
  t.ok(proxy.sent(common.CommandLong).some((c) => c.command === 520), 'fell back to REQUEST_AUTOPILOT_CAPABILITIES');
  t.equal(link.encoding, 'c-cast');
});

t.test('down when heartbeats stop, up again when they resume', async (t) => {
  const { proxy, link: l } = await simFc(t, { heartbeatMs: 50 });
  const link = await testLink(t, l, { heartbeatTimeoutMs: 200 });
  const down = nextEvent<string>(link, 'down');
  proxy.rules.silent = true;
  t.match(await down, /no HEARTBEAT/);
  t.equal(link.status().state, 'down');
  t.equal(link.status().connected, true, 'the transport itself stayed open');
  const up = nextEvent(link, 'up');
  proxy.rules.silent = false;
  await up;
  t.equal(link.status().state, 'up');
});

t.test('reconnects with backoff when the TCP peer closes or goes away', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await testLink(t, l, { reconnect: { minMs: 30, maxMs: 100 } });
  const errors: string[] = [];
  link.on('error', (e) => errors.push(e.code)); // transport trouble is reported, never thrown
  const events: string[] = [];
  link.on('down', () => events.push('down'));
  link.on('up', () => events.push('up'));
  proxy.dropClients();
  await waitFor('down then up again', () => events.join(',') === 'down,up', { timeoutMs: 3000 });
  t.equal(link.status().connects, 2);

  // The FC goes away entirely (connection refused while it is gone) and comes back on the same port.
  const port = proxy.port;
  const before = errors.length;
  await proxy.stop();
  await waitFor('down, and a failed reconnect attempt', () => events.length === 3 && errors.length > before + 1, { timeoutMs: 3000 });
  t.equal(link.status().state, 'down');
  // libuv listens with SO_REUSEADDR, so the port is free again at once.
  const back = await startFcSim({ link: `tcp:127.0.0.1:${port}` });
  t.teardown(() => back.stop());
  await link.waitForVehicle({ timeoutMs: 3000 });
  t.equal(link.status().state, 'up');
  t.ok(link.status().connects >= 3);
  t.same([...new Set(errors)], ['AIM_ERR_FC_LINK']);
});

t.test('close() releases everything and fails pending calls with AIM_ERR_ABORTED', async (t) => {
  const { proxy, link: l } = await simFc(t);
  const link = await openFcLink(l, { reconnect: { minMs: 50, maxMs: 100 } });
  await link.waitForVehicle({ timeoutMs: 3000 });
  proxy.rules.deaf = true;
  const pending = t.rejects(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -10 }]), { code: 'AIM_ERR_ABORTED' });
  await link.close();
  await pending;
  await t.rejects(link.waitForVehicle({ timeoutMs: 100 }), { code: 'AIM_ERR_ABORTED' });
  t.equal(link.status().connected, false);
  await waitFor('the FC sees the client leave', () => proxy.clientCount === 0);
  await link.close();
  t.pass('close is idempotent');
});

t.test('MAVLink 2 signing against an FC that signs, as ArduPilot does once a key is set', async (t) => {
  const key = randomBytes(32);
  // An FC without signing: a link that insists on signatures does not trust it.
  const plain = await simFc(t);
  const strict = await testLink(t, plain.link, { signingKey: key, wait: false, heartbeatIntervalMs: 50 });
  await t.rejects(strict.waitForVehicle({ timeoutMs: 300 }), { code: 'AIM_ERR_FC_TIMEOUT' }, 'the unsigned FC is not trusted');
  t.ok(strict.status().unsignedDropped > 0);
  await strict.close();
  const lenient = await testLink(t, plain.link, { signingKey: key, acceptUnsigned: true, heartbeatIntervalMs: 50 });
  t.equal(lenient.status().state, 'up');
  const check = new SimSigning(key); // checked by fc-sim's code, not the agent's
  await waitFor('signed heartbeats at the FC', () => plain.proxy.fromAgent.filter((s) => check.check(s.frame.buffer) === 'ok').length >= 2);
  t.ok(plain.proxy.fromAgent.every((s) => check.check(s.frame.buffer) === 'ok'), 'every frame we sent carried a good signature');
  await lenient.close();

  // An FC with the key (a telemetry port: unsigned frames dropped silently).
  const signed = await simFc(t, { signingKey: key });
  const good = await testLink(t, signed.link, { signingKey: key });
  const [r] = await good.params.setMany([{ name: 'MNT1_PITCH_MAX', value: 12 }]);
  t.match(r, { result: 'ok' }, 'a fully signed conversation works');
  t.equal(good.status().badSignatures, 0);
  t.ok(signed.sim.stats.signedOk > 0 && signed.sim.stats.badSignatures === 0);
  await good.close();

  const wrongKey = await testLink(t, signed.link, { signingKey: randomBytes(32), wait: false });
  await t.rejects(wrongKey.waitForVehicle({ timeoutMs: 300 }), { code: 'AIM_ERR_FC_TIMEOUT' });
  t.ok(wrongKey.status().badSignatures > 0, 'frames signed with another key are counted and dropped');
  await wrongKey.close();

  // Without a key: the FC is heard (its signatures cannot be checked) but our requests are dropped.
  const none = await testLink(t, signed.link, { params: { timeoutMs: 100, retries: 1 } });
  // Silence from an FC that has answered nothing of ours proves nothing: a timeout, never "absent".
  await t.rejects(none.params.get('MNT1_PITCH_MAX'), { code: 'AIM_ERR_FC_TIMEOUT' }, 'an unsigned read gets no answer');
  t.ok(none.status().signedUnverified > 0, 'and the link counts the signed frames it took unchecked');
  t.ok(signed.sim.stats.unsignedDropped > 0, 'the FC dropped our unsigned frames');
});

t.test('link strings are checked up front', async (t) => {
  await t.rejects(openFcLink('serial:ttyS0:57600'), { code: 'AIM_ERR_USAGE' });
  await t.rejects(openFcLink('tcp:host'), { code: 'AIM_ERR_USAGE' });
});

t.test('close() while a TCP connect is still pending returns at once', async (t) => {
  // 10.255.255.1 is unroutable: the SYN goes nowhere and connect would hang for the OS timeout.
  const link = await openFcLink('tcp:10.255.255.1:5760', { reconnect: { minMs: 50, maxMs: 100 } });
  const started = Date.now();
  await link.close();
  t.ok(Date.now() - started < 1000, 'not held up by the connect');
  t.equal(link.status().connected, false);
});
