import t from 'tap';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { parseAimConfig } from '../../protocol/index.js';
import { AimStore, Locksmith, aimFileText } from './index.js';
import { docFor } from './test-fixtures/docs.js';
import { bundleWorker } from './test-fixtures/workers.js';

// kill -9 a writer at random moments, 200 times, on a real disk: the aim file must always be a whole
// document (the old or a newer one), never empty or torn, and the next start cleans up after it.

const CHAINS = 4; // state dirs side by side: process start-up dominates, so overlap it
const ROUNDS = 50; // per chain

function checkWhole(t: Tap, path: string, what: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const bytes = readFileSync(path);
  const r = parseAimConfig(bytes);
  if (!r.ok) {
    t.fail(`${what} is not a valid document (${bytes.length} bytes): ${JSON.stringify(r.errors).slice(0, 300)}`);
    return undefined;
  }
  if (!bytes.equals(Buffer.from(aimFileText(docFor(r.config.version))))) t.fail(`${what} v${r.config.version} is not exactly the document written`);
  return r.config.version;
}
type Tap = Pick<typeof t, 'fail'>;

// ~10-20 s on an idle 2-core box (200 node start-ups dominate); the timeout leaves room for a loaded one.
t.test(`kill -9 a writer at random moments over ${CHAINS * ROUNDS} rounds: the file is always whole`, { timeout: 400_000 }, async (t) => {
  const worker = await bundleWorker(t);
  const root = mkdtempSync(join(tmpdir(), 'aim-crash-'));
  t.teardown(() => rmSync(root, { recursive: true, force: true }));

  const chain = async (c: number) => {
    const dir = join(root, `chain-${c}`);
    let last = 0;
    let killedMidWrite = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const w = worker.spawn(['writer', '--dir', dir, '--from', String(last + 1)]);
      await w.waitForLine(/^ready /, 30_000);
      await delay(Math.random() * 25); // the random moment, not synchronisation
      w.kill('SIGKILL');
      await w.exited;
      const cur = checkWhole(t, join(dir, 'aim-params.json'), `chain ${c} round ${round}: aim-params.json`);
      const prev = checkWhole(t, join(dir, 'aim-params.prev.json'), `chain ${c} round ${round}: aim-params.prev.json`);
      if (cur !== undefined) {
        if (cur < last) t.fail(`chain ${c} round ${round}: version went back from ${last} to ${cur}`);
        if (prev !== undefined && prev > cur) t.fail(`chain ${c} round ${round}: prev v${prev} is newer than current v${cur}`);
        last = cur;
      }
      if (readdirSync(dir).some((n) => n.endsWith('.tmp') || n.endsWith('.tomb'))) killedMidWrite++;
    }
    return { dir, last, killedMidWrite };
  };
  const results = await Promise.all(Array.from({ length: CHAINS }, (_, c) => chain(c)));

  for (const r of results) {
    t.ok(r.last > ROUNDS / 5, `${r.dir}: the writers committed between kills (reached v${r.last})`);
    t.ok(r.killedMidWrite > 0, `${r.dir}: ${r.killedMidWrite} kills landed mid-write (temp files left behind)`);
    // The next start: the store removes the dead writers' temp files, the lock reclaims the dead holder's lock.
    const store = new AimStore({ stateDir: r.dir });
    await store.init();
    const smith = new Locksmith({ stateDir: r.dir });
    await smith.reclaimStale();
    t.same(readdirSync(r.dir).filter((n) => n.endsWith('.tmp') || n.endsWith('.tomb') || n === 'aim.lock'), [], 'no leftovers after the next start');
    t.same(await smith.status(), { state: 'free' });
    const state = await store.readState();
    t.equal(state.appliedVersion, r.last, 'the state names the file\'s version (derived from the file when they disagree)');
    await smith.close();
  }
});
