import { ValidationError, bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import { isObject } from '../../registry/descriptors.js';
import { SIGNATURE_MEDIA_TYPES } from '../../registry/media-types.js';
import { Denial } from '../source.js';
import { checkEnvelopeClaim, checkMessageClaim, describeClaim, type CosignClaim } from './claims.js';
import { denialFor } from './denials.js';
import type { CosignPolicy } from './policy.js';
import { verifySignedBundle, type VerifiedSignature } from './verify-entity.js';

/**
 * A Sigstore bundle (v0.1, v0.2, v0.3: what cosign 3 attaches as an OCI referrer, and what
 * sigstore clients write) verified as a signature of `claim` under `policy`.
 */

/** The bundle media types sigstore-js and sigstore-go read; any other version is refused. */
const BUNDLE_MEDIA_TYPES: ReadonlySet<string> = new Set([
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV01Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV02Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03,
]);

/**
 * Verifies one bundle (`bundleJson`: its parsed JSON, unknown, already size-limited by the
 * caller) as a signature of `claim`: the signature and its signer under `policy` (verify-entity.ts),
 * then what it signs (claims.ts). Returns the signer and the evidence, or throws a Denial:
 * `bad_signature` (malformed, or the math fails), `untrusted_signer`, `identity_mismatch`,
 * `no_tlog_entry`, `claim_mismatch` (another digest, an attestation), `too_large`.
 * A message signature checked against an artifact's digest alone throws SignetError('UNSUPPORTED'):
 * node:crypto verifies over the signed bytes, never over a prehash (only the conformance suite asks).
 */
export function verifyBundle(bundleJson: unknown, claim: CosignClaim, policy: CosignPolicy): VerifiedSignature {
  const what = `the cosign bundle for ${describeClaim(claim)}`;
  try {
    const bundle = parseBundle(bundleJson);
    let artifact: Buffer | undefined;
    if (bundle.content.$case === 'messageSignature') {
      checkMessageClaim(bundle.content.messageSignature.messageDigest, claim);
      if ('artifactDigest' in claim) {
        throw new SignetError('UNSUPPORTED', `${what}: a message signature is verified over the artifact's bytes, not over its digest`);
      }
      if ('artifact' in claim) artifact = claim.artifact;
    }
    const verified = verifySignedBundle(bundle, artifact, policy);
    if (bundle.content.$case === 'dsseEnvelope') checkEnvelopeClaim(bundle.content.dsseEnvelope, claim);
    return verified;
  } catch (err) {
    if (err instanceof SignetError && !(err instanceof Denial)) throw err;
    throw denialFor(err, what);
  }
}

/** @sigstore/bundle's validation of untrusted JSON, with Signet's bounds; throws Denials. */
export function parseBundle(json: unknown): Bundle {
  if (!isObject(json)) throw new Denial('bad_signature', 'it is not a Sigstore bundle (not a JSON object)');
  const mediaType = json['mediaType'];
  if (typeof mediaType !== 'string' || !BUNDLE_MEDIA_TYPES.has(mediaType)) {
    throw new Denial(
      'bad_signature',
      `it is not a Sigstore bundle Signet reads (mediaType ${mediaType === undefined ? 'missing' : JSON.stringify(mediaType)}; v0.1 to v0.3 are)`,
    );
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
  } catch (err) {
    const fields = err instanceof ValidationError ? `: ${err.fields.join(', ')}` : '';
    throw new Denial('bad_signature', `it is not a valid Sigstore bundle (${errorMessage(err)}${fields})`, { cause: err });
  }
  const material = bundle.verificationMaterial;
  const counts = {
    'transparency-log entries': material.tlogEntries.length,
    'RFC 3161 timestamps': material.timestampVerificationData?.rfc3161Timestamps.length ?? 0,
    certificates: material.content.$case === 'x509CertificateChain' ? material.content.x509CertificateChain.certificates.length : 1,
  };
  for (const [what, count] of Object.entries(counts)) {
    if (count > DEFAULTS.signatureArtifactsMax)
      throw new Denial('too_large', `it carries ${count} ${what}, more than the ${DEFAULTS.signatureArtifactsMax} Signet reads`);
  }
  // A v0.1 bundle may carry an inclusion proof beside its promise; without its checkpoint it
  // proves nothing, and @sigstore/verify would fail reading it.
  const partial = material.tlogEntries.findIndex((e) => e.inclusionProof !== undefined && e.inclusionProof.checkpoint === undefined);
  if (partial >= 0) throw new Denial('bad_signature', `its transparency-log entry ${partial} has an inclusion proof without a checkpoint`);
  return bundle;
}
