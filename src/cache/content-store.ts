import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, unlink, utimes, type FileHandle } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import { parseDigest } from '../registry/names.js';

export type Namespace = 'blobs' | 'manifests';


export interface ContentInfo {
  size: number;
}

interface Entry {
  size: number;
  touchedAt: number;
}

export interface ContentStoreOptions {
  root: string;
  maxBytes: number;
  logger: Logger;
  clock?: () => number;
  onEvict?: (namespace: Namespace, digest: string, size: number) => void;
}

/**
 * Content-addressed files on disk (`<root>/<namespace>/<algorithm>/<hex>`), bounded in bytes with
 * least-recently-used eviction. Content only enters through `createTemp` + `commit`, which the
 * caller invokes after the digest matched, so a file under its digest's name always holds exactly
 * those bytes. Last access is kept in the files' mtime, so the LRU order survives restarts.
 */
export class ContentStore {
  readonly #root: string;
  readonly #maxBytes: number;
  readonly #logger: Logger;
  readonly #clock: () => number;
  readonly #onEvict: ContentStoreOptions['onEvict'];
  /** Insertion order = access order: the first entry is the least recently used. */
  readonly #entries = new Map<string, Entry>();
  #totalBytes = 0;

  constructor(options: ContentStoreOptions) {
    this.#root = options.root;
    this.#maxBytes = options.maxBytes;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#onEvict = options.onEvict;
  }

  get totalBytes(): number {
    return this.#totalBytes;
  }

  get tempDir(): string {
    return join(this.#root, 'tmp');
  }

  /** Creates the layout, removes temp files left by a crash, and indexes what is on disk. */
  async init(): Promise<void> {
    try {
      await rm(this.tempDir, { recursive: true, force: true });
      await mkdir(this.tempDir, { recursive: true });
      const found: Array<{ key: string; size: number; mtime: number }> = [];
      for (const ns of ['blobs', 'manifests'] as const) {
        for (const alg of ['sha256', 'sha512']) {
          const dir = join(this.#root, ns, alg);
          await mkdir(dir, { recursive: true });
          for (const name of await readdir(dir)) {
            if (name.endsWith('.meta')) continue;
            const digest = `${alg}:${name}`;
            try {
              parseDigest(digest);
            } catch {
              continue;
            }
            const st = await stat(join(dir, name));
            found.push({ key: `${ns}/${digest}`, size: st.size, mtime: st.mtimeMs });
          }
        }
      }
      found.sort((a, b) => a.mtime - b.mtime);
      for (const f of found) {
        this.#entries.set(f.key, { size: f.size, touchedAt: f.mtime });
        this.#totalBytes += f.size;
      }
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot prepare storage at ${this.#root}: ${errorMessage(err)}`, { cause: err });
    }
    await this.#evict();
  }

  pathOf(namespace: Namespace, digest: string): string {
    const d = parseDigest(digest);
    return join(this.#root, namespace, d.algorithm, d.hex);
  }

  has(namespace: Namespace, digest: string): boolean {
    return this.#entries.has(`${namespace}/${digest}`);
  }

  stat(namespace: Namespace, digest: string): ContentInfo | undefined {
    const e = this.#entries.get(`${namespace}/${digest}`);
    return e ? { size: e.size } : undefined;
  }

  /** Opens committed content for reading; `end` is inclusive (HTTP Range semantics). */
  openRead(namespace: Namespace, digest: string, range?: { start: number; end: number }): Readable | undefined {
    if (!this.has(namespace, digest)) return undefined;
    this.touch(namespace, digest);
    return createReadStream(this.pathOf(namespace, digest), { highWaterMark: DEFAULTS.blobReadChunkBytes, ...(range ? { start: range.start, end: range.end } : {}) });
  }

  /** Marks an entry as just used; the mtime on disk is updated at most once per interval. */
  touch(namespace: Namespace, digest: string): void {
    const key = `${namespace}/${digest}`;
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#entries.set(key, e);
    const now = this.#clock();
    if (now - e.touchedAt >= DEFAULTS.accessTouchIntervalMs) {
      e.touchedAt = now;
      const when = new Date(now);
      utimes(this.pathOf(namespace, digest), when, when).catch(() => undefined);
    }
  }

  async createTemp(): Promise<{ path: string; handle: FileHandle }> {
    const path = join(this.tempDir, randomUUID());
    try {
      return { path, handle: await open(path, 'w+') };
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot create a temporary file in ${this.tempDir}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Moves a verified temp file to its content address (atomic rename) and accounts for it. */
  async commit(namespace: Namespace, digest: string, tempPath: string, size: number): Promise<void> {
    const key = `${namespace}/${digest}`;
    try {
      await rename(tempPath, this.pathOf(namespace, digest));
    } catch (err) {
      await unlink(tempPath).catch(() => undefined);
      throw new SignetError('STORAGE_ERROR', `cannot store ${digest}: ${errorMessage(err)}`, { cause: err });
    }
    const old = this.#entries.get(key);
    if (old) this.#totalBytes -= old.size;
    this.#entries.delete(key);
    this.#entries.set(key, { size, touchedAt: this.#clock() });
    this.#totalBytes += size;
    await this.#evict();
  }

  async delete(namespace: Namespace, digest: string): Promise<void> {
    const key = `${namespace}/${digest}`;
    const e = this.#entries.get(key);
    if (!e) return;
    this.#entries.delete(key);
    this.#totalBytes -= e.size;
    await rm(this.pathOf(namespace, digest), { force: true });
    await rm(`${this.pathOf(namespace, digest)}.meta`, { force: true });
  }

  /**
   * Removes least recently used content until the total fits. Open readers keep their bytes:
   * POSIX unlink leaves open file descriptors valid.
   */
  async #evict(): Promise<void> {
    while (this.#totalBytes > this.#maxBytes && this.#entries.size > 0) {
      const [key, entry] = this.#entries.entries().next().value as [string, Entry];
      const slash = key.indexOf('/');
      const ns = key.slice(0, slash) as Namespace;
      const digest = key.slice(slash + 1);
      await this.delete(ns, digest);
      this.#logger.info({ digest, namespace: ns, size: entry.size }, 'evicted from cache');
      this.#onEvict?.(ns, digest, entry.size);
    }
  }
}
