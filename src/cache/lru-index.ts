import { DEFAULTS } from '../config/defaults.js';

/** What a content backend holds: blobs and manifests share one index and one byte limit. */
export type ContentNamespace = 'blobs' | 'manifests';

export interface IndexEntry {
  namespace: ContentNamespace;
  digest: string;
  size: number;
  /** Epoch ms of the last use recorded in the backend (a disk backend: the file's mtime). */
  touchedAt: number;
}

/** Called for each entry evicted to honour the byte limit (metrics). */
export type EvictionListener = (namespace: ContentNamespace, digest: string, size: number) => void;

/**
 * The least-recently-used order of a content backend, and the bytes it holds. Pure
 * bookkeeping: the backends do the I/O. One index spans blobs and manifests so that one
 * limit (`storage.maxBytes`) bounds both, as distribution's cache and Signet always did.
 *
 * A Map keeps insertion order; moving an entry to the end on every use makes its first entry
 * the least recently used one.
 */
export class LruIndex {
  readonly #entries = new Map<string, IndexEntry>();
  readonly #clock: () => number;
  #totalBytes = 0;

  constructor(clock: () => number) {
    this.#clock = clock;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  get size(): number {
    return this.#entries.size;
  }

  get(namespace: ContentNamespace, digest: string): IndexEntry | undefined {
    return this.#entries.get(key(namespace, digest));
  }

  /** Adds or replaces an entry as the most recently used one. */
  set(namespace: ContentNamespace, digest: string, size: number, touchedAt = this.#clock()): void {
    this.delete(namespace, digest);
    this.#entries.set(key(namespace, digest), { namespace, digest, size, touchedAt });
    this.#totalBytes += size;
  }

  /**
   * Marks an entry as just used. Returns true when the backend should persist the new time:
   * at most once per `accessTouchIntervalMs`, so a hot blob does not cost a write per request.
   */
  touch(namespace: ContentNamespace, digest: string): boolean {
    const k = key(namespace, digest);
    const entry = this.#entries.get(k);
    if (!entry) return false;
    this.#entries.delete(k);
    this.#entries.set(k, entry);
    const now = this.#clock();
    if (now - entry.touchedAt < DEFAULTS.accessTouchIntervalMs) return false;
    entry.touchedAt = now;
    return true;
  }

  delete(namespace: ContentNamespace, digest: string): IndexEntry | undefined {
    const k = key(namespace, digest);
    const entry = this.#entries.get(k);
    if (!entry) return undefined;
    this.#entries.delete(k);
    this.#totalBytes -= entry.size;
    return entry;
  }

  /**
   * Removes least recently used entries until the total fits in `maxBytes` and returns them,
   * oldest first. The removal is synchronous, so concurrent evictions never pick one entry twice.
   */
  takeOverflow(maxBytes: number): IndexEntry[] {
    const taken: IndexEntry[] = [];
    for (const entry of this.#entries.values()) {
      if (this.#totalBytes <= maxBytes) break;
      this.delete(entry.namespace, entry.digest);
      taken.push(entry);
    }
    return taken;
  }

  /** Entries from least to most recently used (for tests and diagnostics). */
  keys(): Array<{ namespace: ContentNamespace; digest: string }> {
    return [...this.#entries.values()].map((e) => ({ namespace: e.namespace, digest: e.digest }));
  }
}

function key(namespace: ContentNamespace, digest: string): string {
  return `${namespace}/${digest}`;
}
