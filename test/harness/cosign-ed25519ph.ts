import { createHash, type KeyObject } from 'node:crypto';
import { Point } from '@noble/ed25519';

/**
 * Ed25519ph (RFC 8032 §5.1, HashEdDSA with SHA-512 and an empty context). cosign signs with it
 * whenever the key is Ed25519 (pkg/cosign/keys.go GetDefaultLoadOptions: "Cosign uses ED25519ph
 * by default for ED25519 keys"), for legacy signatures and bundles alike. Node's crypto has pure
 * Ed25519 only, so the curve arithmetic comes from @noble/ed25519.
 */

/** dom2(phflag = 1, context = ""): RFC 8032 §5.1. */
const DOM2_PH = Buffer.concat([Buffer.from('SigEd25519 no Ed25519 collisions', 'latin1'), Buffer.from([1, 0])]);
/** The order L of the Ed25519 base point. */
const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function sha512(...parts: Uint8Array[]): Buffer {
  const hash = createHash('sha512');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

function littleEndian(bytes: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(bytes).reverse().toString('hex') || '0'}`);
}

function toLittleEndian32(n: bigint): Buffer {
  return Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse();
}

/** The raw 32-byte seed and public key of a Node Ed25519 key pair (from its JWK). */
function rawKeys(privateKey: KeyObject): { seed: Buffer; publicKey: Buffer } {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'Ed25519' || typeof jwk.d !== 'string' || typeof jwk.x !== 'string') throw new Error('Ed25519ph needs an Ed25519 private key');
  return { seed: Buffer.from(jwk.d, 'base64url'), publicKey: Buffer.from(jwk.x, 'base64url') };
}

/** An Ed25519ph signature (64 bytes) of `message` (hashed here with SHA-512, as PH requires). */
export function signEd25519ph(privateKey: KeyObject, message: Uint8Array): Buffer {
  const { seed, publicKey } = rawKeys(privateKey);
  const h = sha512(seed);
  const head = Buffer.from(h.subarray(0, 32));
  // RFC 8032 §5.1.5: prune the buffer into the secret scalar.
  head[0] = (head[0] ?? 0) & 248;
  head[31] = ((head[31] ?? 0) & 127) | 64;
  const a = littleEndian(head);
  const ph = sha512(message);
  const r = littleEndian(sha512(DOM2_PH, h.subarray(32), ph)) % L;
  const R = Point.BASE.multiply(r, false).toBytes();
  const k = littleEndian(sha512(DOM2_PH, R, publicKey, ph)) % L;
  const s = (r + k * a) % L;
  return Buffer.concat([Buffer.from(R), toLittleEndian32(s)]);
}

/** Verifies an Ed25519ph signature with the raw 32-byte public key or a Node public KeyObject. */
export function verifyEd25519ph(publicKey: KeyObject | Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  let raw: Uint8Array;
  if (publicKey instanceof Uint8Array) {
    raw = publicKey;
  } else {
    const jwk = publicKey.export({ format: 'jwk' });
    if (jwk.crv !== 'Ed25519' || typeof jwk.x !== 'string') return false;
    raw = Buffer.from(jwk.x, 'base64url');
  }
  const s = littleEndian(signature.subarray(32));
  if (s >= L) return false;
  try {
    const A = Point.fromBytes(raw);
    const R = Point.fromBytes(signature.subarray(0, 32));
    const k = littleEndian(sha512(DOM2_PH, signature.subarray(0, 32), raw, sha512(message))) % L;
    // [S]B = R + [k]A (RFC 8032 §5.1.7, cofactorless as Go's crypto/ed25519).
    return Point.BASE.multiply(s, false).equals(R.add(A.multiply(k, false)));
  } catch {
    return false;
  }
}
