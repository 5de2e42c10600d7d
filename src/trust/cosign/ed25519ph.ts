import { createHash, type KeyObject } from 'node:crypto';
import { Point } from '@noble/ed25519';

/**
 * Ed25519ph verification (RFC 8032 §5.1: HashEdDSA, SHA-512 pre-hash, empty context). cosign
 * signs with Ed25519ph whenever the key is Ed25519 (cosign pkg/cosign/keys.go
 * GetDefaultLoadOptions: "the only available option for hashedrekord entries"), and Node's crypto
 * knows pure Ed25519 only. The check is Go's crypto/ed25519 VerifyWithOptions, as cosign runs it:
 * S canonical (< L), cofactorless, encode([S]B − [k]A) equal to the R bytes.
 */

/** dom2(phflag = 1, context = ""): RFC 8032 §2. */
const DOM2_PH = Buffer.concat([Buffer.from('SigEd25519 no Ed25519 collisions', 'latin1'), Buffer.from([1, 0])]);
/** The order L of the Ed25519 base point: 2^252 + 27742317777372353535851937790883648493. */
const ORDER = 2n ** 252n + 27742317777372353535851937790883648493n;
/** RFC 8032 §5.1.6: a signature is R (32 bytes) || S (32 bytes). */
const SIGNATURE_BYTES = 64;

/** True when `signature` is an Ed25519ph signature of `message` by the Ed25519 `publicKey`. */
export function verifyEd25519ph(publicKey: KeyObject, message: Uint8Array, signature: Uint8Array): boolean {
  if (publicKey.asymmetricKeyType !== 'ed25519' || signature.length !== SIGNATURE_BYTES) return false;
  const x = publicKey.export({ format: 'jwk' }).x;
  if (typeof x !== 'string') return false;
  const raw = Buffer.from(x, 'base64url');
  const rBytes = signature.subarray(0, 32);
  const s = littleEndian(signature.subarray(32));
  if (s >= ORDER) return false;
  let a: Point;
  try {
    a = Point.fromBytes(raw, true);
  } catch {
    return false;
  }
  const prehash = createHash('sha512').update(message).digest();
  const k = littleEndian(createHash('sha512').update(DOM2_PH).update(rBytes).update(raw).update(prehash).digest()) % ORDER;
  const r = Point.BASE.multiply(s, false).subtract(a.multiply(k, false));
  return Buffer.from(r.toBytes()).equals(rBytes);
}

function littleEndian(bytes: Uint8Array): bigint {
  return BigInt('0x' + (Buffer.from(bytes).reverse().toString('hex') || '0'));
}
