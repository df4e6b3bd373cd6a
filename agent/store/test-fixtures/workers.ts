import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { ROOT, spawnTracked, spawnTs, withoutCoverage, type Teardown, type Tracked } from '../../../test/support/index.js';

export const WORKER = 'agent/store/test-fixtures/lock-worker.ts';

/** lock-worker.ts under tsx, stdin piped so `hold` mode can take commands. Killed at teardown. */
export function spawnWorker(t: Teardown, args: readonly string[]): Tracked {
  return spawnTs(t, WORKER, args, { stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Send one command line to a `hold` worker. */
export function tell(w: Tracked, line: string): void {
  w.child.stdin?.write(line + '\n');
}

/**
 * lock-worker.ts bundled into one plain .mjs (esbuild, which tsx already brings), for tests that
 * start hundreds of processes: node starts it in ~0.1 s instead of tsx's ~0.5 s. The validator is
 * left out (the writer never reads the aim file), which keeps zod out of the start-up.
 */
export async function bundleWorker(t: Teardown): Promise<{ spawn: (args: readonly string[]) => Tracked }> {
  const dir = mkdtempSync(join(tmpdir(), 'aim-worker-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const outfile = join(dir, 'lock-worker.mjs');
  await build({
    entryPoints: [join(ROOT, WORKER)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile,
    logLevel: 'warning',
    external: ['../../protocol/validate.js'],
  });
  // A bundle in a temp dir has no source map to our sources: not recorded for coverage.
  return { spawn: (args) => spawnTracked(t, process.execPath, [outfile, ...args], { cwd: ROOT, env: withoutCoverage() }) };
}
