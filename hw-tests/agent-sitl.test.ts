import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import t from 'tap';
import {
  AckSchema,
  canonicalJson,
  castParamValue,
  configToFcParams,
  generateKeyPair,
  loadPrivateKey,
  parseAimConfig,
  signJws,
  topicFor,
  type Ack,
  type AimConfig,
  type Reported,
} from '../protocol/index.js';
import { requireBuild, requireTool, ROOT, spawnCli, startMosquitto, waitFor, type Tracked } from '../test/support/index.js';
import { requireSitl, startSitl, type Sitl } from '../test/support/sitl.js';
import { startUartBridge } from '../test/support/uart-bridge.js';
import { openReadBack, type ReadBack } from './fc-readback.js';

// The agent as a drone runs it (real processes, dist/), against real ArduPilot: one SITL for this file
// (`sitl start --wipe`), the agent on its SERIAL0 (`link`), and every value checked by an independent
// ground station on SERIAL1 (`link2`) that shares no code with the agent.

const EXAMPLES = join(ROOT, 'protocol/examples');

/** What the FC must hold for `cfg`: every mapped parameter after ArduPilot's cast. */
function expected(cfg: AimConfig): Map<string, number> {
  return new Map(configToFcParams(cfg).map((p) => [p.name, castParamValue(p.value, p.type)]));
}

/** Names whose FC value differs from `want`, as `NAME fc=X want=Y`. */
async function differing(rb: ReadBack, want: Map<string, number>): Promise<string[]> {
  const got = await rb.read([...want.keys()]);
  return [...want].filter(([n, v]) => got.get(n) !== v).map(([n, v]) => `${n} fc=${got.get(n)} want=${v}`);
}

const ok = requireSitl(t) && requireBuild(t, `${ROOT}dist/agent/bin/aim-agent.js`);
let sitl: Sitl;
let rb: ReadBack;
if (ok) {
  t.before(async () => {
    sitl = await startSitl(t);
    rb = await openReadBack(t, sitl.link2);
  });
}
const test = ok ? t.test.bind(t) : () => undefined;

void test('aim-agent apply: every example config, read back on link2', async (t) => {
  const files = readdirSync(EXAMPLES).filter((f) => f.endsWith('.json')).sort();
  t.ok(files.length >= 4, `examples: ${files.join(', ')}`);
  for (const file of files) {
    const text = readFileSync(join(EXAMPLES, file), 'utf8');
    const cfg = parseAimConfig(text);
    if (!cfg.ok) throw new Error(`${file}: an example that does not validate: ${JSON.stringify(cfg.errors)}`);
    const want = expected(cfg.config);
    const before = await rb.read([...want.keys()]);
    const dir = mkdtempSync(join(tmpdir(), 'aim-sitl-apply-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const p = spawnCli(t, 'aim-agent', ['apply', join(EXAMPLES, file), '--fc', sitl.link, '--state-dir', dir, '--allow-unsigned', '--drone', 'drone-07']);
    const code = await p.exited;
    const ack = JSON.parse(p.stdout() || 'null') as Ack | null;
    const dry = cfg.config.apply?.dryRun === true;
    t.equal(code, 0, `${file}: exit 0 (${p.stderr().trim()})`);
    t.equal(ack?.status, dry ? 'dry-run' : 'applied', `${file}: ${dry ? 'dry-run' : 'applied'}`);
    if (dry) t.same(await differing(rb, before as Map<string, number>), [], `${file}: a dry run changes nothing on the FC`);
    else t.same(await differing(rb, want), [], `${file}: SITL holds every value`);
  }
});

void test('aim-agent apply full.json at 57600 through the UART pacing bridge', async (t) => {
  if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'socat')) return;
  const file = join(EXAMPLES, 'full.json');
  const cfg = parseAimConfig(readFileSync(file, 'utf8'));
  if (!cfg.ok) throw new Error('full.json does not validate');
  // Start from other values, so every parameter really crosses the slow line.
  for (const [name, v] of [['MNT1_RC_RATE', 11], ['MNT1_PITCH_MAX', 5]] as const) t.equal(await rb.set(name, v, 'INT16'), v);
  const bridge = await startUartBridge({ upstream: sitl.link, baud: 57600 });
  t.teardown(() => bridge.close());
  const dir = mkdtempSync(join(tmpdir(), 'aim-sitl-uart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const p = spawnCli(t, 'aim-agent', ['apply', file, '--fc', `serial:${bridge.pty}:57600`, '--state-dir', dir, '--allow-unsigned']);
  t.equal(await p.exited, 0, p.stderr());
  t.match(JSON.parse(p.stdout() || 'null'), { status: 'applied' });
  t.same(await differing(rb, expected(cfg.config)), [], 'SITL holds every value of full.json');
  t.ok(bridge.stats().toFc > 0 && bridge.stats().toAgent > 0, `bytes crossed the 57600 line: ${JSON.stringify(bridge.stats())}`);
});

void test('the service end to end on SITL: Mosquitto → applied → link2; dry run; rollback; read-only; absent; drift repair', async (t) => {
  if (!requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, 'mosquitto')) return;
  const mosq = await startMosquitto(t);
  const dir = mkdtempSync(join(tmpdir(), 'aim-sitl-svc-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keys = generateKeyPair();
  writeFileSync(join(dir, 'ground.pub.pem'), keys.publicPem);
  const droneId = 'sitl-01';
  const settingsFile = join(dir, 'agent.json');
  writeFileSync(
    settingsFile,
    JSON.stringify({
      droneId,
      broker: { url: mosq.url, protocolVersion: 5 },
      // Short parameter timeouts: SITL over loopback answers in milliseconds; the absent-parameter case waits them out.
      fc: { link: sitl.link, paramTimeoutMs: 400, paramRetries: 2 },
      security: { requireSignature: true, trustedKeys: [join(dir, 'ground.pub.pem')] },
      stateDir: join(dir, 'state'),
      logLevel: 'warn',
    }),
  );
  const ground = await mqtt.connectAsync(mosq.url, { protocolVersion: 5, clientId: 'ground-sitl', reconnectPeriod: 200 });
  t.teardown(() => ground.endAsync(true));
  const acks: Ack[] = [];
  const reported: Reported[] = [];
  ground.on('message', (topic, payload) => {
    const body = JSON.parse(payload.toString()) as unknown;
    if (topic === topicFor(droneId, 'ack')) acks.push(AckSchema.parse(body) as Ack);
    else if (topic === topicFor(droneId, 'reported')) reported.push(body as Reported);
  });
  await ground.subscribeAsync([topicFor(droneId, 'ack'), topicFor(droneId, 'reported')], { qos: 1 });
  const cfg = (version: number, extra: Partial<AimConfig> = {}): AimConfig => ({
    kind: 'aim-config',
    schemaVersion: 1,
    version,
    id: `sitl-v${version}`,
    issuedAt: new Date(Date.now() - 1000).toISOString(),
    mount: { pitch: { minDeg: -70, maxDeg: 15 }, rcRateDegS: 40 + version, defaultMode: 'mavlink-targeting' },
    aim: { pitchDeg: -20, yawDeg: 5, yawFrame: 'vehicle' },
    ...extra,
  });
  const publish = (c: AimConfig) => ground.publishAsync(topicFor(droneId, 'desired'), signJws(canonicalJson(c), loadPrivateKey(keys.privatePem)), { qos: 1, retain: true });
  const ackFor = (version: number) => waitFor(`ack for v${version}`, () => acks.find((a) => a.version === version && a.status !== 'deferred'), { timeoutMs: 20_000 });
  const startAgent = (): Tracked => spawnCli(t, 'aim-agent', ['run', '--settings', settingsFile]);
  const stopAgent = async (agent: Tracked) => {
    agent.kill('SIGTERM');
    t.equal(await agent.exited, 0, 'the service stopped cleanly');
  };

  let agent = startAgent();
  const v1 = cfg(1);
  await publish(v1);
  const a1 = await ackFor(1);
  t.match(a1, { status: 'applied', aim: { result: 'accepted' } }, 'v1 applied');
  t.same(await differing(rb, expected(v1)), [], 'SITL holds v1, read on link2');

  const held = async (what: string) => t.same(await differing(rb, expected(v1)), [], `${what}: SITL still holds v1`);

  await publish(cfg(2, { apply: { when: 'immediate', dryRun: true }, mount: { pitch: { minDeg: -50, maxDeg: 5 }, rcRateDegS: 77 } }));
  t.match(await ackFor(2), { status: 'dry-run' }, 'v2 dry run');
  await held('after the dry run');

  // A read-only parameter our table does not know: ArduPilot denies it in the middle of the push, after
  // the mount values were set, so the agent must put them back.
  await publish(cfg(3, { mount: { pitch: { minDeg: -60, maxDeg: 10 }, rcRateDegS: 88 }, params: { MIS_TOTAL: 5 } }));
  const a3 = await ackFor(3);
  t.match(a3, { status: 'failed', stage: 'push', rolledBack: true }, 'v3 failed in the push (MIS_TOTAL is read-only on ArduCopter) and was rolled back');
  t.same(
    a3.params?.filter((p) => p.result === 'ok').map((p) => p.name).sort(),
    ['MNT1_PITCH_MAX', 'MNT1_PITCH_MIN', 'MNT1_RC_RATE'],
    'the mount values had been written before the denial (a real mid-push failure)',
  );
  t.match(JSON.stringify(a3), /MIS_TOTAL/, 'the ack names the parameter');
  await held('after the rollback');

  // A read-only parameter we know: refused before anything goes on the wire.
  await publish(cfg(4, { params: { MNT1_DEVID: 5 } }));
  const a4 = await ackFor(4);
  t.match(a4, { status: 'rejected', code: 'AIM_ERR_INVALID' });
  t.match(JSON.stringify(a4.errors), /params\.MNT1_DEVID/, 'rejected with the path');
  await held('after the read-only rejection');

  // A parameter ArduCopter 4.7 does not have (silence): failed, nothing changed.
  await publish(cfg(5, { mount: { pitch: { minDeg: -60, maxDeg: 10 }, rcRateDegS: 66 }, params: { AIM_NO_SUCH_PRM: 1 } }));
  const a5 = await ackFor(5);
  t.match(a5, { status: 'failed', rolledBack: true }, 'v5 with an absent parameter failed');
  t.match(JSON.stringify(a5), /AIM_NO_SUCH_PRM/, 'the ack names it');
  await held('after the absent parameter');

  // Drift: another GCS changes a value while the agent is down; boot reconciliation repairs it.
  await stopAgent(agent);
  const wantRate = expected(v1).get('MNT1_RC_RATE')!;
  t.equal(await rb.set('MNT1_RC_RATE', 5, 'INT16'), 5, 'MNT1_RC_RATE changed to 5 on link2 behind the agent');
  const repairedBefore = reported.length;
  agent = startAgent();
  const rep = await waitFor('reported with driftRepaired', () => reported.slice(repairedBefore).find((r) => r.fc.driftRepaired === true), { timeoutMs: 20_000 });
  t.match(rep.fc.repaired, [{ name: 'MNT1_RC_RATE', got: 5 }], 'the repaired drift named');
  t.same(rep.fc.drift, [], 'reported shows the FC after the repair: no drift left');
  t.equal((await rb.read(['MNT1_RC_RATE'])).get('MNT1_RC_RATE'), wantRate, 'SITL holds the file value again');
  await stopAgent(agent);
});


