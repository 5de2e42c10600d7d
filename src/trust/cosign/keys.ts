import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { SignetError, errorMessage } from '../../errors.js';
import { decodePemBlocks } from '../x509/pem.js';

/**
 * The public keys a rule pins for key-based cosign signatures (`cosign sign --key`), read from
 * the PEM files the operator names. cosign reads them with sigstore's
 * cryptoutils.UnmarshalPEMToPublicKey ("PUBLIC KEY" = PKIX, "RSA PUBLIC KEY" = PKCS #1) and
 * signs with the scheme the key implies (see signature-scheme.ts).
 */

/** The key types cosign signs with and Signet accepts (cosign pkg/cosign/keys.go SupportedKeyDetails, minus P-521). */
export type PinnedKeyKind = 'ecdsa-p256' | 'ecdsa-p384' | 'ed25519' | 'rsa';

export interface PinnedKey {
  /** sha256 of the DER SubjectPublicKeyInfo, hex: how Signet names the key in evidence and messages. */
  readonly id: string;
  /** The file it was read from, for messages. */
  readonly path: string;
  readonly kind: PinnedKeyKind;
  readonly key: KeyObject;
  /** DER SubjectPublicKeyInfo. */
  readonly spki: Buffer;
}

/**
 * RSA modulus sizes sigstore accepts for signing keys (sigstore/sigstore
 * pkg/cryptoutils/publickey.go ValidatePubKey: at least 2048 bits, at most 4096). Fixed by the
 * protocol, not tunable, hence here rather than in DEFAULTS.
 */
const RSA_MIN_BITS = 2048;
const RSA_MAX_BITS = 4096;

/** OpenSSL curve names of the NIST curves cosign keys use. */
const EC_CURVES: Readonly<Record<string, PinnedKeyKind>> = { prime256v1: 'ecdsa-p256', secp384r1: 'ecdsa-p384' };

/** sha256 of a DER SubjectPublicKeyInfo, hex: the key ID Signet shows for a key. */
export function keyIdOf(spki: Uint8Array): string {
  return createHash('sha256').update(spki).digest('hex');
}

/**
 * Parses one pinned public key. A file that is not exactly one PEM public key of a supported
 * type is a configuration error naming the file (`where` is the config path of the entry).
 */
export function parsePinnedKey(pem: string, path: string, where: string): PinnedKey {
  const invalid = (why: string, cause?: unknown): SignetError =>
    new SignetError('CONFIG_INVALID', `${where}: ${path} ${why}`, cause === undefined ? {} : { cause });
  const { blocks, truncated } = decodePemBlocks(pem, 1);
  const block = blocks[0];
  if (!block || truncated) throw invalid('must hold exactly one PEM public key ("-----BEGIN PUBLIC KEY-----", as cosign generate-key-pair writes cosign.pub)');
  let key: KeyObject;
  try {
    if (block.type === 'PUBLIC KEY') key = createPublicKey({ key: block.bytes, format: 'der', type: 'spki' });
    else if (block.type === 'RSA PUBLIC KEY') key = createPublicKey({ key: block.bytes, format: 'der', type: 'pkcs1' });
    else throw new Error(`a PEM block of type "${block.type}" is not a public key`);
  } catch (err) {
    throw invalid(`is not a readable public key: ${errorMessage(err)}`, err);
  }
  const kind = kindOf(key);
  if (typeof kind !== 'string') throw invalid(kind.unsupported);
  const spki = key.export({ format: 'der', type: 'spki' });
  return Object.freeze({ id: keyIdOf(spki), path, kind, key, spki });
}

function kindOf(key: KeyObject): PinnedKeyKind | { unsupported: string } {
  const details = key.asymmetricKeyDetails ?? {};
  switch (key.asymmetricKeyType) {
    case 'ec': {
      const kind = details.namedCurve === undefined ? undefined : EC_CURVES[details.namedCurve];
      return kind ?? { unsupported: `is an ECDSA key on curve ${details.namedCurve ?? 'unknown'}: cosign keys are P-256 or P-384` };
    }
    case 'ed25519':
      return 'ed25519';
    case 'rsa': {
      const bits = details.modulusLength ?? 0;
      if (bits < RSA_MIN_BITS || bits > RSA_MAX_BITS)
        return { unsupported: `is a ${bits}-bit RSA key: sigstore accepts ${RSA_MIN_BITS} to ${RSA_MAX_BITS} bits` };
      return 'rsa';
    }
    default:
      return { unsupported: `is a ${key.asymmetricKeyType ?? 'unknown'} key: cosign keys are ECDSA P-256/P-384, Ed25519 or RSA` };
  }
}
