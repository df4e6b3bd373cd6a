import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { generateKeyPair } from '../../protocol/index.js';
import { launcherCommand, requireBuild, ROOT, spawnTracked } from '../../test/support/index.js';
import { main } from '../cli.js';
import type { CliIO } from '../cli-io.js';
import { startAgent } from '../service.js';

// `aim-agent check-settings`: what `systemctl reload` runs before SIGHUP. It must refuse exactly
// what `run` (and a reload) would refuse, each problem as a `path: message` line.

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s), env: {} };
  const code = await main(argv, io);
  return { code, out, err };
}

t.test('good settings: exit 0; each broken file or field: exit 1 with its path, and `run` refuses the same settings', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const k = generateKeyPair();
  const pub = join(dir, 'ground.pub.pem');
  const priv = join(dir, 'ground.key.pem');
  writeFileSync(pub, k.publicPem);
  writeFileSync(priv, k.privatePem);
  const signing = join(dir, 'signing.key');
  writeFileSync(signing, '0f'.repeat(32) + '\n');
  const base = {
    droneId: 'drone-01',
    // Port 1 on loopback: nothing listens, so a `run` that got past its checks would only retry.
    broker: { url: 'mqtt://127.0.0.1:1' },
    fc: { link: 'tcp:127.0.0.1:1', signingKeyFile: signing },
    security: { trustedKeys: [pub] },
    stateDir: join(dir, 'state'),
    logLevel: 'silent',
  };
  const file = join(dir, 'agent.json');
  const write = (s: unknown) => writeFileSync(file, typeof s === 'string' ? s : JSON.stringify(s));

  write(base);
  const ok = await run(['check-settings', '--settings', file]);
  t.equal(ok.code, 0, ok.err);
  t.match(ok.out, /settings and the files they name load/);
  const agent = await startAgent({ settings: base as never, logger: pino({ level: 'silent' }) });
  await agent.stop({ graceMs: 100 });

  const cases: [string, unknown, RegExp][] = [
    ['a trusted key that is missing', { ...base, security: { trustedKeys: [pub, join(dir, 'nope.pem')] } }, /^security\.trustedKeys\[1\]: .*nope\.pem: no such file$/m],
    ['a private key as trusted key', { ...base, security: { trustedKeys: [priv] } }, /^security\.trustedKeys\[0\]: .*is a private key/m],
    ['a signing key that is not 64 hex characters', { ...base, fc: { ...base.fc, signingKeyFile: pub } }, /^fc\.signingKeyFile: .*64 hex characters/m],
    ['a broker password file that is missing', { ...base, broker: { ...base.broker, passwordFile: join(dir, 'pw') } }, /^broker\.passwordFile: .*pw: no such file$/m],
  ];
  for (const [what, settings, line] of cases) {
    write(settings);
    const r = await run(['check-settings', '--settings', file]);
    t.equal(r.code, 1, what);
    t.match(r.err, line, what);
    t.equal(r.out, '', what);
    await t.rejects(startAgent({ settings: settings as never, logger: pino({ level: 'silent' }) }), { code: 'AIM_ERR_KEY' }, `${what}: run refuses it too`);
  }

  // The schema lets a port of 99999 through; the link parser does not, and a start would only find
  // out after it had connected to the broker.
  const badLink = { ...base, fc: { ...base.fc, link: 'tcp:127.0.0.1:99999' } };
  write(badLink);
  const link = await run(['check-settings', '--settings', file]);
  t.equal(link.code, 1);
  t.match(link.err, /^fc\.link: bad FC link "tcp:127\.0\.0\.1:99999": port 99999 out of range$/m);
  await t.rejects(startAgent({ settings: badLink as never, logger: pino({ level: 'silent' }) }), { code: 'AIM_ERR_SETTINGS', message: /fc\.link/ });

  write({ ...base, droneId: 'no spaces', lock: { ttlS: 0 } });
  const invalid = await run(['check-settings', '--settings', file]);
  t.equal(invalid.code, 1);
  t.same(invalid.err.trim().split('\n').sort(), ['droneId: must be 1-64 characters of A-Z, a-z, 0-9, _ and -', 'lock.ttlS: must be at least 1 (got 0)'].sort());

  write('{"droneId": ');
  const syntax = await run(['check-settings', '--settings', file]);
  t.equal(syntax.code, 1);
  t.match(syntax.err, /^\S*: .+/);

  const missing = await run(['check-settings', '--settings', join(dir, 'absent.json')]);
  t.equal(missing.code, 1);
  t.equal(missing.err, `${join(dir, 'absent.json')}: no such file\n`);
});

t.test('usage: exit 2', async (t) => {
  t.equal((await run(['check-settings', 'extra'])).code, 2);
  t.equal((await run(['check-settings', '--bogus'])).code, 2);
  const help = await run(['check-settings', '--help']);
  t.equal(help.code, 0);
  t.match(help.out, /usage: aim-agent check-settings/);
  t.match((await run(['--help'])).out, /check-settings/);
});

t.test('the installed bundle runs it (the unit\'s ExecReload does): 0 on good settings, 1 with the path on bad', async (t) => {
  const launcher = launcherCommand();
  if (!requireBuild(t, launcher.script)) return;
  const dir = mkdtempSync(join(tmpdir(), 'aim-check-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'agent.json');
  const base = { droneId: 'drone-01', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: 'tcp:127.0.0.1:1' }, stateDir: join(dir, 'state') };
  const bundled = (f: string) => spawnTracked(t, process.execPath, [...launcher.nodeFlags, launcher.script, 'check-settings', '--settings', f], { cwd: ROOT });
  writeFileSync(file, JSON.stringify(base));
  const good = bundled(file);
  t.equal(await good.exited, 0, good.stderr());
  writeFileSync(file, JSON.stringify({ ...base, security: { trustedKeys: [join(dir, 'missing.pem')] } }));
  const bad = bundled(file);
  t.equal(await bad.exited, 1);
  t.match(bad.stderr(), /^security\.trustedKeys\[0\]: .*missing\.pem: no such file$/m);
});
