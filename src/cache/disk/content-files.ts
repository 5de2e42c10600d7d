import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, unlink, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { SignetError, errorMessage } from '../../errors.js';
import { parseDigest } from '../../registry/names.js';
import { LruIndex, type ContentNamespace, type EvictionListener } from '../lru-index.js';
import type { PendingBlob } from '../ports.js';
import { isNotFound } from './files.js';
import { DiskPendingBlob } from './pending.js';

export interface ContentFilesOptions {
  root: string;
  maxBytes: number;
  logger: Logger;
  clock?: () => number;
  onEvict?: EvictionListener;
}

const NAMESPACES: readonly ContentNamespace[] = ['blobs', 'manifests'];
const ALGORITHMS = ['sha256', 'sha512'] as const;
/** The media type of a manifest lives next to it in `<digest file>.meta` (`{"mediaType": ...}`). */
export const SIDECAR_SUFFIX = '.meta';
/** Files examined at once while indexing at start (a large cache has many thousands). */
const STAT_BATCH = 64;

/**
 * The files of one disk content backend, `<root>/{blobs,manifests}/<algorithm>/<hex>`, and
 * their LRU index. Content enters only by renaming a verified temporary file from
 * `<root>/tmp` (atomic: a file under a digest's name always holds exactly those bytes).
 * Last use is kept in each file's mtime, so the LRU order survives restarts.
 */
export class ContentFiles {
  readonly root: string;
  readonly index: LruIndex;
  readonly logger: Logger;
  readonly #maxBytes: number;
  readonly #clock: () => number;
  readonly #onEvict: EvictionListener | undefined;
  #init: Promise<void> | undefined;
  /** Last-use times being written (not awaited by the request that caused them). */
  readonly #touches = new Set<Promise<void>>();

  constructor(options: ContentFilesOptions) {
    this.root = options.root;
    this.#maxBytes = options.maxBytes;
    this.logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#onEvict = options.onEvict;
    this.index = new LruIndex(this.#clock);
  }

  get tempDir(): string {
    return join(this.root, 'tmp');
  }

  /** `<root>/<namespace>/<algorithm>/<hex>`; the digest is validated, so the path stays inside. */
  pathOf(namespace: ContentNamespace, digest: string): string {
    const d = parseDigest(digest);
    return join(this.root, namespace, d.algorithm, d.hex);
  }

  /** Creates the layout, removes temp files left by a crash, indexes what is on disk; once (again after a failure). */
  init(): Promise<void> {
    if (!this.#init) {
      const init = this.#scan().then(() => this.evict());
      this.#init = init;
      init.catch(() => {
        if (this.#init === init) this.#init = undefined;
      });
    }
    return this.#init;
  }

  async #scan(): Promise<void> {
    try {
      await rm(this.tempDir, { recursive: true, force: true });
      await mkdir(this.tempDir, { recursive: true });
      const found: Array<{ namespace: ContentNamespace; digest: string; size: number; mtime: number }> = [];
      for (const namespace of NAMESPACES) {
        for (const algorithm of ALGORITHMS) {
          const dir = join(this.root, namespace, algorithm);
          await mkdir(dir, { recursive: true });
          const files = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isFile()).map((e) => e.name);
          const names = new Set(files);
          const digests: string[] = [];
          for (const name of files) {
            if (name.endsWith(SIDECAR_SUFFIX)) {
              // A sidecar whose manifest never got committed (crash between the two renames).
              if (namespace === 'manifests' && !names.has(name.slice(0, -SIDECAR_SUFFIX.length))) await unlink(join(dir, name)).catch(() => undefined);
              continue;
            }
            if (!isDigestName(algorithm, name)) continue; // not ours: left alone
            if (namespace === 'manifests' && !names.has(name + SIDECAR_SUFFIX)) {
              // Without its media type a manifest cannot be served: drop it, it is fetched again.
              this.logger.warn({ digest: `${algorithm}:${name}` }, 'cached manifest without media type removed');
              await unlink(join(dir, name)).catch(() => undefined);
              continue;
            }
            digests.push(name);
          }
          for (let i = 0; i < digests.length; i += STAT_BATCH) {
            const batch = digests.slice(i, i + STAT_BATCH);
            const stats = await Promise.all(batch.map((name) => statIfPresent(join(dir, name))));
            batch.forEach((name, j) => {
              const st = stats[j];
              if (st) found.push({ namespace, digest: `${algorithm}:${name}`, size: st.size, mtime: st.mtimeMs });
            });
          }
        }
      }
      found.sort((a, b) => a.mtime - b.mtime);
      for (const f of found) this.index.set(f.namespace, f.digest, f.size, f.mtime);
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot prepare storage at ${this.root}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Marks content as just used; its mtime is rewritten at most once per `accessTouchIntervalMs`. */
  touch(namespace: ContentNamespace, digest: string): void {
    const entry = this.index.get(namespace, digest);
    if (!entry || !this.index.touch(namespace, digest)) return;
    const when = new Date(entry.touchedAt);
    // A file evicted meanwhile has no time to keep; other failures only cost LRU precision.
    const write = utimes(this.pathOf(namespace, digest), when, when).catch(() => undefined);
    this.#touches.add(write);
    void write.finally(() => this.#touches.delete(write));
  }

  /** Resolves once the last-use times written so far are on disk (shutdown, tests). */
  async flush(): Promise<void> {
    await Promise.all(this.#touches);
  }

  async createPending(): Promise<DiskPendingBlob> {
    await this.init();
    return DiskPendingBlob.create(this, join(this.tempDir, randomUUID()));
  }

  /**
   * Renames a pending file to its content address and accounts for it, then evicts down to the
   * limit. The pending blob's descriptor stays open for its readers until its owner closes it.
   * On failure the pending blob is left as it was, for its owner to discard.
   */
  async commit(namespace: ContentNamespace, pending: PendingBlob, digest: string, size: number): Promise<void> {
    if (!(pending instanceof DiskPendingBlob) || pending.owner !== this) {
      throw new SignetError('INTERNAL', `cannot commit ${digest}: the pending blob belongs to another store`);
    }
    const path = this.pathOf(namespace, digest);
    if (pending.state !== 'writing') throw new SignetError('STORAGE_ERROR', `cannot commit ${digest}: the pending blob is already ${pending.state}`);
    if (pending.length !== size) {
      throw new SignetError('STORAGE_ERROR', `cannot commit ${digest}: ${pending.length} bytes were written, not ${size}`);
    }
    const now = this.#clock();
    try {
      // The mtime is the LRU position after a restart: make it the clock's "now".
      await utimes(pending.path, new Date(now), new Date(now));
      await rename(pending.path, path);
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot store ${digest}: ${errorMessage(err)}`, { cause: err });
    }
    pending.markCommitted();
    this.index.set(namespace, digest, size, now);
    await this.evict();
  }

  /** Forgets content and removes its files; readers holding them open finish (POSIX unlink). */
  async delete(namespace: ContentNamespace, digest: string): Promise<void> {
    const path = this.pathOf(namespace, digest);
    this.index.delete(namespace, digest);
    try {
      await rm(path, { force: true });
      if (namespace === 'manifests') await rm(path + SIDECAR_SUFFIX, { force: true });
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot delete ${digest}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Removes least recently used content until the total fits. */
  async evict(): Promise<void> {
    for (const entry of this.index.takeOverflow(this.#maxBytes)) {
      const { namespace, digest, size } = entry;
      try {
        await this.delete(namespace, digest);
      } catch (err) {
        // Out of the index already; a file left behind is indexed again at the next start.
        this.logger.warn({ digest, namespace, err: errorMessage(err) }, 'cannot remove evicted content');
      }
      this.logger.info({ digest, namespace, size }, 'evicted from cache');
      this.#onEvict?.(namespace, digest, size);
    }
  }
}

/** A file removed meanwhile (another process cleaning up) is simply not indexed. */
async function statIfPresent(path: string): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}

function isDigestName(algorithm: string, name: string): boolean {
  try {
    parseDigest(`${algorithm}:${name}`);
    return true;
  } catch {
    return false;
  }
}
