import { SignetError } from '../errors.js';

/**
 * The one interface every trust format implements (docs/ARCHITECTURE.md, "Trust sources"). A source
 * verifies a subject — an image digest of a repository, optionally reached through a tag —
 * against the requirement a policy rule sets for its format, and answers with evidence or a
 * typed denial. Formats that sign tags (Notary v1 / TUF) also have the optional capability
 * of pinning a tag: the signed digest decides what the tag means and the registry is never
 * asked. Formats that sign digests (cosign, Notation) reach the registry only through the
 * signature-fetching port (src/registry/referrers.ts).
 */

/** What is being verified: `<registry>/<repository>@<digest>`, reached through `tag` if given. */
export interface Subject {
  /** The configured upstream name ("docker.io", "registry.corp:5000"). */
  registry: string;
  repository: string;
  tag?: string;
  /** "sha256:<hex>" of the manifest bytes. */
  digest: string;
}

/** A repository of an upstream, as sources name it: `<registry>/<repository>`. */
export interface RepositorySubject {
  registry: string;
  repository: string;
}

export interface TagSubject {
  registry: string;
  repository: string;
  tag: string;
}

/** Who vouched for a digest, and how: one entry per distinct signer. */
export interface Evidence {
  /** The format that produced it ("notary", "cosign", ...). */
  format: string;
  /** The signer as policies name it: a Notary role or delegation, a key ID, an identity. */
  signer: string;
  /** Notary: the role whose signed metadata holds the target. */
  role?: string;
  /** A key ID, or a certificate identity `{issuer, subject}` rendered as text. */
  key?: string;
  /** The OIDC issuer of a keyless signer's certificate. */
  issuer?: string;
  /** When it was signed, if the format knows (a log's integrated time, a timestamp). */
  signedAt?: Date;
  /** The transparency-log index of the signature's entry, if it has one. */
  logIndex?: number;
  /** Notation: the timestamp authority whose countersignature dated the signature. */
  timestampAuthority?: string;
  /** Notation: the verification level of the trust policy statement that applied, and its name. */
  level?: string;
  /** Checks that failed but whose action is "log" (Notation permissive and audit levels). */
  logged?: string[];
}

/** The trust metadata a verdict rests on, for the audit log. */
export interface TrustProvenance {
  /** The name the trust data is published under (Notary: the GUN). */
  name: string;
  /** Role → metadata version. */
  versions: Record<string, number>;
  /** Roles accepted past their expiry under an offline upstream's grace (`offlineExpiryGraceDays`). */
  expiredAccepted?: string[];
}

/** A source's positive answer. */
export interface Admission {
  format: string;
  digest: string;
  /** Distinct signers that vouch for the digest. */
  signers: string[];
  evidence: Evidence[];
  trust: TrustProvenance | undefined;
  /**
   * Epoch ms the source last confirmed the trust data behind this answer with its server (a
   * Notary timestamp fetched, cosign signatures read); undefined: just now. Revocation counts
   * its freshness interval from here, not from when a cached answer was handed out.
   */
  confirmedAt?: number;
}

/** A tag pinned by a TUF-style source: the digest and length its signature names. */
export interface PinnedTag extends Admission {
  size: number;
  /** The role (or signer) whose metadata holds the target, for messages. */
  role: string;
}

export interface TrustSource<Requirement> {
  readonly format: string;
  /**
   * Admits `subject.digest` under `requirement`, or throws a `Denial`. Without `subject.tag`
   * the digest itself must be signed (under any name the format allows).
   */
  verify(subject: Subject, requirement: Requirement): Promise<Admission>;
  /** TUF-style sources only: the signed digest of a tag; throws a `Denial`. */
  pinTag?(subject: TagSubject, requirement: Requirement): Promise<PinnedTag>;
  /**
   * Sources whose trust data names the tags they sign (TUF-style): every tag `pinTag` would
   * admit under `requirement`, sorted, read from verified trust data alone (no registry call);
   * throws a `Denial` when the trust data itself is refused. Lets a tag listing show only
   * signed tags without resolving each at the registry.
   */
  signedTags?(subject: RepositorySubject, requirement: Requirement): Promise<string[]>;
  close?(): Promise<void>;
}

/** Why a pull was refused: the `reason` of audit lines, metrics and `detail.reason` of 403 bodies. */
export type DenyReason =
  | 'no_trust_config'
  | 'no_trust_data'
  | 'tag_not_signed'
  | 'digest_not_signed'
  | 'digest_not_authorised'
  | 'signed_digest_unavailable'
  | 'size_mismatch'
  | 'pin_conflict'
  | 'expired'
  | 'threshold'
  | 'bad_signature'
  | 'required_signers'
  | 'root_not_pinned'
  | 'rollback'
  | 'hash_mismatch'
  | 'too_large'
  | 'malformed'
  | 'trust_unavailable'
  | 'trust_state_unreadable'
  // Formats that sign digests (cosign, Notation):
  /** No signature of the digest was found (referrers, tag schema, format tags). */
  | 'no_signature'
  /** A signature was found but no pinned key or trusted certificate authority vouches for its signer. */
  | 'untrusted_signer'
  /** The signer's certificate identity (issuer, subject, extensions) is not one the rule names. */
  | 'identity_mismatch'
  /** The rule requires a transparency-log entry and the signature has none that verifies. */
  | 'no_tlog_entry'
  /** The signature is valid but claims another digest, or is an attestation rather than a signature. */
  | 'claim_mismatch'
  /** Signatures or signature artifacts could not be fetched from the registry. */
  | 'signatures_unavailable'
  /** A certificate of the signer's chain (or of its timestamp authority) is revoked (Notation: OCSP, CRL). */
  | 'revoked'
  /** The revocation status of a certificate could not be determined, and the trust policy enforces revocation checks. */
  | 'revocation_unknown';

/**
 * A refusal with its reason. It is an ordinary `SignetError('DENIED')` for the error
 * middleware (403 with `detail.reason`), and carries `reason` typed for the policy.
 */
export class Denial extends SignetError {
  readonly reason: DenyReason;

  constructor(reason: DenyReason, message: string, options: { cause?: unknown } = {}) {
    super('DENIED', message, { detail: { reason }, ...(options.cause === undefined ? {} : { cause: options.cause }) });
    this.name = 'Denial';
    this.reason = reason;
  }
}

export function isDenial(err: unknown): err is Denial {
  return err instanceof Denial;
}
