import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import { parseDigest } from '../../registry/names.js';
import type { Provenance, ProvenanceEntry, ProvenanceRoot, ProvenanceStore } from '../ports.js';
import { applyDrop, applyRecord, snapshot, validateRecord, type Entries } from '../provenance-entries.js';
import { settle } from '../settle.js';

/**
 * Provenance in memory (tests, `signet check`). Bounded like the disk store's memory, by
 * repositories: a forgotten repository has no provenance, so its digest pulls are denied until
 * its tags are pulled again — the safe direction.
 */
export class MemoryProvenanceStore implements ProvenanceStore {
  readonly #repositories: LRUCache<string, Entries>;
  readonly #clock: () => number;

  constructor(options: { memoryRepositories?: number; clock?: () => number } = {}) {
    this.#repositories = new LRUCache({ max: Math.max(1, options.memoryRepositories ?? DEFAULTS.provenanceMemoryRepositories) });
    this.#clock = options.clock ?? Date.now;
  }

  get(upstream: string, repository: string, digest: string): Promise<Provenance | undefined> {
    return settle(() => this.#entries(upstream, repository)?.get(digest)?.kind);
  }

  entry(upstream: string, repository: string, digest: string): Promise<ProvenanceEntry | undefined> {
    return settle(() => snapshot(this.#entries(upstream, repository)?.get(digest)));
  }

  record(upstream: string, repository: string, digests: readonly string[], provenance: Provenance, roots?: readonly ProvenanceRoot[]): Promise<void> {
    return settle(() => {
      validateRecord(digests, roots);
      const key = JSON.stringify([upstream, repository]);
      let entries = this.#repositories.get(key);
      if (!entries) {
        entries = new Map();
        this.#repositories.set(key, entries);
      }
      applyRecord(entries, digests, provenance, roots, this.#clock());
    });
  }

  dropRoot(upstream: string, repository: string, root: string): Promise<void> {
    return settle(() => {
      parseDigest(root);
      const entries = this.#entries(upstream, repository);
      if (entries) applyDrop(entries, root);
    });
  }

  #entries(upstream: string, repository: string): Entries | undefined {
    return this.#repositories.get(JSON.stringify([upstream, repository]));
  }
}
