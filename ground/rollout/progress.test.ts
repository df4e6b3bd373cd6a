import t from 'tap';
import { TtyProgress, jsonProgress, summaryTable } from './progress.js';

t.test('JSON lines: one event per line', async (t) => {
  let out = '';
  let now = 1000;
  const p = jsonProgress((s) => (out += s), 1000, () => now);
  p.handle({ event: 'wave-start', wave: 1, name: 'wave 1', drones: ['a'] });
  now = 1250;
  p.handle({ event: 'broker', state: 'offline' });
  p.close();
  t.same(out.trim().split('\n').map((l) => JSON.parse(l) as unknown), [
    { event: 'wave-start', wave: 1, name: 'wave 1', drones: ['a'], atMs: 0 },
    { event: 'broker', state: 'offline', atMs: 250 },
  ]);
});

t.test('TTY: the wave table is redrawn in place, then frozen with a footer', async (t) => {
  let out = '';
  let now = 1000;
  const p = new TtyProgress((s) => (out += s), { columns: 100, rows: 40 }, () => now);
  p.handle({ event: 'wave-start', wave: 0, name: 'canary', drones: ['d1', 'd2'] });
  t.match(out, /canary: 2 drone\(s\)\n  DRONE\s+STATE\s+ELAPSED\s+REASON\n  d1\s+planned\s+0\.0s/);
  out = '';
  now = 2500;
  p.handle({ event: 'drone', phase: 'rollout', wave: 'canary', drone: 'd1', state: 'applied', ack: 'applied', reason: null, elapsedMs: 1500 });
  t.match(out, /^\x1b\[4F\x1b\[J/, 'moves up over the 4 lines drawn before and clears them');
  t.match(out, /d1\s+applied\s+1\.5s/);
  t.match(out, /d2\s+planned\s+1\.5s/, 'pending drones tick');
  out = '';
  p.handle({ event: 'wave-end', wave: 0, name: 'canary', succeeded: 1, failed: 1, failures: 1, allowed: 0 });
  t.match(out, /canary: 1 ok, 1 not ok; failures so far 1 \(allowed 0\)\n$/);
  out = '';
  p.handle({ event: 'halt', wave: 0, name: 'canary', reason: 'the canary failed (1 of 2)', failures: 1, allowed: 0 });
  t.equal(out, 'HALTED after canary: the canary failed (1 of 2)\n', 'no redraw after the footer: the table stays');
  p.close();
});

t.test('TTY: a big wave shows failed, then pending drones first and folds the rest', async (t) => {
  let out = '';
  const p = new TtyProgress((s) => (out += s), { columns: 80, rows: 14 }, () => 0);
  const drones = Array.from({ length: 50 }, (_, i) => `d${i}`);
  p.handle({ event: 'wave-start', wave: 1, name: 'wave 1', drones });
  for (const d of drones.slice(0, 45)) p.handle({ event: 'drone', phase: 'rollout', wave: 'wave 1', drone: d, state: 'applied', ack: 'applied', reason: null, elapsedMs: 5 });
  p.handle({ event: 'drone', phase: 'rollout', wave: 'wave 1', drone: 'd3', state: 'failed', ack: 'failed', reason: 'FC timeout', elapsedMs: 9 });
  const last = out.slice(out.lastIndexOf('wave 1: 50'));
  t.match(last, /d3\s+failed.*FC timeout/);
  t.match(last, /d45\s+planned/);
  t.match(last, /… \d+ more \(44 ok in this step\)/);
  t.ok(last.split('\n').length <= 14, 'fits the terminal');
  p.close();
});

t.test('the summary table', async (t) => {
  const ack = { status: 'applied' as const, stage: 'done', code: null, rolledBack: null, at: '2026-11-26T13:00:00Z', via: 'ack' as const, totalMs: 640 };
  const table = summaryTable([
    { drone: 'd1', wave: 'canary', state: 'applied', ack, reason: 'applied in 0.6 s on the drone', elapsedMs: 712, rollback: 'restored', rollbackReason: null },
    { drone: 'd2', wave: 'canary', state: 'applied', ack: { ...ack, via: 'reported', totalMs: null }, reason: null, elapsedMs: 90, rollback: null },
  ]);
  t.match(table, /DRONE\s+WAVE\s+OUTCOME\s+ACK\s+ELAPSED\s+ROLLBACK\s+REASON\nd1\s+canary\s+applied\s+applied\s+0\.7s\s+restored\s+applied in 0\.6 s/);
  t.match(table, /d2\s+canary\s+applied\s+applied\*\s+0\.1s/);
  t.match(table, /decided by the retained report/);
});
