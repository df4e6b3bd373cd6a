import { open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AimError, formatPathErrors, parseStrictJson } from '../../protocol/index.js';
import { issuesToPathErrors } from '../../protocol/zod-errors.js';
import { RolloutStateSchema, type RolloutState } from './state.js';

/**
 * Atomic writes of the roll-out state (temp file in the same directory, fsync, rename, fsync the
 * directory): after a crash the file is the previous or the next state, never half of one.
 */
export async function writeStateFile(file: string, state: RolloutState, opts: { exclusive?: boolean } = {}): Promise<void> {
  // Indented for a person reading a small roll-out; compact for a big one (a third of the bytes and time).
  const text = JSON.stringify(state, null, Object.keys(state.drones).length > 1000 ? undefined : 1) + '\n';
  if (opts.exclusive) {
    // The first write must not clobber another roll-out's state.
    const fh = await open(file, 'wx', 0o644).catch((cause: NodeJS.ErrnoException) => {
      throw new AimError('AIM_ERR_STORE_IO', `${file}: cannot create the state file (${cause.code ?? String(cause)})`, { cause });
    });
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    return;
  }
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, file);
    const dir = await open(dirname(file), 'r');
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch (cause) {
    await unlink(tmp).catch(() => undefined);
    throw new AimError('AIM_ERR_STORE_IO', `${file}: cannot write the state file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
}

/** Read and check a state file; AIM_ERR_STORE_CORRUPT with `path: message` lines when it is not one. */
export async function readStateFile(file: string): Promise<RolloutState> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new AimError('AIM_ERR_STORE_IO', `${file}: cannot read the state file (${(cause as NodeJS.ErrnoException).code ?? String(cause)})`, { cause });
  }
  const parsed = parseStrictJson(bytes, { maxBytes: 256 * 1024 * 1024, maxDepth: 64 });
  if (!parsed.ok) throw new AimError('AIM_ERR_STORE_CORRUPT', `${file}: not a roll-out state file\n${formatPathErrors(parsed.errors)}`);
  const r = RolloutStateSchema.safeParse(parsed.value);
  if (!r.success) throw new AimError('AIM_ERR_STORE_CORRUPT', `${file}: not a roll-out state file\n${formatPathErrors(issuesToPathErrors(r.error.issues))}`);
  return r.data;
}

/**
 * Batches saves: `request()` writes within `delayMs` (one write for every ack that arrives meanwhile),
 * with at most one write in flight and one queued, so a 5,000-drone wave costs a few dozen writes of the
 * whole state, not 5,000. `flush()` writes now and resolves once the latest state is on disk: the engine
 * flushes before every publish (write-ahead) and at the end, so batching only ever delays recording an
 * answer, never a publish.
 */
export class StateSaver {
  private running: Promise<void> | undefined;
  private queued = false;
  private timer: NodeJS.Timeout | undefined;
  private failure: unknown;
  /** Writes done, for benches and tests. */
  writes = 0;

  constructor(
    private readonly file: string,
    private readonly state: () => RolloutState,
    private readonly delayMs = 500,
  ) {}

  /** Schedule a save of the current state within `delayMs`; errors surface on the next flush(). */
  request(): void {
    if (this.timer !== undefined) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, this.delayMs);
    // A pending batch must not keep the process alive: the engine flushes before it returns.
    this.timer.unref();
  }

  async flush(): Promise<void> {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.start();
    while (this.running !== undefined) await this.running;
    if (this.failure !== undefined) {
      const f = this.failure;
      this.failure = undefined;
      throw f;
    }
  }

  private start(): void {
    if (this.running !== undefined) {
      this.queued = true;
      return;
    }
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    do {
      this.queued = false;
      const s = this.state();
      s.updatedAt = new Date().toISOString();
      try {
        await writeStateFile(this.file, s);
        this.writes++;
      } catch (err) {
        this.failure = err;
      }
    } while (this.queued);
  }
}
