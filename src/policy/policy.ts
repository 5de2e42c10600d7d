import { DEFAULTS } from '../config/defaults.js';
import type { Config, PolicyRuleConfig, RequirementSet } from '../config/load.js';
import type { PolicyMode } from '../config/schema.js';
import { SignetError } from '../errors.js';
import type { Provenance, ProvenanceRoot, ProvenanceStore } from '../cache/ports.js';
import { parseSignatureTag } from '../registry/signature-artifacts.js';
import { Denial, type Admission } from '../trust/source.js';
import type { AuditLog, DecisionKind } from './audit-log.js';
import { Decisions, type Allow, type Base, type DecisionObserver } from './decisions.js';
import { Lineage, type Standing, type VouchedKind } from './lineage.js';
import type { DigestRequest, ManifestFacts, ManifestLoader, RepositoryRequest, StaleManifest, TagLister, TagPage, TagRequest } from './requests.js';
import { describe, staleBecause, tagNames } from './messages.js';
import { admitDigest, admitTag, bindRequirements, pinsAgree, type BoundRequirement, type TrustSources } from './requirements.js';
import { compileRules, mostSpecific, type CompiledRule } from './rules.js';
import { admittedPage, judgedPage, type Judged, type ListingQuery } from './tag-listing.js';

export type { DecisionObserver } from './decisions.js';

export interface PolicyOptions {
  /** `trust.freshnessSeconds` bounds how long a verification holds before it is re-checked (default DEFAULTS.trustFreshnessSeconds). */
  config: Pick<Config, 'policy'> & { trust?: Pick<Config['trust'], 'freshnessSeconds'> };
  sources: TrustSources;
  provenance: ProvenanceStore;
  audit: AuditLog;
  observer?: DecisionObserver;
  clock?: () => number;
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

/**
 * The decision core: the only place that decides. For every request the proxy asks here first;
 * each answer — allowed, denied, or (audit mode) allowed-and-logged — is written to the audit
 * log and counted, exactly once per request. Denials are `Denial` errors (403 DENIED with
 * `detail.reason`), whoever found the problem: a trust source, or the bytes the proxy fetched
 * (a signed digest the upstream no longer has, a length other than the signed one).
 *
 * What a served manifest authorises is recorded here too (provenance): the children of a
 * verified index and the config and layers of a verified manifest may then be pulled by digest,
 * while the signature they descend from still vouches for them (lineage.ts: re-checked once the
 * trust freshness interval has passed).
 */
export class Policy {
  readonly #o: PolicyOptions;
  readonly #rules: Array<CompiledRule<PolicyRuleConfig>>;
  /** Requirements bound to their sources, once per rule (the config objects live as long as the policy). */
  readonly #bound = new WeakMap<RequirementSet, BoundRequirement[]>();
  readonly #lineage: Lineage;
  readonly #decisions: Decisions;
  readonly #clock: () => number;

  constructor(options: PolicyOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
    this.#decisions = new Decisions(options.audit, options.observer);
    this.#rules = compileRules(options.config.policy.rules);
    this.#lineage = new Lineage({
      provenance: options.provenance,
      freshnessMs: (options.config.trust?.freshnessSeconds ?? DEFAULTS.trustFreshnessSeconds) * 1000,
      clock: this.#clock,
    });
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

  /**
   * A manifest by tag: decides which digest the tag means and whether it may be served. When
   * the upstream cannot say (rate-limiting, failing, unreachable), the tag's last digest is
   * served from the cache if its verification still holds (#serveStale).
   */
  async manifestByTag<M extends ManifestFacts>(request: TagRequest, loader: ManifestLoader<M>): Promise<M> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#decisions.base(request, resolved, 'manifest', request.tag);
    try {
      return await this.#manifestByTag(request, resolved, base, loader);
    } catch (err) {
      // A denial was decided and recorded already; other failures decided nothing yet.
      const stale = err instanceof Denial ? undefined : await loader.lastKnown?.(request.tag, err);
      if (!stale) throw err;
      return this.#serveStale(request, resolved, base, stale, err);
    }
  }

  async #manifestByTag<M extends ManifestFacts>(request: TagRequest, resolved: ResolvedRule, base: Base, loader: ManifestLoader<M>): Promise<M> {
    if (resolved.mode === 'off') {
      const manifest = await loader.byTag(request.tag);
      return this.#served(request, manifest, 'unverified', base, { reason: 'policy_off', digest: manifest.digest });
    }
    // Signature artifacts stored under a tag (cosign's `sha256-<hex>.sig`, the referrers tag
    // schema) are served when the digest they are about is admitted.
    const tagged = parseSignatureTag(request.tag);
    const about = tagged?.subject;
    const aboutAdmitted = tagged && about ? await this.#admitted(request, resolved, about) : undefined;
    if (tagged && about && typeof aboutAdmitted === 'number') {
      const manifest = await loader.byTag(request.tag);
      // The referrers tag schema holds an index of referrers (each checked again when pulled);
      // cosign's tags hold one signature manifest.
      if (tagged.kind === 'referrers' ? manifest.isIndex : manifest.signatureArtifact) {
        return this.#served(
          request,
          manifest,
          'artifact',
          base,
          { reason: 'signature_artifact', message: `signature artifact of admitted ${about}`, digest: manifest.digest },
          [this.#vouched(request, 'artifact', about, aboutAdmitted)],
        );
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
      const digest = outcome.manifest.digest;
      return this.#served(
        request,
        outcome.manifest,
        'verified',
        base,
        { reason: 'signed', message: describe(outcome.admissions), digest, admissions: outcome.admissions },
        [this.#vouched(request, 'verified', digest, this.#confirmedAt(outcome.admissions), request.tag)],
      );
    }
    this.#decisions.refuse(resolved.mode, base, outcome.denial, outcome.manifest?.digest);
    // Audit mode: what an unchecked pull would get (the cache's, when the upstream fails).
    let manifest = outcome.manifest;
    if (!manifest) {
      try {
        manifest = await loader.byTag(request.tag);
      } catch (err) {
        const stale = await loader.lastKnown?.(request.tag, err);
        if (!stale) throw err;
        stale.served();
        manifest = stale.manifest;
      }
    }
    await this.#record(request, manifest, 'unverified');
    return manifest;
  }

  /**
   * The upstream failed to say what a tag means: its last digest is served from the cache when
   * the policy still admits it — the verification it was served under holds (fresh, or admitted
   * again) and no signature pins the tag to another digest. Under `off` it is served as is; under
   * `audit` it is served and logged as unverified. Otherwise the client gets the upstream's failure.
   */
  async #serveStale<M extends ManifestFacts>(request: TagRequest, resolved: ResolvedRule, base: Base, stale: StaleManifest<M>, failure: unknown): Promise<M> {
    const { manifest } = stale;
    const why = `upstream ${request.upstream} ${staleBecause(stale.reason)} (${stale.cause}): served ${manifest.digest}, the last digest of tag "${request.tag}", from the cache`;
    if (resolved.mode === 'off') {
      stale.served();
      return this.#served(request, manifest, 'unverified', base, { reason: 'served_stale', message: `${why} (policy off)`, digest: manifest.digest });
    }
    const subject = { registry: request.upstream, repository: request.repository, tag: request.tag };
    const standing = (await pinsAgree(resolved.require.combine, this.#bind(resolved.require), subject, manifest.digest))
      ? await this.#standing(request, resolved, manifest.digest, `manifest ${manifest.digest}`, ['verified', 'artifact'])
      : undefined;
    if (standing && !(standing instanceof Denial)) {
      stale.served();
      this.#decisions.allow(base, {
        reason: 'served_stale',
        message: `${why}: still vouched for by ${standing.roots.map((r) => r.digest).join(', ')}`,
        digest: manifest.digest,
      });
      return manifest;
    }
    if (standing instanceof Denial && standing.reason === 'digest_not_authorised') this.#decisions.refuse(resolved.mode, base, standing, manifest.digest);
    else if (resolved.mode !== 'audit') throw failure;
    else this.#decisions.refuse(resolved.mode, base, new Denial('digest_not_authorised', `${why} without a verification that still holds`), manifest.digest);
    stale.served();
    await this.#record(request, manifest, 'unverified');
    return manifest;
  }

  /** A manifest by digest: served when it descends from something admitted, is itself signed, or is a signature artifact of an admitted digest. */
  async manifestByDigest<M extends ManifestFacts>(request: DigestRequest, loader: ManifestLoader<M>): Promise<M> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#decisions.base(request, resolved, 'manifest', request.digest);
    const load = async (): Promise<M> => {
      const manifest = await loader.byDigest(request.digest);
      if (!manifest) throw new SignetError('MANIFEST_UNKNOWN', `manifest ${request.digest} not found at upstream ${request.upstream}`);
      return manifest;
    };
    if (resolved.mode === 'off') return this.#served(request, await load(), 'unverified', base, { reason: 'policy_off', digest: request.digest });
    const standing = await this.#standing(request, resolved, request.digest, `manifest ${request.digest}`, ['verified', 'artifact']);
    if (standing && !(standing instanceof Denial)) {
      const manifest = await load();
      if (standing.kind === 'verified') {
        return this.#served(
          request,
          manifest,
          'verified',
          base,
          { reason: 'provenance', message: 'descends from a verified manifest', digest: request.digest },
          standing.roots,
        );
      }
      if (manifest.signatureArtifact || manifest.isIndex)
        return this.#served(
          request,
          manifest,
          'artifact',
          base,
          { reason: 'signature_artifact', message: 'signature artifact of an admitted digest', digest: request.digest },
          standing.roots,
        );
    }
    const bound = this.#bind(resolved.require);
    const subject = { registry: request.upstream, repository: request.repository, digest: request.digest };
    const verdict = await admitDigest(resolved.require.combine, bound, subject);
    if (!(verdict instanceof Denial)) {
      return this.#served(
        request,
        await load(),
        'verified',
        base,
        { reason: 'signed', message: describe(verdict), digest: request.digest, admissions: verdict },
        [this.#vouched(request, 'verified', request.digest, this.#confirmedAt(verdict))],
      );
    }
    // Not signed itself: it may be a signature artifact whose subject is admitted (OCI 1.1 `subject`).
    const manifest = await loader.byDigest(request.digest);
    const subjectAdmitted = manifest?.subject && manifest.signatureArtifact ? await this.#admitted(request, resolved, manifest.subject) : undefined;
    if (manifest?.subject && typeof subjectAdmitted === 'number') {
      return this.#served(
        request,
        manifest,
        'artifact',
        base,
        { reason: 'signature_artifact', message: `signature artifact of admitted ${manifest.subject}`, digest: request.digest },
        [this.#vouched(request, 'artifact', manifest.subject, subjectAdmitted)],
      );
    }
    const revoked = standing instanceof Denial ? standing : undefined;
    const denial =
      verdict.reason === 'digest_not_signed'
        ? (revoked ??
          new Denial(
            'digest_not_authorised',
            `manifest ${request.digest} is not part of any verified image of ${resolved.subject}: pull it through a signed tag (or a signed digest) first`,
            { cause: verdict },
          ))
        : verdict;
    this.#decisions.refuse(resolved.mode, base, denial, request.digest);
    const served = manifest ?? (await load());
    await this.#record(request, served, 'unverified');
    return served;
  }

  /** A blob: only when it belongs to a manifest served for this repository whose signature still vouches for it. */
  async blob(request: DigestRequest): Promise<void> {
    await this.#decideDigest(
      request,
      'blob',
      async (resolved) => {
        const standing = await this.#standing(request, resolved, request.digest, `blob ${request.digest}`, ['verified', 'artifact']);
        if (!standing || standing instanceof Denial) return standing;
        return standing.kind === 'verified'
          ? { reason: 'provenance', message: 'blob of a verified manifest' }
          : { reason: 'signature_artifact', message: 'blob of a signature artifact of an admitted digest' };
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
        typeof (await this.#admitted(request, resolved, request.digest)) === 'number'
          ? { reason: 'provenance', message: 'referrers of an admitted digest' }
          : undefined,
      (subject) => `${request.digest} is not part of any verified image of ${subject}: its referrers are listed once it is admitted`,
    );
  }

  /** One decision about a digest that serves no manifest: off allows, `admit` allows (or says why not), else digest_not_authorised. */
  async #decideDigest(
    request: DigestRequest,
    kind: DecisionKind,
    admit: (resolved: ResolvedRule) => Promise<Omit<Allow, 'digest'> | Denial | undefined>,
    refusal: (subject: string) => string,
  ): Promise<void> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#decisions.base(request, resolved, kind, request.digest);
    const allowed = resolved.mode === 'off' ? { reason: 'policy_off' } : await admit(resolved);
    if (allowed && !(allowed instanceof Denial)) {
      this.#decisions.allow(base, { ...allowed, digest: request.digest });
      return;
    }
    this.#decisions.refuse(resolved.mode, base, allowed ?? new Denial('digest_not_authorised', refusal(resolved.subject)), request.digest);
  }

  /**
   * The tag list of a repository. `off`: the upstream's list as it is (undefined: pass it
   * through). `enforce`: only the tags a pull would be admitted for (tag-listing.ts), paginated
   * on the filtered list. `audit`: every tag, with the ones enforce would hide audited.
   */
  async tagList(request: RepositoryRequest, query: ListingQuery, lister: TagLister): Promise<TagPage | undefined> {
    const resolved = this.resolve(request.upstream, request.repository);
    const base = this.#decisions.base(request, resolved, 'tags', '');
    if (resolved.mode === 'off') {
      this.#decisions.allow(base, { reason: 'policy_off' });
      return undefined;
    }
    const bound = this.#bind(resolved.require);
    const subject = { registry: request.upstream, repository: request.repository };
    if (resolved.mode === 'audit') {
      const { page, judged } = await judgedPage(resolved.require.combine, bound, subject, query, lister);
      const hidden = judged.filter((j): j is Judged & { verdict: Denial } => j.verdict !== true);
      const first = hidden[0];
      if (!first) this.#decisions.allow(base, { reason: 'listing', message: `all ${judged.length} tags judged are admitted` });
      else
        this.#decisions.refuse(
          resolved.mode,
          base,
          new Denial(first.verdict.reason, `enforce would hide ${tagNames(hidden)} of ${judged.length} tags judged: ${first.verdict.message}`),
          undefined,
        );
      return page;
    }
    let listing;
    try {
      listing = await admittedPage(resolved.require.combine, bound, subject, query, lister);
    } catch (err) {
      if (err instanceof Denial) this.#decisions.refuse(resolved.mode, base, err, undefined);
      throw err;
    }
    const hidden = listing.judged.filter((j) => j.verdict !== true);
    this.#decisions.allow(base, {
      reason: 'listing',
      message: `${listing.page.tags.length} of ${listing.judged.length} tags judged are admitted${hidden.length > 0 ? `; hidden: ${tagNames(hidden)}` : ''}`,
    });
    return listing.page;
  }

  /** Whether `digest` is admitted for the repository: verified provenance that still vouches, or signed itself. */
  /** Whether `digest` is admitted: when the trust data that admits it was confirmed (epoch ms), or why not. */
  async #admitted(request: RepositoryRequest, resolved: ResolvedRule, digest: string): Promise<number | Denial> {
    // Verified provenance only: an artifact is not admitted because it is a signature of something.
    const standing = await this.#standing(request, resolved, digest, `manifest ${digest}`, ['verified']);
    if (standing && !(standing instanceof Denial)) return Math.min(...standing.roots.map((r) => r.verifiedAt));
    const verdict = await admitDigest(resolved.require.combine, this.#bind(resolved.require), {
      registry: request.upstream,
      repository: request.repository,
      digest,
    });
    return verdict instanceof Denial ? verdict : this.#confirmedAt(verdict);
  }

  /** The oldest confirmation behind a set of admissions: the whole answer is only as fresh as that. */
  #confirmedAt(admissions: readonly Admission[]): number {
    return Math.min(this.#clock(), ...admissions.map((a) => a.confirmedAt ?? Infinity));
  }

  /**
   * The provenance of `digest` (of the `kinds` asked about) while its roots still vouch: a stale
   * verified root is admitted again as a digest; a stale artifact root (the digest a signature
   * artifact is about) must still be admitted itself.
   */
  #standing(
    request: RepositoryRequest,
    resolved: ResolvedRule,
    digest: string,
    what: string,
    kinds: readonly VouchedKind[],
  ): Promise<Standing | Denial | undefined> {
    return this.#lineage.standing(request.upstream, request.repository, digest, what, kinds, async (kind, root) => {
      if (kind === 'artifact') return this.#admitted(request, resolved, root.digest);
      const verdict = await admitDigest(resolved.require.combine, this.#bind(resolved.require), {
        registry: request.upstream,
        repository: request.repository,
        digest: root.digest,
      });
      return verdict instanceof Denial ? verdict : this.#confirmedAt(verdict);
    });
  }

  /** A root admitted just now, as recorded under what it vouches for. */
  #vouched(request: RepositoryRequest, kind: VouchedKind, digest: string, confirmedAt: number, tag?: string): ProvenanceRoot {
    return {
      digest,
      ...(tag === undefined ? {} : { tag }),
      verifiedAt: this.#lineage.vouched(request.upstream, request.repository, kind, digest, confirmedAt),
    };
  }

  #bind(require: RequirementSet): BoundRequirement[] {
    let bound = this.#bound.get(require);
    if (!bound) {
      bound = bindRequirements(this.#o.sources, require);
      this.#bound.set(require, bound);
    }
    return bound;
  }

  async #served<M extends ManifestFacts>(
    request: RepositoryRequest,
    manifest: M,
    provenance: Provenance,
    base: Base,
    allow: Allow,
    roots: readonly ProvenanceRoot[] = [],
  ): Promise<M> {
    this.#decisions.allow(base, allow);
    await this.#record(request, manifest, provenance, roots);
    return manifest;
  }

  /**
   * What a served manifest authorises: itself and, unless it is an index of signature artifacts,
   * its children — each for as long as `roots` (what vouched for the manifest) still vouch.
   */
  async #record(request: RepositoryRequest, manifest: ManifestFacts, provenance: Provenance, roots: readonly ProvenanceRoot[] = []): Promise<void> {
    const children = provenance === 'artifact' && manifest.isIndex ? [] : manifest.children;
    await this.#o.provenance.record(
      request.upstream,
      request.repository,
      [manifest.digest, ...children],
      provenance,
      provenance === 'unverified' ? undefined : roots,
    );
  }
}
