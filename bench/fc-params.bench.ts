import { openFcLink, type FcLink, type ParamSetItem } from '../agent/fc/index.js';
import { MOUNT_PARAMS } from '../protocol/param-table.js';
import { hasTool, ptyPair, spawnTs, type Teardown } from '../test/support/index.js';

// Set 20 parameters through fc-sim over a socat pty with --baud-limit: pipelined (setMany's window) vs
// one at a time (set, wait for the echo, next: MAVSDK's way), interleaved in the same run, medians of
// RUNS each. The wire-time lower bound is max(bytes sent, bytes received) × 10 / baud, from the bytes
// the link counted on the wire during the run. Prints one JSON line, then a markdown table.

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const WARMUP = 2;

interface Scenario {
  name: string;
  baud: number;
  latencyMs: number;
  /** Targets from the issue; undefined = report only. */
  maxLbRatio?: number;
  minSpeedup?: number;
}

const SCENARIOS: Scenario[] = [
  { name: '57600', baud: 57600, latencyMs: 0, maxLbRatio: 1.5, minSpeedup: 1.8 },
  { name: '57600 + 20 ms latency', baud: 57600, latencyMs: 20, minSpeedup: 4 },
  { name: '921600', baud: 921600, latencyMs: 0 },
];

/** The 17 settable MNT1_* mapping parameters and three more, two alternating value sets. */
function paramSets(): [ParamSetItem[], ParamSetItem[]] {
  const base = MOUNT_PARAMS.filter((p) => !p.readOnly && !p.rebootRequired);
  const extra: { name: string; type: 'REAL32' | 'INT16'; a: number; b: number }[] = [
    { name: 'PILOT_THR_FILT', type: 'REAL32', a: 1, b: 2 },
    { name: 'PILOT_TKOFF_ALT', type: 'REAL32', a: 100, b: 200 },
    { name: 'LAND_SPEED', type: 'INT16', a: 50, b: 60 },
  ];
  const pick = (p: (typeof base)[number], which: 0 | 1): number => {
    const lo = p.min ?? 0;
    const hi = p.max ?? 1;
    return p.type === 'REAL32' ? lo + (hi - lo) * (which === 0 ? 0.25 : 0.75) : Math.round(lo + (hi - lo) * (which === 0 ? 0.25 : 0.75));
  };
  const make = (which: 0 | 1): ParamSetItem[] => [
    ...base.map((p) => ({ name: p.name, value: pick(p, which), type: p.type })),
    ...extra.map((e) => ({ name: e.name, value: which === 0 ? e.a : e.b, type: e.type })),
  ];
  return [make(0), make(1)];
}

interface Run {
  ms: number;
  bytesOut: number;
  bytesIn: number;
  lbMs: number;
}

async function timedRun(link: FcLink, list: ParamSetItem[], window: number, baud: number): Promise<Run> {
  const before = link.status();
  const t0 = performance.now();
  const results = await link.params.setMany(list, { force: true, window });
  const ms = performance.now() - t0;
  const after = link.status();
  const bad = results.filter((r) => r.result !== 'ok');
  if (bad.length > 0) throw new Error(`bench set failed: ${bad.map((r) => `${r.name} ${r.result}`).join(', ')}`);
  const bytesOut = after.bytesOut - before.bytesOut;
  const bytesIn = after.bytesIn - before.bytesIn;
  return { ms, bytesOut, bytesIn, lbMs: (Math.max(bytesOut, bytesIn) * 10 * 1000) / baud };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2;
};

async function runScenario(sc: Scenario) {
  const cleanups: (() => unknown)[] = [];
  const t: Teardown = { teardown: (fn) => void cleanups.push(fn) };
  try {
    const pty = await ptyPair(t);
    const simArgs = ['--link', `serial:${pty.a}:${sc.baud}`, '--baud-limit', '--log-level', 'warn'];
    if (sc.latencyMs > 0) simArgs.push('--latency', String(sc.latencyMs));
    const sim = spawnTs(t, 'sim/bin/fc-sim.ts', simArgs);
    await sim.waitForLine(/^fc-sim ready /, 30_000);
    const link = await openFcLink(`serial:${pty.b}:${sc.baud}`, { reconnect: { minMs: 100, maxMs: 500 } });
    cleanups.push(() => link.close());
    await link.waitForVehicle({ timeoutMs: 15_000 });
    const window = link.params.defaults.window;
    const [a, b] = paramSets();
    const pipelined: Run[] = [];
    const serial: Run[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      // Interleaved, and each run flips every value, so both modes see the same link and FC state.
      const p = await timedRun(link, i % 2 ? a : b, window, sc.baud);
      const s = await timedRun(link, i % 2 ? b : a, 1, sc.baud);
      if (i >= WARMUP) pipelined.push(p), serial.push(s);
    }
    const pipeMs = median(pipelined.map((r) => r.ms));
    const serialMs = median(serial.map((r) => r.ms));
    const lbMs = median(pipelined.map((r) => r.lbMs));
    const result = {
      scenario: sc.name,
      baud: sc.baud,
      latencyMs: sc.latencyMs,
      params: a.length,
      window,
      runs: RUNS,
      pipelinedMs: round(pipeMs),
      oneAtATimeMs: round(serialMs),
      lowerBoundMs: round(lbMs),
      bytesOut: median(pipelined.map((r) => r.bytesOut)),
      bytesIn: median(pipelined.map((r) => r.bytesIn)),
      pipelinedOverLowerBound: round(pipeMs / lbMs, 2),
      oneAtATimeOverLowerBound: round(serialMs / lbMs, 2),
      speedup: round(serialMs / pipeMs, 2),
      targets: { maxLbRatio: sc.maxLbRatio ?? null, minSpeedup: sc.minSpeedup ?? null },
      pass: (sc.maxLbRatio === undefined || pipeMs / lbMs <= sc.maxLbRatio) && (sc.minSpeedup === undefined || serialMs / pipeMs >= sc.minSpeedup),
    };
    return result;
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

async function main(): Promise<number> {
  if (!hasTool('socat')) {
    process.stderr.write('fc-params bench needs socat: apt-get install -y socat\n');
    return 1;
  }
  const results = [];
  for (const sc of SCENARIOS) results.push(await runScenario(sc));
  process.stdout.write(JSON.stringify({ bench: 'fc-params', results }) + '\n\n');
  const rows = [
    '| scenario | window | pipelined ms | one-at-a-time ms | wire lower bound ms | pipelined / bound | one-at-a-time / bound | speedup | target | pass |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |',
    ...results.map((r) => {
      const target = [r.targets.maxLbRatio !== null ? `≤ ${r.targets.maxLbRatio}× bound` : '', r.targets.minSpeedup !== null ? `≥ ${r.targets.minSpeedup}× faster` : '']
        .filter(Boolean)
        .join(', ');
      return `| ${r.scenario} | ${r.window} | ${r.pipelinedMs} | ${r.oneAtATimeMs} | ${r.lowerBoundMs} | ${r.pipelinedOverLowerBound} | ${r.oneAtATimeOverLowerBound} | ${r.speedup} | ${target || '—'} | ${r.pass ? 'yes' : 'NO'} |`;
    }),
  ];
  process.stdout.write(rows.join('\n') + '\n');
  return results.every((r) => r.pass) ? 0 : 1;
}

process.exitCode = await main();
