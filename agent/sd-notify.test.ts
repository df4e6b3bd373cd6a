import t, { type Test } from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { requireTool, spawnTracked, waitFor, type Tracked } from '../test/support/index.js';
import type { Logger } from './log.js';
import { SystemdNotifier } from './sd-notify.js';

// The service manager's side of sd_notify: a unix datagram socket that prints each datagram as a
// JSON line with its arrival time. recv() without ancillary space makes the kernel drop the
// BARRIER=1 pipe fd, which is how PID 1 releases systemd-notify's barrier too.
const LISTENER = `
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print("LISTENING", flush=True)
while True:
    d = s.recv(65536)
    print(json.dumps({"t": time.monotonic() * 1000, "msg": d.decode()}), flush=True)
`;

/** requireTool with tap's way of skipping a running test (plan(0, reason)). */
function need(t: Test, tool: string, pkg?: string): boolean {
  return requireTool({ fail: (m) => void t.fail(m), skip: (m) => t.plan(0, m) }, tool, pkg);
}

interface Datagram {
  t: number;
  msg: string;
}

function datagrams(listener: Tracked): Datagram[] {
  return listener
    .stdout()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Datagram);
}

/** Messages as the service manager would see them; systemd-notify's BARRIER=1 follow-ups left out. */
function messages(listener: Tracked): Datagram[] {
  return datagrams(listener).filter((d) => d.msg !== 'BARRIER=1');
}

async function listen(t: Test): Promise<{ socket: string; listener: Tracked }> {
  const dir = mkdtempSync(join(tmpdir(), 'aim-notify-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const socket = join(dir, 'notify.sock');
  const listener = spawnTracked(t, 'python3', ['-c', LISTENER, socket]);
  await listener.waitForLine(/^LISTENING$/);
  return { socket, listener };
}

t.test('without NOTIFY_SOCKET every call is a no-op', async (t) => {
  const sent: string[] = [];
  const n = new SystemdNotifier({ env: { WATCHDOG_USEC: '1000000' }, send: async (m) => void sent.push(m) });
  t.equal(n.enabled, false);
  t.equal(n.watchdogUsec, undefined);
  await n.ready('up');
  await n.status('x');
  n.startWatchdog(() => true);
  await n.stopping();
  t.same(sent, []);
});

t.test('watchdog is armed only for this process and only with a sane WATCHDOG_USEC', async (t) => {
  const base = { NOTIFY_SOCKET: '/run/x' };
  t.equal(new SystemdNotifier({ env: { ...base, WATCHDOG_USEC: '30000000' }, pid: 7 }).watchdogUsec, 30_000_000);
  t.equal(new SystemdNotifier({ env: { ...base, WATCHDOG_USEC: '30000000', WATCHDOG_PID: '7' }, pid: 7 }).watchdogUsec, 30_000_000);
  t.equal(new SystemdNotifier({ env: { ...base, WATCHDOG_USEC: '30000000', WATCHDOG_PID: '8' }, pid: 7 }).watchdogUsec, undefined);
  for (const bad of ['0', '-5', '1e6', 'soon', '']) t.equal(new SystemdNotifier({ env: { ...base, WATCHDOG_USEC: bad } }).watchdogUsec, undefined, bad);
  t.equal(new SystemdNotifier({ env: base }).watchdogUsec, undefined);
});

t.test('status text cannot smuggle extra assignments; a failing sender is logged, not thrown', async (t) => {
  const sent: string[] = [];
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: '/run/x' }, send: async (m) => void sent.push(m) });
  await n.status('link up\nREADY=1\r\n');
  await n.ready();
  t.same(sent, ['STATUS=link up READY=1', 'READY=1']);
  const failing = new SystemdNotifier({ env: { NOTIFY_SOCKET: '/run/x' }, send: () => Promise.reject(new Error('ECONNREFUSED')) });
  await t.resolves(failing.ready('x'));
});

t.test('READY, STATUS, WATCHDOG cadence and STOPPING arrive on a real notify socket via systemd-notify', async (t) => {
  if (!need(t, 'python3') || !need(t, 'systemd-notify', 'systemd')) return;
  const { socket, listener } = await listen(t);
  const watchdogUsec = 400_000; // pings every 200 ms
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: String(watchdogUsec), PATH: process.env.PATH } });
  t.teardown(() => n.stopWatchdog());
  t.equal(n.enabled, true);
  t.equal(n.watchdogUsec, watchdogUsec);

  await n.ready('fc up, broker up, v42 applied');
  // ready() resolves only after systemd-notify's barrier, i.e. after the manager has read the message.
  t.same(messages(listener).map((d) => d.msg), ['READY=1\nSTATUS=fc up, broker up, v42 applied']);
  t.ok(datagrams(listener).some((d) => d.msg === 'BARRIER=1'), 'systemd-notify waited on a barrier');
  await n.status('v43 applied');
  t.equal(messages(listener).at(-1)?.msg, 'STATUS=v43 applied');

  let healthy = true;
  let checks = 0;
  n.startWatchdog(() => (checks++, healthy));
  const pings = () => messages(listener).filter((d) => d.msg === 'WATCHDOG=1');
  const six = await waitFor('6 watchdog pings', () => pings().length >= 6 && pings(), { timeoutMs: 10_000 });
  const gaps = six.slice(1, 6).map((d, i) => d.t - six[i]!.t);
  const mean = gaps.reduce((a, b) => a + b, 0) / gaps.length;
  t.ok(mean >= 150 && mean <= 300, `mean ping interval ${mean.toFixed(0)} ms for WATCHDOG_USEC=${watchdogUsec} (want ~200)`);
  t.ok(Math.max(...gaps) < watchdogUsec / 1000, `no gap reaches WatchdogSec (${gaps.map((g) => g.toFixed(0)).join(', ')} ms)`);

  // Wedge the pipeline. The notifier queue is ordered, so once marker 1 is in, any ping sent
  // before the switch is in too; from there on, five health checks must pass without a ping.
  healthy = false;
  const wedgedAt = checks;
  await waitFor('a health check that sees the wedge', () => checks > wedgedAt, { timeoutMs: 5000 });
  await n.status('marker 1');
  const from = checks;
  await waitFor('5 more health checks while wedged', () => checks >= from + 5, { timeoutMs: 5000 });
  await n.status('marker 2');
  const msgs = messages(listener).map((d) => d.msg);
  const between = msgs.slice(msgs.indexOf('STATUS=marker 1') + 1, msgs.indexOf('STATUS=marker 2'));
  t.same(between, [], 'no WATCHDOG=1 while healthy() is false');

  healthy = true;
  await waitFor('pings resume once healthy', () => messages(listener).map((d) => d.msg).slice(msgs.length).includes('WATCHDOG=1'), { timeoutMs: 5000 });

  await n.stopping();
  t.equal(messages(listener).at(-1)?.msg, 'STOPPING=1');
});

/** A hand-driven interval timer: `fire()` runs the pending callback, as if the interval elapsed. */
function manualTimers() {
  const live = new Map<number, { fn: () => void; ms: number }>();
  let next = 1;
  return {
    live,
    setInterval: (fn: () => void, ms: number) => (live.set(next, { fn, ms }), next++),
    clearInterval: (h: unknown) => void live.delete(h as number),
    fire() {
      for (const { fn } of [...live.values()]) fn();
    },
  };
}

t.test('watchdog ticks: interval is WATCHDOG_USEC/2, unhealthy ticks and overlapping pings send nothing, stopping() clears', async (t) => {
  const timers = manualTimers();
  const sent: string[] = [];
  let release: () => void = () => {};
  const n = new SystemdNotifier({
    env: { NOTIFY_SOCKET: '/run/x', WATCHDOG_USEC: '30000000' },
    timers,
    send: (m) => (sent.push(m), m === 'WATCHDOG=1' ? new Promise<void>((r) => (release = r)) : Promise.resolve()),
  });
  let healthy = true;
  let throws = false;
  n.startWatchdog(() => {
    if (throws) throw new Error('probe crashed');
    return healthy;
  });
  t.same([...timers.live.values()].map((x) => x.ms), [15_000]);
  timers.fire();
  await Promise.resolve();
  t.same(sent, ['WATCHDOG=1']);
  timers.fire(); // the first ping has not finished: skipped, not queued
  await Promise.resolve();
  t.same(sent, ['WATCHDOG=1']);
  release();
  await n.status('flush');
  healthy = false;
  timers.fire();
  throws = true;
  healthy = true;
  timers.fire();
  await n.status('flush');
  t.same(sent, ['WATCHDOG=1', 'STATUS=flush', 'STATUS=flush'], 'no ping while unhealthy or when the probe throws');
  throws = false;
  timers.fire();
  await Promise.resolve();
  t.equal(sent.at(-1), 'WATCHDOG=1', 'pings resume');
  release();
  n.startWatchdog(() => true);
  t.equal(timers.live.size, 1, 'a second startWatchdog replaces the first');
  await n.stopping();
  t.equal(timers.live.size, 0, 'stopping() stopped the pings');
  t.equal(sent.at(-1), 'STOPPING=1');
});

t.test('a missing notify socket is logged and the promise still resolves', async (t) => {
  if (!need(t, 'systemd-notify', 'systemd')) return;
  const warnings: unknown[] = [];
  const logger = { warn: (o: unknown) => void warnings.push(o), debug() {}, info() {}, error() {} } as unknown as Logger;
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: join(tmpdir(), 'aim-no-such-socket'), PATH: process.env.PATH }, logger });
  await n.ready();
  t.equal(warnings.length, 1);
});

t.test('a failed send is logged with its payload (it used to vanish under pino\'s own msg key)', async (t) => {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(JSON.parse(l) as Record<string, unknown>) });
  const n = new SystemdNotifier({ env: { NOTIFY_SOCKET: '/run/x' }, logger, send: () => Promise.reject(new Error('systemd-notify exited with SIGTERM')) });
  await n.stopping();
  t.equal(lines.length, 1);
  t.match(lines[0], { msg: 'sd_notify failed', payload: 'STOPPING=1', err: { message: /SIGTERM/ } });
});
