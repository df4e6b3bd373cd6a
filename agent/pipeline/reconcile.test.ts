import t from 'tap';
import { canonicalSha256 } from '../../protocol/index.js';
import { silentLogger } from '../log.js';
import { reconcile } from './reconcile.js';
import { config, FakeFc, FakeLock, FakeStore, FakeTime } from './test-helpers/fakes.js';

function setup() {
  const time = new FakeTime();
  const fc = new FakeFc(time);
  const store = new FakeStore();
  const lock = new FakeLock();
  const v1 = config(1);
  store.current = { config: v1, sha256: canonicalSha256(v1) };
  return { time, fc, store, lock, deps: { fc, store, lock, logger: silentLogger(), paramTimeoutMs: 1000, paramRetries: 3 } };
}

t.test('in sync, and drift repaired under the lock', async (t) => {
  const { fc, deps } = setup();
  fc.values.set('TST_A', 1);
  fc.values.set('TST_B', 1.5);
  t.match(await reconcile(deps), { state: 'in-sync' });
  fc.values.set('TST_A', 9);
  const r = await reconcile(deps);
  t.match(r, { state: 'repaired', drift: [{ name: 'TST_A' }] });
  t.equal(fc.values.get('TST_A'), 1);
  t.match(fc.getCalls[0], { timeoutMs: 1000, retries: 3 }, 'per-attempt timeout is the parameter timeout');
});

t.test('another writer commits while reconcile waits for the lock: the FC is not pushed back to the old file', async (t) => {
  const { fc, store, lock, deps } = setup();
  fc.values.set('TST_A', 0); // drifted from v1
  fc.values.set('TST_B', 0);
  lock.onAcquire = () => {
    // aim-agent apply over a second link: v2 on the FC, then committed.
    const v2 = config(2);
    fc.values.set('TST_A', 2);
    fc.values.set('TST_B', 2.5);
    store.current = { config: v2, sha256: canonicalSha256(v2) };
  };
  const r = await reconcile(deps);
  t.equal(fc.setCalls.length, 0, 'no PARAM_SET towards the old file');
  t.equal(fc.values.get('TST_A'), 2, 'the FC keeps the new writer\'s values');
  t.match(r, { state: 'in-sync', current: { config: { version: 2 } } }, 'reported for the file that is current now');
});

t.test('armed with a disarmed-window file: drift only reported; no file, corrupt, FC unavailable', async (t) => {
  const a = setup();
  const v1 = config(1, { apply: { when: 'disarmed' } });
  a.store.current = { config: v1, sha256: canonicalSha256(v1) };
  a.fc.vehicle = { armed: true };
  a.fc.values.set('TST_A', 5);
  a.fc.values.set('TST_B', 5);
  t.match(await reconcile(a.deps), { state: 'drift-armed' });
  t.equal(a.fc.setCalls.length, 0);
  const b = setup();
  b.store.current = undefined;
  t.match(await reconcile(b.deps), { state: 'no-file' });
  b.store.current = 'corrupt';
  t.match(await reconcile(b.deps), { state: 'corrupt' });
  const c = setup();
  c.fc.up = false;
  t.match(await reconcile(c.deps), { state: 'fc-unavailable' });
});

t.test('a parameter the FC lacks: repair-failed names it', async (t) => {
  const { fc, deps } = setup();
  fc.values.set('TST_A', 9);
  const r = await reconcile(deps);
  t.match(r, { state: 'repair-failed', reason: /TST_B unknown/ });
});
