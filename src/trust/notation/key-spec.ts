import { verify as cryptoVerify, constants, type KeyObject } from 'node:crypto';
import type { CertificateInfo, CertificatePublicKey } from '../x509/index.js';

/**
 * The signature algorithms of the Notary Project signing scheme and the one each key fits
 * (signature-specification.md, "Algorithm Selection"; notation-core-go internal/algorithm
 * ExtractKeySpec / KeySpec.SignatureAlgorithm): RSA 2048/3072/4096 → PS256/384/512, ECDSA
 * P-256/P-384/P-521 → ES256/384/512. Any other key (RSA 1024, P-224, Ed25519, RSA-PSS SPKI) is
 * not a Notation signing key at all.
 */
export type NotationAlgorithm = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

export const ALGORITHM_HASH: Readonly<Record<NotationAlgorithm, 'sha256' | 'sha384' | 'sha512'>> = {
  PS256: 'sha256',
  PS384: 'sha384',
  PS512: 'sha512',
  ES256: 'sha256',
  ES384: 'sha384',
  ES512: 'sha512',
};

const RSA_BITS: Readonly<Record<number, NotationAlgorithm>> = { 2048: 'PS256', 3072: 'PS384', 4096: 'PS512' };
const EC_CURVES: Readonly<Record<string, NotationAlgorithm>> = { 'P-256': 'ES256', 'P-384': 'ES384', 'P-521': 'ES512' };

export type KeyAlgorithm = { ok: true; algorithm: NotationAlgorithm } | { ok: false; problem: string };

/** The algorithm a key must sign with, or a sentence saying why the key cannot sign Notation signatures. */
export function algorithmForKey(key: CertificatePublicKey): KeyAlgorithm {
  const algorithm =
    key.algorithm === 'rsa'
      ? key.bits !== undefined
        ? RSA_BITS[key.bits]
        : undefined
      : key.algorithm === 'ecdsa' && key.curve !== undefined
        ? EC_CURVES[key.curve]
        : undefined;
  if (algorithm !== undefined) return { ok: true, algorithm };
  if (key.algorithm === 'rsa') return { ok: false, problem: `rsa key size ${key.bits ?? '?'} bits is not supported (2048, 3072 or 4096)` };
  if (key.algorithm === 'ecdsa') return { ok: false, problem: `ecdsa key on curve ${key.curve ?? '?'} is not supported (P-256, P-384 or P-521)` };
  return { ok: false, problem: `${key.algorithm} keys are not supported (RSA 2048/3072/4096 or ECDSA P-256/P-384/P-521)` };
}

/** The algorithm of a certificate's key, or the reason it has none. */
export function certificateAlgorithm(cert: CertificateInfo): KeyAlgorithm {
  return algorithmForKey(cert.publicKey);
}

export function isNotationAlgorithm(value: unknown): value is NotationAlgorithm {
  return typeof value === 'string' && value in ALGORITHM_HASH;
}

/**
 * A raw signature check as COSE defines it (RFC 9053 §2.1 ECDSA r‖s of fixed length; RFC 8230
 * PSS with the salt as long as the digest, as go-cose verifies).
 */
export function verifyRawSignature(algorithm: NotationAlgorithm, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  const hash = ALGORITHM_HASH[algorithm];
  try {
    if (algorithm.startsWith('PS')) {
      return cryptoVerify(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }, signature);
    }
    return cryptoVerify(hash, data, { key, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}
