import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import { parseDigest } from '../../registry/names.js';
import type { Provenance, ProvenanceStore } from '../ports.js';
import { raisedDigests } from '../provenance-kind.js';
import { settle } from '../settle.js';

/**
 * Provenance in memory (tests, `signet check`). Bounded like the disk store's memory, by
 * repositories: a forgotten repository has no provenance, so its digest pulls are denied until
 * its tags are pulled again — the safe direction.
 */
export class MemoryProvenanceStore implements ProvenanceStore {
  readonly #repositories: LRUCache<string, Map<string, Provenance>>;

  constructor(options: { memoryRepositories?: number } = {}) {
    this.#repositories = new LRUCache({ max: Math.max(1, options.memoryRepositories ?? DEFAULTS.provenanceMemoryRepositories) });
  }

  get(upstream: string, repository: string, digest: string): Promise<Provenance | undefined> {
    return settle(() => {
      return this.#repositories.get(JSON.stringify([upstream, repository]))?.get(digest);
    });
  }

  record(upstream: string, repository: string, digests: readonly string[], provenance: Provenance): Promise<void> {
    return settle(() => {
      for (const d of digests) parseDigest(d);
      const key = JSON.stringify([upstream, repository]);
      let entries = this.#repositories.get(key);
      if (!entries) {
        entries = new Map();
        this.#repositories.set(key, entries);
      }
      for (const d of raisedDigests(entries, digests, provenance)) entries.set(d, provenance);
    });
  }
}
