import t from 'tap';
import { closeSync, fstatSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnCli } from '../test/support/index.js';
import { createLogger, stdoutIsJournal, syslogPriority } from './log.js';

// journald files a stdout line starting with `<N>` under PRIORITY=N (the prefix is stripped), so
// `journalctl -p warning` finds the agent's warnings. The JSON must stay the whole message.

const capture = () => {
  const lines: string[] = [];
  return { lines, destination: { write: (l: string) => void lines.push(l) } };
};

t.test('pino levels map to syslog priorities: trace/debug 7, info 6, warn 4, error 3, fatal 2', async (t) => {
  t.same([10, 20, 30, 40, 50, 60].map(syslogPriority), [7, 7, 6, 4, 3, 2]);
  const { lines, destination } = capture();
  const log = createLogger({ level: 'trace', destination, journal: true });
  log.trace('t');
  log.debug('d');
  log.info('i');
  log.child({ component: 'x' }).warn({ k: 1 }, 'w');
  log.error(new Error('boom'), 'e');
  log.fatal('f');
  t.same(lines.map((l) => /^<(\d)>/.exec(l)?.[1]), ['7', '7', '6', '4', '3', '2']);
  for (const l of lines) {
    t.ok(l.endsWith('\n') && l.indexOf('\n') === l.length - 1, 'one line per entry');
    t.doesNotThrow(() => JSON.parse(l.replace(/^<\d>/, '')), 'the rest is the JSON line');
  }
  t.match(JSON.parse(lines[3]!.slice(3)), { level: 40, msg: 'w', k: 1, component: 'x' });
});

t.test('without journald: plain JSON lines', async (t) => {
  const { lines, destination } = capture();
  createLogger({ destination, journal: false }).warn('w');
  t.match(lines[0], /^\{"level":40,/);
});

t.test('JOURNAL_STREAM counts only when it names the stream stdout really is', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fd = openSync(join(dir, 'out'), 'w');
  t.teardown(() => closeSync(fd));
  const st = fstatSync(fd, { bigint: true });
  t.ok(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino}` }, fd));
  t.notOk(stdoutIsJournal({ JOURNAL_STREAM: `${st.dev}:${st.ino + 1n}` }, fd), 'another inode: output was redirected');
  t.notOk(stdoutIsJournal({ JOURNAL_STREAM: 'junk' }, fd));
  t.notOk(stdoutIsJournal({}, fd));
});

t.test('a real process whose stdout is the JOURNAL_STREAM prefixes every line; the same process elsewhere does not', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-log-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  // A start that fails at once logs an error: settings whose stateDir lies under a regular file.
  const settings = join(dir, 'agent.json');
  const blocker = join(dir, 'file');
  const { writeFileSync } = await import('node:fs');
  writeFileSync(blocker, 'not a directory');
  writeFileSync(settings, JSON.stringify({ droneId: 'd1', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: 'tcp:127.0.0.1:1' }, stateDir: join(blocker, 'state') }));
  const run = async (journal: boolean) => {
    const file = join(dir, `out-${journal}`);
    const fd = openSync(file, 'w');
    const st = fstatSync(fd, { bigint: true });
    const env = { ...process.env, JOURNAL_STREAM: journal ? `${st.dev}:${st.ino}` : `${st.dev}:${st.ino + 1n}` };
    const p = spawnCli(t, 'aim-agent', ['run', '--settings', settings], { stdio: ['ignore', fd, 'pipe'], env });
    closeSync(fd);
    t.equal(await p.exited, 1, 'the failed start exits 1');
    return readFileSync(file, 'utf8').split('\n').filter(Boolean);
  };
  const journal = await run(true);
  t.ok(journal.length > 0);
  t.ok(journal.every((l) => /^<[2-7]>\{/.test(l)), journal.join('\n'));
  t.ok(journal.some((l) => l.startsWith('<3>') && /"msg":"start failed"/.test(l) && /AIM_ERR_STORE_IO/.test(l)), 'the failed start is an error (priority 3)');
  const plain = await run(false);
  t.ok(plain.length > 0 && plain.every((l) => l.startsWith('{')), plain.join('\n'));
});
