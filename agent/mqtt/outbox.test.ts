import t, { type Test } from 'tap';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../log.js';
import { Outbox, outboxPath, replay } from './outbox.js';

function stateDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const ack = (v: number) => ({ topic: 'aim/d/config/ack', payload: JSON.stringify({ version: v, status: 'applied', reason: null, errors: [], params: [], at: '2026-11-26T13:00:00.000Z', pad: 'x'.repeat(200) }), retain: false });

// Failed on main: 500 applies (an ack and a reported each, all delivered) left a 779 KB log, because
// compaction waited for 4 × maxEntries lines.
t.test('delivered entries are compacted away: the log stays small however many messages pass', async (t) => {
  const dir = stateDir(t);
  const box = new Outbox(dir, silentLogger());
  await box.load();
  let largest = 0;
  for (let v = 1; v <= 1000; v++) {
    const a = await box.add(ack(v));
    const r = await box.add({ topic: 'aim/d/config/reported', payload: JSON.stringify({ version: v }), retain: true });
    box.remove(a.seq);
    box.remove(r.seq);
    largest = Math.max(largest, statSync(outboxPath(dir)).size);
  }
  await box.close();
  t.ok(largest < 64 * 1024, `largest log ${largest} bytes over 2,000 delivered messages (bound 64 KiB)`);
  t.equal(replay(readFileSync(outboxPath(dir), 'utf8')).size, 0, 'nothing is owed');
});

t.test('what is owed survives a restart, in order; delivered and torn lines do not come back', async (t) => {
  const dir = stateDir(t);
  const first = new Outbox(dir, silentLogger());
  await first.load();
  const a = await first.add(ack(1));
  await first.add(ack(2));
  first.remove(a.seq);
  await first.add(ack(3));
  await first.close();
  const second = new Outbox(dir, silentLogger());
  const owed = await second.load();
  t.same(owed.map((e) => JSON.parse(e.payload).version), [2, 3]);
  const next = await second.add(ack(4));
  t.equal(next.seq, 4, 'sequence numbers continue after the highest owed');
  await second.close();
  t.same([...replay(readFileSync(outboxPath(dir), 'utf8')).keys()], [2, 3, 4]);
});

t.test('bounded in memory too: past maxEntries the oldest undelivered entry is dropped (a long-offline drone keeps its newest news)', async (t) => {
  const dir = stateDir(t);
  const box = new Outbox(dir, silentLogger(), 3);
  await box.load();
  for (let v = 1; v <= 5; v++) await box.add(ack(v));
  t.same(box.pending().map((e) => JSON.parse(e.payload).version), [3, 4, 5]);
  await box.close();
  t.same([...replay(readFileSync(outboxPath(dir), 'utf8')).keys()], [3, 4, 5]);
});
