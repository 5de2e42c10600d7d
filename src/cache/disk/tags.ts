import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import { isTag, printable } from '../../registry/names.js';
import type { TagRecord, TagStore } from '../ports.js';
import { copyTagRecord, parseTagRecord } from '../tag-record.js';
import { isNotFound, repositoryDir, writeFileAtomic } from './files.js';

export interface DiskTagStoreOptions {
  /** `<storage.path>/state`: tags live in `<root>/<upstream>/<repository>/_tags/<tag>`. */
  root: string;
  logger?: Logger;
  /** Tag answers held in memory (entries). */
  memoryEntries?: number;
}

/**
 * The last digest seen for each upstream/repository:tag, one small JSON file each, so a warm
 * cache can answer a tag while the upstream is unreachable. Tags are not security state (the
 * policy decides on what a digest is, not on this record): a record that cannot be read is
 * treated as absent, and logged.
 */
export class DiskTagStore implements TagStore {
  readonly #root: string;
  readonly #logger: Logger | undefined;
  readonly #memory: LRUCache<string, TagRecord>;

  constructor(options: DiskTagStoreOptions) {
    this.#root = options.root;
    this.#logger = options.logger;
    this.#memory = new LRUCache({ max: Math.max(1, options.memoryEntries ?? DEFAULTS.tagMemoryEntries) });
  }

  #path(upstream: string, repository: string, tag: string): string {
    if (!isTag(tag)) throw new SignetError('INTERNAL', `refusing to build a storage path from tag "${printable(tag)}"`);
    // A tag never starts with "." and `_tags` is no repository component: no name collides.
    return join(repositoryDir(this.#root, upstream, repository), '_tags', tag);
  }

  async get(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    const path = this.#path(upstream, repository, tag);
    const key = JSON.stringify([upstream, repository, tag]);
    const hit = this.#memory.get(key);
    if (hit) return { ...hit };
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      if (!isNotFound(err)) this.#logger?.warn({ upstream, repository, tag, err: errorMessage(err) }, 'tag record cannot be read; treated as absent');
      return undefined;
    }
    const record = parseTagRecord(text);
    if (!record) {
      this.#logger?.warn({ upstream, repository, tag, path }, 'tag record is damaged; treated as absent');
      return undefined;
    }
    this.#memory.set(key, record);
    return { ...record };
  }

  async set(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    const path = this.#path(upstream, repository, tag);
    const copy = copyTagRecord(record);
    this.#memory.set(JSON.stringify([upstream, repository, tag]), copy);
    try {
      await writeFileAtomic(path, JSON.stringify(copy));
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot save tag ${upstream}/${repository}:${tag}: ${errorMessage(err)}`, { cause: err });
    }
  }
}
