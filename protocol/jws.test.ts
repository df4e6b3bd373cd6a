import t from 'tap';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as jose from 'jose';
import { generateKeyPair, loadPrivateKey, loadPublicKey, thumbprint } from './keys.js';
import { signJws, trustStore, verifyEnvelope } from './jws.js';
import { canonicalJson } from './canonical.js';

const doc = { kind: 'aim-config', schemaVersion: 1, version: 3, id: 'sig', issuedAt: '2026-11-26T13:00:00Z' };
const pair = generateKeyPair();
const priv = loadPrivateKey(pair.privatePem);
const pub = loadPublicKey(pair.publicPem);
const trusted = trustStore([pub]);
const other = generateKeyPair();

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
const reason = (r: ReturnType<typeof verifyEnvelope>) => (r.ok ? 'ok' : r.errors[0]!.message);

t.test('sign → verify round trip returns the exact payload and kid', async (t) => {
  const payload = canonicalJson(doc);
  const jws = signJws(payload, priv);
  const r = verifyEnvelope(jws, trusted, { requireSignature: true });
  t.ok(r.ok && r.signed);
  if (r.ok && r.signed) {
    t.equal(r.payload.toString(), payload);
    t.equal(r.kid, pair.kid);
  }
});

t.test('kid is the RFC 7638 thumbprint, equal to jose\'s', async (t) => {
  const jwk = await jose.exportJWK(pub);
  t.equal(thumbprint(pub), await jose.calculateJwkThumbprint(jwk, 'sha256'));
  t.equal(thumbprint(priv), pair.kid, 'thumbprint of the private key is its public half\'s');
});

t.test('a JWS made by jose verifies, and ours verifies in jose', async (t) => {
  const kid = await jose.calculateJwkThumbprint(await jose.exportJWK(pub));
  const theirs = await new jose.CompactSign(new TextEncoder().encode(JSON.stringify(doc))).setProtectedHeader({ alg: 'EdDSA', kid }).sign(priv);
  const r = verifyEnvelope(theirs, trusted, { requireSignature: true });
  t.ok(r.ok, reason(r));
  const theirsNoKid = await new jose.CompactSign(new TextEncoder().encode('{}')).setProtectedHeader({ alg: 'EdDSA' }).sign(priv);
  t.ok(verifyEnvelope(theirsNoKid, trusted, { requireSignature: true }).ok, 'no kid: tried against every trusted key');
  const ours = signJws(JSON.stringify(doc), priv);
  const { payload } = await jose.compactVerify(ours, pub);
  t.same(JSON.parse(new TextDecoder().decode(payload)), doc);
});

t.test('keys written by openssl genpkey load and interoperate', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'aim-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  try {
    execFileSync('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', join(dir, 'k.pem')]);
    execFileSync('openssl', ['pkey', '-in', join(dir, 'k.pem'), '-pubout', '-out', join(dir, 'k.pub.pem')]);
  } catch {
    t.comment('openssl not available: skipped');
    return;
  }
  const k = loadPrivateKey(readFileSync(join(dir, 'k.pem')));
  const p = loadPublicKey(readFileSync(join(dir, 'k.pub.pem')));
  t.ok(verifyEnvelope(signJws('{}', k), trustStore([p]), { requireSignature: true }).ok);
});

t.test('rejections', async (t) => {
  const good = signJws(canonicalJson(doc), priv);
  const [h, p, s] = good.split('.') as [string, string, string];
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const flip = (x: string) => x.slice(0, 10) + (x[10] === 'A' ? 'B' : 'A') + x.slice(11);
  const cases: [string, string | Buffer, RegExp][] = [
    ['alg none', `${b64({ alg: 'none', kid: pair.kid })}.${p}.`, /./],
    ['alg none with a signature', `${b64({ alg: 'none', kid: pair.kid })}.${p}.${s}`, /alg "none" is not allowed/],
    ['alg HS256', `${b64({ alg: 'HS256', kid: pair.kid })}.${p}.${s}`, /alg "HS256" is not allowed/],
    ['alg missing', `${b64({ kid: pair.kid })}.${p}.${s}`, /alg null is not allowed/],
    ['crit header', `${b64({ alg: 'EdDSA', kid: pair.kid, crit: ['exp'] })}.${p}.${s}`, /crit/],
    ['unknown kid', signJws('{}', loadPrivateKey(other.privatePem)), /untrusted key/],
    ['tampered payload', `${h}.${b64({ ...doc, version: 99 })}.${s}`, /does not verify/],
    ['tampered signature', `${h}.${p}.${flip(s)}`, /does not verify/],
    ['truncated', good.slice(0, good.length - 20), /signature is \d+ bytes|does not verify|not canonical/],
    ['two parts', `${h}.${p}`, /not a JWS/],
    ['four parts', `${good}.x`, /not a JWS/],
    ['non-base64url characters', `${h}.${p}+/.${s}`, /not a JWS/],
    // 64 bytes are 86 base64url characters: the last one carries 4 unused low bits. Flip one of them.
    ['non-canonical base64url (free low bits of the last character)', `${h}.${p}.${s.slice(0, -1)}${B64[B64.indexOf(s[s.length - 1]!) ^ 1]}`, /not canonical base64url/],
    ['header not JSON', `${Buffer.from('nope').toString('base64url')}.${p}.${s}`, /header is not JSON/],
    ['header an array', `${b64([1])}.${p}.${s}`, /not a JSON object/],
    ['empty', '', /not a JWS/],
    ['random bytes', Buffer.from([0xff, 0x00, 0x12, 0x80]), /not a JWS/],
    ['oversize', 'a'.repeat(200_000), /more than the/],
  ];
  for (const [name, input, re] of cases) {
    const r = verifyEnvelope(input, trusted, { requireSignature: true });
    t.notOk(r.ok, name);
    t.match(reason(r), re, name);
  }
});

t.test('non-JSON payload verifies as a signature but fails as a document', async (t) => {
  const r = verifyEnvelope(signJws('not json', priv), trusted, { requireSignature: true });
  t.ok(r.ok, 'the envelope is fine; the payload check is validate\'s job');
});

t.test('a bare document: rejected when signatures are required, passed through otherwise', async (t) => {
  const bare = JSON.stringify(doc);
  t.match(reason(verifyEnvelope(bare, trusted, { requireSignature: true })), /unsigned document/);
  const r = verifyEnvelope(bare, trusted, { requireSignature: false });
  t.ok(r.ok && !r.signed);
  t.match(reason(verifyEnvelope(signJws('{}', priv), new Map(), { requireSignature: true })), /untrusted key/);
});

t.test('key loading errors are typed', async (t) => {
  t.throws(() => loadPublicKey('garbage', 'k.pub.pem'), { code: 'AIM_ERR_KEY', message: /k.pub.pem: not a PEM public key/ });
  t.throws(() => loadPrivateKey('garbage'), { code: 'AIM_ERR_KEY' });
  const { privateKey } = await import('node:crypto').then((c) => c.generateKeyPairSync('ec', { namedCurve: 'P-256' }));
  t.throws(() => loadPrivateKey(privateKey.export({ type: 'pkcs8', format: 'pem' })), { code: 'AIM_ERR_KEY', message: /need ed25519/ });
});
