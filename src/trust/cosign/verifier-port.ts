import type { CosignRequirements } from '../../config/load.js';
import type { Evidence } from '../source.js';

/** A signature layer of cosign's legacy `.sig` manifest: the simple-signing payload and its annotations. */
export interface LegacySignatureLayer {
  payload: Buffer;
  annotations: Readonly<Record<string, string>>;
}

/** One signature that verified: who signed (a key ID or an identity) and the evidence shown to operators. */
export interface VerifiedSignature {
  signer: string;
  evidence: Evidence;
}

/** A requirement's trust material, built once: opaque to the source. */
export interface PreparedRequirement {
  readonly requirement: CosignRequirements;
}

/**
 * The offline verification core as the source uses it. Each call verifies one signature of
 * `digest` (signature math, trust material, identity, transparency log, and the claim) and
 * returns its signer, or throws a `Denial` with the reason.
 */
export interface CosignVerifier {
  prepare(requirement: CosignRequirements): PreparedRequirement;
  verifyBundle(bundle: unknown, digest: string, prepared: PreparedRequirement): VerifiedSignature;
  verifyLegacy(layer: LegacySignatureLayer, digest: string, prepared: PreparedRequirement): VerifiedSignature;
}
