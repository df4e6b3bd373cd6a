// End to end: publish → `applied` ack for a 20-parameter config through a real Mosquitto and the agent
// service, median and p95 of RUNS applies (two value sets alternating, so every parameter changes).
// `--fc sim` (default): fc-sim over a socat pty at 57600 with --baud-limit; the wire bound is
// max(bytes to the FC, bytes from it) × 10 / baud, counted by fc-sim during each apply.
// `--fc sitl`: ArduPilot SITL (`../shared/sitl/sitl start --wipe`) twice: over TCP (target ≤ 40 ms
// median, with the raw pipelined floor measured on SITL's second port in the same run), and at 57600
// through the UART pacing bridge (test/support/uart-bridge.ts), where the wire bound is fixed: 20
// PARAM_SETs (23-byte payload + 12) up and 20 PARAM_VALUE echoes (25 + 12) down, 10 bits a byte.
// `--fc all`: all three. Target on a 57600 line: ≤ 1.5 × wire bound + 50 ms.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { startAgent } from '../agent/index.js';
import { createLogger, silentLogger } from '../agent/log.js';
import { canonicalJson, configToFcParams, generateKeyPair, loadPrivateKey, signJws, topicFor, type Ack, type AimConfig } from '../protocol/index.js';
import { MOUNT_PARAMS } from '../protocol/param-table.js';
import { startFcSim } from '../sim/index.js';
import { freePort } from '../test/support/ports.js';
import { hasSitl, SITL_DIR, startSitl } from '../test/support/sitl.js';
import { startUartBridge } from '../test/support/uart-bridge.js';
import { openRawLink, settle, twentyParams, type RawLink } from './fc-floors.js';
import { fcTarget, stats, table } from './report.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 30);
const BAUD = 57600;
/** MAVLink 2 unsigned: 12 bytes of header and CRC around the payload. */
const V2_OVERHEAD = 12;
const PARAM_SET_BYTES = 23 + V2_OVERHEAD;
const PARAM_VALUE_BYTES = 25 + V2_OVERHEAD;
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

/** 14 mount parameters and 6 free ones, every one present on ArduCopter 4.7 (and in fc-sim). */
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
    params: { MNT1_LEAD_RLL: b ? 0.05 : 0.1, MNT1_LEAD_PTCH: b ? 0.06 : 0.12, MNT1_OPTIONS: b ? 1 : 2, PILOT_THR_FILT: b ? 1.5 : 2.5, PILOT_TKOFF_ALT: b ? 100 : 200, GPS_HDOP_GOOD: b ? 150 : 160 },
  };
}

interface Scenario {
  name: string;
  /** The agent's FC link. */
  link: string;
  /** Bytes to and from the FC so far (for a counted bound), when the FC can count them. */
  counted?: () => { in: number; out: number };
  /** A fixed wire bound in ms, when the bound is not counted. */
  fixedBoundMs?: number;
  /** A fixed target in ms (else 1.5 × bound + 50 ms). */
  targetMs?: number;
  /** Measured between applies in the same run: the raw pipelined floor on a second port. */
  raw?: RawLink;
}

async function runScenario(sc: Scenario) {
  const port = await freePort();
  const sdir = mkdtempSync(join(dir, 'run-'));
  // set_tcp_nodelay: with Nagle on, a PUBLISH behind an unacknowledged PUBACK waits for the peer's delayed
  // ACK (~40 ms) on every hop; a real broker for a drone should set it too.
  writeFileSync(join(sdir, 'mosquitto.conf'), `listener ${port} 127.0.0.1\nallow_anonymous true\npersistence false\nlog_dest none\nset_tcp_nodelay true\n`);
  const mosq = spawn(mosquittoPath(), ['-c', join(sdir, 'mosquitto.conf')], { stdio: 'ignore' });
  procs.push(mosq);
  const url = `mqtt://127.0.0.1:${port}`;
  const keys = generateKeyPair();
  writeFileSync(join(sdir, 'k.pub.pem'), keys.publicPem);
  const agent = await startAgent({
    settings: {
      droneId: 'bench',
      broker: { url },
      fc: { link: sc.link },
      security: { trustedKeys: [join(sdir, 'k.pub.pem')] },
      stateDir: join(sdir, 'state'),
      logLevel: 'silent',
    },
    logger: process.env.BENCH_LOG ? createLogger({ level: (process.env.BENCH_LOG === 'debug' ? 'debug' : 'info'), destination: pino.destination(2) }) : silentLogger(),
  });
  const local: (() => Promise<unknown>)[] = [() => agent.stop()];
  try {
    await agent.ready;
    const ground = await mqtt.connectAsync(url, { protocolVersion: 5, clientId: 'bench-ground' });
    // The same on the ground's side (MQTT.js leaves Nagle on): ~40 ms of the ground's, not the agent's.
    (ground.stream as unknown as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    local.unshift(() => ground.endAsync());
    const waiters = new Map<number, (a: Ack) => void>();
    ground.on('message', (_t, p) => {
      const ack = JSON.parse(p.toString()) as Ack;
      if (ack.version !== null && ack.status !== 'deferred') waiters.get(ack.version)?.(ack);
    });
    await ground.subscribeAsync(topicFor('bench', 'ack'), { qos: 1 });
    const key = loadPrivateKey(keys.privatePem);
    const settable = MOUNT_PARAMS.filter((p) => !p.readOnly && !p.rebootRequired);
    const totals: number[] = [];
    const bounds: number[] = [];
    const floors: number[] = [];
    const nParams = configToFcParams(config(1)).length;
    for (let v = 1; v <= RUNS + 2; v++) {
      const jws = signJws(canonicalJson(config(v)), key);
      const before = sc.counted?.();
      const acked = new Promise<Ack>((resolve) => waiters.set(v, resolve));
      const t0 = performance.now();
      if (process.env.BENCH_LOG) process.stderr.write(JSON.stringify({ time: Date.now(), msg: 'GROUND publish' }) + '\n');
      await ground.publishAsync(topicFor('bench', 'desired'), jws, { qos: 1, retain: true });
      const ack = await acked;
      const ms = performance.now() - t0;
      if (ack.status !== 'applied') throw new Error(`${sc.name} v${v}: ${ack.status} ${ack.reason ?? ''}`);
      const after = sc.counted?.();
      const bound = before && after ? (Math.max(after.in - before.in, after.out - before.out) * 10 * 1000) / BAUD : (sc.fixedBoundMs ?? NaN);
      const floor = sc.raw ? await sc.raw.pipelined(twentyParams(v % 2 === 0 ? 0 : 1, settable)) : NaN;
      if (v <= 2) continue; // warm-up: first connect, JIT
      totals.push(ms);
      bounds.push(bound);
      floors.push(floor);
    }
    const tot = stats(totals);
    const lb = stats(bounds).median;
    const target = sc.targetMs ?? 1.5 * lb + 50;
    return {
      scenario: sc.name,
      runs: RUNS,
      params: nParams,
      medianMs: tot.median,
      p95Ms: tot.p95,
      wireBoundMs: Number.isNaN(lb) ? null : Math.round(lb * 10) / 10,
      rawFloorMs: sc.raw ? stats(floors).median : null,
      targetMs: Math.round(target * 10) / 10,
      pass: tot.median <= target,
    };
  } finally {
    for (const c of local) await c().catch(() => undefined);
    mosq.kill('SIGKILL');
  }
}

async function main(): Promise<number> {
  const fc = fcTarget();
  if (fc === undefined) return 2;
  const results = [];
  if (fc !== 'sitl') {
    // Serial line: a socat pty pair, fc-sim paced at 57600 on one end, the agent on the other.
    const socat = spawn('socat', [`pty,raw,echo=0,link=${dir}/fc`, `pty,raw,echo=0,link=${dir}/agent`], { stdio: 'ignore' });
    procs.push(socat);
    await waitFile(`${dir}/fc`, 5000);
    await waitFile(`${dir}/agent`, 5000);
    const sim = await startFcSim({ link: `serial:${dir}/fc:${BAUD}`, baudLimit: true });
    cleanup.push(() => sim.stop());
    results.push(await runScenario({ name: `fc-sim, pty at ${BAUD} (--baud-limit)`, link: `serial:${dir}/agent:${BAUD}`, counted: () => ({ in: sim.stats.bytesIn, out: sim.stats.bytesOut }) }));
  }
  if (fc !== 'sim') {
    if (!hasSitl()) throw new Error(`--fc ${fc} needs ArduPilot SITL at ${SITL_DIR}`);
    const t = { teardown: (fn: () => unknown) => void cleanup.unshift(async () => fn()) };
    const sitl = await startSitl(t);
    await settle();
    const raw = await openRawLink(sitl.link2);
    cleanup.unshift(async () => raw.close());
    results.push(await runScenario({ name: 'ArduPilot SITL over TCP', link: sitl.link, targetMs: 40, raw }));
    const bridge = await startUartBridge({ upstream: sitl.link, baud: BAUD });
    cleanup.unshift(() => bridge.close());
    const fixedBoundMs = (Math.max(20 * PARAM_SET_BYTES, 20 * PARAM_VALUE_BYTES) * 10 * 1000) / BAUD;
    results.push(await runScenario({ name: `ArduPilot SITL at ${BAUD} through the UART bridge`, link: `serial:${bridge.pty}:${BAUD}`, fixedBoundMs }));
  }
  process.stdout.write(JSON.stringify({ bench: 'agent-e2e', results }) + '\n\n');
  process.stdout.write(
    table(
      ['FC', 'publish → applied median', 'p95', 'wire bound', 'raw floor (link2)', 'target', 'pass'],
      results.map((r) => [
        r.scenario,
        `${r.medianMs.toFixed(1)} ms`,
        `${r.p95Ms.toFixed(1)} ms`,
        r.wireBoundMs === null ? '—' : `${r.wireBoundMs} ms`,
        r.rawFloorMs === null ? '—' : `${r.rawFloorMs.toFixed(1)} ms`,
        `≤ ${r.targetMs} ms`,
        r.pass ? 'yes' : 'NO',
      ]),
    ),
  );
  return results.every((r) => r.pass) ? 0 : 1;
}

try {
  execFileSync('which', ['socat'], { stdio: 'ignore' });
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`agent-e2e bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of cleanup) await c().catch(() => undefined);
  for (const p of procs) p.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
