import * as fsp from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { basename, dirname, join } from 'node:path';
import { AimError } from '../../protocol/errors.js';
import { isTagAlive, ownerTag, procInfo, type ProcInfo } from './proc.js';

/** The part of an open file the store uses; node's FileHandle fits. */
export interface FileHandleLike {
  writeFile(data: string | Uint8Array): Promise<void>;
  write(buffer: Uint8Array, offset: number, length: number, position: number): Promise<unknown>;
  sync(): Promise<void>;
  close(): Promise<void>;
}

/**
 * The file-system calls the store and the lock make, in one object so tests can inject ENOSPC/EIO
 * at any step. `nodeFs` is the real thing.
 */
export interface StoreFs {
  open(path: string, flags: string, mode?: number): Promise<FileHandleLike>;
  readFile(path: string): Promise<Buffer>;
  rename(from: string, to: string): Promise<void>;
  link(existing: string, newPath: string): Promise<void>;
  unlink(path: string): Promise<void>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, mode: number): Promise<string | undefined>;
  chmod(path: string, mode: number): Promise<void>;
}

export const nodeFs: StoreFs = {
  open: (p, flags, mode) => fsp.open(p, flags, mode),
  readFile: (p) => fsp.readFile(p),
  rename: (a, b) => fsp.rename(a, b),
  link: (a, b) => fsp.link(a, b),
  unlink: (p) => fsp.unlink(p),
  readdir: (p) => fsp.readdir(p),
  mkdir: (p, mode) => fsp.mkdir(p, { recursive: true, mode }),
  chmod: (p, mode) => fsp.chmod(p, mode),
};

export const FILE_MODE = 0o640;
export const DIR_MODE = 0o750;

export function errnoCode(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** Wrap a file-system failure as AIM_ERR_STORE_IO, keeping the errno (ENOSPC, EIO …) in details. */
export function storeIoError(what: string, path: string, cause: unknown, opts: { note?: string; details?: Record<string, unknown> } = {}): AimError {
  const errno = errnoCode(cause) ?? 'unknown';
  const reason = cause instanceof Error ? cause.message : String(cause);
  return new AimError('AIM_ERR_STORE_IO', `${what} ${path}: ${reason}${opts.note === undefined ? '' : `; ${opts.note}`}`, {
    cause,
    details: { path, errno, ...opts.details },
  });
}

const TEMP_RE = /^(.+)\.([0-9a-f]{8}-\d+-\d+)\.([0-9a-z]+)\.(tmp|tomb)$/;

/**
 * A fresh temp (or tombstone) name beside `target`: `<target>.<owner tag>.<random>.tmp`. The owner tag
 * lets a later start remove only the leftovers of dead processes.
 */
export function tempPath(target: string, kind: 'tmp' | 'tomb' = 'tmp', proc: ProcInfo = procInfo): string {
  return join(dirname(target), `${basename(target)}.${ownerTag(proc)}.${randomBytes(4).toString('hex')}.${kind}`);
}

/** Temp files and tombstones in `dir` whose writer is dead (a crash leftover). */
export async function deadLeftovers(fs: StoreFs, dir: string, kind: 'tmp' | 'tomb', proc: ProcInfo = procInfo): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.readdir(dir);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw err;
  }
  return names.filter((name) => {
    const m = TEMP_RE.exec(name);
    return m !== null && m[4] === kind && !isTagAlive(m[2]!, proc);
  });
}

/** Create `path` exclusively with `data`, fsync it, close it. On failure the partial file is removed. */
export async function writeDurable(fs: StoreFs, path: string, data: string | Uint8Array, opts: { sync?: boolean } = {}): Promise<void> {
  const fh = await fs.open(path, 'wx', FILE_MODE);
  try {
    await fh.writeFile(data);
    if (opts.sync !== false) await fh.sync();
  } catch (err) {
    await fh.close().catch(() => undefined);
    await unlinkQuiet(fs, path);
    throw err;
  }
  await fh.close();
}

/** fsync a directory so renames and links inside it survive power loss. */
export async function fsyncDir(fs: StoreFs, dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** unlink, ignoring a file that is already gone. Other errors are returned, not thrown (clean-up paths). */
export async function unlinkQuiet(fs: StoreFs, path: string): Promise<unknown> {
  try {
    await fs.unlink(path);
    return undefined;
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? undefined : err;
  }
}

/** readFile, or undefined when the file does not exist. */
export async function readIfExists(fs: StoreFs, path: string): Promise<Buffer | undefined> {
  try {
    return await fs.readFile(path);
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
}
