import t from 'tap';
import type { Clock } from './clock.js';
import { PacedQueue, wireMs } from './paced-queue.js';

/** A clock the test advances by hand. */
function fakeClock() {
  let now = 0;
  const timers: { at: number; fn: () => void; id: number }[] = [];
  let next = 0;
  const clock: Clock = {
    now: () => now,
    setTimeout: (fn, ms) => {
      const id = next++;
      timers.push({ at: now + ms, fn, id });
      return id;
    },
    clearTimeout: (id) => {
      const i = timers.findIndex((x) => x.id === id);
      if (i >= 0) timers.splice(i, 1);
    },
  };
  const advance = (to: number) => {
    for (;;) {
      timers.sort((a, b) => a.at - b.at);
      const first = timers[0];
      if (first === undefined || first.at > to) break;
      timers.shift();
      now = first.at;
      first.fn();
    }
    now = to;
  };
  return { clock, advance };
}

t.test('wire time is 10 bits per byte', async (t) => {
  t.equal(wireMs(1000, 57600), 10000 / 57.6);
  t.equal(wireMs(96, 960), 1000);
});

t.test('bytes leave no faster than the baud, in order, without drift', async (t) => {
  const { clock, advance } = fakeClock();
  const out: { at: number; bytes: number[] }[] = [];
  const q = new PacedQueue({ baud: 57600, clock, deliver: (b) => out.push({ at: clock.now(), bytes: [...b] }) });
  const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
  q.push(data);
  t.equal(q.pendingBytes, 1000);
  advance(100);
  const sent = out.reduce((n, o) => n + o.bytes.length, 0);
  t.ok(sent <= (100 * 57600) / 10000, `${sent} bytes in the first 100 ms`);
  advance(1000);
  t.same(out.flatMap((o) => o.bytes), [...data], 'all bytes, in order');
  t.ok(Math.abs(out.at(-1)!.at - wireMs(1000, 57600)) < 1.5, `last byte at ${out.at(-1)!.at} ms`);
  t.equal(q.pendingBytes, 0);

  // An idle wire starts again from now, not from the last burst.
  q.push(Buffer.alloc(10));
  advance(1100 + wireMs(10, 57600) + 1);
  t.ok(Math.abs(out.at(-1)!.at - (1000 + wireMs(10, 57600))) < 1.5);
});

t.test('without a baud rate bytes pass straight through; clear drops the backlog', async (t) => {
  const { clock, advance } = fakeClock();
  const out: Buffer[] = [];
  const q = new PacedQueue({ clock, deliver: (b) => out.push(b) });
  q.push(Buffer.from([1, 2]));
  t.equal(out.length, 1);
  q.setBaud(9600);
  q.push(Buffer.alloc(100));
  q.clear();
  advance(1000);
  t.equal(out.length, 1);
});

t.test('1000 bytes at 57600 take about 174 ms on the real clock', async (t) => {
  const t0 = performance.now();
  const done = new Promise<number>((resolve) => {
    let got = 0;
    const q = new PacedQueue({
      baud: 57600,
      deliver: (b) => {
        got += b.length;
        if (got === 1000) resolve(performance.now() - t0);
      },
    });
    q.push(Buffer.alloc(1000));
  });
  const ms = await done;
  t.ok(ms >= 172 && ms < 230, `${ms.toFixed(1)} ms (wire time ${wireMs(1000, 57600).toFixed(1)} ms)`);
});
