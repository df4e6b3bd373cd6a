import { spawn } from 'node:child_process';
import { constants } from 'node:os';
import { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError, parseCommandArgs, COMMON_OPTIONS, type CliIO } from '../cli-io.js';
import { DEFAULT_SETTINGS_PATH, SettingsSchema } from '../settings.js';
import { Locksmith, type LockRecord, type LockVerdict } from '../store/index.js';
import { existingStateDir, loadSettingsFile } from './common.js';

const USAGE = `usage: aim-agent lock status [--json]
       aim-agent lock break [--force] [--json]
       aim-agent lock run [--timeout S] -- CMD ARGS...

every form takes --settings FILE (default ${DEFAULT_SETTINGS_PATH}) and --state-dir DIR;
with --state-dir alone no settings file is needed (lock defaults: TTL 10 s).
lock run holds the lock while CMD runs and exits with CMD's code; an aim-agent apply in CMD works
under that lock (AIM_LOCK_CAPABILITY, a secret, hands it over; AIM_LOCK_TOKEN is the fencing token, for logs)
(1 if the lock was lost while CMD ran and CMD itself succeeded).`;

const LOCK_OPTIONS = { ...COMMON_OPTIONS, json: { type: 'boolean' }, force: { type: 'boolean' }, timeout: { type: 'string' } } as const;

/** `aim-agent lock status|break|run`: see USAGE and DESIGN.md "Commands". */
export async function lockCommand(argv: string[], io: CliIO): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === '--help' || sub === '-h') {
    (sub === undefined ? io.err : io.out)(USAGE + '\n');
    return sub === undefined ? EXIT_USAGE : EXIT_OK;
  }
  const dash = sub === 'run' ? rest.indexOf('--') : -1;
  const optionArgs = dash >= 0 ? rest.slice(0, dash) : rest;
  const { values, positionals } = parseCommandArgs(optionArgs, LOCK_OPTIONS, false);
  if (values.help) return io.out(USAGE + '\n'), EXIT_OK;
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'\n${USAGE}`);
  const allowed: Record<string, readonly string[]> = { status: ['json'], break: ['force', 'json'], run: ['timeout'] };
  const accepts = allowed[sub];
  if (accepts === undefined) throw new UsageError(`unknown lock command '${sub}'\n${USAGE}`);
  for (const opt of ['json', 'force', 'timeout'] as const) {
    if (values[opt] !== undefined && !accepts.includes(opt)) throw new UsageError(`lock ${sub} does not take --${opt}`);
  }
  const cfg = lockSettings(values.settings, values['state-dir']);
  // status and break only look: a mistyped directory is an error, not a "free" lock. run creates it, as flock(1) does its file.
  if (sub !== 'run') existingStateDir(cfg.stateDir);
  const smith = new Locksmith({ stateDir: cfg.stateDir, ttlMs: cfg.ttlMs, command: sub === 'run' ? `aim-agent lock run -- ${rest.slice(dash + 1).map(shellWord).join(' ')}` : `aim-agent lock ${sub}` });
  try {
    if (sub === 'status') return await status(smith, io, values.json === true);
    if (sub === 'break') return await breakLock(smith, io, values.force === true, values.json === true);
    if (dash < 0 || dash === rest.length - 1) throw new UsageError(`lock run needs -- CMD ARGS...\n${USAGE}`);
    const timeoutS = values.timeout === undefined ? cfg.acquireTimeoutS : Number(values.timeout);
    if (!Number.isFinite(timeoutS) || timeoutS < 0) throw new UsageError(`--timeout must be a number of seconds ≥ 0, not '${values.timeout}'`);
    return await run(smith, io, rest.slice(dash + 1), timeoutS * 1000);
  } finally {
    await smith.close();
  }
}

function lockSettings(settingsFile: string | undefined, stateDir: string | undefined): { stateDir: string; ttlMs: number; acquireTimeoutS: number } {
  // With --state-dir alone no settings file is read: the lock's defaults come from the settings schema.
  const defaults = SettingsSchema.shape.lock.parse(undefined);
  if (settingsFile === undefined && stateDir !== undefined) return { stateDir, ttlMs: defaults.ttlS * 1000, acquireTimeoutS: defaults.acquireTimeoutS };
  const s = loadSettingsFile(settingsFile ?? DEFAULT_SETTINGS_PATH);
  return { stateDir: stateDir ?? s.stateDir, ttlMs: s.lock.ttlS * 1000, acquireTimeoutS: s.lock.acquireTimeoutS };
}

const shellWord = (w: string) => (/^[\w@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`);
const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const who = (o: LockRecord) => `pid ${o.pid}${o.command ? ` (${o.command})` : ''} on ${o.host || '?'}`;

/** The verdict without the hand-over capability's hash: nothing about the capability is printed. */
function publicVerdict(v: LockVerdict): LockVerdict {
  if (v.state === 'free') return v;
  const { capabilitySha256: _, ...owner } = v.owner;
  return { ...v, owner };
}

export function describeVerdict(v: LockVerdict): string {
  if (v.state === 'free') return 'free';
  if (v.state === 'held') return `held by live ${who(v.owner)} for ${secs(v.heldMs)}, heartbeat ${secs(v.heartbeatAgeMs)} ago, token ${v.owner.token}`;
  if (v.owner.nonce === '') return `STALE: ${v.reason}`;
  return `STALE: ${v.reason}; owner ${who(v.owner)}, token ${v.owner.token}, acquired ${v.owner.acquiredAt}`;
}

async function status(smith: Locksmith, io: CliIO, json: boolean): Promise<number> {
  const verdict = await smith.status();
  const lastToken = await smith.lastToken();
  if (json) io.out(JSON.stringify({ ...publicVerdict(verdict), lastToken }) + '\n');
  else io.out(`aim lock: ${describeVerdict(verdict)} (last fencing token ${lastToken})\n`);
  return EXIT_OK;
}

async function breakLock(smith: Locksmith, io: CliIO, force: boolean, json: boolean): Promise<number> {
  const before = await smith.status();
  if (before.state === 'held' && force) {
    io.err(`WARNING: breaking the aim lock of a LIVE owner: ${who(before.owner)}, token ${before.owner.token}. Its next write is fenced (AIM_ERR_FENCED).\n`);
  }
  const r = await smith.breakLock({ force });
  if (json) io.out(JSON.stringify({ ...r, verdict: publicVerdict(r.verdict) }) + '\n');
  else if (r.verdict.state === 'free') io.out('aim lock: free, nothing to break\n');
  else if (r.broken) io.out(`aim lock: broken (was ${describeVerdict(r.verdict)})\n`);
  else io.err('aim lock: changed while breaking it (another process took or broke it); run `aim-agent lock status`\n');
  return r.broken || r.verdict.state === 'free' ? EXIT_OK : EXIT_FAILED;
}

async function run(smith: Locksmith, io: CliIO, cmd: string[], timeoutMs: number): Promise<number> {
  const handle = await smith.acquire({ timeoutMs, handOver: true });
  let lostReason: string | undefined;
  smith.on('lost', (info) => {
    lostReason = info.reason;
    io.err(`aim-agent lock run: WARNING: lost the aim lock while the command runs: ${info.reason}\n`);
  });
  let code: number;
  try {
    code = await new Promise<number>((resolve) => {
      const child = spawn(cmd[0]!, cmd.slice(1), { stdio: 'inherit', env: { ...io.env, AIM_LOCK_TOKEN: String(handle.token), AIM_LOCK_CAPABILITY: handle.capability } });
      const forward = (sig: NodeJS.Signals) => child.kill(sig);
      const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
      for (const s of signals) process.on(s, forward);
      const done = (n: number) => {
        for (const s of signals) process.off(s, forward);
        resolve(n);
      };
      child.on('error', (err) => {
        io.err(`aim-agent lock run: cannot run ${cmd[0]}: ${err.message}\n`);
        done(127);
      });
      child.on('exit', (c, sig) => done(c ?? 128 + (sig === null ? 0 : constants.signals[sig])));
    });
  } finally {
    await handle.release();
  }
  if (lostReason !== undefined && code === 0) return EXIT_FAILED;
  return code;
}
