import { SignetError } from '../../errors.js';
import type { CosignClaim } from './claims.js';
import { legacyBundle, verifyLegacySignature } from './legacy-signature.js';
import { prepareCosignPolicy, type CosignPolicy, type CosignPolicyInput } from './policy.js';
import type { CosignVerifier, LegacySignatureLayer, PreparedRequirement } from './verifier-port.js';
import { verifyBundle } from './verify-bundle.js';
import type { VerifiedSignature } from './verify-entity.js';

/**
 * Signet's offline cosign verification core, as the trust source uses it (verifier-port.ts):
 *
 *   const verifier = createSigstoreVerifier();
 *   const prepared = verifier.prepare(requirement);        // once per requirement; CONFIG_INVALID if unusable
 *   verifier.verifyBundle(bundleJson, digest, prepared);    // a cosign 3 bundle (referrer)
 *   verifier.verifyLegacy(layer, digest, prepared);         // a layer of the legacy `.sig` manifest
 *
 * Each verify call returns `{signer, evidence, logIndex?}` (signer: the pinned key's ID, or the
 * rule identity "<issuer> <subject>" that matched, so thresholds count distinct configured
 * signers) or throws a Denial (src/trust/source.ts) with its reason. Nothing here does I/O.
 * The lower-level functions (prepareCosignPolicy, verifyBundle with any claim,
 * verifyLegacySignature) are exported for callers that verify files rather than images.
 */

/** A requirement's prepared policy, opaque to the source. */
class PreparedCosignRequirement implements PreparedRequirement {
  constructor(
    readonly requirement: PreparedRequirement['requirement'],
    readonly policy: CosignPolicy,
  ) {}
}

export function createSigstoreVerifier(): CosignVerifier {
  return {
    prepare: (requirement) => new PreparedCosignRequirement(requirement, prepareCosignPolicy(requirement)),
    verifyBundle: (bundle, digest, prepared) => verifyBundle(bundle, { digest }, policyOf(prepared)),
    verifyLegacy: (layer, digest, prepared) => verifyLegacySignature(layer, { digest }, policyOf(prepared)),
  };
}

/** The policy behind a requirement this verifier prepared, for reports on its trust material (health.ts); undefined for another verifier's. */
export function preparedPolicy(prepared: PreparedRequirement): CosignPolicy | undefined {
  return prepared instanceof PreparedCosignRequirement ? prepared.policy : undefined;
}

function policyOf(prepared: PreparedRequirement): CosignPolicy {
  if (!(prepared instanceof PreparedCosignRequirement)) {
    throw new SignetError('INTERNAL', `${prepared.requirement.path}: the requirement was not prepared by this cosign verifier`);
  }
  return prepared.policy;
}

export { prepareCosignPolicy, verifyBundle, verifyLegacySignature, legacyBundle };
export type { CosignClaim, CosignPolicy, CosignPolicyInput, LegacySignatureLayer, VerifiedSignature };
