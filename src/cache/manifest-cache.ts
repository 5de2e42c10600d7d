import { readFile, writeFile } from 'node:fs/promises';
import { LRUCache } from 'lru-cache';
import { parseManifestReferences } from '../registry/manifest.js';
import type { ContentStore } from './content-store.js';

export interface CachedManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
  /** Digests this manifest authorises (index children, config and layers), parsed once. */
  children: readonly string[];
}

/**
 * Verified manifests: a byte-bounded in-memory LRU in front of the disk content store.
 * Only bytes whose digest was checked are ever put here.
 */
export class ManifestCache {
  readonly #memory: LRUCache<string, CachedManifest>;
  readonly #store: ContentStore;

  constructor(store: ContentStore, memoryBytes: number) {
    this.#store = store;
    this.#memory = new LRUCache<string, CachedManifest>({
      maxSize: Math.max(1, memoryBytes),
      sizeCalculation: (m) => Math.max(1, m.bytes.length),
    });
  }

  async get(digest: string): Promise<CachedManifest | undefined> {
    const hit = this.#memory.get(digest);
    if (hit) {
      this.#store.touch('manifests', digest);
      return hit;
    }
    if (!this.#store.has('manifests', digest)) return undefined;
    const path = this.#store.pathOf('manifests', digest);
    try {
      const [bytes, meta] = await Promise.all([readFile(path), readFile(`${path}.meta`, 'utf8')]);
      const parsed: unknown = JSON.parse(meta);
      const mediaType = typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>)['mediaType'] : undefined;
      if (typeof mediaType !== 'string') return undefined;
      const refs = parseManifestReferences(bytes, mediaType);
      const entry = { digest, mediaType, bytes, children: [...refs.manifests, ...refs.blobs] };
      this.#store.touch('manifests', digest);
      this.#memory.set(digest, entry);
      return entry;
    } catch {
      // Evicted between the check and the read, or a damaged sidecar: treat as a miss.
      return undefined;
    }
  }

  /** Stores verified manifest bytes (the caller checked the digest). */
  async put(entry: CachedManifest): Promise<void> {
    this.#memory.set(entry.digest, entry);
    const temp = await this.#store.createTemp();
    try {
      await temp.handle.writeFile(entry.bytes);
    } finally {
      await temp.handle.close();
    }
    await writeFile(`${this.#store.pathOf('manifests', entry.digest)}.meta`, JSON.stringify({ mediaType: entry.mediaType }));
    await this.#store.commit('manifests', entry.digest, temp.path, entry.bytes.length);
  }

  forget(digest: string): void {
    this.#memory.delete(digest);
  }
}
