import { spawn } from 'node:child_process';
import type { Logger } from './log.js';

/**
 * sd_notify(3) for Node, without a native addon.
 *
 * Node cannot open AF_UNIX/SOCK_DGRAM sockets, so each message is handed to `systemd-notify`, which
 * ships with systemd itself (always present where NOTIFY_SOCKET can be set, same version as PID 1,
 * knows abstract `@` socket addresses). Why this and not an addon (`unix-dgram`, `sd-notify`): no
 * compiler or prebuild per Pi model, nothing to keep patched, and the cost is small — one fork+exec
 * of a short-lived process per message (about 20 ms on a desktop, tens of ms on a Pi), i.e. one
 * every WatchdogSec/2 (15 s in aim-agent.service) plus a few READY/STATUS/STOPPING messages.
 *
 * Credential semantics, which decide the unit settings:
 * - The datagram carries systemd-notify's own pid in SCM_CREDENTIALS (an unprivileged process cannot
 *   claim another pid; `--pid=` only adds a MAINPID= field). PID 1 therefore only accepts it with
 *   `NotifyAccess=all`, which aim-agent.service sets.
 * - PID 1 attributes a message to a unit by the sender's cgroup. A sender that exits before PID 1
 *   reads the datagram cannot be attributed and is dropped. systemd-notify (since v246) closes that
 *   race itself: after the message it sends BARRIER=1 with a pipe fd and waits until PID 1 has
 *   processed the queue. We never pass `--no-block`, so when `send()` resolves the message is in.
 * - WATCHDOG_PID names the process the watchdog expects; the installed bin/aim-agent wrapper
 *   `exec`s node, so that is this process (checked below, as sd_watchdog_enabled(3) does).
 */
export type NotifySend = (msg: string) => Promise<void>;

export interface SystemdNotifierOptions {
  /** NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID come from here (default: process.env). */
  env?: NodeJS.ProcessEnv;
  logger?: Logger;
  /** Delivers one datagram (`KEY=VALUE` lines joined by `\n`); default spawns systemd-notify. */
  send?: NotifySend;
  /** This process's pid, compared with WATCHDOG_PID (default: process.pid). */
  pid?: number;
  /** Interval timer for the watchdog pings (default: the global one); tests drive it by hand. */
  timers?: IntervalTimers;
}

export interface IntervalTimers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

const globalTimers: IntervalTimers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as NodeJS.Timeout),
};

/** Longest a systemd-notify child may take (its own barrier wait gives up after 5 s). */
const SEND_TIMEOUT_MS = 10_000;
/** STATUS= is shown by `systemctl status`; keep it to one readable line. */
const STATUS_MAX = 512;

/**
 * Talks to the service manager. Every method is a no-op when NOTIFY_SOCKET is unset (not under
 * systemd, or `Type=` other than notify). Failures to deliver are logged, never thrown: a lost
 * READY shows up as a start timeout and a lost WATCHDOG as a restart, which is what systemd is for.
 *
 * @example
 * const notifier = new SystemdNotifier({ logger });
 * await notifier.ready('v42 applied, fc up');
 * notifier.startWatchdog(() => pipeline.healthy());
 */
export class SystemdNotifier {
  readonly enabled: boolean;
  /** WATCHDOG_USEC when the watchdog is armed for this process, else undefined. */
  readonly watchdogUsec: number | undefined;

  readonly #send: NotifySend;
  readonly #logger: Logger | undefined;
  readonly #timers: IntervalTimers;
  #queue: Promise<void> = Promise.resolve();
  #timer: unknown;
  #pingInFlight = false;
  #wasHealthy = true;

  constructor(opts: SystemdNotifierOptions = {}) {
    const env = opts.env ?? process.env;
    this.#logger = opts.logger;
    this.#timers = opts.timers ?? globalTimers;
    const socket = env.NOTIFY_SOCKET;
    this.enabled = typeof socket === 'string' && socket.length > 0;
    this.#send = opts.send ?? ((msg) => spawnSystemdNotify(msg, env));
    this.watchdogUsec = this.enabled ? parseWatchdog(env, opts.pid ?? process.pid, this.#logger) : undefined;
  }

  /** READY=1 (with STATUS= when given): systemd moves the unit from activating to active. */
  ready(status?: string): Promise<void> {
    return this.#notify(status === undefined ? ['READY=1'] : ['READY=1', statusLine(status)]);
  }

  /** STATUS=text, shown by `systemctl status aim-agent`. */
  status(text: string): Promise<void> {
    return this.#notify([statusLine(text)]);
  }

  /** STOPPING=1, and no more watchdog pings: the shutdown is now bounded by TimeoutStopSec. */
  stopping(): Promise<void> {
    this.stopWatchdog();
    return this.#notify(['STOPPING=1']);
  }

  /**
   * Ping WATCHDOG=1 every watchdogUsec/2 while `healthy()` returns true. A blocked event loop sends
   * nothing by itself; `healthy()` covers what a timer cannot see (a wedged apply pipeline).
   * Calling it again replaces the health check.
   */
  startWatchdog(healthy: () => boolean): void {
    this.stopWatchdog();
    if (!this.enabled || this.watchdogUsec === undefined) return;
    const everyMs = Math.max(1, Math.floor(this.watchdogUsec / 2000));
    this.#wasHealthy = true;
    const timer = this.#timers.setInterval(() => this.#tick(healthy), everyMs);
    // The watchdog must not be what keeps a finished process alive.
    (timer as { unref?: () => void } | undefined)?.unref?.();
    this.#timer = timer;
    this.#logger?.debug({ everyMs }, 'systemd watchdog pings started');
  }

  stopWatchdog(): void {
    if (this.#timer !== undefined) this.#timers.clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #tick(healthy: () => boolean): void {
    let ok: boolean;
    try {
      ok = healthy();
    } catch (err) {
      this.#logger?.error({ err }, 'watchdog health check threw; treating as unhealthy');
      ok = false;
    }
    if (ok !== this.#wasHealthy) {
      if (ok) this.#logger?.info('healthy again; systemd watchdog pings resumed');
      else this.#logger?.warn('unhealthy; withholding systemd watchdog pings (systemd restarts the service after WatchdogSec)');
      this.#wasHealthy = ok;
    }
    // One ping at a time: a slow systemd-notify must not pile up children.
    if (!ok || this.#pingInFlight) return;
    this.#pingInFlight = true;
    void this.#notify(['WATCHDOG=1']).finally(() => (this.#pingInFlight = false));
  }

  /** Messages go out one after another, so READY is never overtaken by a later STATUS. */
  #notify(lines: string[]): Promise<void> {
    if (!this.enabled) return Promise.resolve();
    const msg = lines.join('\n');
    const next = this.#queue.then(() =>
      this.#send(msg).catch((err: unknown) => {
        // Not `msg`: that is pino's message key, and the payload would vanish from the line.
        this.#logger?.warn({ err, payload: msg }, 'sd_notify failed');
      }),
    );
    this.#queue = next;
    return next;
  }
}

/** A newline would start a new assignment (STATUS=x\nREADY=1), so status text is flattened. */
function statusLine(text: string): string {
  const flat = text.replace(/[\r\n\u0000]+/g, ' ').trim();
  return `STATUS=${flat.length > STATUS_MAX ? flat.slice(0, STATUS_MAX - 1) + '…' : flat}`;
}

function parseWatchdog(env: NodeJS.ProcessEnv, pid: number, logger: Logger | undefined): number | undefined {
  const raw = env.WATCHDOG_USEC;
  if (raw === undefined || raw === '') return undefined;
  const usec = /^\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(usec) || usec <= 0) {
    logger?.warn({ WATCHDOG_USEC: raw }, 'ignoring malformed WATCHDOG_USEC');
    return undefined;
  }
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== '' && Number(forPid) !== pid) {
    // The watchdog belongs to another process (a wrapper that did not exec): pinging would be wrong.
    logger?.warn({ WATCHDOG_PID: forPid, pid }, 'WATCHDOG_PID is not this process; not pinging');
    return undefined;
  }
  return usec;
}

/** The default sender: `systemd-notify -- KEY=VALUE...`, waiting for its barrier (see top). */
function spawnSystemdNotify(msg: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    // Only what systemd-notify reads; nothing else of ours leaks into the child.
    const childEnv: NodeJS.ProcessEnv = { NOTIFY_SOCKET: env.NOTIFY_SOCKET, PATH: env.PATH ?? '/usr/bin:/bin' };
    const child = spawn('systemd-notify', ['--', ...msg.split('\n')], { env: childEnv, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => {
      if (stderr.length < 2048) stderr += d;
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), SEND_TIMEOUT_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`systemd-notify exited with ${code ?? signal}: ${stderr.trim()}`));
    });
  });
}
