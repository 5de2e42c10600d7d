import { LRUCache } from 'lru-cache';
import type { Denial } from './source.js';

export interface DenialCacheOptions {
  /** Denials remembered at most (entries); beyond it the least recently used is forgotten. */
  max: number;
  /** How long a denial is reused (ms) unless `set` says otherwise; 0 remembers nothing: every request asks again. */
  ttlMs: number;
  clock?: () => number;
}

interface Remembered {
  denial: Denial;
  /** Clock time from which it is stale. */
  until: number;
}

/**
 * Denials a trust source found (no trust data, metadata that does not verify, no signature),
 * reused for a while so that a client repeating a denied pull costs no trust-server or registry
 * request each time. Kept apart from the verified states: a flood of requests for names that
 * are denied evicts other denials only, never what was verified (which would cost every
 * legitimate pull a round trip again). Bounded by entries, since the names come from clients.
 * Forgetting a denial early is safe: the name is checked again.
 */
export class DenialCache {
  readonly #entries: LRUCache<string, Remembered>;
  readonly #ttlMs: number;
  readonly #clock: () => number;

  constructor(options: DenialCacheOptions) {
    this.#entries = new LRUCache({ max: Math.max(1, options.max) });
    this.#ttlMs = options.ttlMs;
    this.#clock = options.clock ?? Date.now;
  }

  /** The denial remembered for `key`, while it is fresh. */
  get(key: string): Denial | undefined {
    const hit = this.#entries.get(key);
    if (!hit) return undefined;
    if (this.#clock() < hit.until) return hit.denial;
    this.#entries.delete(key);
    return undefined;
  }

  set(key: string, denial: Denial, ttlMs: number = this.#ttlMs): void {
    if (ttlMs <= 0) return;
    this.#entries.set(key, { denial, until: this.#clock() + ttlMs });
  }

  delete(key: string): void {
    this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
  }
}
