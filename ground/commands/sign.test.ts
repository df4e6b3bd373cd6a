import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { canonicalJson, generateKeyPair, loadPublicKey, parseAimConfig, trustStore, verifyEnvelope } from '../../protocol/index.js';
import { aimConfig, aimctl, workspace } from '../test-helpers/harness.js';

t.test('sign prints a JWS the agents verify, payload = canonical JSON of the config', async (t) => {
  const ws = workspace(t);
  const cfg = aimConfig('signed', -60);
  const run = await aimctl(['sign', ws.file('c.json', cfg), '--key', ws.keyPath]);
  t.equal(run.code, 0, run.err);
  const v = verifyEnvelope(run.out.trim(), trustStore([ws.publicKey]), { requireSignature: true });
  t.ok(v.ok);
  if (v.ok) t.equal(v.payload.toString(), canonicalJson(cfg));
  const other = trustStore([loadPublicKey(generateKeyPair().publicPem)]);
  t.notOk(verifyEnvelope(run.out.trim(), other, { requireSignature: true }).ok, 'another key does not verify it');
});

t.test('sign --version and --out; AIMCTL_KEY as the default key', async (t) => {
  const ws = workspace(t);
  const out = `${ws.dir}/c.jws`;
  const run = await aimctl(['sign', ws.file('c.json', aimConfig('v', -60)), '--version', '9', '--out', out], { env: { AIMCTL_KEY: ws.keyPath } });
  t.equal(run.code, 0, run.err);
  const jws = readFileSync(out, 'utf8').trim();
  const parsed = parseAimConfig(Buffer.from(jws.split('.')[1]!, 'base64url'));
  t.ok(parsed.ok && parsed.config.version === 9);
});

t.test('sign refuses an invalid config with path: message lines (exit 1)', async (t) => {
  const ws = workspace(t);
  const bad = ws.file('bad.json', { ...aimConfig('bad', -60), mount: { pitch: { minDeg: 10, maxDeg: -10 } } });
  const run = await aimctl(['sign', bad, '--key', ws.keyPath]);
  t.equal(run.code, 1);
  t.match(run.err, /mount\.pitch\.minDeg: must be less than/);
  t.equal(run.out, '', 'nothing signed');
});

t.test('sign: a missing key is a usage error (2); an unreadable or wrong key fails (1)', async (t) => {
  const ws = workspace(t);
  const cfg = ws.file('c.json', aimConfig('c', -60));
  t.equal((await aimctl(['sign', cfg])).code, 2);
  t.equal((await aimctl(['sign', cfg, '--key', `${ws.dir}/missing.pem`])).code, 1);
  writeFileSync(`${ws.dir}/pub-as-priv.pem`, readFileSync(`${ws.dir}/ground.pub.pem`));
  const wrong = await aimctl(['sign', cfg, '--key', `${ws.dir}/pub-as-priv.pem`]);
  t.equal(wrong.code, 1);
  t.match(wrong.err, /AIM_ERR_KEY/);
  t.equal((await aimctl(['sign'])).code, 2);
  t.equal((await aimctl(['sign', cfg, '--key', ws.keyPath, '--version', 'zero'])).code, 2);
});
