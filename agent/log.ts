import { fstatSync } from 'node:fs';
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

export interface LoggerOptions {
  level?: string;
  name?: string;
  /** Where JSON lines go (default: stdout). */
  destination?: DestinationStream;
  /** Prefix each line with its syslog priority `<N>` (default: when stdout is journald's stream, see below). */
  journal?: boolean;
  /** JOURNAL_STREAM and AIM_LOG_LEVEL come from here (default: process.env). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The one logger: JSON lines on stdout (`npx pino-pretty` reads them). Under systemd each line starts
 * with its syslog priority (`<4>{"level":40,...}`), which journald strips and files as PRIORITY=, so
 * `journalctl -u aim-agent -p warning` finds the warnings; the JSON stays the message.
 * Library code receives a logger; it never writes to the console itself.
 */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const env = opts.env ?? process.env;
  const level = opts.level ?? env.AIM_LOG_LEVEL ?? 'info';
  const options = { level, name: opts.name ?? 'aim-agent', base: { pid: process.pid } };
  const journal = opts.journal ?? (opts.destination === undefined && stdoutIsJournal(env));
  if (!journal) return opts.destination ? pino(options, opts.destination) : pino(options);
  return pino(options, journalStream(opts.destination ?? pino.destination({ fd: 1, sync: true })));
}

/** A logger that drops everything, for tests and CLIs that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** pino level → syslog priority: trace/debug 7, info 6, warn 4, error 3, fatal 2. */
export function syslogPriority(level: number): number {
  if (level >= 60) return 2;
  if (level >= 50) return 3;
  if (level >= 40) return 4;
  if (level >= 30) return 6;
  return 7;
}

/**
 * systemd sets JOURNAL_STREAM=<dev>:<ino> of the stream it connected to stdout/stderr; it counts only
 * when stdout still is that stream (systemd.exec(5)), not when our output was redirected elsewhere.
 */
export function stdoutIsJournal(env: NodeJS.ProcessEnv, fd = 1): boolean {
  const m = /^(\d+):(\d+)$/.exec(env.JOURNAL_STREAM ?? '');
  if (m === null) return false;
  try {
    const st = fstatSync(fd, { bigint: true });
    return st.dev === BigInt(m[1]!) && st.ino === BigInt(m[2]!);
  } catch {
    return false;
  }
}

/** pino tells a stream marked `pino.metadata` each line's level before writing it: one write per line, prefix included. */
function journalStream(out: DestinationStream): DestinationStream {
  const stream = {
    [Symbol.for('pino.metadata')]: true,
    lastLevel: 30,
    write(line: string) {
      out.write(`<${syslogPriority(stream.lastLevel)}>${line}`);
    },
  };
  return stream;
}
