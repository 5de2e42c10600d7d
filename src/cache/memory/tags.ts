import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import type { TagRecord, TagStore } from '../ports.js';
import { copyTagRecord } from '../tag-record.js';
import { settle } from '../settle.js';

/**
 * Tags in memory (tests, `signet check`), bounded like the disk store's memory: beyond
 * `memoryEntries` the least recently used tag is forgotten, which only costs a request to the
 * upstream (tags are not security state).
 */
export class MemoryTagStore implements TagStore {
  readonly #records: LRUCache<string, TagRecord>;

  constructor(options: { memoryEntries?: number } = {}) {
    this.#records = new LRUCache({ max: Math.max(1, options.memoryEntries ?? DEFAULTS.tagMemoryEntries) });
  }

  get(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    return settle(() => {
      const hit = this.#records.get(JSON.stringify([upstream, repository, tag]));
      return hit ? { ...hit } : undefined;
    });
  }

  set(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    return settle(() => {
      this.#records.set(JSON.stringify([upstream, repository, tag]), copyTagRecord(record));
    });
  }
}
