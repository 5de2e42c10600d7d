import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, verify, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { signEd25519ph, verifyEd25519ph } from './cosign-ed25519ph.js';
import { runOk } from './process.js';

/**
 * cosign signing keys and the signature scheme cosign uses with each. cosign picks the scheme
 * from the key (sigstore/sigstore signature.GetDefaultAlgorithmDetails with cosign's load
 * options, internal/key/svkeypair.go): ECDSA P-256 with SHA-256, P-384 with SHA-384 (ASN.1 DER
 * signatures), RSA PKCS#1 v1.5 with SHA-256, and Ed25519ph for Ed25519 keys. The same scheme
 * signs legacy payloads and DSSE envelopes.
 */

export type CosignKeyKind = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa';

/** sigstore's algorithm names (cosign's `--signing-algorithm` values). */
export type SigningAlgorithm =
  | 'ecdsa-sha2-256-nistp256'
  | 'ecdsa-sha2-384-nistp384'
  | 'ed25519-ph'
  | 'ed25519'
  | 'rsa-sign-pkcs1-2048-sha256'
  | 'rsa-sign-pkcs1-3072-sha256'
  | 'rsa-sign-pkcs1-4096-sha256';

export interface CosignKey {
  readonly kind: CosignKeyKind;
  readonly algorithm: SigningAlgorithm;
  /** The digest a hashedrekord log entry of a signature records (sha512 for Ed25519ph); undefined for pure Ed25519, which has none. */
  readonly hash: 'sha256' | 'sha384' | 'sha512' | undefined;
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** SPKI PEM, as `cosign generate-key-pair` writes cosign.pub. */
  readonly publicKeyPem: string;
  /** sha256 of the DER SubjectPublicKeyInfo, hex. */
  readonly keyId: string;
  /** The same sha256, base64: the `publicKey.hint` cosign 3 writes into a bundle. */
  readonly hint: string;
  /** Writes publicKeyPem to `dir` (for Signet's `cosign.keys`); returns the file's path. */
  writePublicKey(dir: string, name?: string): Promise<string>;
}

export interface CosignKeyOptions {
  /** RSA modulus size; default 2048. */
  rsaBits?: 2048 | 3072 | 4096;
  /**
   * Ed25519 only: sign with pure Ed25519 instead of Ed25519ph, as cosign does when its load
   * options are overridden (older cosign releases; no transparency-log upload possible).
   */
  pureEd25519?: boolean;
}

/**
 * An ECDSA P-256 key made by the openssl CLI (as an operator without cosign would make one), and
 * a signer that signs with `openssl dgst -sha256 -sign`: DER ECDSA, what cosign writes.
 */
export async function opensslKeyPair(dir: string): Promise<{ key: CosignKey; sign: (payload: Buffer) => Promise<Buffer> }> {
  const keyFile = join(dir, `openssl-${randomUUID()}.key`);
  await runOk('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile]);
  const privateKey = createPrivateKey(await readFile(keyFile));
  const key = cosignKeyPair('ecdsa-p256', { from: { privateKey, publicKey: createPublicKey(privateKey) } });
  const sign = async (payload: Buffer): Promise<Buffer> => {
    const payloadFile = join(dir, `payload-${randomUUID()}`);
    const signatureFile = `${payloadFile}.sig`;
    await writeFile(payloadFile, payload);
    await runOk('openssl', ['dgst', '-sha256', '-sign', keyFile, '-out', signatureFile, payloadFile]);
    return readFile(signatureFile);
  };
  return { key, sign };
}

/** A fresh key pair of `kind` (or `opts.from`, an existing one of that kind). */
export function cosignKeyPair(kind: CosignKeyKind, opts: CosignKeyOptions & { from?: { privateKey: KeyObject; publicKey: KeyObject } } = {}): CosignKey {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  let algorithm: SigningAlgorithm;
  let hash: CosignKey['hash'];
  switch (kind) {
    case 'ecdsa-p256':
      pair = opts.from ?? generateKeyPairSync('ec', { namedCurve: 'P-256' });
      algorithm = 'ecdsa-sha2-256-nistp256';
      hash = 'sha256';
      break;
    case 'ecdsa-p384':
      pair = generateKeyPairSync('ec', { namedCurve: 'P-384' });
      algorithm = 'ecdsa-sha2-384-nistp384';
      hash = 'sha384';
      break;
    case 'ed25519':
      pair = generateKeyPairSync('ed25519');
      algorithm = opts.pureEd25519 ? 'ed25519' : 'ed25519-ph';
      hash = opts.pureEd25519 ? undefined : 'sha512';
      break;
    case 'rsa': {
      const bits = opts.rsaBits ?? 2048;
      pair = generateKeyPairSync('rsa', { modulusLength: bits });
      algorithm = `rsa-sign-pkcs1-${bits}-sha256`;
      hash = 'sha256';
      break;
    }
  }
  const der = pair.publicKey.export({ format: 'der', type: 'spki' });
  const digest = createHash('sha256').update(der).digest();
  const publicKeyPem = pair.publicKey.export({ format: 'pem', type: 'spki' }).toString();
  const keyId = digest.toString('hex');
  return {
    kind,
    algorithm,
    hash,
    privateKey: pair.privateKey,
    publicKey: pair.publicKey,
    publicKeyPem,
    keyId,
    hint: digest.toString('base64'),
    writePublicKey: async (dir, name = `cosign-${kind}-${keyId.slice(0, 12)}.pub`) => {
      const path = join(dir, name);
      await writeFile(path, publicKeyPem);
      return path;
    },
  };
}

/** Signs `data` the way cosign signs with this key (ECDSA signatures in ASN.1 DER). */
export function signWithKey(key: Pick<CosignKey, 'algorithm' | 'privateKey'>, data: Uint8Array): Buffer {
  switch (key.algorithm) {
    case 'ed25519-ph':
      return signEd25519ph(key.privateKey, data);
    case 'ed25519':
      return sign(null, data, key.privateKey);
    case 'ecdsa-sha2-384-nistp384':
      return sign('sha384', data, { key: key.privateKey, dsaEncoding: 'der' });
    case 'ecdsa-sha2-256-nistp256':
      return sign('sha256', data, { key: key.privateKey, dsaEncoding: 'der' });
    default:
      return sign('sha256', data, key.privateKey);
  }
}

/** Verifies a signature made by signWithKey (what `cosign verify --key` checks of the signature itself). */
export function verifyWithKey(key: Pick<CosignKey, 'algorithm' | 'publicKey'>, data: Uint8Array, signature: Uint8Array): boolean {
  switch (key.algorithm) {
    case 'ed25519-ph':
      return verifyEd25519ph(key.publicKey, data, signature);
    case 'ed25519':
      return verify(null, data, key.publicKey, signature);
    case 'ecdsa-sha2-384-nistp384':
      return verify('sha384', data, { key: key.publicKey, dsaEncoding: 'der' }, signature);
    case 'ecdsa-sha2-256-nistp256':
      return verify('sha256', data, { key: key.publicKey, dsaEncoding: 'der' }, signature);
    default:
      return verify('sha256', data, key.publicKey, signature);
  }
}
