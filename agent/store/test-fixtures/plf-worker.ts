/**
 * proper-lockfile's side of bench/lock.bench.ts. Modes:
 *   hold    --file F   lock F with the library's defaults (stale 10 s, update 5 s), print `acquired`, stay alive
 *   acquire --file F   print `started`, lock F with the defaults plus a retry policy (its default is not to
 *                      retry at all) polling every 50 ms like Locksmith, print `acquired at=<CLOCK_MONOTONIC ns>`
 */
import lockfile from 'proper-lockfile';
import { parseArgs } from 'node:util';

const { positionals, values } = parseArgs({ allowPositionals: true, options: { file: { type: 'string' } } });
const file = values.file ?? '';
const out = (line: string) => process.stdout.write(line + '\n');

async function main(): Promise<void> {
  if (positionals[0] === 'hold') {
    await lockfile.lock(file, { onCompromised: (err) => out(`compromised ${err.message}`) });
    out('acquired');
    setInterval(() => undefined, 1 << 30);
  } else {
    out('started');
    const release = await lockfile.lock(file, { retries: { forever: true, factor: 1, minTimeout: 50, maxTimeout: 50 } });
    out(`acquired at=${process.hrtime.bigint()}`);
    await release();
  }
}

main().catch((err: unknown) => {
  out(`error ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
