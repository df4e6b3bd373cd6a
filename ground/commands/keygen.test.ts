import t from 'tap';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { loadPrivateKey, loadPublicKey, thumbprint } from '../../protocol/index.js';
import { aimctl, workspace } from '../test-helpers/harness.js';

t.test('keygen writes an Ed25519 pair, the private key 0600, and prints the kid', async (t) => {
  const ws = workspace(t);
  const base = `${ws.dir}/ground-1`;
  const run = await aimctl(['keygen', '--out', base, '--json']);
  t.equal(run.code, 0, run.err);
  const printed = JSON.parse(run.out) as { kid: string; private: string; public: string };
  t.equal(statSync(`${base}.key.pem`).mode & 0o777, 0o600);
  t.equal(statSync(`${base}.pub.pem`).mode & 0o777, 0o644);
  const priv = loadPrivateKey(readFileSync(`${base}.key.pem`));
  const pub = loadPublicKey(readFileSync(`${base}.pub.pem`));
  t.equal(printed.kid, thumbprint(pub));
  t.equal(thumbprint(priv), thumbprint(pub), 'the two halves belong together');
});

t.test('keygen never overwrites a key unless --force, and --force still leaves 0600', async (t) => {
  const ws = workspace(t);
  const base = `${ws.dir}/k`;
  writeFileSync(`${base}.key.pem`, 'precious', { mode: 0o644 });
  const run = await aimctl(['keygen', '--out', base]);
  t.equal(run.code, 1);
  t.match(run.err, /exists; use --force/);
  t.equal(readFileSync(`${base}.key.pem`, 'utf8'), 'precious');
  const forced = await aimctl(['keygen', '--out', base, '--force']);
  t.equal(forced.code, 0, forced.err);
  t.equal(statSync(`${base}.key.pem`).mode & 0o777, 0o600);
});

t.test('keygen usage errors exit 2', async (t) => {
  t.equal((await aimctl(['keygen'])).code, 2);
  t.equal((await aimctl(['keygen', '--out', 'x', '--bogus'])).code, 2);
});

t.test('the aimctl entry: help, unknown command, no command', async (t) => {
  const help = await aimctl(['--help']);
  t.equal(help.code, 0);
  t.match(help.out, /rollout CONFIG/);
  t.equal((await aimctl([])).code, 2);
  t.equal((await aimctl(['frobnicate'])).code, 2);
  for (const cmd of ['keygen', 'sign', 'push', 'status', 'rollout']) t.equal((await aimctl([cmd, '--help'])).code, 0, `${cmd} --help`);
});

t.test('keygen refuses to write a private key inside a git work tree unless --force', async (t) => {
  const ws = workspace(t);
  mkdirSync(`${ws.dir}/repo/.git`, { recursive: true });
  mkdirSync(`${ws.dir}/repo/sub`);
  const base = `${ws.dir}/repo/sub/ground-1`;
  const run = await aimctl(['keygen', '--out', base]);
  t.equal(run.code, 1);
  t.match(run.err, /inside the git work tree .*repo.*--force/);
  t.notOk(existsSync(`${base}.key.pem`), 'no private key written');
  t.notOk(existsSync(`${base}.pub.pem`), 'nor the public half');
  const forced = await aimctl(['keygen', '--out', base, '--force']);
  t.equal(forced.code, 0, forced.err);
  t.ok(existsSync(`${base}.key.pem`));
  // A worktree's .git is a file, not a directory.
  mkdirSync(`${ws.dir}/wt`);
  writeFileSync(`${ws.dir}/wt/.git`, 'gitdir: /elsewhere\n');
  t.equal((await aimctl(['keygen', '--out', `${ws.dir}/wt/k`])).code, 1, 'a linked worktree counts too');
});
