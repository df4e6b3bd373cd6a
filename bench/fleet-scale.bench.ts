import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { loadPublicKey, type Ack, type AimConfig } from '../protocol/index.js';
import { table } from './report.js';
import { spawnCli, spawnTs, waitFor, type Tracked } from '../test/support/index.js';
import { connectBroker } from '../ground/broker.js';
import type { ProgressEvent } from '../ground/rollout/events.js';
import { FakeDrone } from '../ground/test-helpers/fake-drone.js';
import { aimConfig, parseEvents, startBroker, workspace } from '../ground/test-helpers/harness.js';

/**
 * aimctl at fleet scale: BENCH_DRONES (default 10,000) protocol-level simulated drones on ONE real
 * Mosquitto, each its own MQTT 5 client (own client id `aim-agent-<id>`, own TCP connection, persistent
 * session, Last Will), spread over BENCH_WORKERS simulator processes (default 4). A drone verifies the
 * signature and the version rules like the agent (ground/test-helpers/fake-drone.ts) and answers the
 * bench config after an apply time drawn uniformly from 200–2,000 ms, failing 1 % of applies (drawn
 * from a hash of drone id and config, so a run is reproducible; the 3 canary drones are spared, since a
 * failing canary halts by design). In one run:
 *  - `aimctl status` for the whole fleet (process wall time; target ≤ 5 s);
 *  - `aimctl rollout --all --canary 3 --waves 1%,10%,50%,100% --max-failures 2%`: total (command start to
 *    summary) against the sum of each wave's slowest apply (from the drones' own acks); target ≤ 20 %
 *    overhead; aimctl's CPU and peak RSS.
 * Bounded: everything is killed after BENCH_LIMIT_S (default 600 s).
 */
const N = Number(process.env.BENCH_DRONES ?? 10_000);
const WORKERS = Math.max(1, Number(process.env.BENCH_WORKERS ?? 4));
const LIMIT_S = Number(process.env.BENCH_LIMIT_S ?? 600);
const CANARY = 3;
const BENCH_ID = 'fleet-bench';

const idOf = (i: number) => `drone-${String(i + 1).padStart(5, '0')}`;
/** A number in [0, 1) from the drone and the config: reproducible draws without shared state. */
const draw = (drone: string, config: AimConfig, salt: string) => createHash('sha256').update(`${salt}|${drone}|${config.id}|${config.version}`).digest().readUInt32BE(0) / 2 ** 32;

/** Worker mode: host drones [from, to) until killed; prints `ready N` once all are connected and subscribed. */
async function worker(brokerUrl: string, pubPem: string, from: number, to: number): Promise<void> {
  const trusted = [loadPublicKey(pubPem)];
  const verifyCache = new Map();
  const drones: FakeDrone[] = [];
  for (let i = from; i < to; i++) {
    const id = idOf(i);
    drones.push(
      new FakeDrone({
        id,
        brokerUrl,
        trusted,
        verifyCache,
        applyDelayMs: (c) => (c.id === BENCH_ID ? 200 + Math.round(1800 * draw(id, c, 'delay')) : 0),
        failWhen: (c) => c.id === BENCH_ID && i >= CANARY && draw(id, c, 'fail') < 0.01,
      }),
    );
  }
  // Connect in batches: 10,000 simultaneous CONNECTs would only pile up in the broker's accept backlog.
  for (let i = 0; i < drones.length; i += 250) await Promise.all(drones.slice(i, i + 250).map((d) => d.start()));
  process.stdout.write(`ready ${drones.length}\n`);
  await new Promise(() => undefined);
}

interface Teardowns {
  teardown(fn: () => unknown): void;
  run(): Promise<void>;
}

function teardowns(): Teardowns {
  const fns: (() => unknown)[] = [];
  return {
    teardown: (fn) => void fns.push(fn),
    async run() {
      for (const fn of fns.reverse()) await fn();
    },
  };
}

/** aimctl as a real process: the built bundle when present (what operators run), else tsx. */
function aimctlProc(t: Teardowns, args: string[], logLevel = 'error'): { proc: Tracked; kind: string; t0: number } {
  const env = { ...process.env, AIMCTL_LOG_LEVEL: logLevel };
  const t0 = performance.now();
  const proc = process.env.BENCH_TSX === '1' ? spawnTs(t, 'ground/bin/aimctl.ts', args, { env }) : spawnCli(t, 'aimctl', args, { env });
  return { proc, kind: proc.child.spawnargs.some((a) => a.includes('/dist/')) ? 'dist bundle' : 'tsx', t0 };
}

async function main(t: Teardowns): Promise<void> {
  const ws = workspace(t);
  // One Mosquitto for the whole fleet. Its defaults (1,000 queued messages per client, 20 in flight)
  // would drop the acks of a 5,000-drone wave on their way to aimctl: raised here, as on a fleet broker.
  const broker = await startBroker(t, { extraConfig: ['max_connections -1', 'max_queued_messages 1000000', 'max_inflight_messages 0', 'log_type error'] });
  const pubPem = join(ws.dir, 'ground.pub.pem');
  const tStart = performance.now();
  const per = Math.ceil(N / WORKERS);
  const workers: Tracked[] = [];
  for (let w = 0; w < WORKERS; w++) {
    const from = w * per;
    const to = Math.min(N, from + per);
    if (from >= to) break;
    workers.push(spawnTs(t, 'bench/fleet-scale.bench.ts', ['--worker', broker.url, pubPem, String(from), String(to)]));
  }
  await Promise.all(workers.map((p) => p.waitForLine(/^ready \d+/, LIMIT_S * 1000)));
  const fleetUpMs = Math.round(performance.now() - tStart);
  process.stderr.write(`${N} drones connected in ${fleetUpMs} ms (${workers.length} processes)\n`);

  const common = ['--json', '--key', ws.keyPath, '--broker', broker.url];
  // The previous config, applied at once everywhere (not measured).
  const seed = aimctlProc(t, ['rollout', ws.file('seed.json', aimConfig('seed', -90)), '--all', '--canary', '1', '--timeout', '120', '--max-failures', '0', '--state', join(ws.dir, 'seed.state.json'), ...common]);
  if ((await seed.proc.exited) !== 0) throw new Error(`seeding failed: ${seed.proc.stderr().slice(-2000)}`);
  const seedMs = Math.round(performance.now() - seed.t0);
  process.stderr.write(`seeded in ${seedMs} ms\n`);

  // aimctl status for the whole fleet, as an operator runs it.
  const st = aimctlProc(t, ['status', '--json', '--broker', broker.url]);
  const stCode = await st.proc.exited;
  const statusMs = Math.round(performance.now() - st.t0);
  const statusRows = st.proc.stdout().split('\n').filter((l) => l.startsWith('{')).length;
  if (stCode !== 0 || statusRows !== N) throw new Error(`aimctl status exited ${stCode} with ${statusRows} rows\n${st.proc.stderr().slice(-2000)}`);
  process.stderr.write(`status: ${statusRows} rows in ${statusMs} ms\n`);

  // Every ack's own apply time, as the drones measured it. The watcher subscribes to the ack topics only,
  // so it adds no fan-out of the 10,000 desired/status/reported messages to the broker's work.
  // totalMs counts from the message's arrival at the drone (as the agent's does: its own queueing is
  // part of its apply); pushMs is the drawn apply time alone.
  const applyMs = new Map<string, number>();
  const drawnMs = new Map<string, number>();
  const watcher = await connectBroker({ url: broker.url, topicPrefix: 'aim' });
  t.teardown(() => watcher.endAsync(true));
  watcher.on('message', (topic, payload) => {
    const a = JSON.parse(payload.toString()) as Ack;
    const d = topic.split('/')[1]!;
    if (a.id === BENCH_ID && (a.status === 'applied' || a.status === 'failed')) {
      applyMs.set(d, a.timings.totalMs);
      drawnMs.set(d, a.timings.pushMs ?? NaN);
    }
  });
  await watcher.subscribeAsync('aim/+/config/ack', { qos: 1 });

  const cfg = ws.file('bench.json', aimConfig(BENCH_ID, -60, { aim: { pitchDeg: -30, yawDeg: 0 } }));
  const ro = aimctlProc(t, ['rollout', cfg, '--all', '--canary', String(CANARY), '--waves', '1%,10%,50%,100%', '--max-failures', '2%', '--timeout', '60', '--state', join(ws.dir, 'bench.state.json'), ...common], 'debug');
  const code = await ro.proc.exited;
  const processWallMs = Math.round(performance.now() - ro.t0);
  const events: ProgressEvent[] = parseEvents(ro.proc.stdout());
  const start = events.find((e) => e.event === 'start');
  const summary = events.find((e) => e.event === 'summary');
  if (start?.event !== 'start' || summary?.event !== 'summary') throw new Error(`aimctl printed no start/summary (exit ${code})\n${ro.proc.stderr().slice(-3000)}`);
  const failed = summary.drones.filter((r) => r.state !== 'applied');
  await waitFor('every ack at the watcher', () => applyMs.size >= N - failed.filter((r) => r.state !== 'failed').length, { timeoutMs: 30_000 });

  const at = (pred: (e: ProgressEvent) => boolean) => (events.find(pred) as { atMs?: number } | undefined)?.atMs ?? NaN;
  const steps = start.waves.map((w, i) => {
    const span = at((e) => e.event === 'wave-end' && e.wave === i) - at((e) => e.event === 'wave-start' && e.wave === i);
    const slowest = (m: Map<string, number>) => w.drones.reduce((x, d) => Math.max(x, m.get(d) ?? 0), 0);
    const begin = at((e) => e.event === 'wave-start' && e.wave === i);
    // Write-ahead flush + publishing: until the first 'published' line of the wave.
    const publishedMs = at((e) => e.event === 'drone' && e.phase === 'rollout' && e.wave === w.name && e.state === 'published') - begin;
    return { name: w.name, drones: w.drones.length, slowestApplyMs: slowest(applyMs), slowestDrawnMs: slowest(drawnMs), spanMs: span, flushAndPublishMs: publishedMs };
  });
  const sumSlowestMs = steps.reduce((s, w) => s + w.slowestApplyMs, 0);
  const sumDrawnMs = steps.reduce((s, w) => s + w.slowestDrawnMs, 0);
  // aimctl's own stage times (debug log lines with ms since the command started).
  const stage = (msg: string) => {
    const line = ro.proc.stderr().split('\n').find((l) => l.includes(`"msg":"${msg}"`));
    return line === undefined ? null : ((JSON.parse(line) as { ms?: number }).ms ?? null);
  };
  const totalMs = summary.stats.wallMs;
  const overheadPct = (totalMs / sumSlowestMs - 1) * 100;
  const startupMs = at((e) => e.event === 'wave-start' && e.wave === 0);
  const wavesMs = steps.reduce((s, w) => s + w.spanMs, 0);
  const result = {
    bench: 'fleet-scale',
    drones: N,
    simulatorProcesses: workers.length,
    aimctl: ro.kind,
    fleetConnectMs: fleetUpMs,
    status: { ms: statusMs, rows: statusRows, targetMs: 5000, pass: statusMs <= 5000 },
    rollout: {
      result: summary.result,
      exitCode: code,
      failed: failed.length,
      steps: steps.map((s) => ({ ...s, slowestApplyMs: Math.round(s.slowestApplyMs) })),
      sumSlowestApplyMs: Math.round(sumSlowestMs),
      sumSlowestDrawnMs: Math.round(sumDrawnMs),
      totalMs,
      overheadPct: Math.round(overheadPct * 10) / 10,
      overheadOverDrawnPct: Math.round((totalMs / sumDrawnMs - 1) * 1000) / 10,
      targetPct: 20,
      pass: overheadPct <= 20 && (summary.result === 'succeeded' || summary.result === 'completed-with-failures'),
      breakdown: {
        startupMs,
        connectedMs: stage('connected'),
        snapshotReadMs: stage('fleet snapshot read'),
        plannedMs: stage('planned and recorded'),
        betweenWavesMs: totalMs - startupMs - wavesMs,
        inWavesOverSlowestMs: Math.round(wavesMs - sumSlowestMs),
      },
      processWallMs,
      commandCpuMs: summary.stats.commandCpuMs,
      maxRssMb: Math.round(summary.stats.maxRssKb / 102.4) / 10,
    },
    loadAvg1m: Math.round(loadavg()[0]! * 10) / 10,
  };
  process.stdout.write(JSON.stringify(result) + '\n\n');
  const rows: string[][] = [
    ['drones', `${N} (protocol-level, ${workers.length} simulator processes, one Mosquitto; connected in ${fleetUpMs} ms)`],
    ['aimctl status, whole fleet (process wall)', `${statusMs} ms (target ≤ 5000) ${result.status.pass ? 'PASS' : 'FAIL'}`],
    ...steps.map((s) => [`${s.name} (${s.drones} drones): slowest apply (drawn) / wave took (state write + publish)`, `${Math.round(s.slowestApplyMs)} (${Math.round(s.slowestDrawnMs)}) / ${s.spanMs} (${s.flushAndPublishMs}) ms`]),
    ['sum of slowest applies, as the drones report them (drawn alone)', `${result.rollout.sumSlowestApplyMs} (${result.rollout.sumSlowestDrawnMs}) ms`],
    ['roll-out total (command start to summary)', `${totalMs} ms`],
    ['overhead', `${result.rollout.overheadPct}% (target ≤ 20%) ${result.rollout.pass ? 'PASS' : 'FAIL'}; over the drawn applies alone ${result.rollout.overheadOverDrawnPct}%`],
    ['… start-up: connect, fleet snapshot, plan, state file', `${startupMs} ms (connected ${result.rollout.breakdown.connectedMs}, snapshot ${result.rollout.breakdown.snapshotReadMs}, planned ${result.rollout.breakdown.plannedMs})`],
    ['… between waves and after the last', `${result.rollout.breakdown.betweenWavesMs} ms`],
    ['… inside waves beyond the slowest apply', `${result.rollout.breakdown.inWavesOverSlowestMs} ms`],
    ['result / drones not applied', `${summary.result} / ${failed.length}`],
    [`aimctl (${ro.kind}) process wall / CPU during the roll-out`, `${processWallMs} / ${result.rollout.commandCpuMs} ms`],
    ['aimctl peak RSS', `${result.rollout.maxRssMb} MB`],
    ['machine load (1 min average, 2 cores)', String(result.loadAvg1m)],
  ];
  process.stdout.write(table(['measure', 'value'], rows));
  if (!result.status.pass || !result.rollout.pass) process.exitCode = 1;
}

if (process.argv[2] === '--worker') {
  const [, , , url, pem, from, to] = process.argv;
  await worker(url!, readFileSync(pem!, 'utf8'), Number(from), Number(to));
} else {
  const t = teardowns();
  // Ctrl-C / kill: stop the simulators and the broker (they run in their own process groups) and remove the temp dirs.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => void t.run().finally(() => process.exit(1)));
  const limit = setTimeout(() => {
    process.stderr.write(`fleet-scale bench: over ${LIMIT_S} s, giving up\n`);
    void t.run().finally(() => process.exit(1));
  }, LIMIT_S * 1000);
  try {
    await main(t);
  } catch (err) {
    process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  } finally {
    clearTimeout(limit);
    await t.run();
  }
}
