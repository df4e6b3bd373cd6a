import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/** aimctl's logger: JSON lines on stderr (stdout carries the command's output), level from AIMCTL_LOG_LEVEL (default warn). */
export function groundLogger(env: NodeJS.ProcessEnv): Logger {
  return pino({ level: env.AIMCTL_LOG_LEVEL ?? 'warn', name: 'aimctl', base: { pid: process.pid } }, pino.destination(2));
}
