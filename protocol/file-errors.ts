import { readFileSync } from 'node:fs';
import { AimError, type AimErrorCode } from './errors.js';

/** Why a file could not be read, the same words everywhere: `no such file`, `permission denied` … */
export function fileProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory, not a file';
  return `cannot read (${code ?? String(err)})`;
}

/**
 * Read a file the operator named; a failure is an AimError with `code` and the message
 * `path: no such file` (or the other fileProblem words), never a raw errno.
 */
export function readNamedFile(path: string, code: AimErrorCode): Buffer {
  try {
    return readFileSync(path);
  } catch (cause) {
    throw new AimError(code, `${path}: ${fileProblem(cause)}`, { cause, details: { path, errno: (cause as NodeJS.ErrnoException).code } });
  }
}
