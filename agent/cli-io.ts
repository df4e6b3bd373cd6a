import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../protocol/cli-errors.js';

/** What a command needs from its surroundings; tests pass their own. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
  env: NodeJS.ProcessEnv;
}

export const processIO: CliIO = {
  out: (s) => void process.stdout.write(s),
  err: (s) => void process.stderr.write(s),
  env: process.env,
};

export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, UsageError } from '../protocol/cli-errors.js';

/** node:util parseArgs, with unknown options and missing values turned into UsageError (exit 2). */
export function parseCommandArgs<T extends NonNullable<ParseArgsConfig['options']>>(argv: string[], options: T, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

/** Options every aim-agent command takes (DESIGN.md "Commands"). */
export const COMMON_OPTIONS = {
  settings: { type: 'string' },
  'state-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;
