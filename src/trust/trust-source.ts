/**
 * The one interface every trust format implements (Notary v1 now; cosign and Notation later).
 * A source turns a repository's trust data into a verified view; the policy decides with it.
 */
export interface SignedTarget {
  /** "sha256:<hex>" of the manifest bytes. */
  digest: string;
  /** Length in bytes of the signed manifest. */
  size: number;
  /** The role (or signer identity) whose signed metadata holds the target. */
  role: string;
}

export interface VerifiedTrust {
  /** The name the trust data is published under (Notary: the GUN). */
  name: string;
  /** Role → metadata version, for the audit log. */
  versions: Record<string, number>;
  /** Role → expiry, for `trust inspect`. */
  expires: Record<string, Date>;
  /** The target a client of this format would pull for `tag` (Docker: releases, then targets). */
  chooseTarget(tag: string): SignedTarget | undefined;
  /** Signer name → what that signer signed for `tag` (Notary: delegation `targets/<name>`). */
  signersOf(tag: string): Map<string, SignedTarget>;
  /** Whether `digest` is itself a signed target under any tag. */
  isSignedDigest(digest: string): boolean;
  /** Every signed tag with the roles that sign it (for inspection). */
  listTargets(): Array<{ tag: string } & SignedTarget>;
  /** Keys by role, for inspection: role → [{id, type}]. */
  keys: Record<string, Array<{ id: string; type: string }>>;
}

export interface TrustRequest {
  /** Trust data name (Notary GUN), already expanded from the rule's template. */
  name: string;
}

export interface TrustSource<Options> {
  /**
   * Brings the trust data for `request.name` up to date (within the source's freshness
   * interval) and verifies it completely. Throws `SignetError('DENIED', ...)` with a
   * `detail.reason` naming what failed.
   */
  load(request: TrustRequest, options: Options): Promise<VerifiedTrust>;
}

/** Why a tag or digest was refused: the `reason` of audit lines, metrics and error details. */
export type DenyReason =
  | 'no_trust_config'
  | 'no_trust_data'
  | 'tag_not_signed'
  | 'digest_not_authorised'
  | 'signed_digest_unavailable'
  | 'size_mismatch'
  | 'expired'
  | 'threshold'
  | 'bad_signature'
  | 'required_signers'
  | 'root_not_pinned'
  | 'rollback'
  | 'hash_mismatch'
  | 'too_large'
  | 'malformed'
  | 'trust_unavailable';
