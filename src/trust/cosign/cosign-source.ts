import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import type { CosignRequirements } from '../../config/load.js';
import { SignetError, errorMessage } from '../../errors.js';
import type { ReferrerDescriptor, SignatureFetcher } from '../../registry/referrers.js';
import { SIGNATURE_MEDIA_TYPES } from '../../registry/media-types.js';
import { cosignTag } from '../../registry/signature-artifacts.js';
import type { VerdictStore } from '../../cache/ports.js';
import { DigestVerdicts } from '../digest-verdicts.js';
import { mostTelling } from '../most-telling.js';
import { Denial, type Admission, type DenyReason, type Evidence, type Subject, type TrustSource } from '../source.js';
import { readSignatureArtifact, type FoundSignature } from './artifacts.js';
import type { CosignVerifier, PreparedRequirement, VerifiedSignature } from './verifier-port.js';

export interface CosignSourceOptions {
  /** The signature-fetching port of a configured upstream; undefined for an unknown one. */
  fetcherFor: (registry: string) => SignatureFetcher | undefined;
  verifier: CosignVerifier;
  logger: Logger;
  /** Seconds a verified verdict is reused before the signatures are fetched and checked again. */
  freshnessSeconds: number;
  /** Seconds a denial (no signature, wrong signer, ...) is reused: pulls of unsigned images do not refetch every time. */
  deniedCacheSeconds: number;
  clock?: () => number;
  /** Replicas: verified verdicts shared with the others. */
  verdicts?: VerdictStore;
}

/** Bundle artifact types cosign 3 attaches (and the older `;version=` spellings sigstore-js reads). */
const BUNDLE_TYPES: ReadonlySet<string> = new Set([
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV01Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV02Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03Legacy,
]);

/** One signature as it was examined: verified, or refused with a denial. */
interface Examined {
  artifact: InspectedSignature['artifact'];
  kind: InspectedSignature['kind'];
  outcome: VerifiedSignature | Denial;
}

/** One signature as `inspect` reports it. */
export interface InspectedSignature {
  artifact: { digest: string; source: ReferrerDescriptor['source']; tag: string | undefined };
  kind: 'bundle' | 'legacy';
  outcome: { ok: true; signature: VerifiedSignature } | { ok: false; reason: DenyReason; message: string };
}

/** When no signature admits the digest, the most telling reason wins (what the user must fix). */
const REASON_ORDER: readonly DenyReason[] = [
  'claim_mismatch',
  'identity_mismatch',
  'no_tlog_entry',
  'untrusted_signer',
  'bad_signature',
  'too_large',
  'malformed',
];

/**
 * Sigstore cosign as a trust source. cosign signs digests: the tag resolved at the registry (by
 * digest, so no race), and this source admits the digest when enough distinct pinned keys or
 * identities signed it. Signatures are found through the signature-fetching port: cosign 3's
 * bundles as OCI referrers (the referrers API, else the referrers tag schema), and legacy
 * signatures under the tag `sha256-<hex>.sig`. Verification is offline, against the trust
 * material the rule pins. A verified verdict is kept per (repository, digest, requirement)
 * for `freshnessSeconds`; while the registry is unreachable it keeps being used.
 */
export class CosignTrustSource implements TrustSource<CosignRequirements> {
  readonly format = 'cosign';
  readonly #o: CosignSourceOptions;
  /** Verified verdicts for freshnessSeconds, denials apart for deniedCacheSeconds. */
  readonly #verdicts: DigestVerdicts;
  readonly #prepared = new WeakMap<CosignRequirements, PreparedRequirement>();

  constructor(options: CosignSourceOptions) {
    this.#o = options;
    this.#verdicts = new DigestVerdicts({
      format: 'cosign',
      logger: options.logger,
      freshnessSeconds: options.freshnessSeconds,
      deniedCacheSeconds: options.deniedCacheSeconds,
      shared: options.verdicts,
      clock: options.clock ?? Date.now,
    });
  }

  /** Builds (once) the trust material of a requirement; a bad key or trusted root is a config error. */
  prepare(requirement: CosignRequirements): PreparedRequirement {
    let prepared = this.#prepared.get(requirement);
    if (!prepared) {
      prepared = this.#o.verifier.prepare(requirement);
      this.#prepared.set(requirement, prepared);
    }
    return prepared;
  }

  async verify(subject: Subject, requirement: CosignRequirements): Promise<Admission> {
    const key = `${subject.registry}/${subject.repository}@${subject.digest} ${requirement.path}`;
    return this.#verdicts.admit(key, () => this.#verify(subject, requirement));
  }

  async #verify(subject: Subject, requirement: CosignRequirements): Promise<Admission> {
    const where = `${subject.registry}/${subject.repository}@${subject.digest}`;
    const examined = await this.#examine(subject, requirement, where);
    if (examined.length === 0) {
      throw new Denial(
        'no_signature',
        `${where} has no cosign signature${requirement.repository ? ` in ${requirement.repository}` : ''}: sign it (cosign sign) with one of the keys or identities of ${requirement.path}`,
      );
    }
    // Thresholds count distinct signers: one key signing twice is one signer.
    const signers = new Map<string, VerifiedSignature>();
    for (const e of examined) if (!(e.outcome instanceof Denial) && !signers.has(e.outcome.signer)) signers.set(e.outcome.signer, e.outcome);
    if (signers.size >= requirement.threshold) {
      const verified = [...signers.values()];
      return {
        format: 'cosign',
        digest: subject.digest,
        signers: verified.map((v) => v.signer),
        evidence: verified.map((v): Evidence => v.evidence),
        trust: undefined,
      };
    }
    if (signers.size > 0) {
      throw new Denial(
        'threshold',
        `${where} is signed by ${signers.size} of the ${requirement.threshold} distinct signers ${requirement.path} requires ([${[...signers.keys()].join(', ')}])`,
      );
    }
    throw mostTelling(
      examined.flatMap((e) => (e.outcome instanceof Denial ? [e.outcome] : [])),
      where,
      REASON_ORDER,
      'cosign',
    );
  }

  /**
   * Every signature found for the digest and what verification says of each, without deciding
   * (`signet trust inspect`): the operator sees signers, log entries and why a signature does
   * not count.
   */
  async inspect(subject: Subject, requirement: CosignRequirements): Promise<InspectedSignature[]> {
    const examined = await this.#examine(subject, requirement, `${subject.registry}/${subject.repository}@${subject.digest}`);
    return examined.map(({ artifact, kind, outcome }) => ({
      artifact,
      kind,
      outcome: outcome instanceof Denial ? { ok: false, reason: outcome.reason, message: outcome.message } : { ok: true, signature: outcome },
    }));
  }

  /** Finds the digest's signature artifacts (at most signatureArtifactsMax), reads and verifies each signature. */
  async #examine(subject: Subject, requirement: CosignRequirements, where: string): Promise<Examined[]> {
    const prepared = this.prepare(requirement);
    const fetcher = this.#o.fetcherFor(subject.registry);
    if (!fetcher) throw new Denial('no_trust_config', `${subject.registry} is not an upstream of this Signet: its cosign signatures cannot be fetched`);
    const repository = requirement.repository ?? subject.repository;
    const out: Examined[] = [];
    for (const descriptor of (await this.#find(fetcher, repository, subject.digest, where)).slice(0, DEFAULTS.signatureArtifactsMax)) {
      const artifact = { digest: descriptor.digest, source: descriptor.source, tag: descriptor.tag };
      let signatures: FoundSignature[];
      try {
        signatures = await readSignatureArtifact(fetcher, repository, descriptor);
      } catch (err) {
        out.push({ artifact, kind: descriptor.source === 'tag' ? 'legacy' : 'bundle', outcome: asDenial(err, where) });
        continue;
      }
      for (const signature of signatures) {
        try {
          const verified =
            signature.kind === 'bundle'
              ? this.#o.verifier.verifyBundle(signature.bundle, subject.digest, prepared)
              : this.#o.verifier.verifyLegacy(signature.layer, subject.digest, prepared);
          out.push({ artifact, kind: signature.kind, outcome: verified });
        } catch (err) {
          out.push({ artifact, kind: signature.kind, outcome: asDenial(err, where) });
        }
      }
    }
    return out;
  }

  /** Bundles (referrers API or tag schema) and cosign's legacy `.sig` tag; attestations are left to the claim check. */
  async #find(fetcher: SignatureFetcher, repository: string, digest: string, where: string): Promise<ReferrerDescriptor[]> {
    let listed: ReferrerDescriptor[];
    try {
      listed = await fetcher.referrers(repository, digest, { tags: [cosignTag(digest, 'sig')] });
    } catch (err) {
      throw asDenial(err, where);
    }
    return listed.filter((d) => (d.source === 'tag' ? true : d.artifactType !== undefined && BUNDLE_TYPES.has(d.artifactType)));
  }
}

/** Fetch failures are denials the client can read; a signature that fails verification keeps its reason. */
function asDenial(err: unknown, where: string): Denial {
  if (err instanceof Denial) return err;
  if (err instanceof SignetError) {
    const code = String(err.code);
    if (code === 'too_large') return new Denial('too_large', `a signature artifact of ${where} is over Signet's limits: ${err.message}`, { cause: err });
    if (code === 'not_found' || code === 'malformed' || code === 'digest_mismatch') {
      return new Denial('bad_signature', `a signature artifact of ${where} is unusable: ${err.message}`, { cause: err });
    }
  }
  return new Denial(
    'signatures_unavailable',
    `the cosign signatures of ${where} could not be fetched: ${errorMessage(err)}; the pull is refused until they can be checked`,
    {
      cause: err,
    },
  );
}
