import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { waitFor } from '../../test/support/index.js';

/** A booted Debian under systemd-nspawn, driven from the host with nsenter. For systemd/nspawn.test.ts. */
export interface Container {
  /** The container's PID 1, as the host sees it. */
  readonly leader: number;
  /** Runs ARGV inside (all namespaces, clean environment); never throws for a non-zero exit. */
  exec(argv: string[], opts?: { timeoutMs?: number }): Promise<ExecResult>;
  /** Like exec, but fails with the output when the exit code is not 0. */
  run(argv: string[], opts?: { timeoutMs?: number }): Promise<string>;
  /** The path inside, as seen from the host (through /proc/<leader>/root). */
  host(path: string): string;
  write(path: string, text: string): void;
  read(path: string): string;
  /** Power off (SIGTERM to nspawn = orderly shutdown), SIGKILL after the bound. */
  stop(): Promise<void>;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface BootOptions {
  rootfs: string;
  /** host path → container path, read-only. */
  bindRo: [string, string][];
  /** Console and nspawn messages, for the failure message. */
  log?: (line: string) => void;
}

const ENV = ['env', '-i', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'LANG=C.UTF-8', 'SYSTEMD_PAGER=', 'SYSTEMD_COLORS=0'];

/**
 * Boots ROOTFS with systemd as PID 1. The root is an overlay on tmpfs (--volatile=overlay): every
 * boot starts from the cached rootfs and nothing written inside survives. --keep-unit and
 * --register=no because this machine's PID 1 is not systemd (no machined, no system bus).
 */
export async function bootContainer(opts: BootOptions): Promise<Container> {
  const name = `aim-test-${process.pid}`;
  const args = ['--boot', '--register=no', '--keep-unit', '--private-network', '--volatile=overlay', '--console=pipe', `--machine=${name}`, '-D', opts.rootfs];
  for (const [from, to] of opts.bindRo) args.push(`--bind-ro=${from}:${to}`);
  // On a pure cgroup v2 host the unit's device filter (DevicePolicy=) is a BPF program, which the
  // container's systemd may only load with these; on a v1/hybrid host (this CI) they are not needed.
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) args.push('--capability=CAP_BPF', '--system-call-filter=bpf');
  const nspawn: ChildProcess = spawn('systemd-nspawn', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (b: Buffer) => {
    output += b.toString();
    opts.log?.(b.toString());
  };
  nspawn.stdout?.on('data', collect);
  nspawn.stderr?.on('data', collect);
  let exited = false;
  nspawn.on('exit', () => void (exited = true));

  const leader = await waitFor(
    'the container\'s PID 1',
    () => {
      if (exited) throw new Error(`systemd-nspawn exited early:\n${output}`);
      return childOf(nspawn.pid ?? -1);
    },
    { timeoutMs: 10_000 },
  );

  const exec = (argv: string[], { timeoutMs = 60_000 } = {}): Promise<ExecResult> =>
    new Promise((resolve) => {
      const t0 = performance.now();
      execFile('nsenter', ['-t', String(leader), '-m', '-u', '-i', '-n', '-p', '--', ...ENV, ...argv], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr, ms: performance.now() - t0 });
      });
    });
  const run = async (argv: string[], o?: { timeoutMs?: number }) => {
    const r = await exec(argv, o);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}:\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };
  const host = (path: string) => `/proc/${leader}/root${path}`;

  // Booted: every unit that is going to start has started (or failed, which the test reports).
  // Until PID 1 has opened its private socket, systemctl cannot connect at all: ask again.
  let last: ExecResult | undefined;
  await waitFor(
    'the container to finish booting',
    async () => {
      if (exited) throw new Error(`systemd-nspawn exited:\n${output}`);
      last = await exec(['systemctl', 'is-system-running', '--wait'], { timeoutMs: 60_000 });
      return ['running', 'degraded'].includes(last.stdout.trim());
    },
    { timeoutMs: 60_000, intervalMs: 50 },
  ).catch((err: Error) => {
    throw new Error(`${err.message} (${last?.stdout.trim()} ${last?.stderr.trim()}):\n${output}`);
  });

  return {
    leader,
    exec,
    run,
    host,
    write: (path, text) => writeFileSync(host(path), text),
    read: (path) => readFileSync(host(path), 'utf8'),
    stop: async () => {
      if (exited) return;
      nspawn.kill('SIGTERM');
      try {
        await waitFor('the container to power off', () => exited, { timeoutMs: 15_000, intervalMs: 50 });
      } catch {
        nspawn.kill('SIGKILL');
        await waitFor('systemd-nspawn to die', () => exited, { timeoutMs: 5_000, intervalMs: 50 });
      }
    },
  };
}

/** The child of `pid` that runs systemd: nspawn forks the container's init directly. */
function childOf(pid: number): number | undefined {
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      // Until it execs, the child is still a copy of nspawn.
      if (ppid === pid && stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')) === 'systemd') return Number(d);
    } catch {
      /* gone meanwhile */
    }
  }
  return undefined;
}
