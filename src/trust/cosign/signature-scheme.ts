import { verify, type KeyObject } from 'node:crypto';
import { verifyEd25519ph } from './ed25519ph.js';

/**
 * The signature scheme a verifying key implies, as cosign and sigstore-go pick it
 * (sigstore/sigstore signature.LoadVerifier with cosign's load options): ECDSA with the curve's
 * hash (P-256 → SHA-256, P-384 → SHA-384, P-521 → SHA-512), ASN.1 DER signatures; RSA PKCS #1
 * v1.5 with SHA-256; Ed25519 as Ed25519ph (cosign's default) or pure Ed25519 (older cosign).
 * @sigstore/verify hashes a DSSE envelope with SHA-256 whatever the key, so a P-384 key's DSSE
 * signature would never verify there (signature-content.ts puts this scheme in its place).
 */

const EC_HASHES: Readonly<Record<string, string>> = { prime256v1: 'sha256', secp384r1: 'sha384', secp521r1: 'sha512' };

/** True when `signature` over `data` verifies with `key` under the scheme the key implies. */
export function verifyWithKeyScheme(key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    switch (key.asymmetricKeyType) {
      case 'ec': {
        const hash = EC_HASHES[key.asymmetricKeyDetails?.namedCurve ?? ''];
        return hash !== undefined && verify(hash, data, { key, dsaEncoding: 'der' }, signature);
      }
      case 'rsa':
        return verify('sha256', data, key, signature);
      case 'ed25519':
        return verifyEd25519ph(key, data, signature) || verify(null, data, key, signature);
      default:
        return false;
    }
  } catch {
    // node:crypto throws on a signature it cannot even parse: that is a signature that does not verify.
    return false;
  }
}
