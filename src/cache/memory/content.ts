import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError } from '../../errors.js';
import { parseDigest } from '../../registry/names.js';
import { checkRange } from '../content-range.js';
import { LruIndex, type ContentNamespace, type EvictionListener } from '../lru-index.js';
import type { BlobStore, ManifestStore, PendingBlob, StoredManifest, StoredRange } from '../ports.js';
import { MemoryPendingBlob } from './pending.js';
import { settle } from '../settle.js';

export interface MemoryContentOptions {
  /** Bytes of blobs and manifests held before the least recently used are evicted. */
  maxBytes: number;
  logger?: Logger;
  clock?: () => number;
  onEvict?: EvictionListener;
}

/**
 * The content backend in memory (tests, `signet check`): the contract of the disk backend,
 * one LRU index and one byte limit over blobs and manifests, nothing on disk. Stored buffers
 * are copies, so a caller reusing its buffer cannot change what is stored.
 */
export class MemoryContent {
  readonly blobs: MemoryBlobStore;
  readonly manifests: MemoryManifestStore;
  readonly #state: ContentState;

  constructor(options: MemoryContentOptions) {
    this.#state = new ContentState(options);
    this.blobs = new MemoryBlobStore(this.#state);
    this.manifests = new MemoryManifestStore(this.#state);
  }

  init(): Promise<void> {
    return settle(() => {
      this.#state.evict();
    });
  }

  get totalBytes(): number {
    return this.#state.index.totalBytes;
  }

  lruOrder(): Array<{ namespace: ContentNamespace; digest: string }> {
    return this.#state.index.keys();
  }
}

class ContentState {
  readonly index: LruIndex;
  readonly bytes = new Map<string, Buffer>();
  readonly mediaTypes = new Map<string, string>();
  readonly #maxBytes: number;
  readonly #logger: Logger | undefined;
  readonly #onEvict: EvictionListener | undefined;

  constructor(options: MemoryContentOptions) {
    this.index = new LruIndex(options.clock ?? Date.now);
    this.#maxBytes = options.maxBytes;
    this.#logger = options.logger;
    this.#onEvict = options.onEvict;
  }

  put(namespace: ContentNamespace, digest: string, bytes: Buffer): void {
    this.bytes.set(`${namespace}/${digest}`, bytes);
    this.index.set(namespace, digest, bytes.length);
    this.evict();
  }

  get(namespace: ContentNamespace, digest: string): Buffer | undefined {
    return this.index.get(namespace, digest) ? this.bytes.get(`${namespace}/${digest}`) : undefined;
  }

  delete(namespace: ContentNamespace, digest: string): void {
    this.index.delete(namespace, digest);
    this.bytes.delete(`${namespace}/${digest}`);
    if (namespace === 'manifests') this.mediaTypes.delete(digest);
  }

  evict(): void {
    for (const { namespace, digest, size } of this.index.takeOverflow(this.#maxBytes)) {
      this.delete(namespace, digest);
      this.#logger?.info({ digest, namespace, size }, 'evicted from cache');
      this.#onEvict?.(namespace, digest, size);
    }
  }
}

export class MemoryBlobStore implements BlobStore {
  readonly #state: ContentState;

  constructor(state: ContentState) {
    this.#state = state;
  }

  init(): Promise<void> {
    return settle(() => {
      this.#state.evict();
    });
  }

  get totalBytes(): number {
    return this.#state.index.totalBytes;
  }

  stat(digest: string): Promise<{ size: number } | undefined> {
    return settle(() => {
      parseDigest(digest);
      const entry = this.#state.index.get('blobs', digest);
      return entry ? { size: entry.size } : undefined;
    });
  }

  /** A reader keeps its bytes if the blob is evicted meanwhile, like an open file on disk. */
  openRead(digest: string, range?: StoredRange): Promise<Readable | undefined> {
    return settle(() => {
      parseDigest(digest);
      const bytes = this.#state.get('blobs', digest);
      if (!bytes) return undefined;
      const { start = 0, end = bytes.length - 1 } = checkRange(digest, bytes.length, range);
      this.#state.index.touch('blobs', digest);
      return Readable.from(chunks(bytes.subarray(start, end + 1)), { objectMode: false });
    });
  }

  touch(digest: string): void {
    this.#state.index.touch('blobs', digest);
  }

  createPending(): Promise<PendingBlob> {
    return settle(() => new MemoryPendingBlob(this.#state));
  }

  commit(pending: PendingBlob, digest: string, size: number): Promise<void> {
    return settle(() => {
      parseDigest(digest);
      if (!(pending instanceof MemoryPendingBlob) || pending.owner !== this.#state) {
        throw new SignetError('INTERNAL', `cannot commit ${digest}: the pending blob belongs to another store`);
      }
      if (pending.state !== 'writing') throw new SignetError('STORAGE_ERROR', `cannot commit ${digest}: the pending blob is already ${pending.state}`);
      if (pending.length !== size) {
        throw new SignetError('STORAGE_ERROR', `cannot commit ${digest}: ${pending.length} bytes were written, not ${size}`);
      }
      this.#state.put('blobs', digest, pending.takeForCommit());
    });
  }

  delete(digest: string): Promise<void> {
    return settle(() => {
      parseDigest(digest);
      this.#state.delete('blobs', digest);
    });
  }
}

export class MemoryManifestStore implements ManifestStore {
  readonly #state: ContentState;

  constructor(state: ContentState) {
    this.#state = state;
  }

  get(digest: string): Promise<StoredManifest | undefined> {
    return settle(() => {
      parseDigest(digest);
      const bytes = this.#state.get('manifests', digest);
      const mediaType = this.#state.mediaTypes.get(digest);
      if (!bytes || mediaType === undefined) return undefined;
      this.#state.index.touch('manifests', digest);
      return { digest, mediaType, bytes: Buffer.from(bytes) };
    });
  }

  put(manifest: StoredManifest): Promise<void> {
    return settle(() => {
      parseDigest(manifest.digest);
      this.#state.mediaTypes.set(manifest.digest, manifest.mediaType);
      this.#state.put('manifests', manifest.digest, Buffer.from(manifest.bytes));
    });
  }

  touch(digest: string): void {
    this.#state.index.touch('manifests', digest);
  }

  delete(digest: string): Promise<void> {
    return settle(() => {
      parseDigest(digest);
      this.#state.delete('manifests', digest);
    });
  }
}

function* chunks(bytes: Buffer): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += DEFAULTS.blobReadChunkBytes) yield bytes.subarray(i, i + DEFAULTS.blobReadChunkBytes);
}
