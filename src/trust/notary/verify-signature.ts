/**
 * Signature verification exactly as Notary does it (Notary: tuf/signed/verifiers.go for one
 * signature, tuf/signed/verify.go VerifySignatures for a role's threshold).
 */
import { createHash, verify as cryptoVerify, constants, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { Point } from '@noble/ed25519';
import { canonicalize } from './canonical-json.js';
import { encodeEcdsaDer, parseAsn1EcdsaSignature } from './der.js';
import { TrustError } from './errors.js';
import { keyId, parsePublicKey, type PublicKeyRecord } from './keys.js';
import { DEFAULTS } from '../../config/defaults.js';
import { decodeFirstPemBlock } from '../x509/pem.js';

/** Signature methods with a verifier (tuf/data/types.go SigAlgorithm; Verifiers map). */
export const SIGNATURE_METHODS = ['eddsa', 'ecdsa', 'rsapss', 'rsapkcs1v15', 'pycrypto-pkcs#1 pss'] as const;
export type SignatureMethod = (typeof SIGNATURE_METHODS)[number];

/** ed25519 group order L = 2^252 + 27742317777372353535851937790883648493. */
const ED25519_ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;

/**
 * Verifies one signature over `message` with `key`, by `method` (compared lower-cased, as
 * tuf/data/types.go Signature.UnmarshalJSON lower-cases it). Throws TrustError('bad_signature')
 * when the method is unknown, the key type does not fit the method, a length is wrong or the
 * math fails, and TrustError('bad_key') when the key itself is unusable. Returns on success.
 * - eddsa: key `ed25519`, signature exactly 64 bytes; Go crypto/ed25519 semantics (see below);
 * - ecdsa: key `ecdsa` or `ecdsa-x509`; SHA-256 whatever the curve; an ASN.1 signature is used as
 *   such if it parses (Go tries asn1.Unmarshal first), else raw r||s of 2*ceil(bits/8) bytes;
 * - rsapss: key `rsa` or `rsa-x509`, modulus ≥ 2048 bits, PSS SHA-256 / MGF1-SHA-256, salt 32;
 * - rsapkcs1v15: same keys, PKCS#1 v1.5 with SHA-256;
 * - pycrypto-pkcs#1 pss: key `rsa` whose bytes are a PEM public key, then as rsapss.
 */
export function verifySignature(method: string, key: PublicKeyRecord, signature: Uint8Array, message: Uint8Array): void {
  const m = method.toLowerCase();
  const sig = Buffer.from(signature);
  switch (m) {
    case 'eddsa':
      verifyEd25519(key, sig, message);
      return;
    case 'ecdsa':
      verifyEcdsa(key, sig, message);
      return;
    case 'rsapss':
    case 'rsapkcs1v15':
      requireKeyType(key, ['rsa', 'rsa-x509'], m);
      verifyRsa(rsaKeyObject(key), sig, message, m === 'rsapss');
      return;
    case 'pycrypto-pkcs#1 pss': {
      requireKeyType(key, ['rsa'], m);
      const block = decodeFirstPemBlock(key.public);
      if (block === null) throw new TrustError('bad_key', 'pycrypto key is not PEM');
      const parsed = parsePublicKey({ keytype: 'rsa', public: block.bytes });
      if (parsed.kind !== 'rsa') throw new TrustError('bad_key', 'not an RSA key');
      verifyRsa(parsed, sig, message, true);
      return;
    }
    default:
      throw new TrustError('bad_signature', `signing method is not supported: ${JSON.stringify(method)}`);
  }
}

/** Boolean form of verifySignature, for callers that only count. */
export function isValidSignature(method: string, key: PublicKeyRecord, signature: Uint8Array, message: Uint8Array): boolean {
  try {
    verifySignature(method, key, signature, message);
    return true;
  } catch {
    return false;
  }
}

function requireKeyType(key: PublicKeyRecord, allowed: readonly string[], method: string): void {
  if (!allowed.includes(key.keytype)) {
    throw new TrustError('bad_signature', `invalid key type for ${method} verifier: ${key.keytype}`);
  }
}

/**
 * Go crypto/ed25519 Verify (what golang.org/x/crypto/ed25519 calls): S must be canonical (< L),
 * A may be any encoding that decodes (non-canonical y accepted), and the check is cofactorless:
 * encode([S]B − [k]A) must equal the R bytes of the signature. @noble/ed25519's own verify is
 * cofactored (ZIP-215), so its Point arithmetic is used directly to keep Go's verdicts.
 */
function verifyEd25519(key: PublicKeyRecord, sig: Buffer, message: Uint8Array): void {
  requireKeyType(key, ['ed25519'], 'eddsa');
  if (sig.length !== DEFAULTS.notary.ed25519SignatureBytes) {
    throw new TrustError('bad_signature', `ed25519 signature must be 64 bytes, not ${sig.length}`);
  }
  const parsed = parsePublicKey(key);
  if (parsed.kind !== 'ed25519') throw new TrustError('bad_key', 'not an ed25519 key');
  const s = littleEndian(sig.subarray(32));
  if (s >= ED25519_ORDER) throw new TrustError('bad_signature', 'ed25519 S is not canonical');
  let a: Point;
  try {
    a = Point.fromBytes(parsed.raw, true);
  } catch (err) {
    throw new TrustError('bad_key', 'ed25519 public key is not a curve point', { cause: err });
  }
  const digest = createHash('sha512').update(sig.subarray(0, 32)).update(parsed.raw).update(message).digest();
  const k = littleEndian(digest) % ED25519_ORDER;
  const r = Point.BASE.multiply(s, false).subtract(a.multiply(k, false));
  if (!Buffer.from(r.toBytes()).equals(sig.subarray(0, 32))) {
    throw new TrustError('bad_signature', 'ed25519 signature does not verify');
  }
}

function littleEndian(bytes: Uint8Array): bigint {
  return BigInt('0x' + (Buffer.from(bytes).reverse().toString('hex') || '0'));
}

function verifyEcdsa(key: PublicKeyRecord, sig: Buffer, message: Uint8Array): void {
  requireKeyType(key, ['ecdsa', 'ecdsa-x509'], 'ecdsa');
  const parsed = parsePublicKey(key);
  if (parsed.kind !== 'ecdsa') throw new TrustError('bad_key', 'not an ECDSA key');
  let ok: boolean;
  const asn1 = parseAsn1EcdsaSignature(sig);
  if (asn1 !== null) {
    // Go ecdsa.Verify: r, s must be positive; the range check against the order is OpenSSL's.
    ok = asn1.r > 0n && asn1.s > 0n && safeVerify(message, { key: parsed.key, dsaEncoding: 'der' }, encodeEcdsaDer(asn1.r, asn1.s));
  } else {
    const expected = 2 * Math.ceil(parsed.curveBits / 8);
    if (sig.length !== expected) {
      throw new TrustError('bad_signature', `ECDSA signature must be ${expected} bytes, not ${sig.length}`);
    }
    ok = safeVerify(message, { key: parsed.key, dsaEncoding: 'ieee-p1363' }, sig);
  }
  if (!ok) throw new TrustError('bad_signature', 'ECDSA signature does not verify');
}

/** tuf/signed/verifiers.go getRSAPubKey: `rsa` is DER SPKI; `rsa-x509` the first PEM certificate. */
function rsaKeyObject(key: PublicKeyRecord): { key: KeyObject; modulusBits: number } {
  const parsed = parsePublicKey(key);
  if (parsed.kind !== 'rsa') throw new TrustError('bad_key', 'not an RSA key');
  return parsed;
}

function verifyRsa(parsed: { key: KeyObject; modulusBits: number }, sig: Buffer, message: Uint8Array, pss: boolean): void {
  if (parsed.modulusBits < DEFAULTS.notary.minRsaBits) {
    throw new TrustError('bad_key', `RSA key must be at least ${DEFAULTS.notary.minRsaBits} bits, not ${parsed.modulusBits}`);
  }
  // Go (rsa.VerifyPSS / VerifyPKCS1v15) requires a signature exactly as long as the modulus.
  const size = Math.ceil(parsed.modulusBits / 8);
  if (sig.length !== size) throw new TrustError('bad_signature', `RSA signature must be ${size} bytes, not ${sig.length}`);
  const ok = safeVerify(
    message,
    pss ? { key: parsed.key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : { key: parsed.key, padding: constants.RSA_PKCS1_PADDING },
    sig,
  );
  if (!ok) throw new TrustError('bad_signature', `${pss ? 'RSA-PSS' : 'RSA PKCS#1 v1.5'} signature does not verify`);
}

/** node:crypto verify with SHA-256; a signature OpenSSL cannot even decode is just invalid. */
function safeVerify(message: Uint8Array, key: VerifyKeyObjectInput, signature: Buffer): boolean {
  try {
    return cryptoVerify('sha256', message, key, signature);
  } catch {
    return false;
  }
}

/** The signature part of a signed wrapper, as metadata.ts parseSigned returns it. */
export interface SignatureEntry {
  readonly keyid: string;
  readonly method: string;
  readonly sig: Buffer;
}

export interface SignedWrapperView {
  readonly signatures: readonly SignatureEntry[];
  /** the parsed `signed` value; its canonical form is what was signed */
  readonly signedValue: unknown;
}

export interface RoleThreshold {
  readonly keyids: readonly string[];
  readonly threshold: number;
}

/**
 * tuf/signed/verify.go VerifySignatures: checks that at least `role.threshold` distinct keys of
 * the role signed canonicalize(signedValue). Rules, in Go's order:
 * - no signatures at all → TrustError('threshold');
 * - threshold < 1 → TrustError('threshold');
 * - the message is canonicalize(signedValue), never the raw text (TrustError('canonical_json'));
 * - a signature whose keyid is not a key of the role is skipped;
 * - a role key whose stored ID is not keyId(key) fails the whole check (TrustError('bad_key'));
 * - a signature that does not verify (bad method, wrong key type, bad bytes) is skipped;
 * - each keyid counts once; fewer than the threshold → TrustError('threshold').
 * `keys` maps key IDs to keys (root.json `keys`, a delegation's `keys`, or rebuilt certificate
 * keys); every role keyid must be in it (tuf/data BuildBaseRole), else TrustError('malformed').
 * Returns the key IDs whose signatures verified.
 */
export function verifySignatures(
  wrapper: SignedWrapperView,
  role: RoleThreshold,
  keys: ReadonlyMap<string, PublicKeyRecord> | Readonly<Record<string, PublicKeyRecord>>,
): ReadonlySet<string> {
  if (wrapper.signatures.length === 0) throw new TrustError('threshold', 'metadata has no signatures');
  if (!Number.isInteger(role.threshold) || role.threshold < 1) {
    throw new TrustError('threshold', `invalid role threshold ${role.threshold}`);
  }
  const map: ReadonlyMap<string, PublicKeyRecord> = keys instanceof Map ? keys : new Map(Object.entries(keys as Readonly<Record<string, PublicKeyRecord>>));
  const lookup = (id: string): PublicKeyRecord | undefined => map.get(id);
  const roleKeys = new Map<string, PublicKeyRecord>();
  for (const id of role.keyids) {
    const key = lookup(id);
    if (key === undefined) throw new TrustError('malformed', `role lists unknown key ${id}`);
    roleKeys.set(id, key);
  }
  const message = canonicalize(wrapper.signedValue);
  const valid = new Set<string>();
  for (const sig of wrapper.signatures) {
    const key = roleKeys.get(sig.keyid);
    if (key === undefined) continue;
    if (keyId(key) !== sig.keyid) {
      throw new TrustError('bad_key', `key ${sig.keyid} does not hash to its ID`);
    }
    if (valid.has(sig.keyid)) continue;
    if (isValidSignature(sig.method, key, sig.sig, message)) valid.add(sig.keyid);
  }
  if (valid.size < role.threshold) {
    throw new TrustError('threshold', `valid signatures did not meet threshold (${valid.size} of ${role.threshold})`);
  }
  return valid;
}
