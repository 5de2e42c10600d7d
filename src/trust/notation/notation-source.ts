import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import type { NotationRequirements } from '../../config/load.js';
import { SignetError, errorMessage } from '../../errors.js';
import type { ReferrerDescriptor, SignatureFetcher } from '../../registry/referrers.js';
import { SIGNATURE_MEDIA_TYPES } from '../../registry/media-types.js';
import type { VerdictStore } from '../../cache/ports.js';
import { DigestVerdicts } from '../digest-verdicts.js';
import { mostTelling } from '../most-telling.js';
import type { TrustHealthItem } from '../health.js';
import { Denial, type Admission, type DenyReason, type Evidence, type Subject, type TrustSource } from '../source.js';
import { readNotationEnvelope } from './artifacts.js';
import { NotationError, type NotationErrorCode } from './errors.js';
import { SigningChains } from './health.js';
import { prepareNotation, type PreparedNotation } from './prepare.js';
import { selectStatement } from './trust-policy.js';
import type { RevocationChecker, TrustPolicyStatement } from './types.js';
import { verifySignature, type TargetDescriptor, type VerifiedSignature } from './verifier.js';

export interface NotationSourceOptions {
  /** The signature-fetching port of a configured upstream; undefined for an unknown one. */
  fetcherFor: (registry: string) => SignatureFetcher | undefined;
  /** OCSP and CRL checks; undefined: every status is unknown. */
  revocation: RevocationChecker | undefined;
  logger: Logger;
  /** Seconds a verified verdict is reused before the signatures are fetched and checked again. */
  freshnessSeconds: number;
  /** Seconds a denial is reused. */
  deniedCacheSeconds: number;
  clock?: () => number;
  /** Replicas: verified verdicts shared with the others. */
  verdicts?: VerdictStore;
}

/** One signature as `inspect` reports it. */
export interface InspectedNotationSignature {
  artifact: { digest: string; source: ReferrerDescriptor['source']; tag: string | undefined };
  outcome: { ok: true; signature: VerifiedSignature } | { ok: false; reason: DenyReason; message: string };
}

const REASONS: Readonly<Record<NotationErrorCode, DenyReason>> = {
  malformed: 'bad_signature',
  integrity: 'bad_signature',
  certificate: 'untrusted_signer',
  authenticity: 'untrusted_signer',
  identity: 'identity_mismatch',
  target_mismatch: 'claim_mismatch',
  expiry: 'expired',
  timestamp: 'untrusted_signer',
  revoked: 'revoked',
  revocation_unknown: 'revocation_unknown',
  too_large: 'too_large',
};

/** When no signature admits the digest, the most telling reason wins (what the user must fix). */
const REASON_ORDER: readonly DenyReason[] = [
  'claim_mismatch',
  'identity_mismatch',
  'revoked',
  'expired',
  'revocation_unknown',
  'untrusted_signer',
  'bad_signature',
  'too_large',
  'malformed',
];

/**
 * Notation (Notary Project) as a trust source. Notation signs digests: the tag resolves at the
 * registry, and this source admits the digest when signatures of enough distinct signing
 * identities verify under the trust policy statement whose registry scope covers the
 * repository, with the trust stores it names — notation-go's verification, offline apart from
 * revocation checks. Signatures are OCI referrers of artifactType
 * `application/vnd.cncf.notary.signature` (the referrers API, else the referrers tag schema).
 */
export class NotationTrustSource implements TrustSource<NotationRequirements> {
  readonly format = 'notation';
  readonly #o: NotationSourceOptions;
  readonly #clock: () => number;
  readonly #verdicts: DigestVerdicts;
  readonly #prepared = new WeakMap<NotationRequirements, PreparedNotation>();
  readonly #signingChains = new SigningChains(DEFAULTS.notationChainsRemembered);

  constructor(options: NotationSourceOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#verdicts = new DigestVerdicts({
      format: 'notation',
      logger: options.logger,
      freshnessSeconds: options.freshnessSeconds,
      deniedCacheSeconds: options.deniedCacheSeconds,
      shared: options.verdicts,
      clock: this.#clock,
    });
  }

  /** Reads (once) the trust policy and trust stores of a requirement; a bad one is a config error naming it. */
  prepare(requirement: NotationRequirements): PreparedNotation {
    let prepared = this.#prepared.get(requirement);
    if (!prepared) {
      prepared = prepareNotation(requirement);
      this.#prepared.set(requirement, prepared);
    }
    return prepared;
  }

  async verify(subject: Subject, requirement: NotationRequirements): Promise<Admission> {
    const key = `${subject.registry}/${subject.repository}@${subject.digest} ${requirement.path}`;
    return this.#verdicts.admit(key, () => this.#verify(subject, requirement));
  }

  async #verify(subject: Subject, requirement: NotationRequirements): Promise<Admission> {
    const where = `${subject.registry}/${subject.repository}@${subject.digest}`;
    const statement = this.#statement(subject, requirement);
    if (statement.level === 'skip') {
      this.#o.logger.warn({ subject: where, statement: statement.name }, 'Notation verification skipped: the trust policy statement has level skip');
      return {
        format: 'notation',
        digest: subject.digest,
        signers: [],
        evidence: [{ format: 'notation', signer: `verification skipped by trust policy statement "${statement.name}"`, level: 'skip' }],
        trust: undefined,
      };
    }
    const examined = await this.#examine(subject, requirement, statement, where);
    if (examined.length === 0) {
      throw new Denial(
        'no_signature',
        `${where} has no Notation signature${requirement.repository ? ` in ${requirement.repository}` : ''}: sign it (notation sign) with a certificate of the trust stores of trust policy statement "${statement.name}"`,
      );
    }
    // Thresholds count distinct signing identities: one certificate subject signing twice is one signer.
    const signers = new Map<string, VerifiedSignature>();
    for (const e of examined) if (e.outcome.ok && !signers.has(e.outcome.signature.subject)) signers.set(e.outcome.signature.subject, e.outcome.signature);
    for (const s of signers.values()) {
      if (s.logged.length > 0)
        this.#o.logger.warn(
          { subject: where, signer: s.subject, level: s.level, logged: s.logged },
          'Notation checks failed under a level that only logs them',
        );
    }
    if (signers.size >= requirement.threshold) {
      for (const s of signers.values()) this.#signingChains.record(`${subject.registry}/${subject.repository}`, s.chain);
      return {
        format: 'notation',
        digest: subject.digest,
        signers: [...signers.keys()],
        evidence: [...signers.values()].map((v) => evidenceOf(v, statement)),
        trust: undefined,
      };
    }
    if (signers.size > 0) {
      throw new Denial(
        'threshold',
        `${where} is signed by ${signers.size} of the ${requirement.threshold} distinct signing identities ${requirement.path} requires ([${[...signers.keys()].join('; ')}])`,
      );
    }
    throw mostTelling(
      examined.flatMap((e) => (e.outcome.ok ? [] : [new Denial(e.outcome.reason, e.outcome.message)])),
      where,
      REASON_ORDER,
      'Notation',
    );
  }

  /** The signing chains of the signatures that admitted digests lately (up to notationChainsRemembered), for the console's trust health. */
  signingChains(): TrustHealthItem[] {
    return this.#signingChains.items();
  }

  /** Every signature found for the digest and what verification says of each, without deciding (`signet trust inspect`). */
  async inspect(subject: Subject, requirement: NotationRequirements): Promise<{ statement: TrustPolicyStatement; signatures: InspectedNotationSignature[] }> {
    const statement = this.#statement(subject, requirement);
    if (statement.level === 'skip') return { statement, signatures: [] };
    const signatures = await this.#examine(subject, requirement, statement, `${subject.registry}/${subject.repository}@${subject.digest}`);
    return { statement, signatures };
  }

  #statement(subject: Subject, requirement: NotationRequirements): TrustPolicyStatement {
    const { document } = this.prepare(requirement);
    const scope = `${subject.registry}/${subject.repository}`;
    const statement = selectStatement(document, scope);
    if (!statement) {
      throw new Denial(
        'no_trust_config',
        `no statement of the Notation trust policy ${requirement.trustPolicy.path} applies to ${scope}: add one whose registryScopes list "${scope}" (or "*")`,
      );
    }
    return statement;
  }

  async #examine(subject: Subject, requirement: NotationRequirements, statement: TrustPolicyStatement, where: string): Promise<InspectedNotationSignature[]> {
    const { stores } = this.prepare(requirement);
    const fetcher = this.#o.fetcherFor(subject.registry);
    if (!fetcher) throw new Denial('no_trust_config', `${subject.registry} is not an upstream of this Signet: its Notation signatures cannot be fetched`);
    const repository = requirement.repository ?? subject.repository;
    let target: TargetDescriptor;
    let listed: ReferrerDescriptor[];
    try {
      // What the registry serves under the digest: the payload must name exactly this (notation-go Verify).
      const manifest = await fetcher.manifest(subject.repository, subject.digest, DEFAULTS.manifestMaxBytes);
      target = { digest: subject.digest, mediaType: manifest.mediaType ?? '', size: manifest.bytes.length };
      listed = await fetcher.referrers(repository, subject.digest, { artifactType: SIGNATURE_MEDIA_TYPES.notationSignature });
    } catch (err) {
      throw asDenial(err, where);
    }
    const out: InspectedNotationSignature[] = [];
    for (const descriptor of listed.slice(0, DEFAULTS.signatureArtifactsMax)) {
      const artifact = { digest: descriptor.digest, source: descriptor.source, tag: descriptor.tag };
      try {
        const envelope = await readNotationEnvelope(fetcher, repository, descriptor, subject.digest);
        const signature = await verifySignature(envelope.bytes, envelope.mediaType, target, {
          statement,
          stores,
          revocation: this.#o.revocation,
          now: new Date(this.#clock()),
        });
        out.push({ artifact, outcome: { ok: true, signature } });
      } catch (err) {
        const denial = asDenial(err, `the Notation signature ${descriptor.digest} of ${where}`);
        if (denial.reason === 'signatures_unavailable') throw denial;
        out.push({ artifact, outcome: { ok: false, reason: denial.reason, message: denial.message } });
      }
    }
    return out;
  }
}

function evidenceOf(v: VerifiedSignature, statement: TrustPolicyStatement): Evidence {
  return {
    format: 'notation',
    signer: v.subject,
    key: v.identity,
    issuer: v.issuer,
    signedAt: v.timestamp?.genTime ?? v.signingTime,
    ...(v.timestamp ? { timestampAuthority: v.timestamp.tsa } : {}),
    level: `${v.level} (trust policy statement "${statement.name}")`,
    ...(v.logged.length > 0 ? { logged: v.logged.map((l) => `${l.check}: ${l.message}`) } : {}),
  };
}

/** Verification failures keep their reason; fetch failures are denials the client can read. */
function asDenial(err: unknown, what: string): Denial {
  if (err instanceof Denial) return err;
  if (err instanceof NotationError) return new Denial(REASONS[err.code], `${what}: ${err.message}`, { cause: err });
  if (err instanceof SignetError) {
    const code = String(err.code);
    if (code === 'too_large') return new Denial('too_large', `${what} is over Signet's limits: ${err.message}`, { cause: err });
    if (code === 'not_found' || code === 'malformed' || code === 'digest_mismatch')
      return new Denial('bad_signature', `${what} is unusable: ${err.message}`, { cause: err });
  }
  return new Denial(
    'signatures_unavailable',
    `the Notation signatures of ${what} could not be fetched: ${errorMessage(err)}; the pull is refused until they can be checked`,
    {
      cause: err,
    },
  );
}
