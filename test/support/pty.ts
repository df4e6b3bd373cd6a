import { existsSync } from 'node:fs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnTracked, type Teardown, type Tracked } from './procs.js';
import { waitFor } from './wait.js';

export interface PtyPair {
  /** The end the device under test opens (the FC side, e.g. fc-sim). */
  a: string;
  /** The end the agent opens. */
  b: string;
  proc: Tracked;
  stop(): Promise<void>;
}

/**
 * A real pseudo-terminal pair made by socat, exposed as two stable symlinks in a temp dir, so a
 * serial link can be tested byte for byte. Removed at teardown. Restart with `ptyPair(t, {dir})` to
 * recreate the same paths (a serial device coming back).
 */
export async function ptyPair(t: Teardown, opts: { dir?: string } = {}): Promise<PtyPair> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'aim-pty-'));
  if (opts.dir === undefined) t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const a = join(dir, 'fc');
  const b = join(dir, 'agent');
  const proc = spawnTracked(t, 'socat', ['-d', '-d', `pty,raw,echo=0,link=${a}`, `pty,raw,echo=0,link=${b}`]);
  await waitFor('socat pty links', () => existsSync(a) && existsSync(b), { timeoutMs: 5000 });
  return {
    a,
    b,
    proc,
    async stop() {
      proc.kill('SIGKILL');
      await proc.exited;
    },
  };
}
