import { randomBytes } from 'node:crypto';
import t from 'tap';
import { nextEvent, waitFor } from '../../test/support/index.js';
import { openFcLink } from './link.js';
import { FakeAutopilot, fakeAutopilot, testLink } from './test-helpers/index.js';

t.test('identity: our HEARTBEAT is MAVLink 2, onboard controller, component 191, the FC system id', async (t) => {
  const fake = await fakeAutopilot(t, { systemId: 42 });
  const link = await testLink(t, fake.link, { heartbeatIntervalMs: 50 });
  t.match(link.vehicle, { systemId: 42, componentId: 1, autopilot: 3, type: 2, armed: false });
  const hb = await waitFor('a heartbeat sent with the learned system id', () => fake.stats.heartbeats.find((h) => h.sysid === 42));
  t.same(hb, { sysid: 42, compid: 191, type: 18, autopilot: 8, mavlinkV2: true });
  const s = link.status();
  t.equal(s.state, 'up');
  t.ok(s.framesIn > 0 && s.framesOut > 0 && s.bytesIn > 0 && s.bytesOut > 0);
  t.ok(s.heartbeatAgeMs !== null && s.heartbeatAgeMs < 2000);
});

t.test('armed flag from the FC HEARTBEAT, and STATUSTEXT events', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  const armed = nextEvent<boolean>(link, 'armed');
  fake.behaviour.armed = true;
  fake.heartbeat();
  t.equal(await armed, true);
  t.equal(link.vehicle?.armed, true);
  const disarmed = nextEvent<boolean>(link, 'armed');
  fake.behaviour.armed = false;
  fake.heartbeat();
  t.equal(await disarmed, false);
  const text = nextEvent<{ severity: number; text: string }>(link, 'statustext');
  fake.statustext(6, 'hello from the FC');
  t.same(await text, { severity: 6, text: 'hello from the FC' });
});

t.test('capabilities: AUTOPILOT_VERSION via REQUEST_MESSAGE, C-cast for ArduPilot', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link);
  const info = await link.requestAutopilotVersion();
  t.match(info, { capabilities: 0xfbefn, flightSwVersion: '4.7.0-dev', encoding: 'c-cast', via: 'request-message' });
  t.equal(link.encoding, 'c-cast');
  t.ok(fake.stats.commands.some((c) => c.command === 512 && c.params[0] === 148));
});

t.test('capabilities: no answer leaves ArduPilot on C-cast', async (t) => {
  const fake = await fakeAutopilot(t, { answersVersion: false });
  const link = await testLink(t, fake.link);
  t.equal(await link.requestAutopilotVersion({ timeoutMs: 100 }), undefined);
  t.ok(fake.stats.commands.some((c) => c.command === 520), 'fell back to REQUEST_AUTOPILOT_CAPABILITIES');
  t.equal(link.encoding, 'c-cast');
});

t.test('down when heartbeats stop, up again when they resume', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link, { heartbeatTimeoutMs: 200 });
  const down = nextEvent<string>(link, 'down');
  fake.behaviour.silent = true;
  t.match(await down, /no HEARTBEAT/);
  t.equal(link.status().state, 'down');
  t.equal(link.status().connected, true, 'the transport itself stayed open');
  const up = nextEvent(link, 'up');
  fake.behaviour.silent = false;
  fake.heartbeat();
  await up;
  t.equal(link.status().state, 'up');
});

t.test('reconnects with backoff when the TCP peer closes or goes away', async (t) => {
  const fake = await fakeAutopilot(t);
  const link = await testLink(t, fake.link, { reconnect: { minMs: 30, maxMs: 100 } });
  const errors: string[] = [];
  link.on('error', (e) => errors.push(e.code)); // transport trouble is reported, never thrown
  const events: string[] = [];
  link.on('down', () => events.push('down'));
  link.on('up', () => events.push('up'));
  fake.dropClients();
  await waitFor('down then up again', () => events.join(',') === 'down,up', { timeoutMs: 3000 });
  t.equal(link.status().connects, 2);

  // The FC goes away entirely (connection refused while it is gone) and comes back on the same port.
  const port = fake.port;
  const before = errors.length;
  await fake.stop();
  await waitFor('down, and a failed reconnect attempt', () => events.length === 3 && errors.length > before + 1, { timeoutMs: 3000 });
  t.equal(link.status().state, 'down');
  const back = new FakeAutopilot();
  await back.start(port); // libuv listens with SO_REUSEADDR, so the port is free again at once
  t.teardown(() => back.stop());
  await link.waitForVehicle({ timeoutMs: 3000 });
  t.equal(link.status().state, 'up');
  t.ok(link.status().connects >= 3);
  t.same([...new Set(errors)], ['AIM_ERR_FC_LINK']);
});

t.test('close() releases everything and fails pending calls with AIM_ERR_ABORTED', async (t) => {
  const fake = await fakeAutopilot(t, { behaviour: { deaf: true } });
  const link = await openFcLink(fake.link, { reconnect: { minMs: 50, maxMs: 100 } });
  await link.waitForVehicle({ timeoutMs: 3000 });
  const pending = t.rejects(link.params.setMany([{ name: 'MNT1_PITCH_MIN', value: -10 }]), { code: 'AIM_ERR_ABORTED' });
  await link.close();
  await pending;
  await t.rejects(link.waitForVehicle({ timeoutMs: 100 }), { code: 'AIM_ERR_ABORTED' });
  t.equal(link.status().connected, false);
  await waitFor('the FC sees the client leave', () => fake.clientCount === 0);
  await link.close();
  t.pass('close is idempotent');
});

t.test('MAVLink 2 signing: outgoing frames signed, unsigned incoming refused unless allowed', async (t) => {
  const key = randomBytes(32);
  const fake = await fakeAutopilot(t, { signingKey: key });
  const strict = await testLink(t, fake.link, { signingKey: key, wait: false, heartbeatIntervalMs: 50 });
  await t.rejects(strict.waitForVehicle({ timeoutMs: 300 }), { code: 'AIM_ERR_FC_TIMEOUT' }, 'the unsigned FC is not trusted');
  t.ok(strict.status().unsignedDropped > 0);
  await strict.close();

  const lenient = await testLink(t, fake.link, { signingKey: key, acceptUnsigned: true, heartbeatIntervalMs: 50 });
  t.equal(lenient.status().state, 'up');
  await waitFor('signed heartbeats at the FC', () => fake.stats.signatureOk >= 2);
  t.equal(fake.stats.signedIn, fake.stats.signatureOk, 'every frame we sent carried a good signature');
  await lenient.close();

  const signedFc = await fakeAutopilot(t, { signingKey: key, signOutgoing: true });
  const good = await testLink(t, signedFc.link, { signingKey: key });
  const [r] = await good.params.setMany([{ name: 'MNT1_PITCH_MAX', value: 12 }]);
  t.match(r, { result: 'ok' }, 'a fully signed conversation works');
  t.equal(good.status().badSignatures, 0);

  const wrongKey = await testLink(t, signedFc.link, { signingKey: randomBytes(32), wait: false });
  await t.rejects(wrongKey.waitForVehicle({ timeoutMs: 300 }), { code: 'AIM_ERR_FC_TIMEOUT' });
  t.ok(wrongKey.status().badSignatures > 0, 'frames signed with another key are counted and dropped');
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
