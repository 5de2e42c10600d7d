/**
 * The small per-file checks the updater applies after parseSigned and verifySignatures
 * (Notary: tuf/signed/verify.go VerifyExpiry / VerifyVersion, tuf/data/types.go CheckHashes).
 * All pure; the clock and the last trusted version are passed in.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { TrustError } from './errors.js';
import type { FileMeta, SignedCommon } from './metadata.js';

/**
 * verify.go IsExpired: metadata is expired when `expires` is before `now` (equal is still valid).
 * Throws TrustError('expired').
 */
export function checkNotExpired(role: string, signed: SignedCommon, now: Date): void {
  if (signed.expires.getTime() < now.getTime()) {
    throw new TrustError('expired', `${role} metadata expired at ${signed.expiresText}`);
  }
}

/**
 * verify.go VerifyVersion: a version lower than the last trusted one is a rollback (equal is
 * allowed). Throws TrustError('rollback').
 */
export function checkVersion(role: string, signed: SignedCommon, minVersion: number): void {
  if (signed.version < minVersion) {
    throw new TrustError('rollback', `${role} version ${signed.version} is lower than the trusted ${minVersion}`);
  }
}

/**
 * types.go CheckHashes: every listed sha256/sha512 must match `bytes` (constant-time compare),
 * other algorithms are ignored, and at least one of the two must be listed.
 * Throws TrustError('hash_mismatch').
 */
export function checkHashes(name: string, bytes: Uint8Array, meta: Pick<FileMeta, 'hashes'>): void {
  let checked = 0;
  for (const alg of ['sha256', 'sha512'] as const) {
    const want = meta.hashes.get(alg);
    if (want === undefined) continue;
    const got = createHash(alg).update(bytes).digest();
    if (want.length !== got.length || !timingSafeEqual(want, got)) {
      throw new TrustError('hash_mismatch', `${name}: ${alg} checksum mismatch`);
    }
    checked++;
  }
  if (checked === 0) throw new TrustError('hash_mismatch', `${name}: no sha256 or sha512 checksum to check`);
}

/**
 * The `length` of a FileMeta is a download cap (storage/httpstore.go limits the read):
 * more bytes than listed are refused. Throws TrustError('too_large').
 */
export function checkLength(name: string, byteLength: number, meta: Pick<FileMeta, 'length'>): void {
  if (byteLength > meta.length) {
    throw new TrustError('too_large', `${name}: ${byteLength} bytes, more than the ${meta.length} listed`);
  }
}
