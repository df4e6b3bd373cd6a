import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { common, minimal } from 'node-mavlink';
import t, { type Test } from 'tap';
import { canonicalJson, castParamValue, configToFcParams, generateKeyPair, loadPrivateKey, signJws, topicFor, type Ack, type AimConfig } from '../protocol/index.js';
import { startFcSim } from '../sim/index.js';
import { TestGcs } from '../sim/test-helpers/gcs.js';
import { requireBuild, requireTool, ROOT, spawnCli, startMosquitto, waitFor } from '../test/support/index.js';
import { requireSitl, startSitl, type Sitl } from '../test/support/sitl.js';
import { openReadBack } from './fc-readback.js';

// MAVLink 2 signing on real ArduPilot. A key is installed in SITL with SETUP_SIGNING (its own instance,
// started with --wipe, so the key never reaches another file's SITL). The agent's service talks to
// SERIAL1 (`link2`): ArduPilot accepts unsigned frames on channel 0 (SERIAL0, "assumed secure, USB")
// even with signing on, so only another port shows what a drone's telemetry UART does.

/** 10 µs units since 2015-01-01, MAVLink signing's clock. */
const signingNow = () => BigInt(Math.floor((Date.now() - Date.UTC(2015, 0, 1)) * 100));

async function installKey(link: string, key: Buffer): Promise<void> {
  const gcs = await TestGcs.connect(link);
  try {
    await gcs.wait(minimal.Heartbeat, () => true, { since: 0, timeoutMs: 10_000 });
    const m = new common.SetupSigning();
    m.targetSystem = 1;
    m.targetComponent = 1;
    m.secretKey = [...key];
    m.initialTimestamp = signingNow();
    const since = gcs.mark();
    gcs.send(m);
    // No ACK exists for SETUP_SIGNING; the sign that it took is the FC signing its own frames.
    await gcs.wait(minimal.Heartbeat, (_h, s) => (s.frame.buffer[2]! & 0x01) !== 0, { since, timeoutMs: 5000 });
  } finally {
    await gcs.close();
  }
}

const ok = requireSitl(t) && requireBuild(t, `${ROOT}dist/agent/bin/aim-agent.js`) && requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto');
const key = randomBytes(32);
let sitl: Sitl;
if (ok) {
  t.before(async () => {
    sitl = await startSitl(t, { forgetOnStop: true }); // the key lives in eeprom.bin
    await installKey(sitl.link, key);
  });
}
const test = ok ? t.test.bind(t) : () => undefined;

/** An unsigned ground station on `link`: is the FC signing, and does it answer an unsigned read? */
async function probeUnsigned(t: Test, link: string, port: string, answered: boolean): Promise<void> {
  const gcs = await TestGcs.connect(link);
  t.teardown(() => gcs.close());
  const hb = await gcs.wait(minimal.Heartbeat, (_h, s) => (s.frame.buffer[2]! & 0x01) !== 0, { since: 0, timeoutMs: 5000 });
  t.ok(hb, `${port}: the FC signs its HEARTBEAT`);
  const since = gcs.mark();
  gcs.send(TestGcs.paramRead('MNT1_PITCH_MIN'));
  const reply = await gcs.wait(common.ParamValue, (m) => m.paramId === 'MNT1_PITCH_MIN', { since, timeoutMs: 1500 }).then(
    () => 'answered',
    () => 'silence',
  );
  t.equal(reply, answered ? 'answered' : 'silence', `${port}: an unsigned PARAM_REQUEST_READ is ${answered ? 'answered' : 'dropped without a word'}`);
  t.same(gcs.collect(common.StatusText, since).map((s) => s.text), [], `${port}: no STATUSTEXT about it`);
  await gcs.close();
}

void test('what ArduPilot does with unsigned frames once signing is on', async (t) => {
  await probeUnsigned(t, sitl.link, 'SERIAL0 (channel 0)', true);
  await probeUnsigned(t, sitl.link2, 'SERIAL1', false);
});

void test('fc-sim takes SETUP_SIGNING and answers as SITL\'s SERIAL1 (and, told so, as its channel 0)', async (t) => {
  for (const [acceptUnsigned, port, answered] of [
    [false, 'fc-sim', false],
    [true, 'fc-sim with signingAcceptUnsigned', true],
  ] as const) {
    const sim = await startFcSim({ link: 'tcp:127.0.0.1:0', heartbeatMs: 100, signingAcceptUnsigned: acceptUnsigned });
    t.teardown(() => sim.stop());
    await installKey(sim.link, key);
    await probeUnsigned(t, sim.link, port, answered);
  }
});

void test('the agent with the key applies; with a wrong key or none it fails with AIM_ERR_FC_LINK', async (t) => {
  const mosq = await startMosquitto(t);
  const dir = mkdtempSync(join(tmpdir(), 'aim-sitl-sign-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ground = generateKeyPair();
  writeFileSync(join(dir, 'ground.pub.pem'), ground.publicPem);
  writeFileSync(join(dir, 'fc.key'), key.toString('hex') + '\n');
  writeFileSync(join(dir, 'wrong.key'), randomBytes(32).toString('hex') + '\n');
  const client = await mqtt.connectAsync(mosq.url, { protocolVersion: 5, clientId: 'ground-sign', reconnectPeriod: 200 });
  t.teardown(() => client.endAsync(true));
  const acks: Ack[] = [];
  client.on('message', (_topic, payload) => acks.push(JSON.parse(payload.toString()) as Ack));
  // Channel 0 takes unsigned frames. Its reads share ArduPilot's answer queue with link2's (see drainPort).
  const readBack = await openReadBack(t, sitl.link);

  const run = async (droneId: string, version: number, fcSettings: Record<string, unknown>) => {
    await client.subscribeAsync(topicFor(droneId, 'ack'), { qos: 1 });
    const settingsFile = join(dir, `${droneId}.json`);
    writeFileSync(
      settingsFile,
      JSON.stringify({
        droneId,
        broker: { url: mosq.url, protocolVersion: 5 },
        fc: { link: sitl.link2, paramTimeoutMs: 400, paramRetries: 2, ...fcSettings },
        security: { requireSignature: true, trustedKeys: [join(dir, 'ground.pub.pem')] },
        stateDir: join(dir, droneId),
        logLevel: 'warn',
      }),
    );
    const cfg: AimConfig = {
      kind: 'aim-config',
      schemaVersion: 1,
      version,
      id: `sign-v${version}`,
      issuedAt: new Date(Date.now() - 1000).toISOString(),
      mount: { pitch: { minDeg: -70 + version, maxDeg: 15 }, rcRateDegS: 40 + version },
    };
    const agent = spawnCli(t, 'aim-agent', ['run', '--settings', settingsFile]);
    await client.publishAsync(topicFor(droneId, 'desired'), signJws(canonicalJson(cfg), loadPrivateKey(ground.privatePem)), { qos: 1, retain: true });
    const ack = await waitFor(`ack from ${droneId}`, () => acks.find((a) => a.version === version && a.status !== 'deferred'), { timeoutMs: 30_000 });
    agent.kill('SIGTERM');
    await agent.exited;
    const want = new Map(configToFcParams(cfg).map((p) => [p.name, castParamValue(p.value, p.type)]));
    // SIGTERM may land in the agent's link-up reconciliation, reads in flight: drain link2 as a UART would.
    const got = await readBack.read([...want.keys()], { drain: sitl.link2 });
    // `answered`: a "nothing was applied" from reads that went unanswered would prove nothing.
    return { ack, got: JSON.stringify(Object.fromEntries(got)), answered: [...got.values()].every((v) => v !== undefined), holds: [...want].every(([n, v]) => got.get(n) === v) };
  };

  const signed = await run('signed', 1, { signingKeyFile: join(dir, 'fc.key'), acceptUnsigned: false });
  t.match(signed.ack, { status: 'applied' }, 'the right key: applied');
  t.ok(signed.holds, `SITL holds the signed config: ${signed.got}`);

  // aim-agent apply takes the key from the same settings.
  const applyCfg = join(dir, 'apply.json');
  writeFileSync(applyCfg, JSON.stringify({ kind: 'aim-config', schemaVersion: 1, version: 10, id: 'sign-apply', issuedAt: new Date(Date.now() - 1000).toISOString(), mount: { rcRateDegS: 33 } }));
  const apply = spawnCli(t, 'aim-agent', ['apply', applyCfg, '--settings', join(dir, 'signed.json'), '--state-dir', join(dir, 'apply-state'), '--allow-unsigned']);
  t.equal(await apply.exited, 0, `aim-agent apply with fc.signingKeyFile: exit 0 ${apply.stderr()}`);
  t.match(JSON.parse(apply.stdout() || 'null'), { status: 'applied' });
  t.equal((await readBack.read(['MNT1_RC_RATE'], { drain: sitl.link2 })).get('MNT1_RC_RATE'), 33, 'SITL holds the value aim-agent apply set over the signed link');

  const wrong = await run('wrong-key', 2, { signingKeyFile: join(dir, 'wrong.key') });
  t.match(wrong.ack, { status: 'failed', code: 'AIM_ERR_FC_LINK', rolledBack: true }, 'a wrong key: AIM_ERR_FC_LINK');
  t.match(wrong.ack.reason, /signature/i, `the reason says why: ${wrong.ack.reason}`);
  t.ok(wrong.answered && !wrong.holds, `nothing was applied: ${wrong.got}`);

  const unsigned = await run('unsigned', 3, {});
  t.match(unsigned.ack, { status: 'failed', code: 'AIM_ERR_FC_LINK' }, 'unsigned: AIM_ERR_FC_LINK');
  t.match(unsigned.ack.reason, /sign/i, `the reason says why: ${unsigned.ack.reason}`);
  t.ok(unsigned.answered && !unsigned.holds, `nothing was applied: ${unsigned.got}`);
});
