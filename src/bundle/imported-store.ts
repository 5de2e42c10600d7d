import { createHash, randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import { mkdir, open, readFile, readdir, rename, rm, stat, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import { checkRange } from '../cache/content-range.js';
import { isNotFound } from '../cache/disk/files.js';
import { printable } from '../registry/names.js';
import { BundleError } from './bundle-manifest.js';
import { EMPTY_STATE, storageError, type ImportedContent, type ImportedRange, type ImportedState } from './imported.js';
import { IMPORTED_STATE_SCHEMA, normaliseState } from './imported-state.js';
import { ImportLockFile, type ImportLock } from './import-lock.js';

/** bytes per write while a blob is stored (the chunks of the source are gathered up to this). */
const WRITE_BATCH_BYTES = 1024 * 1024;

const STATE_FILE = 'state.json';
const LOCK_FILE = 'import.lock';
const TMP_DIR = 'tmp';
/** The store holds sha256 content only: bundles name their files by sha256 (bundle-manifest.ts). */
const SHA256 = /^sha256:([a-f0-9]{64})$/;

export interface DiskImportedStoreOptions {
  /** The store's directory (`<storage.path>/imported`, chosen by the composition root). */
  root: string;
  logger: Logger;
  /** ms between two looks at state.json (default DEFAULTS.bundle.stateRecheckMs). */
  recheckMs?: number;
  clock?: () => number;
}

/** What a committed-blob check needs: the digest and size the signed bundle manifest lists. */
export interface ExpectedBlob {
  digest: string;
  size: number;
  /** What to call it in messages (the file's path in the bundle); default the digest. */
  name?: string;
}

/** The cached reading of state.json, keyed by what stat says of the file. */
interface CachedState {
  /** `ino:size:mtimeMs`, or `absent`. */
  key: string;
  result: { ok: true; state: ImportedState } | { ok: false; error: SignetError };
  /** clock() of the last look at the file. */
  checkedAt: number;
}

/**
 * Imported air-gapped content on disk:
 *
 * - `blobs/sha256/<hex>`: every imported file under its digest. A file enters only by renaming a
 *   temporary file whose bytes were hashed to that digest (`put`), so a digest's file always
 *   holds exactly those bytes; files are never rewritten, and removed only by `discard` (the
 *   files a refused import stored, which no index names).
 * - `state.json`: the index (`ImportedState`), replaced as a whole by one rename (`commit`), so
 *   a reader sees one import entirely or not at all, and a kill at any moment leaves the old or
 *   the new index.
 * - `tmp/`: writes not yet verified; what a killed import left there is removed.
 * - `import.lock`: the pid of the one import running.
 *
 * Fail closed: a state.json that cannot be read or is not a valid index is a STORAGE_ERROR,
 * never an empty index.
 */
export class DiskImportedStore implements ImportedContent {
  readonly #root: string;
  readonly #logger: Logger;
  readonly #recheckMs: number;
  readonly #clock: () => number;
  #cached: CachedState | undefined;
  #loading: Promise<CachedState> | undefined;
  #layout: Promise<void> | undefined;
  readonly #lockFile: ImportLockFile;

  constructor(options: DiskImportedStoreOptions) {
    this.#root = options.root;
    this.#logger = options.logger.child({ component: 'imported-store' });
    this.#lockFile = new ImportLockFile({ path: join(this.#root, LOCK_FILE), tmpDir: join(this.#root, TMP_DIR), root: this.#root, logger: this.#logger });
    this.#recheckMs = options.recheckMs ?? DEFAULTS.bundle.stateRecheckMs;
    this.#clock = options.clock ?? Date.now;
  }

  get root(): string {
    return this.#root;
  }

  get #statePath(): string {
    return join(this.#root, STATE_FILE);
  }

  get #tmpDir(): string {
    return join(this.#root, TMP_DIR);
  }

  get #blobDir(): string {
    return join(this.#root, 'blobs', 'sha256');
  }

  /**
   * Creates the layout and removes what a killed import left in `tmp/`, unless an import is
   * running right now (its lock names a live process): those files are its work in progress.
   */
  async init(): Promise<void> {
    await this.#ensureLayout();
    const holder = await this.#lockFile.holder();
    if (holder !== undefined && holder.alive) {
      this.#logger.info({ pid: holder.pid }, 'an import is running: its temporary files are left alone');
      return;
    }
    await this.#cleanTmp();
  }

  // ---- read side (ImportedContent) ----

  async state(): Promise<ImportedState> {
    const now = this.#clock();
    const cached = this.#cached;
    const entry = cached && now - cached.checkedAt < this.#recheckMs ? cached : await this.#refresh();
    if (!entry.result.ok) throw entry.result.error;
    return entry.result.state;
  }

  async stat(digest: string): Promise<{ size: number } | undefined> {
    const path = this.#blobPath(digest);
    try {
      const st = await stat(path);
      return { size: st.size };
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError(`cannot read imported file ${path}`, err);
    }
  }

  /** The file is opened before answering: a stream handed out never fails for want of a file. */
  async open(digest: string, range?: ImportedRange): Promise<Readable | undefined> {
    const path = this.#blobPath(digest);
    const handle = await this.#openIfPresent(path);
    if (!handle) return undefined;
    try {
      const { size } = await handle.stat();
      const bounds = checkRange(digest, size, range);
      return handle.createReadStream({ highWaterMark: DEFAULTS.blobReadChunkBytes, ...bounds });
    } catch (err) {
      await handle.close().catch(() => undefined);
      if (err instanceof SignetError) throw err;
      throw storageError(`cannot read imported file ${path}`, err);
    }
  }

  async read(digest: string, maxBytes: number): Promise<Buffer | undefined> {
    const path = this.#blobPath(digest);
    const handle = await this.#openIfPresent(path);
    if (!handle) return undefined;
    try {
      const { size } = await handle.stat();
      if (size > maxBytes) throw tooLarge(digest, `${size}`, maxBytes);
      const bytes = await handle.readFile();
      if (bytes.length > maxBytes) throw tooLarge(digest, `more than ${maxBytes}`, maxBytes);
      return bytes;
    } catch (err) {
      if (err instanceof SignetError) throw err;
      throw storageError(`cannot read imported file ${path}`, err);
    } finally {
      await handle.close().catch(() => undefined);
    }
  }

  // ---- write side (the import) ----

  /**
   * Removes files that no index names: the ones a refused import stored (`put` said 'stored').
   * Only the import holding the lock calls it, so no other import can have come to rely on them,
   * and a serving Signet reads only files its index names.
   */
  async discard(digests: Iterable<string>): Promise<void> {
    for (const digest of digests)
      await unlink(this.#blobPath(digest)).catch((err: unknown) =>
        isNotFound(err) ? undefined : Promise.reject(storageError(`cannot remove ${digest}`, err)),
      );
  }

  async has(digest: string): Promise<boolean> {
    return (await this.stat(digest)) !== undefined;
  }

  /**
   * Stores `source` under `expected.digest` if its bytes hash to it and are `expected.size`
   * long: streamed to `tmp/` while hashed, flushed, then renamed into `blobs/`. Bytes that do
   * not match are deleted and refused (BundleError); on a refusal for size the source is
   * destroyed (reading on would only fill the disk). A blob already present is not written
   * again, but its source is still read and hashed to the end: the bundle's copy must match too.
   */
  async put(expected: ExpectedBlob, source: Readable): Promise<'stored' | 'present'> {
    const hex = this.#hexOf(expected.digest);
    if (!Number.isSafeInteger(expected.size) || expected.size < 0) {
      throw new SignetError('INTERNAL', `cannot store ${expected.digest}: its expected size ${expected.size} is not a byte count`);
    }
    await this.#ensureLayout();
    const name = expected.name ?? expected.digest;
    const mismatch = (): BundleError =>
      new BundleError(
        `${printable(name)} does not match its digest ${expected.digest}: the bundle is corrupt or was tampered with. Nothing of it was imported; copy the bundle again from where it was exported, or export it again`,
      );

    if (await this.has(expected.digest)) {
      const hash = createHash('sha256');
      let size = 0;
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        size += buf.length;
        if (size > expected.size) throw mismatch();
        hash.update(buf);
      }
      if (size !== expected.size || hash.digest('hex') !== hex) throw mismatch();
      return 'present';
    }

    const temp = join(this.#tmpDir, `blob-${randomUUID()}`);
    let handle: FileHandle;
    try {
      handle = await open(temp, 'wx');
    } catch (err) {
      source.destroy();
      throw storageError(`cannot create a temporary file ${temp}`, err);
    }
    let closed = false;
    try {
      const hash = createHash('sha256');
      let size = 0;
      let batch: Buffer[] = [];
      let batchBytes = 0;
      const flush = async (): Promise<void> => {
        if (batchBytes === 0) return;
        const buffers = batch;
        batch = [];
        batchBytes = 0;
        await writeAll(handle, buffers, temp);
      };
      for await (const chunk of source) {
        const buf = chunk as Buffer;
        size += buf.length;
        // More than the bundle manifest lists: refused before anything past it reaches the disk.
        if (size > expected.size) throw mismatch();
        hash.update(buf);
        batch.push(buf);
        batchBytes += buf.length;
        if (batchBytes >= WRITE_BATCH_BYTES) await flush();
      }
      await flush();
      if (size !== expected.size || hash.digest('hex') !== hex) throw mismatch();
      try {
        await handle.sync();
      } catch (err) {
        throw storageError(`cannot write temporary file ${temp}`, err);
      }
      closed = true;
      await handle.close();
      // Only bytes that matched get the digest's name. The directory entry is made durable by
      // commit(), before any state.json names the digest.
      try {
        await rename(temp, join(this.#blobDir, hex));
      } catch (err) {
        throw storageError(`cannot store imported file ${expected.digest}`, err);
      }
      return 'stored';
    } catch (err) {
      if (!closed) await handle.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Replaces state.json with `next`: written to `tmp/`, flushed, renamed over state.json, and the
   * directory flushed, so after a crash at any point the old or the new index is there whole.
   * The blobs' directory is flushed first: every file the new index names survives a power
   * loss that the index survives. `next` must be a valid index (it is read back as one).
   */
  async commit(next: ImportedState): Promise<void> {
    const checked = IMPORTED_STATE_SCHEMA.safeParse(next);
    if (!checked.success) {
      throw new SignetError('INTERNAL', `refusing to commit an imported index that is not valid: ${checked.error.issues[0]?.message ?? 'invalid'}`);
    }
    const state = normaliseState(checked.data);
    const bytes = Buffer.from(JSON.stringify(state));
    if (bytes.length > DEFAULTS.bundle.stateMaxBytes) {
      throw new BundleError(
        `the imported index would be ${bytes.length} bytes, over the limit of ${DEFAULTS.bundle.stateMaxBytes} bytes: import fewer images into this Signet, or raise the limit`,
      );
    }
    await this.#ensureLayout();
    const temp = join(this.#tmpDir, `state-${randomUUID()}.json`);
    try {
      await syncDir(this.#blobDir);
      const handle = await open(temp, 'wx');
      try {
        await handle.writeFile(bytes);
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, this.#statePath);
      await syncDir(this.#root);
    } catch (err) {
      await unlink(temp).catch(() => undefined);
      throw storageError(`cannot save the imported index ${this.#statePath}`, err);
    }
    // This process sees its own import at once; other processes within recheckMs.
    try {
      const st = await stat(this.#statePath);
      this.#cached = { key: statKey(st), result: { ok: true, state }, checkedAt: this.#clock() };
    } catch {
      this.#cached = undefined;
    }
  }

  /**
   * One import at a time: `import.lock` is created holding this process's pid (written to a
   * temporary file and hard-linked into place, so the lock never exists without its pid). A lock
   * whose process is gone (a killed import) is taken over; a live one is refused.
   */
  async lock(): Promise<ImportLock> {
    await this.#ensureLayout();
    // Once it is ours, whatever is in tmp/ belongs to no running import.
    return this.#lockFile.acquire(() => this.#cleanTmp());
  }

  // ---- internals ----

  #hexOf(digest: string): string {
    const m = SHA256.exec(digest);
    if (!m?.[1]) throw new SignetError('DIGEST_INVALID', `invalid digest "${printable(digest)}": imported content is named sha256:<64 lowercase hex>`);
    return m[1];
  }

  /** The digest is validated before a path is built from it. */
  #blobPath(digest: string): string {
    return join(this.#blobDir, this.#hexOf(digest));
  }

  async #openIfPresent(path: string): Promise<FileHandle | undefined> {
    try {
      return await open(path, 'r');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError(`cannot read imported file ${path}`, err);
    }
  }

  #ensureLayout(): Promise<void> {
    if (!this.#layout) {
      const made = (async () => {
        try {
          await mkdir(this.#blobDir, { recursive: true });
          await mkdir(this.#tmpDir, { recursive: true });
        } catch (err) {
          throw storageError(`cannot prepare the imported content directory ${this.#root}`, err);
        }
      })();
      this.#layout = made;
      made.catch(() => {
        if (this.#layout === made) this.#layout = undefined;
      });
    }
    return this.#layout;
  }

  async #cleanTmp(): Promise<void> {
    let names: string[];
    try {
      names = await readdir(this.#tmpDir);
    } catch (err) {
      if (isNotFound(err)) return;
      throw storageError(`cannot list ${this.#tmpDir}`, err);
    }
    for (const name of names) {
      await rm(join(this.#tmpDir, name), { recursive: true, force: true }).catch((err: unknown) => {
        this.#logger.warn({ file: name, err: errorMessage(err) }, 'cannot remove a leftover temporary file');
      });
    }
    if (names.length > 0) this.#logger.info({ files: names.length }, 'removed the temporary files of an import that did not finish');
  }

  /** Looks at state.json (one look shared by concurrent callers) and re-reads it if it changed. */
  #refresh(): Promise<CachedState> {
    if (!this.#loading) {
      const loading = this.#load().finally(() => {
        if (this.#loading === loading) this.#loading = undefined;
      });
      this.#loading = loading;
    }
    return this.#loading;
  }

  async #load(): Promise<CachedState> {
    const path = this.#statePath;
    const now = this.#clock();
    let st: Stats | undefined;
    try {
      st = await stat(path);
    } catch (err) {
      if (!isNotFound(err)) {
        // Not cached: the next look tries again.
        return { key: 'error', result: { ok: false, error: unreadableState(path, errorMessage(err), err) }, checkedAt: now };
      }
    }
    const key = st ? statKey(st) : 'absent';
    const previous = this.#cached;
    if (previous && previous.key === key) {
      previous.checkedAt = now;
      return previous;
    }
    const entry: CachedState = { key, result: st ? await this.#parseFile(path, st) : { ok: true, state: EMPTY_STATE }, checkedAt: now };
    this.#cached = entry;
    if (previous && entry.result.ok) this.#logger.info({ bundles: entry.result.state.bundles.length }, 'imported content changed: serving the new index');
    return entry;
  }

  async #parseFile(path: string, st: Stats): Promise<CachedState['result']> {
    if (st.size > DEFAULTS.bundle.stateMaxBytes) {
      return { ok: false, error: unreadableState(path, `${st.size} bytes, over the limit of ${DEFAULTS.bundle.stateMaxBytes} bytes`, undefined) };
    }
    let bytes: Buffer;
    try {
      bytes = await readFile(path);
    } catch (err) {
      return { ok: false, error: unreadableState(path, errorMessage(err), err) };
    }
    if (bytes.length > DEFAULTS.bundle.stateMaxBytes) {
      return { ok: false, error: unreadableState(path, `over the limit of ${DEFAULTS.bundle.stateMaxBytes} bytes`, undefined) };
    }
    let doc: unknown;
    try {
      doc = JSON.parse(bytes.toString('utf8'));
    } catch (err) {
      return { ok: false, error: unreadableState(path, 'not JSON', err) };
    }
    const parsed = IMPORTED_STATE_SCHEMA.safeParse(doc);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const where = issue && issue.path.length > 0 ? ` at ${issue.path.map(String).join('.')}` : '';
      return { ok: false, error: unreadableState(path, `not an imported index${where}: ${issue?.message ?? 'invalid'}`, undefined) };
    }
    return { ok: true, state: parsed.data };
  }
}

// ---- helpers ----

function statKey(st: Stats): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}`;
}

async function writeAll(handle: FileHandle, buffers: Buffer[], path: string): Promise<void> {
  const data = buffers.length === 1 && buffers[0] ? buffers[0] : Buffer.concat(buffers);
  try {
    // A write may take fewer bytes than offered; the rest follows at the file's position.
    for (let offset = 0; offset < data.length;) {
      const { bytesWritten } = await handle.write(data, offset, data.length - offset);
      offset += bytesWritten;
    }
  } catch (err) {
    throw storageError(`cannot write temporary file ${path}`, err);
  }
}

/** Flushes a directory's entries (a rename into it) to the device; POSIX fsync on the directory. */
async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

function tooLarge(digest: string, size: string, maxBytes: number): BundleError {
  return new BundleError(`imported file ${digest} is ${size} bytes, over the limit of ${maxBytes} bytes for it`);
}

function unreadableState(path: string, problem: string, cause: unknown): SignetError {
  return new SignetError(
    'STORAGE_ERROR',
    `cannot read the imported index ${path} (${problem}): nothing imported is served until it is readable. Restore it from a backup, or remove it and import the bundles again`,
    cause === undefined ? {} : { cause },
  );
}
