import t, { type Test } from 'tap';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../cli.js';
import { ROOT, spawnCli } from '../../test/support/index.js';
import { AimStore, Locksmith, procInfo, readUptimeMs } from '../store/index.js';
import { docFor } from '../store/test-fixtures/docs.js';

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-lockcli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), env: process.env });
  return { code, out, err };
}

function holder(t: Test, dir: string): Locksmith {
  const s = new Locksmith({ stateDir: dir, command: 'test-holder' });
  t.teardown(() => s.close());
  return s;
}

t.test('lock status: free, held by a live pid, STALE with the reason; --json', async (t) => {
  const dir = tempDir(t);
  let r = await cli(['lock', 'status', '--state-dir', dir]);
  t.same(r, { code: 0, out: 'aim lock: free (last fencing token 0)\n', err: '' });
  t.same(JSON.parse((await cli(['lock', 'status', '--state-dir', dir, '--json'])).out), { state: 'free', lastToken: 0 });

  const h = await holder(t, dir).acquire();
  r = await cli(['lock', 'status', '--state-dir', dir]);
  t.equal(r.code, 0);
  t.match(r.out, new RegExp(`^aim lock: held by live pid ${process.pid} \\(test-holder\\) on .* for [\\d.]+ s, heartbeat [\\d.]+ s ago, token 1`));
  const j = JSON.parse((await cli(['lock', 'status', '--state-dir', dir, '--json'])).out) as Record<string, unknown>;
  t.match(j, { state: 'held', owner: { pid: process.pid, token: 1, command: 'test-holder' }, lastToken: 1 });
  t.type(j.heldMs, 'number');
  await h.release();

  writeFileSync(join(dir, 'aim.lock'), JSON.stringify({
    pid: 2 ** 22 + 3, startTime: '1', bootId: procInfo.bootId(), host: hostname(), acquiredAt: 'x', acquiredUptimeMs: readUptimeMs(),
    heartbeatAt: 'x', heartbeatUptimeMs: readUptimeMs(), token: 9, ttlMs: 10_000, nonce: 'n',
  }));
  r = await cli(['lock', 'status', '--state-dir', dir]);
  t.match(r.out, /^aim lock: STALE: owner pid \d+ is gone; owner pid \d+ on .*, token 9/);
  t.match(JSON.parse((await cli(['lock', 'status', '--state-dir', dir, '--json'])).out), { state: 'stale', reason: /is gone/, owner: { token: 9 } });
});

t.test('lock break: removes a stale lock; refuses a live one, naming it; --force warns and fences the old holder', async (t) => {
  const dir = tempDir(t);
  t.match(await cli(['lock', 'break', '--state-dir', dir]), { code: 0, out: /free, nothing to break/ });

  writeFileSync(join(dir, 'aim.lock'), JSON.stringify({
    pid: process.pid, startTime: '1', bootId: 'another-boot', host: hostname(), acquiredAt: 'x', acquiredUptimeMs: 0,
    heartbeatAt: 'x', heartbeatUptimeMs: 0, token: 4, ttlMs: 10_000, nonce: 'n',
  }));
  let r = await cli(['lock', 'break', '--state-dir', dir]);
  t.equal(r.code, 0);
  t.match(r.out, /^aim lock: broken \(was STALE: owner is from another boot/);
  t.notOk(readdirSync(dir).includes('aim.lock'));

  const smith = holder(t, dir);
  const h = await smith.acquire();
  const store = new AimStore({ stateDir: dir });
  const staged = await store.stage(docFor(1, 5));
  r = await cli(['lock', 'break', '--state-dir', dir]);
  t.equal(r.code, 1);
  t.match(r.err, new RegExp(`held by live pid ${process.pid} .*--force.*\\[AIM_ERR_LOCK_HELD\\]`));
  t.match(r.err, /not breaking/);

  r = await cli(['lock', 'break', '--force', '--state-dir', dir, '--json']);
  t.equal(r.code, 0);
  t.match(r.err, new RegExp(`^WARNING: breaking the aim lock of a LIVE owner: pid ${process.pid} \\(test-holder\\)`));
  t.match(JSON.parse(r.out), { broken: true, verdict: { state: 'held', owner: { token: h.token } } });

  const next = await new Locksmith({ stateDir: dir }).acquire({ timeoutMs: 0 });
  t.equal(next.token, h.token + 1, 'the next token fences the old owner out');
  await t.rejects(store.commit(staged, h, { appliedAt: 'x' }), { code: 'AIM_ERR_FENCED' });
  t.equal(await store.readCurrent(), undefined, 'the fenced write did not land');
  await next.release();
});

t.test('--settings FILE supplies the state dir; usage errors exit 2', async (t) => {
  const dir = tempDir(t);
  const settings = join(dir, 'agent.json');
  writeFileSync(settings, JSON.stringify({ droneId: 'd1', broker: { url: 'mqtt://x' }, fc: { link: 'tcp:127.0.0.1:5760' }, stateDir: join(dir, 'state'), lock: { ttlS: 3 } }));
  t.match(await cli(['lock', 'status', '--settings', settings]), { code: 1, err: /state: no such directory/ });
  mkdirSync(join(dir, 'state'));
  t.match(await cli(['lock', 'status', '--settings', settings]), { code: 0, out: /free/ });
  t.match(await cli(['lock', 'status', '--settings', join(dir, 'missing.json')]), { code: 1, err: /AIM_ERR_SETTINGS/ });
  for (const argv of [['lock'], ['lock', 'bogus', '--state-dir', dir], ['lock', 'status', '--force', '--state-dir', dir], ['lock', 'run', '--state-dir', dir], ['lock', 'run', '--state-dir', dir, '--'], ['lock', 'run', '--timeout', 'soon', '--state-dir', dir, '--', 'true'], ['lock', 'status', 'extra', '--state-dir', dir]]) {
    t.equal((await cli(argv)).code, 2, argv.join(' '));
  }
  t.match(await cli(['lock', '--help']), { code: 0, out: /lock run \[--timeout S\] -- CMD ARGS/ });
});

t.test('lock run: holds the lock while CMD runs, passes AIM_LOCK_TOKEN, exits with CMD\'s code', async (t) => {
  const dir = tempDir(t);
  const script = `echo token=$AIM_LOCK_TOKEN; "${process.execPath}" ${ROOT}dist/agent/bin/aim-agent.js lock status --state-dir "$0"; exit 7`;
  const p = spawnCli(t, 'aim-agent', ['lock', 'run', '--state-dir', dir, '--', 'sh', '-c', script, dir]);
  t.equal(await p.exited, 7, p.stderr());
  t.match(p.stdout(), /^token=1\naim lock: held by live pid \d+ \(aim-agent lock run -- sh -c/);
  t.match(await cli(['lock', 'status', '--state-dir', dir]), { out: /^aim lock: free/ }, 'released after CMD');

  const h = await holder(t, dir).acquire();
  const busy = spawnCli(t, 'aim-agent', ['lock', 'run', '--timeout', '0.3', '--state-dir', dir, '--', 'true']);
  t.equal(await busy.exited, 1);
  t.match(busy.stderr(), new RegExp(`held by live pid ${process.pid} .*\\[AIM_ERR_LOCK_TIMEOUT\\]`));
  await h.release();

  const missing = spawnCli(t, 'aim-agent', ['lock', 'run', '--state-dir', dir, '--', '/nonexistent/cmd']);
  t.equal(await missing.exited, 127);
  t.match(missing.stderr(), /cannot run \/nonexistent\/cmd/);
});
