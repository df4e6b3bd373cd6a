/**
 * A child process for the lock and store tests (and bench/lock.bench.ts). Modes:
 *   hold    --dir D [--ttl MS]        acquire, print `acquired token=T`, then obey stdin lines:
 *                                     `commit V` (stage + commit doc V), `release`, `exit`
 *   acquire --dir D [--ttl MS] [--commit V] [--timeout MS]
 *                                     print `started`, acquire, print `acquired token=T at=<CLOCK_MONOTONIC ns>`,
 *                                     optionally commit, release, exit
 *   contend --dir D --rounds N [--ttl MS] --id K
 *                                     N × (acquire, stage, commit, release); prints `iv <t0> <t1> <token> <id>` per round
 *   writer  --dir D --from V          init + reclaim, then commit V, V+1, … forever (killed by the test);
 *                                     it never reads the aim file, so it starts without loading the validator
 * Every mode prints `lost <reason>` when the lock is lost and `error <CODE> <message>` on failure.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { AimStore, Locksmith, type LockHandle } from '../index.js';
import { docFor } from './docs.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string' },
    ttl: { type: 'string' },
    rounds: { type: 'string' },
    id: { type: 'string' },
    commit: { type: 'string' },
    timeout: { type: 'string' },
    pad: { type: 'string' },
    from: { type: 'string' },
  },
});
const mode = positionals[0];
const dir = values.dir ?? '';
const ttlMs = values.ttl === undefined ? undefined : Number(values.ttl);
const pad = values.pad === undefined ? undefined : Number(values.pad);
const smith = new Locksmith({ stateDir: dir, ttlMs, command: `lock-worker ${mode}` });
const store = new AimStore({ stateDir: dir });
const out = (line: string) => process.stdout.write(line + '\n');
smith.on('lost', (info) => out(`lost ${info.reason}`));
const now = () => process.hrtime.bigint().toString();

async function commit(lock: LockHandle, version: number): Promise<void> {
  const staged = await store.stage(docFor(version, pad));
  await store.commit(staged, lock, { appliedAt: new Date().toISOString() });
}

async function main(): Promise<void> {
  await store.init();
  if (mode === 'hold') {
    const lock = await smith.acquire();
    out(`acquired token=${lock.token}`);
    const lines = createInterface({ input: process.stdin });
    for await (const line of lines) {
      const [cmd, arg] = line.trim().split(' ');
      try {
        if (cmd === 'commit') {
          await commit(lock, Number(arg));
          out(`committed v=${arg}`);
        } else if (cmd === 'release') {
          await lock.release();
          out('released');
        } else if (cmd === 'exit') {
          break;
        }
      } catch (err) {
        const e = err as { code?: string; message?: string };
        out(`error ${e.code ?? 'ERR'} ${e.message ?? String(err)}`);
      }
    }
    lines.close();
    process.stdin.destroy();
  } else if (mode === 'acquire') {
    out('started');
    const lock = await smith.acquire(values.timeout === undefined ? {} : { timeoutMs: Number(values.timeout) });
    out(`acquired token=${lock.token} at=${now()}`);
    if (values.commit !== undefined) {
      await commit(lock, Number(values.commit));
      out(`committed v=${values.commit}`);
    }
    await lock.release();
  } else if (mode === 'contend') {
    const rounds = Number(values.rounds ?? '10');
    for (let i = 0; i < rounds; i++) {
      const lock = await smith.acquire({ timeoutMs: 30_000 });
      const t0 = now();
      await commit(lock, lock.token);
      const t1 = now();
      out(`iv ${t0} ${t1} ${lock.token} ${values.id ?? '?'}`);
      await lock.release();
    }
    out('done');
  } else if (mode === 'writer') {
    await smith.reclaimStale();
    const lock = await smith.acquire({ timeoutMs: 10_000 });
    let version = Number(values.from ?? '1');
    out(`ready token=${lock.token} from=${version}`);
    for (;;) await commit(lock, version++);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
  await smith.close();
}

main().catch((err: unknown) => {
  const e = err as { code?: string; message?: string };
  out(`error ${e.code ?? 'ERR'} ${e.message ?? String(err)}`);
  process.exitCode = 1;
});
