import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { errnoCode, readIfExists, tempPath, unlinkQuiet, type StoreFs } from './durable-fs.js';
import { readHeartbeat } from './heartbeat-file.js';
import { judgeRecord, parseRecord, unreadableRecord, type LockRecord, type LockVerdict } from './lock-record.js';
import type { StoreLogger } from './logger.js';
import type { ProcInfo } from './proc.js';

export const LOCK_FILE = 'aim.lock';

export interface Inspection {
  verdict: LockVerdict;
  /** The record's bytes; records are immutable, so equal bytes mean the same holding. */
  raw?: Buffer;
}

/**
 * The lock file's primitives. POSIX has no "remove this file if it still holds X", so removal goes
 * through a tombstone: rename aim.lock to a private name (atomic, one winner), read what was moved,
 * and put it back with link() (which never overwrites) when it was not the record we meant.
 */
export class LockDir {
  readonly lockPath: string;

  constructor(
    readonly dir: string,
    readonly fs: StoreFs,
    readonly proc: ProcInfo,
    readonly log: StoreLogger,
  ) {
    this.lockPath = join(dir, LOCK_FILE);
  }

  async inspect(): Promise<Inspection> {
    const raw = await readIfExists(this.fs, this.lockPath);
    if (raw === undefined) return { verdict: { state: 'free' } };
    return { verdict: await this.judge(raw), raw };
  }

  async judge(raw: Buffer): Promise<LockVerdict> {
    const record = parseRecord(raw);
    if (record === undefined) {
      // Records appear whole (link of a complete file), so this is damage, e.g. a zero-length file after power loss.
      return { state: 'stale', owner: unreadableRecord(), reason: `lock record is unreadable (${raw.length} bytes)` };
    }
    // A heartbeat file that cannot be read (EIO) throws: better no verdict than calling a live owner stale.
    const heartbeat = await readHeartbeat(this.fs, this.dir, record.token);
    return judgeRecord(record, heartbeat, this.proc);
  }

  /**
   * Remove aim.lock when `keep` says the moved record is the one we meant. Returns 'absent' when there
   * was no lock, 'kept' when it was another record (restored, unless a newer holder linked in meanwhile).
   */
  async removeIf(isTarget: (raw: Buffer) => boolean | Promise<boolean>): Promise<'removed' | 'absent' | 'kept'> {
    const tomb = tempPath(this.lockPath, 'tomb', this.proc);
    try {
      await this.fs.rename(this.lockPath, tomb);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return 'absent';
      throw err;
    }
    let raw: Buffer | undefined;
    try {
      raw = await this.fs.readFile(tomb);
      if (await isTarget(raw)) {
        await unlinkQuiet(this.fs, tomb);
        return 'removed';
      }
    } catch (err) {
      await this.restore(tomb, raw);
      throw err;
    }
    await this.restore(tomb, raw);
    return 'kept';
  }

  private async restore(tomb: string, raw: Buffer | undefined): Promise<void> {
    try {
      await this.fs.link(tomb, this.lockPath);
    } catch (err) {
      // A third process took the free lock in the moment it was gone: the record we moved has lost
      // its lock, and its holder learns so at its next check (its commits are fenced).
      this.log.warn({ err: errnoCode(err), displaced: raw === undefined ? undefined : parseRecord(raw) }, 'could not restore a lock record moved aside');
    }
    await unlinkQuiet(this.fs, tomb);
  }

  /**
   * Whether aim.lock still holds the holding `nonce`. When the file is missing because another process
   * has it in a tombstone right now (it is checking whether to break it), wait for that to settle.
   */
  async ownership(nonce: string): Promise<{ owned: true } | { owned: false; current: LockRecord | undefined }> {
    for (let i = 0; ; i++) {
      const raw = await readIfExists(this.fs, this.lockPath);
      if (raw !== undefined) {
        const current = parseRecord(raw);
        return current?.nonce === nonce ? { owned: true } : { owned: false, current };
      }
      if (i >= 100 || !(await this.inTombstone(nonce))) return { owned: false, current: undefined };
      await sleep(5);
    }
  }

  private async inTombstone(nonce: string): Promise<boolean> {
    const names = await this.fs.readdir(this.dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.startsWith(`${LOCK_FILE}.`) || !name.endsWith('.tomb')) continue;
      const raw = await readIfExists(this.fs, join(this.dir, name)).catch(() => undefined);
      if (raw !== undefined && parseRecord(raw)?.nonce === nonce) return true;
    }
    return false;
  }
}
