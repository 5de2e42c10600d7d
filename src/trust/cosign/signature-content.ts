import { createHash } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import type { SignedEntity } from '@sigstore/verify';
import { verifyWithKeyScheme } from './signature-scheme.js';

/** What @sigstore/verify checks a signature and log bodies with (its SignatureContent, not exported by name). */
type SignatureContent = SignedEntity['signature'];

/**
 * @sigstore/verify's view of what a bundle signed, with two corrections:
 * - the signature is checked with the scheme the key implies (signature-scheme.ts), over
 *   `signedBytes` (a message signature's artifact, a DSSE envelope's pre-authentication encoding);
 * - a DSSE envelope logged as a Rekor v2 `hashedrekord` entry records the digest of the
 *   pre-authentication encoding (rekor-v2 spec §6.1.4, "hashedrekord over DSSE"), which
 *   @sigstore/verify 3.x compares with the payload's digest and refuses (4.x compares the
 *   signed bytes' digest: bundle/dsse.ts compareSignedDigest). Either digest is accepted for an
 *   envelope: a log only accepts an entry whose signature verifies over the digest it records,
 *   and the signature bytes and the key must match the bundle's as well.
 */
export function signatureContentFor(bundle: Bundle, content: SignatureContent, signedBytes: Buffer): SignatureContent {
  const signature = content.signature;
  const dsse = bundle.content.$case === 'dsseEnvelope';
  const signedDigest = createHash('sha256').update(signedBytes).digest();
  return {
    signature,
    compareSignature: (other) => content.compareSignature(other),
    compareDigest: (digest) => content.compareDigest(digest) || (dsse && digest.equals(signedDigest)),
    verifySignature: (key) => verifyWithKeyScheme(key, signedBytes, signature),
  };
}
