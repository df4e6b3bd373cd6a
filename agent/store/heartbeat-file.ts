import { join } from 'node:path';
import { errnoCode, type FileHandleLike, type StoreFs } from './durable-fs.js';

/**
 * The holder's heartbeat: `aim.lock.hb-<token>`, one file per holding, rewritten in place.
 *
 * Why not rewrite aim.lock itself: a rename over aim.lock is unconditional, so a holder that was
 * frozen, lost the lock and woke up could overwrite the new holder's record between checking and
 * renaming. A per-token file can only ever be written by its own holder. Why in place: a positional
 * write over an allocated block needs no free space, so a full disk does not cost the holder its
 * lock. The payload is written twice (`A|A`) so a reader that races a write (torn read) sees a
 * mismatch and ignores it instead of trusting mixed digits.
 */
export const HEARTBEAT_BYTES = 96;

export function heartbeatPath(dir: string, token: number): string {
  return join(dir, `aim.lock.hb-${token}`);
}

export function heartbeatToken(name: string): number | undefined {
  const m = /^aim\.lock\.hb-(\d+)$/.exec(name);
  return m === null ? undefined : Number(m[1]);
}

export function encodeHeartbeat(uptimeMs: number, wallMs: number): Buffer {
  const payload = `${uptimeMs},${wallMs}`;
  return Buffer.from(`${payload}|${payload}`.padEnd(HEARTBEAT_BYTES - 1, ' ') + '\n', 'latin1');
}

export function decodeHeartbeat(bytes: Uint8Array): { uptimeMs: number; wallMs: number } | undefined {
  const [a, b, extra] = Buffer.from(bytes).toString('latin1').trim().split('|');
  if (a === undefined || a !== b || extra !== undefined) return undefined;
  const m = /^(\d+),(\d+)$/.exec(a);
  if (m === null) return undefined;
  return { uptimeMs: Number(m[1]), wallMs: Number(m[2]) };
}

/** The latest beat, or undefined when there is none. A torn read (racing the holder's write) is read again. */
export async function readHeartbeat(fs: StoreFs, dir: string, token: number): Promise<{ uptimeMs: number; wallMs: number } | undefined> {
  for (let attempt = 0; attempt < 3; attempt++) {
    let bytes: Buffer;
    try {
      bytes = await fs.readFile(heartbeatPath(dir, token));
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return undefined;
      throw err;
    }
    const beat = decodeHeartbeat(bytes);
    if (beat !== undefined) return beat;
  }
  return undefined;
}

/** An open heartbeat file; `beat` overwrites the fixed-size payload at offset 0. */
export class HeartbeatWriter {
  private constructor(
    readonly path: string,
    private readonly fh: FileHandleLike,
  ) {}

  static async create(fs: StoreFs, dir: string, token: number, uptimeMs: number, wallMs: number): Promise<HeartbeatWriter> {
    const path = heartbeatPath(dir, token);
    const fh = await fs.open(path, 'w', 0o640);
    const w = new HeartbeatWriter(path, fh);
    try {
      await w.beat(uptimeMs, wallMs);
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    return w;
  }

  async beat(uptimeMs: number, wallMs: number): Promise<void> {
    const buf = encodeHeartbeat(uptimeMs, wallMs);
    await this.fh.write(buf, 0, buf.length, 0);
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
