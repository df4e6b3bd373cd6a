import t from 'tap';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { ROOT } from '../../test/support/index.js';
import { parseSettings } from '../settings.js';
import { runShutdown, shutdownBudget, SHUTDOWN_SHARES, type ShutdownTimers } from './shutdown.js';

// The stop path on an injected clock: every step is bounded by its share of apply.shutdownTimeoutS,
// so the whole stop fits the unit's TimeoutStopSec whatever hangs (a frozen broker, a slow rollback).

/** A hand-driven clock: timers fire only when advance() passes them. */
function fakeTimers() {
  let now = 0;
  let seq = 0;
  const pending = new Map<number, { at: number; fn: () => void }>();
  const timers: ShutdownTimers = {
    now: () => now,
    setTimeout: (fn, ms) => {
      pending.set(++seq, { at: now + ms, fn });
      return seq;
    },
    clearTimeout: (h) => void pending.delete(h as number),
  };
  /** Fire due timers one at a time (letting promises settle between), until `to`. */
  const advance = async (to: number) => {
    for (;;) {
      await new Promise((r) => setImmediate(r));
      const next = [...pending.entries()].filter(([, p]) => p.at <= to).sort((a, b) => a[1].at - b[1].at)[0];
      if (next === undefined) break;
      pending.delete(next[0]);
      now = next[1].at;
      next[1].fn();
    }
    now = to;
    await new Promise((r) => setImmediate(r));
  };
  return { timers, advance, now: () => now };
}

const quiet = pino({ level: 'silent' });
const never = () => new Promise<void>(() => undefined);

t.test('the shares add up to the whole budget, never more', async (t) => {
  t.equal(Object.values(SHUTDOWN_SHARES).reduce((a, b) => a + b, 0), 1);
  for (const total of [0, 1, 999, 4000, 20_000, 600_000]) {
    const b = shutdownBudget(total);
    t.ok(b.totalMs <= total, `${total}: ${b.totalMs}`);
    t.equal(b.notifyMs + b.graceMs + b.rollbackMs + b.releaseMs + b.sessionMs, b.totalMs);
  }
  const capped = shutdownBudget(20_000, 1000);
  t.equal(capped.graceMs, 1000, 'a grace cap only shortens the grace');
  t.equal(capped.rollbackMs, shutdownBudget(20_000).rollbackMs);
});

t.test('the default fits the shipped unit\'s TimeoutStopSec with at least 5 s to spare', async (t) => {
  const unit = readFileSync(`${ROOT}systemd/aim-agent.service`, 'utf8');
  const m = /^TimeoutStopSec=(\d+)s?$/m.exec(unit);
  t.ok(m, 'the unit sets TimeoutStopSec in seconds');
  const parsed = parseSettings({ droneId: 'd', broker: { url: 'mqtt://x' }, fc: { link: 'tcp:127.0.0.1:1' } });
  t.ok(parsed.ok);
  if (!parsed.ok || m === null) return;
  const budget = shutdownBudget(parsed.settings.apply.shutdownTimeoutS * 1000);
  t.ok(budget.totalMs + 5000 <= Number(m[1]) * 1000, `stop budget ${budget.totalMs} ms vs TimeoutStopSec=${m[1]}`);
  // KillMode=mixed: the stop's SIGTERM goes to node only, so a systemd-notify child sending STOPPING=1 is not killed with it.
  t.match(unit, /^KillMode=mixed$/m);
});

t.test('every step hanging: the stop still ends exactly at the budget, each step cut at its own deadline', async (t) => {
  const clock = fakeTimers();
  const b = shutdownBudget(20_000);
  const started: [string, number, number][] = [];
  const step = (name: string, budgetMs: number) => ({ name, budgetMs, run: (remaining: number) => (started.push([name, clock.now(), remaining]), never()) });
  let done: string[] | undefined;
  void runShutdown([step('notify', b.notifyMs), step('apply', b.graceMs + b.rollbackMs), step('release', b.releaseMs), step('session', b.sessionMs)], quiet, clock.timers).then((o) => (done = o));
  await clock.advance(b.totalMs - 1);
  t.equal(done, undefined, 'still running 1 ms before the budget');
  await clock.advance(b.totalMs);
  t.same(done, ['notify', 'apply', 'release', 'session']);
  t.same(started, [
    ['notify', 0, 1000],
    ['apply', 1000, 13_000],
    ['release', 14_000, 2000],
    ['session', 16_000, 4000],
  ]);
});

t.test('a step that finishes early leaves its time to the next; a failing step does not stop the rest', async (t) => {
  const clock = fakeTimers();
  const seen: [string, number][] = [];
  let done: string[] | undefined;
  void runShutdown(
    [
      { name: 'quick', budgetMs: 5000, run: async (r) => void seen.push(['quick', r]) },
      { name: 'fails', budgetMs: 1000, run: async (r) => (seen.push(['fails', r]), Promise.reject(new Error('boom'))) },
      { name: 'last', budgetMs: 2000, run: (r) => (seen.push(['last', r]), never()) },
    ],
    quiet,
    clock.timers,
  ).then((o) => (done = o));
  await clock.advance(0);
  t.same(seen, [
    ['quick', 5000],
    ['fails', 6000],
    ['last', 8000],
  ]);
  await clock.advance(8000);
  t.same(done, ['last']);
});
