import { parseArgs, type ParseArgsConfig } from 'node:util';
import { DRONE_ID_RE, UsageError, isValidDroneId } from '../protocol/index.js';

/** What an aimctl command needs from its surroundings; tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
  /** Whether stdout is a terminal: live tables there, JSON lines otherwise. */
  isTTY: boolean;
  /** Terminal size, for the live table. */
  columns?: number;
  rows?: number;
  /** Aborted on Ctrl-C/SIGTERM: a roll-out saves its state and stops waiting. */
  signal?: AbortSignal;
}

export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from '../protocol/cli-errors.js';

/** node:util parseArgs, with unknown options and missing values turned into UsageError (exit 2). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** A positive number of seconds, or UsageError. */
export function parseSeconds(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!/^\d+(\.\d+)?$/.test(text.trim()) || !(n > 0)) throw new UsageError(`--${name} ${JSON.stringify(text)}: give a positive number of seconds`);
  return n;
}

/** A comma-separated drone list; each id as DESIGN.md allows them. */
export function parseDroneList(name: string, text: string): string[] {
  const ids = text.split(',').map((s) => s.trim());
  if (ids.some((s) => s === '')) throw new UsageError(`--${name} ${JSON.stringify(text)}: give drone ids separated by commas`);
  for (const id of ids) checkDroneId(name, id);
  return ids;
}

export function checkDroneId(name: string, id: string): string {
  if (!isValidDroneId(id)) throw new UsageError(`--${name}: ${JSON.stringify(id)} is not a drone id (${DRONE_ID_RE})`);
  return id;
}
