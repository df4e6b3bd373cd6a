import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { AimError } from './errors.js';
import { readNamedFile } from './file-errors.js';

/**
 * Ed25519 keys as PEM (SPKI public, PKCS#8 private), the files `openssl genpkey -algorithm ed25519`
 * writes. node:crypto does all of it, so no JOSE library is needed at run time.
 */
export interface KeyPairPem {
  publicPem: string;
  privatePem: string;
  kid: string;
}

export function generateKeyPair(): KeyPairPem {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  return {
    publicPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    privatePem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    kid: thumbprint(publicKey),
  };
}

export function loadPublicKey(pem: string | Buffer, source = 'public key'): KeyObject {
  // createPublicKey happily derives the public half of a private key: a private key in a trust list
  // means it was copied where it should not be, so it is refused rather than quietly used.
  if (/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem.toString())) {
    throw new AimError('AIM_ERR_KEY', `${source}: is a private key; trust its public half (openssl pkey -in KEY -pubout)`);
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (cause) {
    throw new AimError('AIM_ERR_KEY', `${source}: not a PEM public key`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AimError('AIM_ERR_KEY', `${source}: key type is ${key.asymmetricKeyType}, need ed25519`);
  return key;
}

/** A public key file; a missing or unreadable file is AIM_ERR_KEY `path: no such file`. */
export function loadPublicKeyFile(path: string): KeyObject {
  return loadPublicKey(readNamedFile(path, 'AIM_ERR_KEY'), path);
}

export function loadPrivateKey(pem: string | Buffer, source = 'private key'): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (cause) {
    throw new AimError('AIM_ERR_KEY', `${source}: not a PEM private key`, { cause });
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new AimError('AIM_ERR_KEY', `${source}: key type is ${key.asymmetricKeyType}, need ed25519`);
  return key;
}

/** RFC 7638 JWK thumbprint (SHA-256, base64url) of an Ed25519 public key: the `kid` we sign with. */
export function thumbprint(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' });
  // Required members only, in lexicographic order, no whitespace (RFC 7638 §3.2; RFC 8037 §2 for OKP).
  const json = `{"crv":"${jwk.crv}","kty":"${jwk.kty}","x":"${jwk.x}"}`;
  return createHash('sha256').update(json).digest('base64url');
}
