import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger } from 'pino';

/**
 * The one logger: JSON lines on stdout (journald keeps them; `npx pino-pretty` reads them).
 * Library code receives a logger; it never writes to the console itself.
 */
export function createLogger(opts: { level?: string; name?: string; destination?: DestinationStream } = {}): Logger {
  const level = opts.level ?? process.env.AIM_LOG_LEVEL ?? 'info';
  const options = { level, name: opts.name ?? 'aim-agent', base: { pid: process.pid } };
  return opts.destination ? pino(options, opts.destination) : pino(options);
}

/** A logger that drops everything, for tests and CLIs that print their own output. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
