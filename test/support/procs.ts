import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** Repository root, for spawning the project's own entry points. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export interface Teardown {
  teardown(fn: () => unknown): void;
}

export interface Tracked {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or 128+signal) when the process ends. */
  exited: Promise<number>;
  /** Wait for a line on stdout or stderr matching `re` (bounded). */
  waitForLine(re: RegExp, timeoutMs?: number): Promise<string>;
  kill(signal?: NodeJS.Signals): void;
}

const SIGNALS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/**
 * Spawn a process whose life is bound to the test: killed (SIGKILL, whole process group) at teardown.
 * Output is collected; `waitForLine` waits for an event instead of sleeping.
 */
export function spawnTracked(t: Teardown, cmd: string, args: readonly string[], options: SpawnOptions = {}): Tracked {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options });
  let out = '';
  let err = '';
  const waiters: { re: RegExp; resolve: (l: string) => void }[] = [];
  const findLine = (re: RegExp) => out.split('\n').find((l) => re.test(l)) ?? err.split('\n').find((l) => re.test(l));
  const wake = () => {
    for (const w of [...waiters]) {
      const line = findLine(w.re);
      if (line !== undefined) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(line);
      }
    }
  };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    wake();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => {
    err += d;
    wake();
  });
  const exited = new Promise<number>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal ? (SIGNALS[signal] ?? 0) : 0)));
    child.on('error', () => resolve(127));
  });
  let done = false;
  void exited.then(() => (done = true));
  const kill = (signal: NodeJS.Signals = 'SIGKILL') => {
    if (done || child.pid === undefined) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      try {
        child.kill(signal);
      } catch {
        /* already gone */
      }
    }
  };
  t.teardown(async () => {
    kill('SIGKILL');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 2000).unref())]);
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill,
    waitForLine(re, timeoutMs = 10000) {
      const line = findLine(re);
      if (line !== undefined) return Promise.resolve(line);
      return new Promise((resolve, reject) => {
        const w = { re, resolve: (l: string) => (clearTimeout(timer), resolve(l)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(w), 1);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} in output of ${cmd}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`));
        }, timeoutMs);
        waiters.push(w);
        void exited.then(() => {
          if (waiters.includes(w)) {
            clearTimeout(timer);
            waiters.splice(waiters.indexOf(w), 1);
            reject(new Error(`${cmd} exited before printing ${re}\nstdout: ${out.slice(-2000)}\nstderr: ${err.slice(-2000)}`));
          }
        });
      });
    },
  };
}

/**
 * The environment for a child whose coverage must not be recorded. tap's processinfo records every
 * node child into one pool, and c8 merges the raw V8 counts of one file URL across processes and
 * then maps them with whichever process's source map it read last. A child that loads our .ts
 * sources under tsx (a different transform than tap's own loader) would mix two transforms' byte
 * offsets under one URL: files then came out as "1 line, 100 %" in some runs. Children running
 * dist/ (tsc output with source maps, own URLs) are recorded as usual.
 */
export function withoutCoverage(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...env, _TAPJS_PROCESSINFO_COVERAGE_: '0' };
}

/** Run a TypeScript entry point of this repo under tsx: `spawnTs(t, 'agent/cli.ts', ['validate', f])`. Not recorded for coverage (see withoutCoverage). */
export function spawnTs(t: Teardown, entry: string, args: readonly string[], options: SpawnOptions = {}): Tracked {
  return spawnTracked(t, process.execPath, ['--import', 'tsx', ROOT + entry, ...args], { cwd: ROOT, ...options, env: withoutCoverage(options.env) });
}

const BINS = { 'aim-agent': 'agent/bin/aim-agent', 'fc-sim': 'sim/bin/fc-sim', aimctl: 'ground/bin/aimctl' } as const;

/**
 * Run one of the project's commands as a real process: the built JavaScript in dist/ when present
 * (`npm test` builds first, so it is current; start-up ~0.3 s), else the TypeScript source under tsx.
 */
export function spawnCli(t: Teardown, bin: keyof typeof BINS, args: readonly string[], options: SpawnOptions = {}): Tracked {
  const built = `${ROOT}dist/${BINS[bin]}.js`;
  if (existsSync(built)) return spawnTracked(t, process.execPath, [built, ...args], { cwd: ROOT, ...options });
  return spawnTs(t, `${BINS[bin]}.ts`, args, options);
}
