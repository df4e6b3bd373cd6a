import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MOUNT_PARAMS } from '../protocol/param-table.js';
import type { AimConfig } from '../protocol/index.js';
import { launcherCommand } from '../test/support/launcher.js';
import { ROOT } from '../test/support/procs.js';
import { hasSitl, SITL_DIR, startSitl } from '../test/support/sitl.js';
import { openRawLink, settle, twentyParams } from './fc-floors.js';
import { stats, table } from './report.js';

// One-shot `aim-agent apply protocol/examples/full.json` against ArduPilot SITL (TCP), run the way the
// drone runs it (the installed launcher's node flags and dist/bundle): ms from process start to the ack
// on stdout, median of RUNS, configs alternating so every apply changes parameters, one state dir (a
// drone keeps its state). In the same run, on SITL's second port: the raw floors (20 PARAM_SETs back to
// back with every echo awaited, and one at a time). A second series with --verbose gives the breakdown
// from the agent's own log lines. Target: ≤ 600 ms median.

const RUNS = Number(process.env.BENCH_RUNS ?? 11);
const TARGET_MS = 600;
const dir = mkdtempSync(join(tmpdir(), 'aim-bench-oneshot-'));
const cleanups: (() => unknown)[] = [];
const full = JSON.parse(readFileSync(`${ROOT}protocol/examples/full.json`, 'utf8')) as AimConfig;

function variant(version: number): AimConfig {
  if (version % 2 === 0) return { ...full, version };
  return { ...full, version, mount: { ...full.mount!, pitch: { minDeg: -85, maxDeg: 15 }, yaw: { minDeg: -170, maxDeg: 170 }, rcRateDegS: 45 }, params: { MNT1_LEAD_PTCH: 0.1, MNT1_LEAD_RLL: 0.02 } };
}

interface OneShot {
  ms: number;
  status: string;
  /** Log line → ms since process start (with --verbose). */
  marks: Map<string, number>;
}

async function oneShot(link: string, version: number, verbose: boolean): Promise<OneShot> {
  const { nodeFlags, script } = launcherCommand();
  const file = join(dir, `v${version}.json`);
  writeFileSync(file, JSON.stringify(variant(version)));
  const args = [...nodeFlags, script, 'apply', file, '--fc', link, '--state-dir', join(dir, 'state'), '--allow-unsigned', ...(verbose ? ['--verbose'] : [])];
  const wall0 = Date.now();
  const t0 = performance.now();
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let ackAt: number | undefined;
  let status = 'none';
  p.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    if (ackAt !== undefined) return;
    try {
      status = (JSON.parse(out) as { status: string }).status;
      ackAt = performance.now() - t0;
    } catch {
      // not the whole ack yet
    }
  });
  p.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  await new Promise((resolve) => p.on('exit', resolve));
  if (ackAt === undefined) throw new Error(`v${version}: no ack (${err.trim().slice(0, 300)})`);
  const marks = new Map<string, number>();
  for (const line of err.split('\n')) {
    try {
      const l = JSON.parse(line) as { time: number; msg: string };
      if (!marks.has(l.msg)) marks.set(l.msg, l.time - wall0);
    } catch {
      // not a log line
    }
  }
  return { ms: ackAt, status, marks };
}

async function main(): Promise<number> {
  if (!hasSitl()) {
    process.stderr.write(`apply-oneshot bench needs ArduPilot SITL at ${SITL_DIR}\n`);
    return 1;
  }
  const sitl = await startSitl({ teardown: (fn) => void cleanups.push(fn) });
  await settle();
  const raw = await openRawLink(sitl.link2);
  cleanups.push(() => raw.close());
  const settable = MOUNT_PARAMS.filter((p) => !p.readOnly && !p.rebootRequired);
  const pipelined: number[] = [];
  const serial: number[] = [];
  const applies: number[] = [];
  let version = 1;
  for (let i = 0; i < RUNS + 2; i++) {
    // Interleaved: raw floors on link2, then the one-shot apply on link, on the same FC in the same minute.
    const p = await raw.pipelined(twentyParams(i % 2 === 0 ? 0 : 1, settable));
    const s = await raw.oneAtATime(twentyParams(i % 2 === 0 ? 1 : 0, settable));
    const a = await oneShot(sitl.link, version++, false);
    if (a.status !== 'applied') throw new Error(`apply ended ${a.status}`);
    if (i < 2) continue; // warm-up: file cache, SITL's first connections
    pipelined.push(p);
    serial.push(s);
    applies.push(a.ms);
  }
  const phases: Record<string, number[]> = { 'start-up (process start → transport open)': [], 'FC identified (→ flight controller up)': [], 'read (→ FC parameters known)': [], 'verified sets (→ every parameter verified)': [], 'aim command (→ accepted)': [], 'commit + ack (→ ack on stdout)': [] };
  const verbose: number[] = [];
  for (let i = 0; i < Math.max(5, Math.ceil(RUNS / 2)); i++) {
    const a = await oneShot(sitl.link, version++, true);
    const m = (k: string) => a.marks.get(k) ?? NaN;
    const marks = [0, m('flight-controller transport open'), m('flight controller up'), m('stage read: FC parameters known'), m('stage push: every parameter verified'), m('stage aim: accepted'), a.ms];
    Object.values(phases).forEach((arr, j) => arr.push(marks[j + 1]! - marks[j]!));
    verbose.push(a.ms);
  }
  const med = (xs: number[]) => stats(xs).median;
  const result = {
    bench: 'apply-oneshot',
    fc: 'sitl',
    runs: RUNS,
    params: twentyParams(0, settable).length,
    rawPipelinedMs: med(pipelined),
    rawOneAtATimeMs: med(serial),
    applyMedianMs: med(applies),
    applyP95Ms: stats(applies).p95,
    verboseMedianMs: med(verbose),
    breakdownMs: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, med(v)])),
    targetMs: TARGET_MS,
    pass: med(applies) <= TARGET_MS,
  };
  process.stdout.write(JSON.stringify(result) + '\n\n');
  process.stdout.write(
    table(
      ['measure (ArduPilot SITL, TCP)', 'median'],
      [
        ['one-shot apply of full.json, process start → ack (launcher flags, dist/bundle)', `${result.applyMedianMs.toFixed(0)} ms (p95 ${result.applyP95Ms.toFixed(0)}) — target ≤ ${TARGET_MS} ms ${result.pass ? 'met' : 'MISSED'}`],
        [`breakdown from --verbose runs (${result.verboseMedianMs.toFixed(0)} ms median):`, ''],
        ...Object.entries(result.breakdownMs).map(([k, v]) => [`  ${k}`, `${v.toFixed(1)} ms`]),
        ['raw floor on link2: 20 PARAM_SETs back to back, every echo awaited', `${result.rawPipelinedMs.toFixed(1)} ms`],
        ['raw floor on link2: 20 PARAM_SETs one at a time', `${result.rawOneAtATimeMs.toFixed(1)} ms`],
      ],
    ),
  );
  return result.pass ? 0 : 1;
}

try {
  process.exitCode = await main();
} catch (err) {
  process.stderr.write(`apply-oneshot bench failed: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 1;
} finally {
  for (const c of cleanups.reverse()) await Promise.resolve(c()).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}
