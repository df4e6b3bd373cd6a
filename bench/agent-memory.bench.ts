// Memory under work: one agent as systemd runs it (the installed launcher's node flags and dist/bundle, a
// real process) takes BENCH_APPLIES (default 2,000) signed configs over MQTT, one after another, each
// pushed to fc-sim over TCP and acked. Reports RSS after start and at every quarter, and the outbox's
// size on disk. Targets: RSS after the last apply ≤ 70 MB; the outbox stays bounded (≤ 64 KiB) because
// delivered acks are compacted away. Needs `npm run build` first. AIM_AGENT_BIN=dist/agent/bin/aim-agent.js
// measures the unbundled build instead, for comparison.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import mqtt from 'mqtt';
import { canonicalJson, generateKeyPair, loadPrivateKey, signJws, topicFor, type Ack, type AimConfig } from '../protocol/index.js';
import { startEmbeddedBroker } from '../sim/embedded-broker.js';
import { startFcSim } from '../sim/index.js';
import { launcherCommand } from '../test/support/launcher.js';
import { table } from './report.js';

const APPLIES = Number(process.env.BENCH_APPLIES ?? 2000);
const RSS_TARGET_MB = 70;
const OUTBOX_TARGET_BYTES = 64 * 1024;
const launcher = launcherCommand();
const bin = process.env.AIM_AGENT_BIN ?? launcher.script;
// BENCH_PLAIN_NODE=1 drops the launcher's flags (plain `node`, as the 121 MB unbundled figure was taken).
const NODE_FLAGS = [...(process.env.BENCH_PLAIN_NODE === '1' ? [] : launcher.nodeFlags), ...(process.env.BENCH_NODE_FLAGS ?? '').split(' ').filter(Boolean)];

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

function config(version: number): AimConfig {
  const b = version % 2 === 0; // alternate two value sets so every apply writes parameters
  return {
    kind: 'aim-config',
    schemaVersion: 1,
    version,
    id: `mem-${version}`,
    issuedAt: '2026-11-26T13:00:00Z',
    mount: { pitch: { minDeg: b ? -80 : -85, maxDeg: b ? 15 : 10 }, rcRateDegS: b ? 40 : 50, neutral: { rollDeg: 0, pitchDeg: b ? -1 : -2, yawDeg: 0 } },
    aim: { pitchDeg: -30, yawDeg: 0 },
    params: { MNT1_LEAD_PTCH: b ? 0.06 : 0.12 },
  };
}

async function main() {
  if (!existsSync(bin)) throw new Error(`${bin} missing: run npm run build`);
  const dir = mkdtempSync(join(tmpdir(), 'aim-bench-mem-'));
  const broker = await startEmbeddedBroker();
  const fc = await startFcSim({ link: 'tcp:127.0.0.1:0' });
  const keys = generateKeyPair();
  const key = loadPrivateKey(keys.privatePem);
  writeFileSync(join(dir, 'k.pub.pem'), keys.publicPem);
  const droneId = 'mem-1';
  const stateDir = join(dir, 'state');
  const settings = join(dir, 'agent.json');
  writeFileSync(settings, JSON.stringify({ droneId, broker: { url: broker.url, protocolVersion: 4 }, fc: { link: fc.link }, stateDir, security: { trustedKeys: [join(dir, 'k.pub.pem')] }, logLevel: 'warn' }));
  const ground = await mqtt.connectAsync(broker.url, { protocolVersion: 4, clientId: 'bench-mem-ground' });
  const acks = new Map<number, (a: Ack) => void>();
  let online: (() => void) | undefined;
  ground.on('message', (topic, payload) => {
    if (topic === topicFor(droneId, 'status') && (JSON.parse(payload.toString()) as { state: string }).state === 'online') online?.();
    if (topic !== topicFor(droneId, 'ack')) return;
    const a = JSON.parse(payload.toString()) as Ack;
    if (a.status !== 'deferred' && a.version !== null) acks.get(a.version)?.(a);
  });
  await ground.subscribeAsync([topicFor(droneId, 'status'), topicFor(droneId, 'ack')], { qos: 1 });
  let child: ChildProcess | undefined;
  const outboxBytes = () => {
    try {
      return statSync(join(stateDir, 'outbox.jsonl')).size;
    } catch {
      return 0;
    }
  };
  const samples: { applies: number; rssMb: number; outboxBytes: number }[] = [];
  let failed = 0;
  let largestOutbox = 0;
  const t0 = performance.now();
  try {
    const up = new Promise<void>((r) => (online = r));
    // BENCH_HEAPSNAPSHOT_DIR=DIR: a heap snapshot there at every sample (node --heapsnapshot-signal), to find growth.
    const snapDir = process.env.BENCH_HEAPSNAPSHOT_DIR;
    const snapFlags = snapDir !== undefined ? ['--heapsnapshot-signal=SIGUSR2'] : [];
    child = spawn(process.execPath, [...NODE_FLAGS, ...snapFlags, resolve(bin), 'run', '--settings', settings], { stdio: ['ignore', 'ignore', 'inherit'], ...(snapDir !== undefined ? { cwd: snapDir } : {}) });
    const sample = (applies: number) => {
      samples.push({ applies, rssMb: rssMb(child!.pid!), outboxBytes: outboxBytes() });
      if (snapDir !== undefined) child!.kill('SIGUSR2');
    };
    await up;
    await new Promise((r) => setTimeout(r, 1000)); // let start-up settle before the first sample
    sample(0);
    for (let v = 1; v <= APPLIES; v++) {
      const acked = new Promise<Ack>((resolve) => acks.set(v, resolve));
      await ground.publishAsync(topicFor(droneId, 'desired'), signJws(canonicalJson(config(v)), key), { qos: 1, retain: true });
      const a = await Promise.race([acked, new Promise<undefined>((r) => setTimeout(() => r(undefined), 30_000))]);
      acks.delete(v);
      if (a === undefined) throw new Error(`no ack for v${v} within 30 s`);
      if (a.status !== 'applied') failed++;
      largestOutbox = Math.max(largestOutbox, outboxBytes());
      if (v % Math.max(1, Math.floor(APPLIES / 4)) === 0) sample(v);
    }
  } finally {
    child?.kill('SIGKILL');
    await ground.endAsync();
    await fc.stop();
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  const last = samples[samples.length - 1]!;
  const round = (x: number) => Math.round(x * 10) / 10;
  const result = {
    bench: 'agent-memory',
    applies: APPLIES,
    failed,
    script: bin.replace(/^.*\/dist\//, 'dist/'),
    nodeFlags: NODE_FLAGS,
    startRssMb: round(samples[0]!.rssMb),
    finalRssMb: round(last.rssMb),
    peakSampledRssMb: round(Math.max(...samples.map((s) => s.rssMb))),
    finalOutboxBytes: last.outboxBytes,
    largestOutboxBytes: largestOutbox,
    seconds: Math.round(seconds),
    pass: last.rssMb <= RSS_TARGET_MB && largestOutbox <= OUTBOX_TARGET_BYTES && failed === 0,
  };
  process.stdout.write(JSON.stringify(result) + '\n\n');
  process.stdout.write(
    table(
      ['applies', 'RSS', 'outbox on disk'],
      samples.map((s) => [String(s.applies), `${s.rssMb.toFixed(1)} MB`, `${(s.outboxBytes / 1024).toFixed(1)} KiB`]),
    ),
  );
  process.stdout.write(`\nlargest outbox seen: ${(largestOutbox / 1024).toFixed(1)} KiB (target ≤ ${OUTBOX_TARGET_BYTES / 1024} KiB); RSS after ${APPLIES} applies: ${last.rssMb.toFixed(1)} MB (target ≤ ${RSS_TARGET_MB} MB)\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`agent-memory bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
});
