import { loadavg } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Ack } from '../protocol/index.js';
import { table } from './report.js';
import { spawnTs, waitFor } from '../test/support/index.js';
import { connectBroker } from '../ground/broker.js';
import { FleetLink } from '../ground/fleet-link.js';
import type { ProgressEvent } from '../ground/rollout/events.js';
import { startFakeDrones } from '../ground/test-helpers/fake-drone.js';
import { aimConfig, aimctl, parseEvents, startBroker, workspace } from '../ground/test-helpers/harness.js';

/**
 * 200 simulated drones, canary 3 + waves 10%/50%/100%, through a real Mosquitto. The ideal roll-out
 * takes the sum over its steps of the slowest apply in each (a wave cannot end before its slowest
 * drone); what aimctl adds (signing, publishing, matching acks, the state file, the broker hops) is
 * the overhead. Target: total ≤ 1.2 × that sum. The slowest apply per step comes from the drones' own
 * acks (`timings.totalMs`); aimctl runs as its own process and reports its CPU time and peak RSS.
 *
 * Drones are real aim-agents with fc-sim (sim/fleet.ts) unless BENCH_FAKE=1, or the agent cannot be
 * loaded: then protocol-level fake drones with an apply delay drawn like a 20-parameter push over a
 * 57600-baud serial link (≈ 50 ms fixed + 20 × 25 ms, ±30%).
 */
const N = Number(process.env.BENCH_DRONES ?? 200);
const teardowns: (() => unknown)[] = [];
const t = { teardown: (fn: () => unknown) => void teardowns.push(fn) };

async function startDrones(brokerUrl: string, pubPem: string, ws: ReturnType<typeof workspace>): Promise<{ kind: string; ids: string[] }> {
  const ids = Array.from({ length: N }, (_, i) => `drone-${String(i + 1).padStart(3, '0')}`);
  if (process.env.BENCH_FAKE !== '1') {
    try {
      const { startFleet } = await import('../sim/fleet.js');
      const fleet = await startFleet({ brokerUrl, ids, trustedKeys: [pubPem], startConcurrency: 20 });
      t.teardown(() => fleet.stop());
      return { kind: 'real aim-agent + fc-sim (tcp)', ids };
    } catch (err) {
      process.stderr.write(`real agents unavailable (${(err as Error).message.split('\n')[0]}); using fake drones\n`);
    }
  }
  const applyMs = () => Math.round((50 + 20 * 25) * (0.7 + 0.6 * Math.random()));
  await startFakeDrones(t, { brokerUrl, trusted: [ws.publicKey], applyDelayMs: applyMs }, ids);
  return { kind: 'fake drones (apply 385-715 ms, like 20 params at 57600 baud)', ids };
}

async function main(): Promise<void> {
  const ws = workspace(t);
  const broker = await startBroker(t);
  const pubPem = join(ws.dir, 'ground.pub.pem');
  const { kind, ids } = await startDrones(broker.url, pubPem, ws);

  // The previous config: every drone starts from a known, applied seed (not measured).
  const seed = await aimctl(['rollout', ws.file('seed.json', aimConfig('seed', -90)), '--all', '--canary', '1', '--timeout', '120', '--json', '--key', ws.keyPath, '--broker', broker.url, '--state', join(ws.dir, 'seed.state.json')]);
  if (seed.code !== 0) throw new Error(`seeding failed: ${seed.err}`);

  // Every ack's own apply time, as the drones measured it.
  const watcher = await FleetLink.open(await connectBroker({ url: broker.url, topicPrefix: 'aim' }), { topicPrefix: 'aim', drones: 'all', logger: pino({ level: 'silent' }) });
  t.teardown(() => watcher.close());
  const applyMs = new Map<string, number>();
  watcher.on('ack', (d: string, a: Ack) => {
    if (a.status === 'applied' && a.id === 'bench') applyMs.set(d, a.timings.totalMs);
  });

  const cfg = ws.file('bench.json', aimConfig('bench', -60, { aim: { pitchDeg: -30, yawDeg: 0 } }));
  const t0 = performance.now();
  const proc = spawnTs(t, 'ground/bin/aimctl.ts', [
    'rollout', cfg, '--all', '--canary', '3', '--waves', '10%,50%,100%', '--max-failures', '0', '--timeout', '120', '--json',
    '--key', ws.keyPath, '--broker', broker.url, '--state', join(ws.dir, 'bench.state.json'),
  ], { env: { ...process.env, AIMCTL_LOG_LEVEL: process.env.BENCH_TRACE === '1' ? 'debug' : 'error' } });
  if (process.env.BENCH_TRACE === '1') {
    let buf = '';
    proc.child.stdout?.on('data', (d: string) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop() ?? '';
      for (const l of lines) {
        const e = JSON.parse(l) as Record<string, unknown>;
        if (e.event !== 'drone' || (e.state !== 'published' && Math.random() < 0.05)) process.stderr.write(`${(performance.now() - t0).toFixed(0).padStart(6)} ${String(e.event)} ${String(e.name ?? e.drone ?? '')} ${String(e.state ?? '')}\n`);
      }
    });
    watcher.on('ack', (d: string, a: Ack) => a.id === 'bench' && Math.random() < 0.05 && process.stderr.write(`${(performance.now() - t0).toFixed(0).padStart(6)} ACK ${d} ${a.timings.totalMs}\n`));
  }
  const code = await proc.exited;
  const processWallMs = performance.now() - t0;
  if (code !== 0) throw new Error(`aimctl rollout exited ${code}\n${proc.stderr()}`);
  if (process.env.BENCH_TRACE === '1') process.stderr.write(proc.stderr());
  // aimctl may settle a drone on its retained report, which the agent publishes just before the ack:
  // wait for every ack (this process hosts the drones and can lag behind).
  await waitFor('every ack', () => applyMs.size === ids.length, { timeoutMs: 30000 });
  const events: ProgressEvent[] = parseEvents(proc.stdout());
  if (process.env.BENCH_TRACE === '1') for (const e of events) if (e.event !== 'drone') process.stderr.write(`${JSON.stringify((e as { atMs?: number }).atMs)} ${e.event}\n`);
  const start = events.find((e) => e.event === 'start');
  const summary = events.find((e) => e.event === 'summary');
  if (start?.event !== 'start' || summary?.event !== 'summary') throw new Error('aimctl printed no start/summary');

  const at = (pred: (e: ProgressEvent) => boolean) => (events.find(pred) as { atMs?: number } | undefined)?.atMs ?? NaN;
  const steps = start.waves.map((w, i) => {
    const span = at((e) => e.event === 'wave-end' && e.wave === i) - at((e) => e.event === 'wave-start' && e.wave === i);
    return { name: w.name, drones: w.drones.length, slowestApplyMs: Math.max(...w.drones.map((d) => applyMs.get(d) ?? NaN)), spanMs: span };
  });
  const sumSlowestMs = steps.reduce((s, w) => s + w.slowestApplyMs, 0);
  const totalMs = summary.stats.wallMs;
  const overheadPct = (totalMs / sumSlowestMs - 1) * 100;
  // Time in which no wave was running: start-up (options, connect, fleet snapshot, plan) and between waves.
  const startupMs = at((e) => e.event === 'wave-start' && e.wave === 0);
  const wavesMs = steps.reduce((s, w) => s + w.spanMs, 0);
  const betweenMs = totalMs - startupMs - wavesMs;
  const result = {
    bench: 'rollout',
    drones: ids.length,
    drone: kind,
    steps: steps.map((s) => ({ ...s, slowestApplyMs: Math.round(s.slowestApplyMs) })),
    sumSlowestApplyMs: Math.round(sumSlowestMs),
    totalMs,
    overheadPct: Math.round(overheadPct * 10) / 10,
    targetPct: 20,
    pass: overheadPct <= 20,
    breakdown: { startupMs, betweenWavesMs: betweenMs, inWavesOverSlowestMs: Math.round(wavesMs - sumSlowestMs) },
    aimctl: {
      processWallMs: Math.round(processWallMs),
      commandCpuMs: summary.stats.commandCpuMs,
      cpuUserMs: summary.stats.cpuUserMs,
      cpuSystemMs: summary.stats.cpuSystemMs,
      maxRssMb: Math.round(summary.stats.maxRssKb / 102.4) / 10,
    },
    /** This process: the simulated fleet (200 agents + fc-sims, or the fake drones), the broker client. */
    fleetProcessRssMb: Math.round(process.memoryUsage().rss / 104857.6) / 10,
    loadAvg1m: Math.round(loadavg()[0]! * 10) / 10,
  };
  process.stdout.write(JSON.stringify(result) + '\n\n');
  const rows: string[][] = [
    ['drones', `${result.drones} (${kind})`],
    ...steps.map((s) => [`${s.name} (${s.drones} drones): slowest apply / wave took`, `${Math.round(s.slowestApplyMs)} / ${s.spanMs} ms`]),
    ['sum of slowest applies', `${result.sumSlowestApplyMs} ms`],
    ['roll-out total (aimctl command start to summary)', `${totalMs} ms`],
    ['overhead', `${result.overheadPct}% (target ≤ 20%) ${result.pass ? 'PASS' : 'FAIL'}`],
    ['… start-up: options, connect, fleet snapshot, plan', `${startupMs} ms`],
    ['… between waves and after the last', `${betweenMs} ms`],
    ['… inside waves beyond the slowest apply (broker hops, delivery lag in the drones\' process)', `${result.breakdown.inWavesOverSlowestMs} ms`],
    ['aimctl process wall (incl. node + tsx start)', `${result.aimctl.processWallMs} ms`],
    ['aimctl CPU during the roll-out', `${result.aimctl.commandCpuMs} ms`],
    ['aimctl CPU, whole process (user + sys, incl. tsx)', `${result.aimctl.cpuUserMs} + ${result.aimctl.cpuSystemMs} ms`],
    ['aimctl peak RSS', `${result.aimctl.maxRssMb} MB`],
    ['simulated fleet process RSS', `${result.fleetProcessRssMb} MB`],
    ['machine load (1 min average, 2 cores)', String(result.loadAvg1m)],
  ];
  process.stdout.write(table(['measure', 'value'], rows));
  if (!result.pass) process.exitCode = 1;
}

try {
  await main();
} catch (err) {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const fn of teardowns.reverse()) await fn();
}
