import { join } from 'node:path';
import { fsyncDir, readIfExists, tempPath, writeDurable, type StoreFs } from './durable-fs.js';
import { heartbeatToken } from './heartbeat-file.js';
import type { ProcInfo } from './proc.js';

/**
 * The fencing-token counter, `fence.token` in the state directory: the highest token ever handed out.
 * Written only by the lock holder, fsynced with its directory before the token is handed out, so it
 * keeps increasing across restarts and reboots.
 */
export const TOKEN_FILE = 'fence.token';
export const STATE_FILE = 'state.json';

export async function readTokenCounter(fs: StoreFs, dir: string): Promise<number | undefined> {
  const bytes = await readIfExists(fs, join(dir, TOKEN_FILE));
  if (bytes === undefined) return undefined;
  const text = bytes.toString('utf8').trim();
  return /^\d+$/.test(text) ? Number(text) : Number.NaN;
}

/**
 * A floor for the next token when the counter file is missing or unreadable (deleted by hand, torn
 * by a broken SD card): the highest token the state dir still remembers anywhere else.
 */
export async function tokenFloorFromDir(fs: StoreFs, dir: string): Promise<number> {
  let floor = 0;
  for (const name of await fs.readdir(dir).catch(() => [] as string[])) floor = Math.max(floor, heartbeatToken(name) ?? 0);
  const state = await readIfExists(fs, join(dir, STATE_FILE)).catch(() => undefined);
  if (state !== undefined) {
    try {
      const v = JSON.parse(state.toString('utf8')) as { lastToken?: unknown };
      if (typeof v.lastToken === 'number' && Number.isSafeInteger(v.lastToken)) floor = Math.max(floor, v.lastToken);
    } catch {
      /* unreadable state: no floor from it */
    }
  }
  return floor;
}

export async function writeTokenCounter(fs: StoreFs, dir: string, token: number, proc: ProcInfo): Promise<void> {
  const target = join(dir, TOKEN_FILE);
  const tmp = tempPath(target, 'tmp', proc);
  await writeDurable(fs, tmp, `${token}\n`);
  try {
    await fs.rename(tmp, target);
  } catch (err) {
    await fs.unlink(tmp).catch(() => undefined);
    throw err;
  }
  await fsyncDir(fs, dir);
}
