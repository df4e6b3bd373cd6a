import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKeyPair, loadPrivateKey, signJws } from '../../protocol/index.js';
import { main } from '../cli.js';
import type { CliIO } from '../cli-io.js';
import { spawnCli } from '../../test/support/index.js';

const EX = 'protocol/examples/';

async function run(argv: string[]) {
  let out = '';
  let err = '';
  const io: CliIO = { out: (s) => void (out += s), err: (s) => void (err += s), env: {} };
  const code = await main(argv, io);
  return { code, out, err };
}

t.test('valid examples: exit 0 with one summary line', async (t) => {
  for (const f of ['full.json', 'minimal.json', 'roi-disarmed.json', 'dry-run.json']) {
    const r = await run(['validate', EX + f]);
    t.equal(r.code, 0, f);
    t.match(r.out, /^valid: id=\S+ version=\d+ params=\d+ sha256=[0-9a-f]{64} signature=none \(plain document\)\n$/, f);
    t.equal(r.err, '');
  }
});

t.test('invalid examples: exit 1, one path: message line per error on stderr', async (t) => {
  const r = await run(['validate', EX + 'invalid/unknown-field-and-bad-param.json']);
  t.equal(r.code, 1);
  t.equal(r.out, '');
  t.same(r.err.trim().split('\n'), [
    'mount.ptich: unknown field',
    'params.mnt1_lead_ptch: bad key: parameter names are 1-16 characters of A-Z, 0-9 and _, starting with a letter',
    'params.MNT1_LEAD_RLL: must be between 0 and 0.2 s (got 5)',
  ]);
  for (const f of ['aim-outside-limits.json', 'duplicate-key.json', 'infinity.json', 'pitch-min-above-max.json']) {
    const x = await run(['validate', EX + 'invalid/' + f]);
    t.equal(x.code, 1, f);
    t.match(x.err, /^[^:\n]+: .+\n/, f);
  }
  const missing = await run(['validate', '/nonexistent.json']);
  t.equal(missing.code, 1);
  t.equal(missing.err, '/nonexistent.json: no such file\n', 'a missing file is reported the one way');
});

t.test('--json prints a machine-readable verdict', async (t) => {
  const ok = await run(['validate', '--json', EX + 'full.json']);
  t.match(JSON.parse(ok.out), { valid: true, id: 'hotfix-2026-11-26', version: 42, params: 16 });
  const bad = await run(['validate', '--json', EX + 'invalid/pitch-min-above-max.json']);
  t.match(JSON.parse(bad.out), { valid: false, errors: [{ path: 'mount.pitch.minDeg' }] });
});

t.test('JWS files: verified with --trust, read unchecked without', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-validate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const k = generateKeyPair();
  const other = generateKeyPair();
  writeFileSync(join(dir, 'k.pub.pem'), k.publicPem);
  writeFileSync(join(dir, 'o.pub.pem'), other.publicPem);
  const jws = signJws('{"kind":"aim-config","schemaVersion":1,"version":9,"id":"signed","issuedAt":"2026-11-26T13:00:00Z"}', loadPrivateKey(k.privatePem));
  writeFileSync(join(dir, 'c.jws'), jws + '\n');
  const v = await run(['validate', join(dir, 'c.jws'), '--trust', join(dir, 'k.pub.pem')]);
  t.equal(v.code, 0);
  t.match(v.out, `signature=verified (kid ${k.kid})`);
  const u = await run(['validate', join(dir, 'c.jws')]);
  t.equal(u.code, 0);
  t.match(u.out, /signature=not checked/);
  const w = await run(['validate', join(dir, 'c.jws'), '--trust', join(dir, 'o.pub.pem')]);
  t.equal(w.code, 1);
  t.match(w.err, /\$: signed by an untrusted key/);
  const plain = await run(['validate', EX + 'minimal.json', '--trust', join(dir, 'k.pub.pem')]);
  t.equal(plain.code, 1, 'a plain document fails when a signature is asked for');
});

t.test('usage errors exit 2', async (t) => {
  t.equal((await run(['validate'])).code, 2);
  t.equal((await run(['validate', 'a', 'b'])).code, 2);
  t.equal((await run(['validate', '--bogus', 'a'])).code, 2);
  t.equal((await run(['nonsense'])).code, 2);
  t.equal((await run([])).code, 2);
});

// Each failed on main: --trust /missing.pem exited 2 with a raw ENOENT, a private key was trusted,
// --settings was ignored (its trusted keys too) and a missing settings file passed silently.
t.test('trusted keys: a missing key file is AIM_ERR_KEY `path: no such file`, a private key is refused, --settings supplies keys', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-validate-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const missingKey = await run(['validate', EX + 'full.json', '--trust', '/nonexistent.pem']);
  t.same(missingKey, { code: 1, out: '', err: 'aim-agent validate: /nonexistent.pem: no such file [AIM_ERR_KEY]\n' });

  const k = generateKeyPair();
  writeFileSync(join(dir, 'k.pem'), k.privatePem);
  writeFileSync(join(dir, 'k.pub.pem'), k.publicPem);
  const priv = await run(['validate', EX + 'full.json', '--trust', join(dir, 'k.pem')]);
  t.equal(priv.code, 1);
  t.match(priv.err, /k\.pem: is a private key.*\[AIM_ERR_KEY\]/);

  const missingSettings = await run(['validate', EX + 'full.json', '--settings', join(dir, 'nope.json')]);
  t.same(missingSettings, { code: 1, out: '', err: `aim-agent validate: ${join(dir, 'nope.json')}: no such file [AIM_ERR_SETTINGS]\n` });

  const settings = join(dir, 'agent.json');
  writeFileSync(settings, JSON.stringify({ droneId: 'd1', broker: { url: 'mqtt://127.0.0.1:1' }, fc: { link: 'tcp:127.0.0.1:5760' }, security: { trustedKeys: [join(dir, 'k.pub.pem')] } }));
  const jws = signJws('{"kind":"aim-config","schemaVersion":1,"version":9,"id":"signed","issuedAt":"2026-11-26T13:00:00Z"}', loadPrivateKey(k.privatePem));
  writeFileSync(join(dir, 'c.jws'), jws);
  const viaSettings = await run(['validate', join(dir, 'c.jws'), '--settings', settings]);
  t.equal(viaSettings.code, 0, viaSettings.err);
  t.match(viaSettings.out, `signature=verified (kid ${k.kid})`, "verified with the settings' trusted key");
  const other = generateKeyPair();
  writeFileSync(join(dir, 'o.jws'), signJws('{"kind":"aim-config","schemaVersion":1,"version":9,"id":"x","issuedAt":"2026-11-26T13:00:00Z"}', loadPrivateKey(other.privatePem)));
  const untrusted = await run(['validate', join(dir, 'o.jws'), '--settings', settings]);
  t.equal(untrusted.code, 1, 'a JWS by a key the settings do not trust fails, as the agent would reject it');
  t.match(untrusted.err, /untrusted key/);
  const plain = await run(['validate', EX + 'minimal.json', '--settings', settings]);
  t.equal(plain.code, 1, 'a plain document fails when the settings require signatures');
  t.match(plain.err, /unsigned document, but the settings require one/);
});

t.test('the real executable gives the same exit codes', async (t) => {
  const ok = spawnCli(t, 'aim-agent', ['validate', EX + 'full.json']);
  t.equal(await ok.exited, 0);
  const bad = spawnCli(t, 'aim-agent', ['validate', EX + 'invalid/infinity.json']);
  t.equal(await bad.exited, 1);
  t.match(bad.stderr(), 'params.MNT1_LEAD_PTCH: invalid JSON: number 1e999 is out of range');
  const usage = spawnCli(t, 'aim-agent', ['validate']);
  t.equal(await usage.exited, 2);
});
