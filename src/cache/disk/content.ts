import { open, type FileHandle } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import type { BufferPool } from '../buffer-pool.js';
import { checkRange } from '../content-range.js';
import type { BlobStore, PendingBlob, StoredRange } from '../ports.js';
import { settle } from '../settle.js';
import { ContentFiles, type ContentFilesOptions } from './content-files.js';
import { pooledFileStream } from './file-reader.js';
import { isNotFound } from './files.js';
import { DiskManifestStore } from './manifests.js';

export type DiskContentOptions = ContentFilesOptions & {
  /** Buffers for reading blobs, given back by the response writer (else one allocation per read). */
  buffers?: BufferPool;
};

/**
 * The disk content backend: blobs and manifests under one root, one LRU index and one byte
 * limit (`storage.maxBytes`) over both, evicting the least recently used first. Layout:
 * `<root>/blobs/<alg>/<hex>`, `<root>/manifests/<alg>/<hex>` with a `.meta` sidecar, and
 * `<root>/tmp` for writes not yet verified (emptied at start).
 */
export class DiskContent {
  readonly blobs: DiskBlobStore;
  readonly manifests: DiskManifestStore;
  readonly #files: ContentFiles;

  constructor(options: DiskContentOptions) {
    this.#files = new ContentFiles(options);
    this.blobs = new DiskBlobStore(this.#files, options.buffers);
    this.manifests = new DiskManifestStore(this.#files);
  }

  init(): Promise<void> {
    return this.#files.init();
  }

  get totalBytes(): number {
    return this.#files.index.totalBytes;
  }

  /** Waits for last-use times still being written, so the LRU order on disk is current. */
  flush(): Promise<void> {
    return this.#files.flush();
  }

  /** Content from least to most recently used (diagnostics and tests). */
  lruOrder(): Array<{ namespace: 'blobs' | 'manifests'; digest: string }> {
    return this.#files.index.keys();
  }
}

export class DiskBlobStore implements BlobStore {
  readonly #files: ContentFiles;
  readonly #buffers: BufferPool | undefined;

  constructor(files: ContentFiles, buffers: BufferPool | undefined) {
    this.#files = files;
    this.#buffers = buffers;
  }

  init(): Promise<void> {
    return this.#files.init();
  }

  get totalBytes(): number {
    return this.#files.index.totalBytes;
  }

  /** Answered from the index: no disk access for a HEAD. */
  stat(digest: string): Promise<{ size: number } | undefined> {
    return settle(() => {
      this.#files.pathOf('blobs', digest); // validates the digest like every other method
      const entry = this.#files.index.get('blobs', digest);
      return entry ? { size: entry.size } : undefined;
    });
  }

  /**
   * Opens the file before answering, so a blob evicted meanwhile is "absent" rather than a
   * stream that fails, and one evicted afterwards is still read to the end (POSIX unlink).
   */
  async openRead(digest: string, range?: StoredRange): Promise<Readable | undefined> {
    const path = this.#files.pathOf('blobs', digest);
    const entry = this.#files.index.get('blobs', digest);
    if (!entry) return undefined;
    const bounds = checkRange(digest, entry.size, range);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) {
        await this.#files.delete('blobs', digest).catch(() => undefined);
        return undefined;
      }
      throw new SignetError('STORAGE_ERROR', `cannot read cached blob ${digest}: ${errorMessage(err)}`, { cause: err });
    }
    this.#files.touch('blobs', digest);
    if (this.#buffers) return pooledFileStream(handle, bounds.start ?? 0, bounds.end ?? entry.size - 1, this.#buffers, `cached blob ${digest}`);
    return handle.createReadStream({ highWaterMark: DEFAULTS.blobReadChunkBytes, ...bounds });
  }

  touch(digest: string): void {
    this.#files.touch('blobs', digest);
  }

  createPending(): Promise<PendingBlob> {
    return this.#files.createPending();
  }

  commit(pending: PendingBlob, digest: string, size: number): Promise<void> {
    return this.#files.commit('blobs', pending, digest, size);
  }

  delete(digest: string): Promise<void> {
    return this.#files.delete('blobs', digest);
  }
}
