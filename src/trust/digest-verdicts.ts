import type { Logger } from 'pino';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../config/defaults.js';
import { Inflight } from '../cache/inflight.js';
import { DenialCache } from './denial-cache.js';
import type { VerdictStore } from '../cache/ports.js';
import { Denial, type Admission } from './source.js';

export interface DigestVerdictsOptions {
  /** The format, for log lines ("cosign", "notation"). */
  format: string;
  logger: Logger;
  /** Seconds a verified verdict is reused before the signatures are fetched and checked again. */
  freshnessSeconds: number;
  /** Seconds a denial is reused: pulls of unsigned images do not refetch every time. */
  deniedCacheSeconds: number;
  clock: () => number;
  /** Replicas: verified verdicts shared through this store (each replica keeps its own denials). */
  shared?: VerdictStore | undefined;
}

interface Verdict {
  admission: Admission;
  checkedAt: number;
}

/**
 * The verdict memory of a source that signs digests (cosign, Notation): a verified verdict per
 * (repository, digest, requirement) for freshnessSeconds, denials apart for deniedCacheSeconds
 * (names and digests come from clients, and a flood of denied ones must not evict what was
 * verified), one verification at a time per key. While the registry is unreachable
 * (`signatures_unavailable`) a verified verdict keeps being used; any other denial ends it (a
 * signature removed, a key or certificate no longer trusted).
 */
export class DigestVerdicts {
  readonly #o: DigestVerdictsOptions;
  readonly #verdicts: LRUCache<string, Verdict>;
  readonly #denied: DenialCache;
  readonly #inflight = new Inflight<Admission>();

  constructor(options: DigestVerdictsOptions) {
    this.#o = options;
    this.#verdicts = new LRUCache({ max: DEFAULTS.trustStateMemoryEntries });
    this.#denied = new DenialCache({ max: DEFAULTS.trustDenialMemoryEntries, ttlMs: options.deniedCacheSeconds * 1000, clock: options.clock });
  }

  async admit(key: string, verify: () => Promise<Admission>): Promise<Admission> {
    const denied = this.#denied.get(key);
    if (denied) throw denied;
    const cached = this.#verdicts.get(key);
    if (cached && this.#fresh(cached)) return { ...cached.admission, confirmedAt: cached.checkedAt };
    return this.#inflight.run(key, async () => {
      const shared = await this.#shared(key);
      if (shared) {
        this.#verdicts.set(key, shared);
        return { ...shared.admission, confirmedAt: shared.checkedAt };
      }
      try {
        const admission = await verify();
        const checkedAt = this.#o.clock();
        this.#verdicts.set(key, { admission, checkedAt });
        await this.#o.shared?.set(key, JSON.stringify({ admission, checkedAt }), this.#o.freshnessSeconds * 1000);
        return { ...admission, confirmedAt: checkedAt };
      } catch (err) {
        if (!(err instanceof Denial)) throw err;
        if (err.reason === 'signatures_unavailable') {
          // The registry is unreachable: what was verified stays verified until it can be asked again.
          if (cached) {
            this.#o.logger.warn({ subject: key, err: err.message }, `registry unreachable; using the last verified ${this.#o.format} verdict`);
            return { ...cached.admission, confirmedAt: cached.checkedAt };
          }
          throw err;
        }
        this.#verdicts.delete(key);
        this.#denied.set(key, err);
        throw err;
      }
    });
  }

  #fresh(verdict: Verdict): boolean {
    return this.#o.clock() - verdict.checkedAt < this.#o.freshnessSeconds * 1000;
  }

  /** Another replica's fresh verdict, when there is one that reads back whole. */
  async #shared(key: string): Promise<Verdict | undefined> {
    const text = await this.#o.shared?.get(key);
    if (text === undefined) return undefined;
    const verdict = parseVerdict(text);
    return verdict && this.#fresh(verdict) ? verdict : undefined;
  }
}

/** A verdict as `set` wrote it (JSON: evidence times as ISO text); undefined when it is not one. */
function parseVerdict(text: string): Verdict | undefined {
  try {
    const parsed = JSON.parse(text) as { admission?: Admission; checkedAt?: unknown };
    const { admission, checkedAt } = parsed;
    if (typeof checkedAt !== 'number' || typeof admission !== 'object' || !Array.isArray(admission.signers) || !Array.isArray(admission.evidence))
      return undefined;
    const evidence = admission.evidence.map((e) => (typeof e.signedAt === 'string' ? { ...e, signedAt: new Date(e.signedAt) } : e));
    return { admission: { ...admission, evidence }, checkedAt };
  } catch {
    return undefined;
  }
}
