/**
 * What a certificate's signature algorithm and public key are, in the terms trust rules use:
 * the hash behind a signature algorithm (to refuse SHA-1 and MD5 as Go's crypto/x509 does), and
 * the key's algorithm, curve and size (RSA minimum sizes, curve allow-lists).
 */
import type { KeyObject } from 'node:crypto';

export type SignatureHash = 'md2' | 'md5' | 'sha1' | 'sha224' | 'sha256' | 'sha384' | 'sha512';

export interface SignatureAlgorithm {
  /** the outer signatureAlgorithm OID */
  readonly oid: string;
  /** its usual name (RFC 3279, 4055, 5758, 8410), or the OID when unknown */
  readonly name: string;
  /** the digest the OID names; undefined for EdDSA, RSASSA-PSS (digest in parameters) and unknown OIDs */
  readonly hash: SignatureHash | undefined;
  /** true for the SHA-1 based algorithms Go's crypto/x509 knows (x509.go signatureAlgorithmDetails) */
  readonly sha1: boolean;
}

/**
 * The signature algorithm OIDs Go's crypto/x509 maps (x509.go signatureAlgorithmDetails), with
 * the SHA-224 and DSA-SHA-256 ones OpenSSL also signs with.
 */
const SIGNATURE_ALGORITHMS: ReadonlyMap<string, { name: string; hash: SignatureHash | undefined }> = new Map([
  ['1.2.840.113549.1.1.2', { name: 'md2WithRSAEncryption', hash: 'md2' }],
  ['1.2.840.113549.1.1.4', { name: 'md5WithRSAEncryption', hash: 'md5' }],
  ['1.2.840.113549.1.1.5', { name: 'sha1WithRSAEncryption', hash: 'sha1' }],
  ['1.3.14.3.2.29', { name: 'sha1WithRSASignature', hash: 'sha1' }],
  ['1.2.840.113549.1.1.14', { name: 'sha224WithRSAEncryption', hash: 'sha224' }],
  ['1.2.840.113549.1.1.11', { name: 'sha256WithRSAEncryption', hash: 'sha256' }],
  ['1.2.840.113549.1.1.12', { name: 'sha384WithRSAEncryption', hash: 'sha384' }],
  ['1.2.840.113549.1.1.13', { name: 'sha512WithRSAEncryption', hash: 'sha512' }],
  ['1.2.840.113549.1.1.10', { name: 'RSASSA-PSS', hash: undefined }],
  ['1.2.840.10040.4.3', { name: 'dsa-with-sha1', hash: 'sha1' }],
  ['2.16.840.1.101.3.4.3.2', { name: 'dsa-with-sha256', hash: 'sha256' }],
  ['1.2.840.10045.4.1', { name: 'ecdsa-with-SHA1', hash: 'sha1' }],
  ['1.2.840.10045.4.3.1', { name: 'ecdsa-with-SHA224', hash: 'sha224' }],
  ['1.2.840.10045.4.3.2', { name: 'ecdsa-with-SHA256', hash: 'sha256' }],
  ['1.2.840.10045.4.3.3', { name: 'ecdsa-with-SHA384', hash: 'sha384' }],
  ['1.2.840.10045.4.3.4', { name: 'ecdsa-with-SHA512', hash: 'sha512' }],
  ['1.3.101.112', { name: 'Ed25519', hash: undefined }],
  ['1.3.101.113', { name: 'Ed448', hash: undefined }],
]);

export function describeSignatureAlgorithm(oid: string): SignatureAlgorithm {
  const known = SIGNATURE_ALGORITHMS.get(oid);
  const hash = known?.hash;
  return Object.freeze({ oid, name: known?.name ?? oid, hash, sha1: hash === 'sha1' });
}

/**
 * MD2, MD5 and SHA-1 signatures: Go's CheckSignature refuses them (InsecureAlgorithmError), so
 * no chain may rely on one.
 */
export function isInsecureSignature(algorithm: SignatureAlgorithm): boolean {
  return algorithm.hash === 'md2' || algorithm.hash === 'md5' || algorithm.hash === 'sha1';
}

export type PublicKeyAlgorithm = 'rsa' | 'rsa-pss' | 'ecdsa' | 'ed25519' | 'ed448' | 'other';

export interface CertificatePublicKey {
  /** node:crypto's key, for signature checks */
  readonly key: KeyObject;
  readonly algorithm: PublicKeyAlgorithm;
  /** the NIST name of an ECDSA key's curve ('P-256', ...), OpenSSL's name for other curves */
  readonly curve: string | undefined;
  /** RSA modulus size, or ECDSA field size on a NIST curve, in bits; undefined otherwise */
  readonly bits: number | undefined;
  /** the SubjectPublicKeyInfo DER exactly as the certificate carries it */
  readonly spki: Buffer;
}

const NIST_CURVES: Readonly<Record<string, { name: string; bits: number }>> = {
  secp224r1: { name: 'P-224', bits: 224 },
  prime256v1: { name: 'P-256', bits: 256 },
  secp384r1: { name: 'P-384', bits: 384 },
  secp521r1: { name: 'P-521', bits: 521 },
};

export function describePublicKey(key: KeyObject, spki: Buffer): CertificatePublicKey {
  const details = key.asymmetricKeyDetails;
  switch (key.asymmetricKeyType) {
    case 'rsa':
    case 'rsa-pss':
      return Object.freeze({ key, algorithm: key.asymmetricKeyType, curve: undefined, bits: details?.modulusLength, spki });
    case 'ec': {
      const named = details?.namedCurve;
      const nist = named === undefined ? undefined : NIST_CURVES[named];
      return Object.freeze({ key, algorithm: 'ecdsa', curve: nist?.name ?? named, bits: nist?.bits, spki });
    }
    case 'ed25519':
    case 'ed448':
      return Object.freeze({ key, algorithm: key.asymmetricKeyType, curve: undefined, bits: undefined, spki });
    default:
      return Object.freeze({ key, algorithm: 'other', curve: undefined, bits: undefined, spki });
  }
}
