import { sign as edSign, verify as edVerify, type KeyObject } from 'node:crypto';
import type { PathError } from './errors.js';
import { thumbprint } from './keys.js';
import { parseStrictJson } from './strict-json.js';

/**
 * The signed envelope (DESIGN.md "Signed envelope"): JWS compact serialization, alg EdDSA (Ed25519),
 * `kid` = RFC 7638 thumbprint. Written on node:crypto: the format is three base64url parts and one
 * signature check, and owning it lets us reject everything we do not expect (other algs, `crit`,
 * `b64: false`, junk) with a clear reason. Interop with a standard JOSE library is tested in
 * jws.test.ts against `jose`.
 */
export const MAX_ENVELOPE_BYTES = 96 * 1024;

export interface TrustedKey {
  kid: string;
  key: KeyObject;
  source?: string;
}

/** Index public keys by their thumbprint. */
export function trustStore(keys: readonly KeyObject[], sources: readonly string[] = []): Map<string, TrustedKey> {
  const m = new Map<string, TrustedKey>();
  keys.forEach((key, i) => {
    const kid = thumbprint(key);
    m.set(kid, { kid, key, ...(sources[i] !== undefined ? { source: sources[i] } : {}) });
  });
  return m;
}

/** Sign a payload (the aim-config JSON bytes) into a compact JWS. */
export function signJws(payload: string | Uint8Array, privateKey: KeyObject): string {
  const header = { alg: 'EdDSA', kid: thumbprint(privateKey), typ: 'JOSE' };
  const h = Buffer.from(JSON.stringify(header)).toString('base64url');
  const p = Buffer.from(payload).toString('base64url');
  const sig = edSign(null, Buffer.from(`${h}.${p}`), privateKey).toString('base64url');
  return `${h}.${p}.${sig}`;
}

export type VerifyResult =
  | { ok: true; payload: Buffer; signed: true; kid: string }
  | { ok: true; payload: Buffer; signed: false }
  | { ok: false; errors: PathError[] };

const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Verify a compact JWS against trusted keys and return its payload bytes. A bare JSON document (first
 * non-space byte `{`) comes back as unsigned when `requireSignature` is false, and is rejected otherwise.
 */
export function verifyEnvelope(
  input: string | Uint8Array,
  trusted: ReadonlyMap<string, TrustedKey>,
  options: { requireSignature: boolean },
): VerifyResult {
  const bad = (message: string): VerifyResult => ({ ok: false, errors: [{ path: '$', message }] });
  const buf = typeof input === 'string' ? Buffer.from(input, 'utf8') : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.byteLength > MAX_ENVELOPE_BYTES) return bad(`message is ${buf.byteLength} bytes, more than the ${MAX_ENVELOPE_BYTES}-byte limit`);
  const text = buf.toString('latin1').trim();
  if (text.startsWith('{') || text.startsWith('\u00ef\u00bb\u00bf{')) {
    if (options.requireSignature) return bad('unsigned document: a JWS signed by a trusted key is required');
    return { ok: true, payload: buf, signed: false };
  }
  const parts = text.split('.');
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return bad('not a JWS compact serialization (header.payload.signature in base64url)');
  const [h, p, s] = parts as [string, string, string];
  // Base64 leaves the low bits of a last character free; accept only the canonical form, so one
  // signed document has exactly one encoding (no malleable look-alikes of a verified message).
  if (!parts.every((x) => Buffer.from(x, 'base64url').toString('base64url') === x)) return bad('JWS parts are not canonical base64url');
  const headerJson = parseStrictJson(Buffer.from(h, 'base64url'), { maxBytes: 4096, maxDepth: 4 });
  if (!headerJson.ok) return bad(`JWS header is not JSON: ${headerJson.errors[0]?.message ?? ''}`);
  const header = headerJson.value;
  if (header === null || typeof header !== 'object' || Array.isArray(header)) return bad('JWS header is not a JSON object');
  const hdr = header as Record<string, unknown>;
  if (hdr.alg !== 'EdDSA') return bad(`JWS alg ${JSON.stringify(hdr.alg ?? null)} is not allowed; only EdDSA (Ed25519) is accepted`);
  if (hdr.crit !== undefined) return bad('JWS header has "crit" extensions, which are not supported');
  if (hdr.b64 !== undefined) return bad('JWS header "b64" is not supported');
  if (hdr.kid !== undefined && typeof hdr.kid !== 'string') return bad('JWS kid must be a string');
  const sig = Buffer.from(s, 'base64url');
  if (sig.byteLength !== 64) return bad(`JWS signature is ${sig.byteLength} bytes; an Ed25519 signature is 64`);
  let candidates: TrustedKey[];
  if (typeof hdr.kid === 'string') {
    const k = trusted.get(hdr.kid);
    if (k === undefined) return bad(`signed by an untrusted key (kid ${hdr.kid})`);
    candidates = [k];
  } else {
    candidates = [...trusted.values()];
    if (candidates.length === 0) return bad('no trusted keys are configured');
  }
  const signingInput = Buffer.from(`${h}.${p}`, 'ascii');
  for (const k of candidates) {
    if (edVerify(null, signingInput, k.key, sig)) return { ok: true, payload: Buffer.from(p, 'base64url'), signed: true, kid: k.kid };
  }
  return bad('signature does not verify: the document was tampered with or signed by another key');
}
