// `npm run demo`: one drone, end to end, on this machine only (loopback).
// embedded MQTT broker (aedes) + simulated ArduPilot (fc-sim over TCP) + aim-agent with a temporary
// state directory + a fresh Ed25519 key pair → publish a signed example config → print the ack and
// the FC's parameter values before and after → stop everything.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startAgent } from '../agent/index.js';
import { canonicalJson, configToFcParams, generateKeyPair, loadPrivateKey, parseAimConfig, signJws, topicFor, type Ack } from '../protocol/index.js';
import { startEmbeddedBroker } from '../sim/embedded-broker.js';
import { startFcSim } from '../sim/index.js';

const say = (s = '') => process.stdout.write(s + '\n');
const dir = mkdtempSync(join(tmpdir(), 'aim-demo-'));
const logFile = join(dir, 'agent.log');
const cleanups: (() => Promise<unknown> | unknown)[] = [];

async function main(): Promise<void> {
  say('aim-agent demo: broker + simulated flight controller + agent, all on 127.0.0.1\n');
  const broker = await startEmbeddedBroker();
  cleanups.push(() => broker.close());
  say(`1. embedded MQTT broker (aedes, MQTT 3.1.1) on ${broker.url}`);

  const fc = await startFcSim({ link: 'tcp:127.0.0.1:0', readLatencyMs: 20 });
  cleanups.push(() => fc.stop());
  say(`2. fc-sim (simulated ArduPilot, servo mount) on ${fc.link}`);

  const keys = generateKeyPair();
  writeFileSync(join(dir, 'ground.pub.pem'), keys.publicPem);
  writeFileSync(join(dir, 'ground.key.pem'), keys.privatePem, { mode: 0o600 });
  say(`3. fresh Ed25519 signing key, kid ${keys.kid}`);

  const droneId = 'demo-drone';
  const agent = await startAgent({
    settings: {
      droneId,
      broker: { url: broker.url, protocolVersion: 4 },
      fc: { link: fc.link, paramTimeoutMs: 500 },
      security: { requireSignature: true, trustedKeys: [join(dir, 'ground.pub.pem')] },
      stateDir: join(dir, 'state'),
    },
    logger: pino({ level: 'info' }, pino.destination({ dest: logFile, sync: true })),
  });
  cleanups.unshift(() => agent.stop());
  await agent.ready;
  say(`4. aim-agent running for drone '${droneId}' (state in ${join(dir, 'state')}, log in ${logFile})`);

  const example = parseAimConfig(readFileSync(new URL('../protocol/examples/full.json', import.meta.url)));
  if (!example.ok) throw new Error('protocol/examples/full.json is invalid');
  const config = { ...example.config, issuedAt: new Date().toISOString(), expiresAt: new Date(Date.now() + 3600_000).toISOString() };
  const wanted = configToFcParams(config);
  const before = new Map(wanted.map((p) => [p.name, fc.getParam(p.name)]));

  const client = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'demo-ground', reconnectPeriod: 0 });
  cleanups.unshift(() => client.endAsync());
  const acked = new Promise<Ack>((resolve) => {
    client.on('message', (_topic, payload) => {
      const ack = JSON.parse(payload.toString()) as Ack;
      if (ack.version === config.version && ack.status !== 'deferred') resolve(ack);
    });
  });
  await client.subscribeAsync(topicFor(droneId, 'ack'), { qos: 1 });
  const jws = signJws(canonicalJson(config), loadPrivateKey(keys.privatePem));
  await client.publishAsync(topicFor(droneId, 'desired'), jws, { qos: 1, retain: true });
  say(`5. published signed config '${config.id}' version ${config.version} (${jws.length}-byte JWS) to ${topicFor(droneId, 'desired')}`);

  const ack = await withTimeout(acked, 20_000, 'the ack');
  say(`\n6. ack from the drone: status=${ack.status} stage=${ack.stage} total=${ack.timings.totalMs} ms push=${ack.timings.pushMs ?? '-'} ms aim=${ack.aim?.result ?? '-'} lockToken=${ack.lockToken ?? '-'}`);
  say(JSON.stringify(ack));

  say('\n   parameter          before     after      wanted');
  for (const p of wanted) {
    const after = fc.getParam(p.name);
    say(`   ${p.name.padEnd(18)} ${fmt(before.get(p.name)).padEnd(10)} ${fmt(after).padEnd(10)} ${fmt(p.value)}`);
  }
  const file = JSON.parse(readFileSync(join(dir, 'state', 'aim-params.json'), 'utf8')) as { version: number };
  say(`\n7. aim file ${join(dir, 'state', 'aim-params.json')} now holds version ${file.version}`);
  if (ack.status !== 'applied') throw new Error(`expected applied, got ${ack.status}: ${ack.reason ?? ''}`);
  say('\ndemo complete: the config was verified, pushed, echoed back by the FC, committed and acked.');
}

function fmt(v: number | undefined): string {
  return v === undefined ? '-' : String(Math.round(v * 1000) / 1000);
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no ${what} within ${ms / 1000} s (see the agent log)`)), ms);
    p.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e: unknown) => (clearTimeout(timer), reject(e)),
    );
  });
}

let code = 0;
try {
  await main();
} catch (err) {
  process.stderr.write(`demo failed: ${err instanceof Error ? err.message : String(err)}\n`);
  try {
    process.stderr.write(readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') + '\n');
  } catch {
    /* no log yet */
  }
  code = 1;
} finally {
  for (const c of cleanups) await Promise.resolve(c()).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
process.exit(code);
