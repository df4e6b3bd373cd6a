import { openFcLink, type FcLink, type ParamSetItem } from '../agent/fc/index.js';
import { MOUNT_PARAMS } from '../protocol/param-table.js';
import { hasTool, ptyPair, spawnTs, type Teardown } from '../test/support/index.js';
import { hasSitl, SITL_DIR, startSitl } from '../test/support/sitl.js';
import { openRawLink, settle, twentyParams } from './fc-floors.js';
import { fcTarget } from './report.js';

// Set 20 parameters (all of them exist on ArduCopter 4.7) and compare ways of doing it, medians of RUNS,
// interleaved in the same run. `--fc sim` (default): fc-sim over a socat pty with --baud-limit,
// pipelined (setMany's window) vs one at a time (set, wait for the echo, next: MAVSDK's way); the
// wire-time lower bound is max(bytes sent, bytes received) × 10 / baud, from the bytes the link counted.
// `--fc sitl`: ArduPilot SITL (`../shared/sitl/sitl start --wipe`) over TCP: the raw pipelined floor
// (20 PARAM_SETs back to back on SITL's second port, every echo awaited), raw one at a time, and the
// agent's push (setMany on the first port); target push ≤ 1.5 × the raw floor. `--fc all`: both.
// Prints one JSON line, then a markdown table.

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const WARMUP = 2;

interface Scenario {
  name: string;
  baud: number;
  latencyMs: number;
  /** Targets from the issue; undefined = report only. */
  maxLbRatio?: number;
  minSpeedup?: number;
  /** fc-sim impairments: frame loss and byte-corruption probabilities. */
  loss?: number;
  corrupt?: number;
}

const SCENARIOS: Scenario[] = [
  { name: '57600', baud: 57600, latencyMs: 0, maxLbRatio: 1.5, minSpeedup: 1.8 },
  { name: '57600 + 20 ms latency', baud: 57600, latencyMs: 20, minSpeedup: 4 },
  { name: '921600', baud: 921600, latencyMs: 0 },
  // A lossy radio: report only. Every parameter must still verify (timedRun throws otherwise).
  { name: '57600, 10 % loss + 0.1 % corruption', baud: 57600, latencyMs: 0, loss: 0.1, corrupt: 0.001 },
];

/** The 17 settable MNT1_* mapping parameters and three more, two alternating value sets. */
function paramSets(): [ParamSetItem[], ParamSetItem[]] {
  const settable = MOUNT_PARAMS.filter((p) => !p.readOnly && !p.rebootRequired);
  return [twentyParams(0, settable), twentyParams(1, settable)];
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
    if (sc.loss !== undefined) simArgs.push('--loss', String(sc.loss));
    if (sc.corrupt !== undefined) simArgs.push('--corrupt', String(sc.corrupt));
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

/** ArduPilot SITL over TCP: raw floors on link2, the agent's push on link, interleaved. */
async function runSitl() {
  const cleanups: (() => unknown)[] = [];
  try {
    const sitl = await startSitl({ teardown: (fn) => void cleanups.push(fn) });
    await settle();
    const raw = await openRawLink(sitl.link2);
    cleanups.push(() => raw.close());
    const link = await openFcLink(sitl.link, { reconnect: { minMs: 100, maxMs: 500 } });
    cleanups.push(() => link.close());
    await link.waitForVehicle({ timeoutMs: 15_000 });
    const settable = MOUNT_PARAMS.filter((p) => !p.readOnly && !p.rebootRequired);
    const rawPipe: number[] = [];
    const rawSerial: number[] = [];
    const push: number[] = [];
    const pushSerial: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const a = twentyParams(i % 2 === 0 ? 0 : 1, settable);
      const b = twentyParams(i % 2 === 0 ? 1 : 0, settable);
      const r1 = await raw.pipelined(a);
      const r2 = await raw.oneAtATime(b);
      const p = await timedRun(link, a, link.params.defaults.window, 0);
      const s = await timedRun(link, b, 1, 0);
      if (i >= WARMUP) rawPipe.push(r1), rawSerial.push(r2), push.push(p.ms), pushSerial.push(s.ms);
    }
    const floor = median(rawPipe);
    const pushMs = median(push);
    return {
      scenario: 'SITL over TCP',
      params: 20,
      window: link.params.defaults.window,
      runs: RUNS,
      rawPipelinedMs: round(floor, 2),
      rawOneAtATimeMs: round(median(rawSerial)),
      pushMs: round(pushMs, 2),
      pushOneAtATimeMs: round(median(pushSerial)),
      pushOverFloor: round(pushMs / floor, 2),
      target: 'push ≤ 1.5 × raw pipelined floor',
      pass: pushMs <= 1.5 * floor,
    };
  } finally {
    for (const fn of cleanups.reverse()) await fn();
  }
}

async function main(): Promise<number> {
  const fc = fcTarget();
  if (fc === undefined) return 2;
  const results = [];
  const sitlResults = [];
  if (fc !== 'sitl') {
    if (!hasTool('socat')) {
      process.stderr.write('fc-params bench needs socat: apt-get install -y socat\n');
      return 1;
    }
    for (const sc of SCENARIOS) results.push(await runScenario(sc));
  }
  if (fc !== 'sim') {
    if (!hasSitl()) {
      process.stderr.write(`fc-params --fc ${fc} needs ArduPilot SITL at ${SITL_DIR}\n`);
      return 1;
    }
    sitlResults.push(await runSitl());
  }
  process.stdout.write(JSON.stringify({ bench: 'fc-params', results, sitl: sitlResults }) + '\n\n');
  for (const r of sitlResults) {
    process.stdout.write(
      [
        '| FC | raw pipelined floor (link2) | raw one at a time | agent push (window ' + r.window + ') | agent one at a time | push / floor | target | pass |',
        '| --- | --- | --- | --- | --- | --- | --- | --- |',
        `| ${r.scenario} | ${r.rawPipelinedMs} ms | ${r.rawOneAtATimeMs} ms | ${r.pushMs} ms | ${r.pushOneAtATimeMs} ms | ${r.pushOverFloor} | ≤ 1.5 | ${r.pass ? 'yes' : 'NO'} |`,
      ].join('\n') + '\n\n',
    );
  }
  if (results.length === 0) return sitlResults.every((r) => r.pass) ? 0 : 1;
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
  return results.every((r) => r.pass) && sitlResults.every((r) => r.pass) ? 0 : 1;
}

process.exitCode = await main();
