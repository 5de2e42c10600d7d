import { readFile } from 'node:fs/promises';
import { SignetError, errorMessage } from '../../errors.js';
import type { ManifestStore, StoredManifest } from '../ports.js';
import { SIDECAR_SUFFIX, type ContentFiles } from './content-files.js';
import { isNotFound, writeFileAtomic } from './files.js';

/**
 * Manifests of a disk content backend: the bytes under their digest like blobs, the media type
 * in a `<digest>.meta` sidecar (`{"mediaType":"..."}`, the layout Signet always wrote). The
 * sidecar is in place before the manifest is renamed to its digest, so a committed manifest
 * always has its media type; a sidecar left alone by a crash is removed at start.
 */
export class DiskManifestStore implements ManifestStore {
  readonly #files: ContentFiles;

  constructor(files: ContentFiles) {
    this.#files = files;
  }

  async get(digest: string): Promise<StoredManifest | undefined> {
    const path = this.#files.pathOf('manifests', digest);
    if (!this.#files.index.get('manifests', digest)) return undefined;
    let bytes: Buffer;
    let sidecar: string;
    try {
      [bytes, sidecar] = await Promise.all([readFile(path), readFile(path + SIDECAR_SUFFIX, 'utf8')]);
    } catch (err) {
      if (isNotFound(err)) {
        // Evicted or deleted between the index lookup and the read.
        await this.#files.delete('manifests', digest).catch(() => undefined);
        return undefined;
      }
      throw new SignetError('STORAGE_ERROR', `cannot read cached manifest ${digest}: ${errorMessage(err)}`, { cause: err });
    }
    const mediaType = parseSidecar(sidecar);
    if (mediaType === undefined) {
      // Cached content, fetched again by digest when needed: a damaged sidecar costs a download.
      this.#files.logger.warn({ digest }, 'cached manifest with an unreadable media type removed');
      await this.#files.delete('manifests', digest).catch(() => undefined);
      return undefined;
    }
    this.#files.touch('manifests', digest);
    return { digest, mediaType, bytes };
  }

  /** Stores verified manifest bytes (the caller checked the digest). */
  async put(manifest: StoredManifest): Promise<void> {
    const path = this.#files.pathOf('manifests', manifest.digest);
    const pending = await this.#files.createPending();
    try {
      await pending.writev([manifest.bytes], 0);
      await writeFileAtomic(path + SIDECAR_SUFFIX, JSON.stringify({ mediaType: manifest.mediaType }));
      await this.#files.commit('manifests', pending, manifest.digest, manifest.bytes.length);
    } catch (err) {
      await pending.discard();
      throw err instanceof SignetError
        ? err
        : new SignetError('STORAGE_ERROR', `cannot store manifest ${manifest.digest}: ${errorMessage(err)}`, { cause: err });
    } finally {
      await pending.close();
    }
  }

  /** Marks a manifest as just used (a hit served from a memory layer in front of this store). */
  touch(digest: string): void {
    this.#files.touch('manifests', digest);
  }

  async delete(digest: string): Promise<void> {
    await this.#files.delete('manifests', digest);
  }
}

function parseSidecar(text: string): string | undefined {
  try {
    const parsed: unknown = JSON.parse(text);
    if (typeof parsed !== 'object' || parsed === null || !('mediaType' in parsed)) return undefined;
    return typeof parsed.mediaType === 'string' && parsed.mediaType !== '' ? parsed.mediaType : undefined;
  } catch {
    return undefined;
  }
}
