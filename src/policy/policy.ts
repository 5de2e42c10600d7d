import type { Config, PolicyRuleConfig, RequirementSet } from '../config/load.js';
import type { PolicyMode } from '../config/schema.js';
import { SignetError } from '../errors.js';
import type { Provenance, ProvenanceStore } from '../cache/ports.js';
import { parseSignatureTag } from '../registry/signature-artifacts.js';
import { Denial, type Admission } from '../trust/source.js';
import type { AuditLog, AuditRecord, DecisionKind } from './audit-log.js';
import type { DigestRequest, ManifestFacts, ManifestLoader, RepositoryRequest, TagRequest } from './requests.js';
import { admitDigest, admitTag, bindRequirements, type BoundRequirement, type TrustSources } from './requirements.js';
import { compileRules, mostSpecific, type CompiledRule } from './rules.js';

/** Counts decisions (Prometheus `signet_policy_decisions_total{verdict,reason}`). */
export interface DecisionObserver {
  decision(verdict: AuditRecord['verdict'], reason: string): void;
}

export interface PolicyOptions {
  config: Pick<Config, 'policy'>;
  sources: TrustSources;
  provenance: ProvenanceStore;
  audit: AuditLog;
  observer?: DecisionObserver;
}

/** The rule that applies to `<upstream>/<repository>`. */
export interface ResolvedRule {
  /** `<upstream>/<repository>`. */
  subject: string;
  mode: PolicyMode;
  /** "policy.rules.<n>" or "policy.default". */
  path: string;
  rule: PolicyRuleConfig | undefined;
  require: RequirementSet;
}

type Base = Pick<AuditRecord, 'client' | 'upstream' | 'repository' | 'kind' | 'reference' | 'mode' | 'rule'>;
type Allow = { reason: string; message?: string; digest?: string; admissions?: readonly Admission[] };

/**
 * The decision core: the only place that decides. For every request the proxy asks here first;
 * each answer — allowed, denied, or (audit mode) allowed-and-logged — is written to the audit
 * log and counted, exactly once per request. Denials are `Denial` errors (403 DENIED with
 * `detail.reason`), whoever found the problem: a trust source, or the bytes the proxy fetched
 * (a signed digest the upstream no longer has, a length other than the signed one).
 *
 * What a served manifest authorises is recorded here too (provenance): the children of a
 * verified index and the config and layers of a verified manifest may then be pulled by digest.
 */
export class Policy {
  readonly #o: PolicyOptions;
  readonly #rules: Array<CompiledRule<PolicyRuleConfig>>;
  /** Requirements bound to their sources, once per rule (the config objects live as long as the policy). */
  readonly #bound = new WeakMap<RequirementSet, BoundRequirement[]>();

  constructor(options: PolicyOptions) {
    this.#o = options;
    this.#rules = compileRules(options.config.policy.rules);
  }

  resolve(upstream: string, repository: string): ResolvedRule {
    const subject = `${upstream}/${repository}`;
    const rule = mostSpecific(this.#rules, subject)?.rule;
    return {
      subject,
      mode: rule?.mode ?? this.#o.config.policy.default,
      path: rule ? `policy.rules.${rule.index}` : 'policy.default',
      rule,
      require: rule?.require ?? this.#o.config.policy.defaultRequire,
    };
  }

  /** A manifest by tag: decides which digest the tag means and whether it may be served. */
  async manifestByTag<M extends ManifestFacts>(request: TagRequest, loader: ManifestLoader<M>): Promise<M> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#base(request, resolved, 'manifest', request.tag);
    if (resolved.mode === 'off') {
      const manifest = await loader.byTag(request.tag);
      return this.#served(request, manifest, 'unverified', base, { reason: 'policy_off', digest: manifest.digest });
    }
    // Signature artifacts stored under a tag (cosign's `sha256-<hex>.sig`, the referrers tag
    // schema) are served when the digest they are about is admitted.
    const tagged = parseSignatureTag(request.tag);
    const about = tagged?.subject;
    if (tagged && about && (await this.#admitted(request, resolved, about))) {
      const manifest = await loader.byTag(request.tag);
      // The referrers tag schema holds an index of referrers (each checked again when pulled);
      // cosign's tags hold one signature manifest.
      if (tagged.kind === 'referrers' ? manifest.isIndex : manifest.signatureArtifact) {
        return this.#served(request, manifest, 'artifact', base, {
          reason: 'signature_artifact',
          message: `signature artifact of admitted ${about}`,
          digest: manifest.digest,
        });
      }
    }
    const bound = this.#bind(resolved.require);
    const where = resolved.subject;
    const outcome = await admitTag(
      resolved.require.combine,
      bound,
      { registry: request.upstream, repository: request.repository, tag: request.tag },
      loader,
      where,
    );
    if (outcome.admitted) {
      return this.#served(request, outcome.manifest, 'verified', base, {
        reason: 'signed',
        message: describe(outcome.admissions),
        digest: outcome.manifest.digest,
        admissions: outcome.admissions,
      });
    }
    this.#refuse(resolved, base, outcome.denial, outcome.manifest?.digest);
    // Audit mode: what an unchecked pull would get.
    const manifest = outcome.manifest ?? (await loader.byTag(request.tag));
    await this.#record(request, manifest, 'unverified');
    return manifest;
  }

  /** A manifest by digest: served when it descends from something admitted, is itself signed, or is a signature artifact of an admitted digest. */
  async manifestByDigest<M extends ManifestFacts>(request: DigestRequest, loader: ManifestLoader<M>): Promise<M> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#base(request, resolved, 'manifest', request.digest);
    const load = async (): Promise<M> => {
      const manifest = await loader.byDigest(request.digest);
      if (!manifest) throw new SignetError('MANIFEST_UNKNOWN', `manifest ${request.digest} not found at upstream ${request.upstream}`);
      return manifest;
    };
    if (resolved.mode === 'off') return this.#served(request, await load(), 'unverified', base, { reason: 'policy_off', digest: request.digest });
    const known = await this.#o.provenance.get(request.upstream, request.repository, request.digest);
    if (known === 'verified') {
      return this.#served(request, await load(), 'verified', base, {
        reason: 'provenance',
        message: 'descends from a verified manifest',
        digest: request.digest,
      });
    }
    if (known === 'artifact') {
      const manifest = await load();
      if (manifest.signatureArtifact || manifest.isIndex)
        return this.#served(request, manifest, 'artifact', base, {
          reason: 'signature_artifact',
          message: 'signature artifact of an admitted digest',
          digest: request.digest,
        });
    }
    const bound = this.#bind(resolved.require);
    const subject = { registry: request.upstream, repository: request.repository, digest: request.digest };
    const verdict = await admitDigest(resolved.require.combine, bound, subject);
    if (!(verdict instanceof Denial)) {
      return this.#served(request, await load(), 'verified', base, {
        reason: 'signed',
        message: describe(verdict),
        digest: request.digest,
        admissions: verdict,
      });
    }
    // Not signed itself: it may be a signature artifact whose subject is admitted (OCI 1.1 `subject`).
    const manifest = await loader.byDigest(request.digest);
    if (manifest?.subject && manifest.signatureArtifact && (await this.#admitted(request, resolved, manifest.subject))) {
      return this.#served(request, manifest, 'artifact', base, {
        reason: 'signature_artifact',
        message: `signature artifact of admitted ${manifest.subject}`,
        digest: request.digest,
      });
    }
    const denial =
      verdict.reason === 'digest_not_signed'
        ? new Denial(
            'digest_not_authorised',
            `manifest ${request.digest} is not part of any verified image of ${resolved.subject}: pull it through a signed tag (or a signed digest) first`,
            { cause: verdict },
          )
        : verdict;
    this.#refuse(resolved, base, denial, request.digest);
    const served = manifest ?? (await load());
    await this.#record(request, served, 'unverified');
    return served;
  }

  /** A blob: only when it belongs to a manifest served for this repository. */
  async blob(request: DigestRequest): Promise<void> {
    await this.#decideDigest(
      request,
      'blob',
      async () => {
        const known = await this.#o.provenance.get(request.upstream, request.repository, request.digest);
        if (known === 'verified') return { reason: 'provenance', message: 'blob of a verified manifest' };
        if (known === 'artifact') return { reason: 'signature_artifact', message: 'blob of a signature artifact of an admitted digest' };
        return undefined;
      },
      (subject) => `blob ${request.digest} is not part of any verified image of ${subject}: pull it through a signed tag (or a signed digest) first`,
    );
  }

  /** The referrers of a digest: listed when the digest itself is admitted. */
  async referrers(request: DigestRequest): Promise<void> {
    await this.#decideDigest(
      request,
      'referrers',
      async (resolved) =>
        (await this.#admitted(request, resolved, request.digest)) ? { reason: 'provenance', message: 'referrers of an admitted digest' } : undefined,
      (subject) => `${request.digest} is not part of any verified image of ${subject}: its referrers are listed once it is admitted`,
    );
  }

  /** One decision about a digest that serves no manifest: off allows, `admit` allows, else digest_not_authorised. */
  async #decideDigest(
    request: DigestRequest,
    kind: DecisionKind,
    admit: (resolved: ResolvedRule) => Promise<Omit<Allow, 'digest'> | undefined>,
    refusal: (subject: string) => string,
  ): Promise<void> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#base(request, resolved, kind, request.digest);
    const allowed = resolved.mode === 'off' ? { reason: 'policy_off' } : await admit(resolved);
    if (allowed) {
      this.#allow(base, { ...allowed, digest: request.digest });
      return;
    }
    this.#refuse(resolved, base, new Denial('digest_not_authorised', refusal(resolved.subject)), request.digest);
  }

  /** The tag list of a repository: names only, no content; allowed and recorded under every mode. */
  tagList(request: RepositoryRequest): void {
    const resolved = this.resolve(request.upstream, request.repository);
    this.#allow(this.#base(request, resolved, 'tags', ''), { reason: resolved.mode === 'off' ? 'policy_off' : 'listing' });
  }

  /** Whether `digest` is admitted for the repository: verified provenance, or signed itself. */
  async #admitted(request: RepositoryRequest, resolved: ResolvedRule, digest: string): Promise<boolean> {
    if ((await this.#o.provenance.get(request.upstream, request.repository, digest)) === 'verified') return true;
    const bound: BoundRequirement[] = this.#bind(resolved.require);
    const verdict = await admitDigest(resolved.require.combine, bound, { registry: request.upstream, repository: request.repository, digest });
    return !(verdict instanceof Denial);
  }

  #bind(require: RequirementSet): BoundRequirement[] {
    let bound = this.#bound.get(require);
    if (!bound) {
      bound = bindRequirements(this.#o.sources, require);
      this.#bound.set(require, bound);
    }
    return bound;
  }

  #base(request: RepositoryRequest, resolved: ResolvedRule, kind: DecisionKind, reference: string): Base {
    return { client: request.client, upstream: request.upstream, repository: request.repository, kind, reference, mode: resolved.mode, rule: resolved.path };
  }

  async #served<M extends ManifestFacts>(request: RepositoryRequest, manifest: M, provenance: Provenance, base: Base, allow: Allow): Promise<M> {
    this.#allow(base, allow);
    await this.#record(request, manifest, provenance);
    return manifest;
  }

  /** What a served manifest authorises: itself and, unless it is an index of signature artifacts, its children. */
  async #record(request: RepositoryRequest, manifest: ManifestFacts, provenance: Provenance): Promise<void> {
    const children = provenance === 'artifact' && manifest.isIndex ? [] : manifest.children;
    await this.#o.provenance.record(request.upstream, request.repository, [manifest.digest, ...children], provenance);
  }

  #allow(base: Base, allow: Allow): void {
    const admissions = allow.admissions ?? [];
    const signers = admissions.length > 0 ? [...new Set(admissions.flatMap((a) => a.signers))] : undefined;
    this.#emit({
      ...base,
      digest: allow.digest,
      verdict: 'allowed',
      reason: allow.reason,
      message: allow.message,
      signers,
      evidence: admissions.length > 0 ? admissions.flatMap((a) => a.evidence) : undefined,
      trust: admissions.find((a) => a.trust)?.trust,
    });
  }

  /** Enforce: records and throws the denial. Audit: records what would have been denied and returns. */
  #refuse(resolved: ResolvedRule, base: Base, denial: Denial, digest: string | undefined): void {
    const audited = resolved.mode === 'audit';
    this.#emit({
      ...base,
      digest,
      verdict: audited ? 'audited' : 'denied',
      reason: denial.reason,
      message: denial.message,
      signers: undefined,
      evidence: undefined,
      trust: undefined,
    });
    if (!audited) throw denial;
  }

  #emit(record: AuditRecord): void {
    this.#o.audit.record(record);
    this.#o.observer?.decision(record.verdict, record.reason);
  }
}

function describe(admissions: readonly Admission[]): string {
  return admissions
    .map((a) => {
      const role = a.evidence.find((e) => e.role)?.role;
      return `${a.format}: signed${role ? ` in ${role}` : ''}${a.signers.length ? ` by ${a.signers.join(', ')}` : ''}`;
    })
    .join('; ');
}
