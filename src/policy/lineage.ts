import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../config/defaults.js';
import { Inflight } from '../cache/inflight.js';
import type { ProvenanceRoot, ProvenanceStore } from '../cache/ports.js';
import { Denial, type DenyReason } from '../trust/source.js';

/** The kinds of provenance that admit a digest. */
export type VouchedKind = 'verified' | 'artifact';

/** Where a digest stands while a root still vouches for it. */
export interface Standing {
  kind: VouchedKind;
  /** The roots vouching now, `verifiedAt` being when each was last found to vouch. */
  roots: ProvenanceRoot[];
}

/**
 * Asks the trust sources again whether `root` still vouches: the epoch ms their trust data was
 * last confirmed with its server (Admission.confirmedAt), or why not.
 */
export type Recheck = (kind: VouchedKind, root: ProvenanceRoot) => Promise<number | Denial>;

export interface LineageOptions {
  provenance: ProvenanceStore;
  /** `trust.freshnessSeconds` in ms: how long a verification holds before its root is re-checked. */
  freshnessMs: number;
  clock: () => number;
}

/**
 * Denials that say a re-check could not be made, not that the signature is gone: the digest is
 * refused for now, and its records are kept for the next try.
 */
const CANNOT_CHECK: ReadonlySet<DenyReason> = new Set<DenyReason>(['trust_unavailable', 'signatures_unavailable', 'trust_state_unreadable']);

/**
 * Revocation for provenance. A digest stays authorised only while a current signature vouches
 * for it, directly or through the verified manifest it descends from (its root). A root verified
 * less than the freshness interval ago vouches as recorded; an older one is re-checked by
 * admitting it again, the answer remembered (bounded) for the freshness interval so that the
 * layers of an image cost one trust check, not one each. A root no longer admitted is dropped
 * from every digest it vouched for. Freshness counts from when the trust sources last confirmed
 * their data with the server (Admission.confirmedAt), so a revoked digest is served at most one
 * freshness interval after its signature was removed (docs/ARCHITECTURE.md, "Provenance and
 * revocation").
 */
export class Lineage {
  readonly #o: LineageOptions;
  /** `<upstream> <repository> <kind> <root>` → epoch ms it was last found to vouch. */
  readonly #vouched = new LRUCache<string, number>({ max: DEFAULTS.provenanceRecheckEntries });
  readonly #rechecks = new Inflight<number | Denial>();

  constructor(options: LineageOptions) {
    this.#o = options;
  }

  /**
   * A root admitted just now (a signed tag or digest served), on trust data confirmed with its
   * server at `confirmedAt` (default: now): what it vouches for needs no re-check until one
   * freshness interval after that confirmation, not after this answer.
   */
  vouched(upstream: string, repository: string, kind: VouchedKind, root: string, confirmedAt?: number): number {
    const at = Math.min(confirmedAt ?? Infinity, this.#o.clock());
    this.#vouched.set(key(upstream, repository, kind, root), at);
    return at;
  }

  /**
   * Where `digest` stands: undefined when it has no provenance of the `kinds` asked about; a
   * Standing while a root vouches; a Denial when every root is gone (or cannot be re-checked
   * now). `what` names the digest in messages ("blob sha256:...").
   */
  async standing(
    upstream: string,
    repository: string,
    digest: string,
    what: string,
    kinds: readonly VouchedKind[],
    recheck: Recheck,
  ): Promise<Standing | Denial | undefined> {
    const entry = await this.#o.provenance.entry(upstream, repository, digest);
    if (!entry || entry.kind === 'unverified' || !kinds.includes(entry.kind)) return undefined;
    const kind = entry.kind;
    const roots = entry.roots.length > 0 ? entry.roots : [{ digest, verifiedAt: 0 }];
    const now = this.#o.clock();
    const fresh = (at: number | undefined): at is number => at !== undefined && now - at < this.#o.freshnessMs;
    const vouching: ProvenanceRoot[] = [];
    for (const root of roots) {
      const at = fresh(root.verifiedAt) ? root.verifiedAt : this.#vouched.get(key(upstream, repository, kind, root.digest));
      if (fresh(at)) vouching.push({ ...root, verifiedAt: at });
    }
    if (vouching.length > 0) return { kind, roots: vouching };

    // Every root is stale: the most recently verified first, until one still vouches.
    let gone: { root: ProvenanceRoot; denial: Denial } | undefined;
    let unchecked: Denial | undefined;
    for (const root of [...roots].sort((a, b) => b.verifiedAt - a.verifiedAt)) {
      const k = key(upstream, repository, kind, root.digest);
      const answer = await this.#rechecks.run(k, () => recheck(kind, root));
      if (typeof answer === 'number') {
        const at = Math.min(answer, this.#o.clock());
        this.#vouched.set(k, at);
        return { kind, roots: [{ ...root, verifiedAt: at }] };
      }
      if (CANNOT_CHECK.has(answer.reason)) {
        unchecked ??= answer;
        continue;
      }
      this.#vouched.delete(k);
      await this.#o.provenance.dropRoot(upstream, repository, root.digest);
      gone ??= { root, denial: answer };
    }
    if (unchecked) {
      return new Denial(unchecked.reason, `${what} was admitted through a signature that cannot be re-checked now: ${unchecked.message}`, { cause: unchecked });
    }
    const { root, denial } = gone as { root: ProvenanceRoot; denial: Denial };
    const via = root.digest === digest ? 'it' : `${root.digest}${root.tag === undefined ? '' : ` (tag "${root.tag}")`}, which it descends from,`;
    return new Denial(
      'digest_not_authorised',
      `${what} is no longer authorised for ${upstream}/${repository}: the signature that vouched for it is gone (${via} is no longer admitted: ${denial.message})`,
      { cause: denial },
    );
  }
}

function key(upstream: string, repository: string, kind: VouchedKind, root: string): string {
  return `${upstream} ${repository} ${kind} ${root}`;
}
