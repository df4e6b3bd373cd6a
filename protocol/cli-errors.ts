import { isAimError } from './errors.js';

/** DESIGN.md's exit codes, the same for `aim-agent` and `aimctl`. */
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_USAGE = 2;

/** Wrong arguments: exit 2 with the message (and usually the command's usage) on stderr. */
export class UsageError extends Error {
  readonly code = 'AIM_ERR_USAGE';
}

/**
 * The one mapping from an error to what a CLI prints and its exit code: usage errors (UsageError or
 * an AimError with AIM_ERR_USAGE, e.g. a bad `--fc` link) exit 2; every other expected failure exits
 * 1 as `prog: message [CODE]`; anything unexpected exits 1 with its stack, so it can be reported.
 */
export function cliErrorExit(prefix: string, err: unknown, write: (text: string) => void): number {
  if (err instanceof UsageError) {
    write(`${prefix}: ${err.message}\n`);
    return EXIT_USAGE;
  }
  if (isAimError(err)) {
    write(`${prefix}: ${err.message} [${err.code}]\n`);
    return err.code === 'AIM_ERR_USAGE' ? EXIT_USAGE : EXIT_FAILED;
  }
  write(`${prefix}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return EXIT_FAILED;
}
