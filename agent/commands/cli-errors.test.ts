import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AimError, cliErrorExit, UsageError } from '../../protocol/index.js';
import { main as aimctl } from '../../ground/cli.js';
import { main } from '../cli.js';

// What a new user meets on the command line: each case failed on main (exit 1 for a usage error,
// a "free" lock in a mistyped directory, a silent /var/lib/aim-agent, three wordings for a missing file).

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'aim-clierr-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, { out: (s) => void (out += s), err: (s) => void (err += s), env: {} });
  return { code, out, err };
}

t.test('one mapping from error to exit code for both CLIs', async (t) => {
  const lines: string[] = [];
  const w = (s: string) => void lines.push(s);
  t.equal(cliErrorExit('x', new UsageError('bad'), w), 2);
  t.equal(cliErrorExit('x', new AimError('AIM_ERR_USAGE', 'bad link'), w), 2, 'an AimError with AIM_ERR_USAGE is a usage error');
  t.equal(cliErrorExit('x', new AimError('AIM_ERR_KEY', 'k: no such file'), w), 1);
  t.equal(cliErrorExit('x', new Error('boom'), w), 1);
  t.same(lines.slice(0, 3), ['x: bad\n', 'x: bad link [AIM_ERR_USAGE]\n', 'x: k: no such file [AIM_ERR_KEY]\n']);
  let err = '';
  const io = { out: () => undefined, err: (s: string) => void (err += s), env: {}, isTTY: false };
  t.equal(await aimctl(['sign', '/nonexistent.json', '--key', '/nonexistent.pem'], io), 1, 'aimctl maps the same way');
  t.match(err, /^aimctl sign: .*\[AIM_ERR_/);
});

t.test('apply: a bad --fc is a usage error (exit 2) and creates nothing', async (t) => {
  const dir = tempDir(t);
  const stateDir = join(dir, 'state');
  const r = await cli(['apply', join(dir, 'c.json'), '--fc', 'tcp:nohost', '--state-dir', stateDir]);
  t.equal(r.code, 2);
  t.match(r.err, /^aim-agent apply: bad FC link "tcp:nohost": .*\[AIM_ERR_USAGE\]\n$/);
  t.notOk(existsSync(stateDir), 'no state directory was created');
});

t.test('apply: without --state-dir or a settings file it is a usage error, never a silent /var/lib/aim-agent', async (t) => {
  const dir = tempDir(t);
  const r = await cli(['apply', join(dir, 'c.json'), '--fc', 'tcp:127.0.0.1:5760', '--settings', join(dir, 'none.json')]);
  t.same(r, { code: 1, out: '', err: `aim-agent apply: ${join(dir, 'none.json')}: no such file [AIM_ERR_SETTINGS]\n` }, 'a named settings file must exist');
  if (existsSync('/etc/aim-agent/agent.json')) t.comment('/etc/aim-agent/agent.json exists here: the default-settings case is not checked');
  else {
    const u = await cli(['apply', join(dir, 'c.json'), '--fc', 'tcp:127.0.0.1:5760']);
    t.equal(u.code, 2);
    t.match(u.err, /--state-dir DIR is required without a settings file/);
  }
  const settings = join(dir, 'agent.json');
  writeFileSync(settings, JSON.stringify({ droneId: 'd1', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: 'tcp:127.0.0.1:1' }, stateDir: join(dir, 'state') }));
  const said = await cli(['apply', join(dir, 'missing.json'), '--settings', settings]);
  t.equal(said.code, 1);
  t.equal(said.err, `aim-agent apply: state directory ${join(dir, 'state')} (from ${settings})\naim-agent apply: ${join(dir, 'missing.json')}: no such file [AIM_ERR_INVALID]\n`, 'says where it writes; a missing FILE the one way');
});

t.test('lock status|break on a directory that does not exist: exit 1, not "free"', async (t) => {
  const dir = tempDir(t);
  for (const sub of ['status', 'break']) {
    const r = await cli(['lock', sub, '--state-dir', join(dir, 'typo')]);
    t.same(r, { code: 1, out: '', err: `aim-agent lock: ${join(dir, 'typo')}: no such directory (the state directory) [AIM_ERR_STORE_IO]\n` }, sub);
  }
  writeFileSync(join(dir, 'file'), '');
  t.match(await cli(['lock', 'status', '--state-dir', join(dir, 'file')]), { code: 1, err: /not a directory/ });
  t.match(await cli(['lock', 'status', '--state-dir', dir]), { code: 0, out: /free/ });
});

t.test('doctor on a state directory that does not exist names it as a problem', async (t) => {
  const dir = tempDir(t);
  const r = await cli(['doctor', '--state-dir', join(dir, 'typo')]);
  t.equal(r.code, 1);
  t.match(r.out, new RegExp(`PROBLEM lock: ${join(dir, 'typo')}: no such directory`));
  t.match(r.out, /problem\(s\)\n$/);
});
