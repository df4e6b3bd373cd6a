// End to end: publish → `applied` ack for a 20-parameter config, fc-sim over a socat pty at 57600 baud
// with --baud-limit (real serial pacing), through a real Mosquitto. Median and p95 of 30 applies, and
// the ratio to the wire-time lower bound (max(bytes to the FC, bytes from it) × 10 / baud, counted from
// the bytes fc-sim actually saw on the wire during each apply). Target: ≤ 1.5 × bound + 50 ms.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { startAgent } from '../agent/index.js';
import { createLogger, silentLogger } from '../agent/log.js';
import { pino } from 'pino';
import { canonicalJson, configToFcParams, generateKeyPair, loadPrivateKey, signJws, topicFor, type Ack, type AimConfig } from '../protocol/index.js';
import { startFcSim } from '../sim/index.js';
import { freePort } from '../test/support/ports.js';
import { stats, table } from './report.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const BAUD = 57600;
const dir = mkdtempSync(join(tmpdir(), 'aim-bench-e2e-'));
const procs: ReturnType<typeof spawn>[] = [];
const cleanup: (() => Promise<unknown>)[] = [];

function mosquittoPath(): string {
  for (const p of ['/usr/sbin/mosquitto', '/usr/bin/mosquitto']) if (existsSync(p)) return p;
  throw new Error('mosquitto not found: apt-get install -y mosquitto');
}

async function waitFile(path: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

function config(version: number): AimConfig {
  const b = version % 2 === 0; // alternate two value sets so every parameter changes each time
  return {
    kind: 'aim-config',
    schemaVersion: 1,
    version,
    id: `bench-${version}`,
    issuedAt: new Date().toISOString(),
    mount: {
      pitch: { minDeg: b ? -80 : -85, maxDeg: b ? 15 : 10 },
      yaw: { minDeg: b ? -170 : -160, maxDeg: b ? 170 : 160 },
      roll: { minDeg: b ? -25 : -20, maxDeg: b ? 25 : 20 },
      rcRateDegS: b ? 40 : 50,
      defaultMode: b ? 'mavlink-targeting' : 'rc-targeting',
      neutral: { rollDeg: b ? 1 : 2, pitchDeg: b ? -1 : -2, yawDeg: b ? 3 : 4 },
      retract: { rollDeg: b ? 5 : 6, pitchDeg: b ? -85 : -80, yawDeg: b ? 7 : 8 },
    },
    aim: { pitchDeg: -30, yawDeg: 0 },
    params: { MNT1_LEAD_RLL: b ? 0.05 : 0.1, MNT1_LEAD_PTCH: b ? 0.06 : 0.12, MNT1_OPTIONS: b ? 1 : 2, PILOT_THR_FILT: b ? 1.5 : 2.5, TELEM_DELAY: b ? 1 : 2, GPS_HDOP_GOOD: b ? 150 : 160 },
  };
}

async function main() {
  // Broker
  const port = await freePort();
  writeFileSync(join(dir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\n`);
  const mosq = spawn(mosquittoPath(), ['-c', join(dir, 'mosquitto.conf')], { stdio: 'ignore' });
  procs.push(mosq);
  const url = `mqtt://127.0.0.1:${port}`;
  // Serial line: a socat pty pair, fc-sim paced at 57600 on one end, the agent on the other.
  const socat = spawn('socat', [`pty,raw,echo=0,link=${dir}/fc`, `pty,raw,echo=0,link=${dir}/agent`], { stdio: 'ignore' });
  procs.push(socat);
  await waitFile(`${dir}/fc`, 5000);
  await waitFile(`${dir}/agent`, 5000);
  const fc = await startFcSim({ link: `serial:${dir}/fc:${BAUD}`, baudLimit: true });
  cleanup.push(() => fc.stop());
  const keys = generateKeyPair();
  writeFileSync(join(dir, 'k.pub.pem'), keys.publicPem);
  const agent = await startAgent({
    settings: {
      droneId: 'bench',
      broker: { url },
      fc: { link: `serial:${dir}/agent:${BAUD}` },
      security: { trustedKeys: [join(dir, 'k.pub.pem')] },
      stateDir: join(dir, 'state'),
      logLevel: 'silent',
    },
    logger: process.env.BENCH_LOG ? createLogger({ level: 'info', destination: pino.destination(2) }) : silentLogger(),
  });
  cleanup.unshift(() => agent.stop());
  await agent.ready;
  const ground = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-ground' });
  cleanup.unshift(() => ground.endAsync());
  const waiters = new Map<number, (a: Ack) => void>();
  ground.on('message', (_t, p) => {
    const ack = JSON.parse(p.toString()) as Ack;
    if (ack.version !== null && ack.status !== 'deferred') waiters.get(ack.version)?.(ack);
  });
  await ground.subscribeAsync(topicFor('bench', 'ack'), { qos: 1 });
  const key = loadPrivateKey(keys.privatePem);

  const totals: number[] = [];
  const bounds: number[] = [];
  const ratios: number[] = [];
  const nParams = configToFcParams(config(1)).length;
  for (let v = 1; v <= RUNS + 2; v++) {
    const cfg = config(v);
    const jws = signJws(canonicalJson(cfg), key);
    const before = { in: fc.stats.bytesIn, out: fc.stats.bytesOut };
    const acked = new Promise<Ack>((resolve) => waiters.set(v, resolve));
    const t0 = performance.now();
    await ground.publishAsync(topicFor('bench', 'desired'), jws, { qos: 1, retain: true });
    const ack = await acked;
    const ms = performance.now() - t0;
    if (ack.status !== 'applied') throw new Error(`v${v}: ${ack.status} ${ack.reason ?? ''}`);
    const bytesIn = fc.stats.bytesIn - before.in;
    const bytesOut = fc.stats.bytesOut - before.out;
    const bound = (Math.max(bytesIn, bytesOut) * 10 * 1000) / BAUD;
    if (v <= 2) continue; // warm-up: first connect, JIT
    totals.push(ms);
    bounds.push(bound);
    ratios.push(ms / bound);
  }
  const tot = stats(totals);
  const lb = stats(bounds);
  const target = 1.5 * lb.median + 50;
  const result = {
    bench: 'agent-e2e',
    runs: RUNS,
    params: nParams,
    baud: BAUD,
    medianMs: tot.median,
    p95Ms: tot.p95,
    wireBoundMs: lb.median,
    ratioMedian: stats(ratios).median,
    targetMs: Math.round(target * 10) / 10,
    pass: tot.median <= target,
  };
  process.stdout.write(JSON.stringify(result) + '\n\n');
  process.stdout.write(
    table(
      ['measure', 'value'],
      [
        ['publish → applied, median', `${tot.median.toFixed(1)} ms`],
        ['publish → applied, p95', `${tot.p95.toFixed(1)} ms`],
        [`wire-time lower bound (${nParams} params, ${BAUD} baud)`, `${lb.median.toFixed(1)} ms`],
        ['median / bound', stats(ratios).median.toFixed(2)],
        ['target (1.5 × bound + 50 ms)', `${target.toFixed(1)} ms ${result.pass ? 'met' : 'MISSED'}`],
      ],
    ),
  );
}

try {
  execFileSync('which', ['socat'], { stdio: 'ignore' });
  await main();
} catch (err) {
  process.stderr.write(`agent-e2e bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of cleanup) await c().catch(() => undefined);
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
