import { join } from 'node:path';
import { AimError, isAimError } from '../../protocol/errors.js';
import { canonicalJson, canonicalSha256 } from '../../protocol/canonical.js';
import type { AimConfig } from '../../protocol/aim-config.js';
import { DIR_MODE, deadLeftovers, errnoCode, fsyncDir, nodeFs, readIfExists, storeIoError, tempPath, unlinkQuiet, writeDurable, type StoreFs } from './durable-fs.js';
import { STATE_FILE } from './fence-token.js';
import type { LockHandle } from './held-lock.js';
import { silentStoreLogger, type StoreLogger } from './logger.js';
import { procInfo, type ProcInfo } from './proc.js';

export const CURRENT_FILE = 'aim-params.json';
export const PREVIOUS_FILE = 'aim-params.prev.json';
/** The sha256 of the last config whose ack reached the outbox (see markAcked). */
export const ACKED_FILE = 'acked.json';
const UNTOUCHED = 'the current aim file is untouched';

export interface StoredConfig {
  config: AimConfig;
  sha256: string;
}

/** What was applied, as `state.json` records it (or as derived from the aim file when the two disagree). */
export interface AgentState {
  appliedVersion: number | null;
  id: string | null;
  sha256: string | null;
  appliedAt: string | null;
  /** Fencing token of the write that produced the current file (0 before the first write). */
  lastToken: number;
  /** True when state.json disagreed with the aim file (a crash between the two renames) and this was rebuilt from the file. */
  derived: boolean;
}

/** A config written to an fsynced temp file beside the aim file, waiting for commit or abort. */
export class Staged {
  #done = false;
  constructor(
    readonly owner: AimStore,
    readonly path: string,
    readonly config: AimConfig,
    readonly sha256: string,
  ) {}
  get done(): boolean {
    return this.#done;
  }
  finish(): void {
    this.#done = true;
  }
}

export interface AimStoreOptions {
  stateDir: string;
  logger?: StoreLogger;
  /** Inject faults (ENOSPC, EIO) in tests; defaults to node:fs/promises. */
  fs?: StoreFs;
  proc?: ProcInfo;
}

/** The aim file in pretty-printed canonical form: sorted keys, two-space indent, trailing newline. */
export function aimFileText(config: AimConfig): string {
  return JSON.stringify(JSON.parse(canonicalJson(config)), null, 2) + '\n';
}

/**
 * The aim-parameter file and its state. Reads need no lock; every write carries a LockHandle and is
 * fenced. Writes are temp file + fsync + rename + directory fsync, so after a crash or power loss the
 * aim file is the old document or the new one, never a torn one.
 */
export class AimStore {
  readonly stateDir: string;
  readonly currentPath: string;
  readonly previousPath: string;
  readonly statePath: string;
  readonly #fs: StoreFs;
  readonly #log: StoreLogger;
  readonly #proc: ProcInfo;

  constructor(opts: AimStoreOptions) {
    this.stateDir = opts.stateDir;
    this.currentPath = join(opts.stateDir, CURRENT_FILE);
    this.previousPath = join(opts.stateDir, PREVIOUS_FILE);
    this.statePath = join(opts.stateDir, STATE_FILE);
    this.#fs = opts.fs ?? nodeFs;
    this.#log = opts.logger ?? silentStoreLogger;
    this.#proc = opts.proc ?? procInfo;
  }

  /** Create the state dir (0750) when missing and remove temp files left by crashed writers. */
  async init(): Promise<{ removedTemps: string[] }> {
    try {
      const created = await this.#fs.mkdir(this.stateDir, DIR_MODE);
      if (created !== undefined) await this.#fs.chmod(this.stateDir, DIR_MODE);
      const removedTemps: string[] = [];
      for (const name of await deadLeftovers(this.#fs, this.stateDir, 'tmp', this.#proc)) {
        if (name.startsWith('aim.lock.') || name.startsWith('fence.token.')) continue; // the Locksmith's
        const err = await unlinkQuiet(this.#fs, join(this.stateDir, name));
        if (err === undefined) removedTemps.push(name);
      }
      if (removedTemps.length > 0) this.#log.warn({ removedTemps }, 'removed temp files left by a crashed writer');
      return { removedTemps };
    } catch (err) {
      throw isAimError(err) ? err : storeIoError('cannot prepare the state directory', this.stateDir, err);
    }
  }

  readCurrent(): Promise<StoredConfig | undefined> {
    return this.#readConfig(this.currentPath);
  }

  readPrevious(): Promise<StoredConfig | undefined> {
    return this.#readConfig(this.previousPath);
  }

  /** The applied state. When state.json disagrees with the aim file, the file wins and the state is derived from it. */
  async readState(): Promise<AgentState> {
    const current = await this.readCurrent();
    const saved = await this.#readStateFile();
    if (current === undefined) {
      if (saved?.sha256 != null) this.#log.warn({ saved }, 'state.json names a config but there is no aim file; the file wins');
      return { appliedVersion: null, id: null, sha256: null, appliedAt: null, lastToken: saved?.lastToken ?? 0, derived: saved?.sha256 != null };
    }
    if (saved !== undefined && saved.sha256 === current.sha256) return { ...saved, derived: false };
    this.#log.warn({ saved, file: { version: current.config.version, sha256: current.sha256 } }, 'state.json disagrees with the aim file; deriving the state from the file');
    return { appliedVersion: current.config.version, id: current.config.id, sha256: current.sha256, appliedAt: null, lastToken: saved?.lastToken ?? 0, derived: true };
  }

  /**
   * Write `config` (validated by the caller: an AimConfig comes from protocol's parseAimConfig) to an
   * fsynced temp file in the state dir. Throws AIM_ERR_STORE_IO; the current file is untouched.
   */
  async stage(config: AimConfig): Promise<Staged> {
    const path = tempPath(this.currentPath, 'tmp', this.#proc);
    try {
      await writeDurable(this.#fs, path, aimFileText(config));
    } catch (err) {
      throw storeIoError('cannot stage the aim file', path, err, { note: UNTOUCHED });
    }
    return new Staged(this, path, config, canonicalSha256(config));
  }

  /**
   * Swap the staged file in: the old one is kept as aim-params.prev.json, the directory is fsynced,
   * then state.json follows. Throws AIM_ERR_FENCED when `lock` is no longer the current holding, and
   * AIM_ERR_STORE_IO on a disk error; in both cases the current file is untouched (except: when only
   * the final directory fsync fails, the swap has happened in memory; `details.swapped` says so).
   * The staged temp file is consumed either way.
   */
  async commit(staged: Staged, lock: LockHandle, meta: { appliedAt: string }): Promise<void> {
    this.#own(staged);
    const { config, sha256 } = staged;
    staged.finish();
    const state = { appliedVersion: config.version, id: config.id, sha256, appliedAt: meta.appliedAt, lastToken: lock.token };
    await this.#swapIn(staged.path, state, lock);
    this.#log.info({ version: config.version, id: config.id, sha256, token: lock.token }, 'aim file committed');
  }

  /** Remove a staged temp file (idempotent). */
  async abort(staged: Staged): Promise<void> {
    this.#own(staged);
    staged.finish();
    await unlinkQuiet(this.#fs, staged.path);
  }

  /**
   * Move an aim file that does not parse aside as aim-params.corrupt-<time>.json (kept for forensics),
   * so a valid config can replace it. Fenced like commit. Returns the kept name, or undefined when the
   * file is valid or absent.
   */
  async setAsideCorrupt(lock: LockHandle, now: Date = new Date()): Promise<string | undefined> {
    try {
      await this.readCurrent();
      return undefined;
    } catch (err) {
      if (!isAimError(err, 'AIM_ERR_STORE_CORRUPT')) throw err;
    }
    await lock.assertHeld();
    const keptAs = `aim-params.corrupt-${now.toISOString().replace(/[:.]/g, '-')}.json`;
    try {
      await this.#fs.rename(this.currentPath, join(this.stateDir, keptAs));
      await fsyncDir(this.#fs, this.stateDir);
    } catch (err) {
      throw storeIoError('cannot move the corrupt aim file aside in', this.stateDir, err);
    }
    this.#log.warn({ keptAs, token: lock.token }, 'corrupt aim file moved aside');
    return keptAs;
  }

  /** Put a file moved aside by setAsideCorrupt back (its replacement failed), unless something took its place. */
  async restoreCorrupt(keptAs: string): Promise<void> {
    try {
      await this.#fs.link(join(this.stateDir, keptAs), this.currentPath);
    } catch (err) {
      if (errnoCode(err) === 'EEXIST') return;
      throw storeIoError('cannot put the corrupt aim file back in', this.stateDir, err);
    }
  }

  /**
   * Record that the ack for `sha256` is in the outbox. A separate small file, not state.json: it is
   * written without the aim lock, and must never race a commit's state.
   */
  async markAcked(sha256: string): Promise<void> {
    const target = join(this.stateDir, ACKED_FILE);
    const tmp = tempPath(target, 'tmp', this.#proc);
    try {
      await writeDurable(this.#fs, tmp, JSON.stringify({ sha256 }) + '\n');
      await this.#fs.rename(tmp, target);
      await fsyncDir(this.#fs, this.stateDir);
    } catch (err) {
      await unlinkQuiet(this.#fs, tmp);
      throw storeIoError('cannot record the ack in', this.stateDir, err);
    }
  }

  /** The sha256 markAcked last recorded; null when none (or the record is unreadable: an ack is then owed again, which is harmless). */
  async readAcked(): Promise<string | null> {
    const bytes = await readIfExists(this.#fs, join(this.stateDir, ACKED_FILE)).catch(() => undefined);
    if (bytes === undefined) return null;
    try {
      const v = JSON.parse(bytes.toString('utf8')) as { sha256?: unknown };
      return typeof v.sha256 === 'string' ? v.sha256 : null;
    } catch {
      return null;
    }
  }

  /** Rename `source` over the aim file under the fence, first keeping the old file as .prev. */
  async #swapIn(source: string, state: Omit<AgentState, 'derived'>, lock: LockHandle): Promise<void> {
    const fs = this.#fs;
    const stateTmp = tempPath(this.statePath, 'tmp', this.#proc);
    const prevTmp = tempPath(this.previousPath, 'tmp', this.#proc);
    const cleanup = async () => {
      await unlinkQuiet(fs, source);
      await unlinkQuiet(fs, stateTmp);
      await unlinkQuiet(fs, prevTmp);
    };
    let hasCurrent = false;
    try {
      // Everything that needs free space happens before the swap, so a full disk leaves the current file as it was.
      await writeDurable(fs, stateTmp, JSON.stringify(state, null, 2) + '\n');
      try {
        await fs.link(this.currentPath, prevTmp);
        hasCurrent = true;
      } catch (err) {
        if (errnoCode(err) !== 'ENOENT') throw err;
      }
    } catch (err) {
      await cleanup();
      throw storeIoError('cannot prepare the commit in', this.stateDir, err, { note: UNTOUCHED });
    }
    try {
      await lock.assertHeld();
    } catch (cause) {
      await cleanup();
      if (isAimError(cause, 'AIM_ERR_STORE_IO')) {
        // Could not check the fence: refuse, and say it was the disk, not a lost lock.
        throw storeIoError('cannot check the aim lock before writing', this.stateDir, cause.cause ?? cause, { note: UNTOUCHED });
      }
      throw new AimError('AIM_ERR_FENCED', `refusing to write the aim file: lock token ${lock.token} is not the current holder's`, {
        cause,
        details: { token: lock.token, version: state.appliedVersion },
      });
    }
    // The fencing window: from the check above to the rename below (a few syscalls, no disk I/O in
    // between) a holder frozen for longer than the TTL could still land one write. It cannot be closed
    // without a compare-and-rename, which POSIX does not have.
    try {
      if (hasCurrent) await fs.rename(prevTmp, this.previousPath);
      await fs.rename(source, this.currentPath);
    } catch (err) {
      await cleanup();
      throw storeIoError('cannot swap in', this.currentPath, err, { note: UNTOUCHED });
    }
    try {
      await fsyncDir(fs, this.stateDir);
      await fs.rename(stateTmp, this.statePath);
      await fsyncDir(fs, this.stateDir);
    } catch (err) {
      await unlinkQuiet(fs, stateTmp);
      throw storeIoError('aim file swapped, but could not make it durable in', this.stateDir, err, {
        note: 'the new file is in place; state.json follows it on the next read',
        details: { swapped: true },
      });
    }
  }

  #own(staged: Staged): void {
    if (staged.owner !== this) throw new TypeError('this staged file belongs to another AimStore');
    if (staged.done) throw new TypeError(`staged file ${staged.path} was already committed or aborted`);
  }

  async #readConfig(path: string): Promise<StoredConfig | undefined> {
    let bytes: Buffer | undefined;
    try {
      bytes = await readIfExists(this.#fs, path);
    } catch (err) {
      throw storeIoError('cannot read', path, err);
    }
    if (bytes === undefined) return undefined;
    // Loaded on first read: processes that only write (lock helpers, crash-test writers) start faster without zod.
    const { parseAimConfig } = await import('../../protocol/validate.js');
    const r = parseAimConfig(bytes);
    if (!r.ok) {
      throw new AimError('AIM_ERR_STORE_CORRUPT', `${path} is not a valid aim config: ${r.errors.map((e) => `${e.path}: ${e.message}`).join('; ')}`, {
        details: { path, errors: r.errors },
      });
    }
    return { config: r.config, sha256: r.sha256 };
  }

  async #readStateFile(): Promise<Omit<AgentState, 'derived'> | undefined> {
    const bytes = await readIfExists(this.#fs, this.statePath).catch((err: unknown) => {
      this.#log.warn({ err }, 'cannot read state.json');
      return undefined;
    });
    if (bytes === undefined) return undefined;
    try {
      const v = JSON.parse(bytes.toString('utf8')) as Record<string, unknown>;
      const strOrNull = (x: unknown) => (typeof x === 'string' ? x : null);
      return {
        appliedVersion: typeof v.appliedVersion === 'number' ? v.appliedVersion : null,
        id: strOrNull(v.id),
        sha256: strOrNull(v.sha256),
        appliedAt: strOrNull(v.appliedAt),
        lastToken: typeof v.lastToken === 'number' && Number.isSafeInteger(v.lastToken) ? v.lastToken : 0,
      };
    } catch {
      this.#log.warn({ path: this.statePath }, 'state.json is unreadable; deriving the state from the aim file');
      return undefined;
    }
  }
}
