/**
 * Signature checks for the CMS, OCSP and CRL structures Notation verification reads, with
 * node:crypto and the signer certificate's key (no WebCrypto engine: pkijs only parses here).
 *
 * Which algorithms are accepted follows Go, which notation-go is written in:
 * - OCSP responses and CRLs are checked with x509.Certificate.CheckSignature, which maps the
 *   AlgorithmIdentifier as crypto/x509 does (x509.go getSignatureAlgorithmFromAI): RSA
 *   PKCS #1 v1.5 and ECDSA with SHA-1/256/384/512, RSASSA-PSS only with the parameters RFC 4055
 *   section 3.1 gives for SHA-256/384/512 (MGF1 with the same hash, salt = hash length), and
 *   Ed25519. SHA-1 is still accepted there (CheckSignature allows it), MD5 and MD2 are not.
 * - The timestamp token's SignerInfo is mapped as tspclient-go internal/oid ToSignatureAlgorithm
 *   does (see tokenSignatureScheme).
 */
import { constants, createHash, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import { Constructed, Integer, ObjectIdentifier, Sequence, fromBER, type BaseBlock } from 'asn1js';

export type DigestName = 'sha1' | 'sha256' | 'sha384' | 'sha512';

/** Digest AlgorithmIdentifier OIDs (RFC 3279 2.1, RFC 5754 2). */
export const DIGEST_OID: Readonly<Record<DigestName, string>> = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
};

const DIGEST_BY_OID: ReadonlyMap<string, DigestName> = new Map(Object.entries(DIGEST_OID).map(([name, oid]) => [oid, name as DigestName]));

/** The digest an OID names, or undefined. */
export function digestByOid(oid: string): DigestName | undefined {
  return DIGEST_BY_OID.get(oid);
}

export function digestLength(digest: DigestName): number {
  return { sha1: 20, sha256: 32, sha384: 48, sha512: 64 }[digest];
}

export function hashBytes(digest: DigestName, data: Uint8Array): Buffer {
  return createHash(digest).update(data).digest();
}

/** How a signature is checked: the key type it needs, the digest and, for PSS, the salt length. */
export interface SignatureScheme {
  readonly kind: 'rsa' | 'rsa-pss' | 'ecdsa' | 'ed25519';
  /** null for Ed25519 (pure EdDSA has no separate digest) */
  readonly hash: DigestName | null;
  readonly saltLength?: number;
  /** for messages */
  readonly name: string;
}

const OID_RSA_PSS = '1.2.840.113549.1.1.10';
const OID_MGF1 = '1.2.840.113549.1.1.8';

const SIMPLE_SCHEMES: ReadonlyMap<string, SignatureScheme> = new Map([
  ['1.2.840.113549.1.1.5', { kind: 'rsa', hash: 'sha1', name: 'sha1WithRSAEncryption' }],
  ['1.3.14.3.2.29', { kind: 'rsa', hash: 'sha1', name: 'sha1WithRSASignature' }],
  ['1.2.840.113549.1.1.11', { kind: 'rsa', hash: 'sha256', name: 'sha256WithRSAEncryption' }],
  ['1.2.840.113549.1.1.12', { kind: 'rsa', hash: 'sha384', name: 'sha384WithRSAEncryption' }],
  ['1.2.840.113549.1.1.13', { kind: 'rsa', hash: 'sha512', name: 'sha512WithRSAEncryption' }],
  ['1.2.840.10045.4.1', { kind: 'ecdsa', hash: 'sha1', name: 'ecdsa-with-SHA1' }],
  ['1.2.840.10045.4.3.2', { kind: 'ecdsa', hash: 'sha256', name: 'ecdsa-with-SHA256' }],
  ['1.2.840.10045.4.3.3', { kind: 'ecdsa', hash: 'sha384', name: 'ecdsa-with-SHA384' }],
  ['1.2.840.10045.4.3.4', { kind: 'ecdsa', hash: 'sha512', name: 'ecdsa-with-SHA512' }],
  ['1.3.101.112', { kind: 'ed25519', hash: null, name: 'Ed25519' }],
]);

/**
 * The scheme of a certificate-style AlgorithmIdentifier (OCSP BasicOCSPResponse, CRL), as Go's
 * getSignatureAlgorithmFromAI maps it; a string saying why when it is not accepted.
 */
export function signatureScheme(oid: string, params: BaseBlock | undefined): SignatureScheme | string {
  const simple = SIMPLE_SCHEMES.get(oid);
  if (simple !== undefined) return simple;
  if (oid === OID_RSA_PSS) return pssScheme(params);
  return `unsupported signature algorithm ${oid}`;
}

/**
 * RSASSA-PSS-params (RFC 4055 3.1). Go accepts exactly SHA-256/384/512 with MGF1 over the same
 * hash, a salt as long as the hash and trailerField 1 (x509.go pssParameters checks).
 */
function pssScheme(params: BaseBlock | undefined): SignatureScheme | string {
  const bad = 'unsupported RSASSA-PSS parameters';
  if (!(params instanceof Sequence)) return bad;
  let hash: DigestName | undefined;
  let mgfHash: DigestName | undefined;
  let salt: number | undefined;
  let trailer = 1;
  for (const field of params.valueBlock.value) {
    if (!(field instanceof Constructed) || field.idBlock.tagClass !== 3) return bad;
    const inner = field.valueBlock.value[0];
    switch (field.idBlock.tagNumber) {
      case 0:
        hash = algorithmDigest(inner);
        break;
      case 1: {
        if (!(inner instanceof Sequence)) return bad;
        const [mgfOid, mgfParams] = inner.valueBlock.value;
        if (!(mgfOid instanceof ObjectIdentifier) || mgfOid.getValue() !== OID_MGF1) return bad;
        mgfHash = algorithmDigest(mgfParams);
        break;
      }
      case 2:
        if (!(inner instanceof Integer)) return bad;
        salt = Number(inner.toBigInt());
        break;
      case 3:
        if (!(inner instanceof Integer)) return bad;
        trailer = Number(inner.toBigInt());
        break;
      default:
        return bad;
    }
  }
  if (hash === undefined || hash === 'sha1' || mgfHash !== hash || salt !== digestLength(hash) || trailer !== 1) return bad;
  return { kind: 'rsa-pss', hash, saltLength: salt, name: `RSASSA-PSS with ${hash.toUpperCase()}` };
}

function algorithmDigest(block: BaseBlock | undefined): DigestName | undefined {
  if (!(block instanceof Sequence)) return undefined;
  const oid = block.valueBlock.value[0];
  return oid instanceof ObjectIdentifier ? digestByOid(oid.getValue()) : undefined;
}

const OID_RSA_ENCRYPTION = '1.2.840.113549.1.1.1';
const OID_SHA256_RSA = '1.2.840.113549.1.1.11';
const OID_SHA384_RSA = '1.2.840.113549.1.1.12';
const OID_SHA512_RSA = '1.2.840.113549.1.1.13';
const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_ECDSA_SHA384 = '1.2.840.10045.4.3.3';
const OID_ECDSA_SHA512 = '1.2.840.10045.4.3.4';

/**
 * The scheme of a timestamp token's SignerInfo, as tspclient-go's ToSignatureAlgorithm pairs
 * digestAlgorithm and signatureAlgorithm: rsaEncryption or RSASSA-PSS take the digest algorithm
 * (PSS with a salt as long as the digest, Go's PSSSaltLengthEqualsHash); the sha*WithRSA and
 * ecdsa-with-SHA* OIDs name their own digest. SHA-1 is never accepted.
 */
export function tokenSignatureScheme(digestOid: string, signatureOid: string): SignatureScheme | string {
  const digest = digestByOid(digestOid);
  const modern = digest !== undefined && digest !== 'sha1' ? digest : undefined;
  switch (signatureOid) {
    case OID_RSA_ENCRYPTION:
      if (modern !== undefined) return { kind: 'rsa', hash: modern, name: `${modern.toUpperCase()} with RSA` };
      break;
    case OID_RSA_PSS:
      if (modern !== undefined) return { kind: 'rsa-pss', hash: modern, saltLength: digestLength(modern), name: `RSASSA-PSS with ${modern.toUpperCase()}` };
      break;
    case OID_SHA256_RSA:
    case OID_SHA384_RSA:
    case OID_SHA512_RSA:
    case OID_ECDSA_SHA256:
    case OID_ECDSA_SHA384:
    case OID_ECDSA_SHA512:
      return SIMPLE_SCHEMES.get(signatureOid) as SignatureScheme;
    default:
      break;
  }
  return `unknown signature algorithm (digest ${digestOid}, signature ${signatureOid})`;
}

/** Whether `signature` over `data` verifies with `key` under `scheme` (false on any error or key type mismatch). */
export function verifySignature(scheme: SignatureScheme, key: KeyObject, data: Uint8Array, signature: Uint8Array): boolean {
  const type = key.asymmetricKeyType;
  try {
    switch (scheme.kind) {
      case 'rsa':
        return type === 'rsa' && cryptoVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PADDING }, signature);
      case 'rsa-pss':
        return (
          (type === 'rsa' || type === 'rsa-pss') &&
          cryptoVerify(scheme.hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: scheme.saltLength ?? 0 }, signature)
        );
      case 'ecdsa':
        return type === 'ec' && cryptoVerify(scheme.hash, data, { key, dsaEncoding: 'der' }, signature);
      case 'ed25519':
        return type === 'ed25519' && cryptoVerify(null, data, key, signature);
    }
  } catch {
    return false;
  }
}

/** Parses one BER element whole; undefined when it does not parse or bytes follow it. */
export function parseBlock(bytes: Uint8Array): BaseBlock | undefined {
  const parsed = fromBER(bytes);
  if (parsed.offset === -1 || parsed.offset !== bytes.byteLength || parsed.result.error !== '') return undefined;
  return parsed.result;
}

/** The encoding asn1js read a block from (the bytes a signature or hash covers). */
export function rawBytes(block: BaseBlock): Buffer {
  const view = block.valueBeforeDecodeView;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
}
