/**
 * The TUF key model of Notary and the public-key material behind it.
 *
 * A key is `{"keytype": T, "keyval": {"private": null, "public": <base64>}}` (Notary:
 * tuf/data/keys.go TUFKey). `public` is a DER SubjectPublicKeyInfo for `ecdsa`/`rsa`, 32 raw bytes
 * for `ed25519`, and PEM certificate bytes for `ecdsa-x509`/`rsa-x509`. Unknown key types are
 * kept (Go turns them into UnknownPublicKey) — they just never verify anything.
 */
import { createHash, createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import { canonicalize } from './canonical-json.js';
import { encodeBase64, goBytesSchema } from './encoding.js';
import { TrustError } from './errors.js';
import { DEFAULTS } from '../../config/defaults.js';
import { decodeFirstPemBlock } from '../x509/pem.js';

export const KEY_TYPES = ['ed25519', 'ecdsa', 'ecdsa-x509', 'rsa', 'rsa-x509'] as const;
export type KnownKeyType = (typeof KEY_TYPES)[number];

/** A public key exactly as metadata carries it. `keytype` may be a type Notary does not know. */
export interface PublicKeyRecord {
  readonly keytype: string;
  readonly public: Buffer;
}

/**
 * zod schema for one key object of root.json `keys` or a delegation `keys` map.
 * `private` must be null or absent: published metadata never carries private halves (Go would
 * ignore one; refusing it is stricter on purpose).
 */
export const publicKeyRecordSchema = z
  .object({
    keytype: z.string(),
    keyval: z.object({
      public: goBytesSchema,
      private: z.null().optional(),
    }),
  })
  .transform((k): PublicKeyRecord => ({ keytype: k.keytype, public: k.keyval.public }));

/**
 * The key ID: lower-case hex SHA-256 of the canonical JSON
 * {"keytype":T,"keyval":{"private":null,"public":base64(public)}} (Notary: tuf/data/keys.go
 * TUFKey.ID). For x509 keys this hashes the PEM bytes, so it is the ID root.json and signatures use.
 */
export function keyId(key: PublicKeyRecord): string {
  const canonical = canonicalize({
    keytype: key.keytype,
    keyval: { private: null, public: encodeBase64(key.public) },
  });
  return createHash('sha256').update(canonical).digest('hex');
}

export type ParsedPublicKey =
  | { readonly kind: 'ed25519'; readonly raw: Buffer }
  | { readonly kind: 'ecdsa'; readonly key: KeyObject; readonly curveBits: number }
  | { readonly kind: 'rsa'; readonly key: KeyObject; readonly modulusBits: number };

/** Curves Go's x509.ParsePKIXPublicKey accepts, with their field size in bits. */
const EC_CURVE_BITS: Readonly<Record<string, number>> = {
  secp224r1: 224,
  prime256v1: 256,
  secp384r1: 384,
  secp521r1: 521,
};

/**
 * Parses the public key a verifier would use (Notary: tuf/signed/verifiers.go):
 * - `ed25519`: the 32 raw bytes;
 * - `ecdsa`/`rsa`: DER SPKI (x509.ParsePKIXPublicKey; must re-encode to the same bytes, which
 *   also refuses trailing data and compressed EC points, as Go does);
 * - `ecdsa-x509`/`rsa-x509`: the first PEM block, whatever its type, parsed as a certificate,
 *   and its public key. Certificate rules (CN, expiry...) are not checked here: see
 *   certificates.ts. Throws TrustError('bad_key') when the bytes do not hold a key of that type.
 */
export function parsePublicKey(key: PublicKeyRecord): ParsedPublicKey {
  switch (key.keytype) {
    case 'ed25519':
      if (key.public.length !== DEFAULTS.notary.ed25519PublicKeyBytes) {
        throw new TrustError('bad_key', `ed25519 public key must be 32 bytes, not ${key.public.length}`);
      }
      return { kind: 'ed25519', raw: key.public };
    case 'ecdsa':
      return describe(spkiKey(key.public), 'ecdsa');
    case 'rsa':
      return describe(spkiKey(key.public), 'rsa');
    case 'ecdsa-x509':
      return describe(certificateKey(key.public), 'ecdsa');
    case 'rsa-x509':
      return describe(certificateKey(key.public), 'rsa');
    default:
      throw new TrustError('bad_key', `unsupported key type ${JSON.stringify(key.keytype)}`);
  }
}

/** Parses a DER SubjectPublicKeyInfo strictly. */
export function spkiKey(der: Buffer): KeyObject {
  let key: KeyObject;
  try {
    key = createPublicKey({ key: der, format: 'der', type: 'spki' });
  } catch (err) {
    throw new TrustError('bad_key', 'public key is not a DER SubjectPublicKeyInfo', { cause: err });
  }
  // OpenSSL re-exports EC points in the form it read them; going through JWK forces the
  // uncompressed form, the only one Go's elliptic.Unmarshal accepts.
  let again: Buffer;
  try {
    again =
      key.asymmetricKeyType === 'ec'
        ? createPublicKey({ key: key.export({ format: 'jwk' }), format: 'jwk' }).export({ format: 'der', type: 'spki' })
        : key.export({ format: 'der', type: 'spki' });
  } catch (err) {
    throw new TrustError('bad_key', 'public key cannot be re-encoded', { cause: err });
  }
  if (!again.equals(der)) {
    throw new TrustError('bad_key', 'public key DER is not in canonical form');
  }
  return key;
}

function certificateKey(pem: Buffer): KeyObject {
  const block = decodeFirstPemBlock(pem);
  if (block === null) throw new TrustError('bad_key', 'x509 key holds no PEM block');
  try {
    return new X509Certificate(block.bytes).publicKey;
  } catch (err) {
    throw new TrustError('bad_key', 'x509 key does not start with a certificate', { cause: err });
  }
}

function describe(key: KeyObject, want: 'ecdsa' | 'rsa'): ParsedPublicKey {
  if (want === 'ecdsa') {
    const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
    const bits = curve === undefined ? undefined : EC_CURVE_BITS[curve];
    if (bits === undefined) throw new TrustError('bad_key', 'not an ECDSA key on P-224/256/384/521');
    return { kind: 'ecdsa', key, curveBits: bits };
  }
  // 'rsa-pss' SPKIs (RSASSA-PSS OID) are refused by Go's x509.ParsePKIXPublicKey too.
  const bits = key.asymmetricKeyType === 'rsa' ? key.asymmetricKeyDetails?.modulusLength : undefined;
  if (bits === undefined) throw new TrustError('bad_key', 'not an RSA key');
  return { kind: 'rsa', key, modulusBits: bits };
}
