import { open, rename, rm, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
// A namespace import: named imports of zstd (Node 22.15+/24) would fail to link on an older Node
// before src/cli/runtime.ts can say which Node Signet needs.
import * as zlib from 'node:zlib';
import tar from 'tar-stream';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import { printable } from '../registry/names.js';
import { BundleError } from './bundle-manifest.js';

/**
 * The bundle file: a plain (ustar) tar, optionally zstd-compressed as a whole, written and read
 * as streams so a multi-GiB layer never sits in memory. tar-stream's entry streams are streamx
 * streams; they are wrapped or driven by hand here so callers only ever see Node streams.
 */

/** zstd frame magic number (RFC 8878 §3.1.1): 0xFD2FB528, little-endian. */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
/**
 * Every entry's mtime, so the same content gives the same bytes. 2000-01-01T00:00:00Z, the
 * "portable mtime" reproducible tar writers use (bazelbuild/rules_pkg PORTABLE_MTIME): GNU tar
 * warns about the "implausibly old" Unix epoch 0.
 */
const FIXED_MTIME = new Date(946_684_800_000);
const FILE_MODE = 0o644;
const TAR_BLOCK = 512;
/** POSIX ustar: an archive ends with two zero blocks. */
const END_OF_ARCHIVE = 2 * TAR_BLOCK;
/** Directory entries other tools add around an OCI layout's files; skipped. */
const SKIPPED_DIRECTORIES = new Set(['blobs', 'blobs/', 'blobs/sha256', 'blobs/sha256/']);
const TRUNCATED = 'the bundle is truncated: copy it again';

export interface BundleTarWriterOptions {
  /** Compress the whole tar with zstd (frame checksums on, so a damaged copy is detected on import). */
  zstd: boolean;
}

/**
 * Writes a bundle to `<path>.partial`; `finish()` makes it `path` (fsync, then rename), so a
 * bundle at `path` is always complete. Entries are written one at a time, in call order (calls
 * may overlap: each waits for the previous). After any failure the writer refuses further
 * entries: call `abort()`, which removes the partial file (and is a no-op after `finish()`).
 */
export class BundleTarWriter {
  readonly #path: string;
  readonly #partial: string;
  readonly #file: FileHandle;
  readonly #pack: tar.Pack;
  /** The pack → (zstd) → file pipeline; settles with its error or undefined, never rejects. */
  readonly #piped: Promise<unknown>;
  #bytes = 0;
  #tail: Promise<void> = Promise.resolve();
  #failure: unknown = undefined;
  #state: 'open' | 'finishing' | 'finished' | 'aborted' = 'open';
  #aborting: Promise<void> | undefined;

  private constructor(path: string, partial: string, file: FileHandle, zstd: boolean) {
    this.#path = path;
    this.#partial = partial;
    this.#file = file;
    this.#pack = tar.pack();
    const pack = this.#pack;
    const counted = (n: number): void => {
      this.#bytes += n;
    };
    const count = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of pack) {
        const bytes = chunk as Buffer; // tar-stream pushes Buffers only (headers, padding, entry data)
        counted(bytes.length);
        yield bytes;
      }
    };
    // flush: the file is fsynced before it is closed, so finish() renames only durable bytes.
    const out = file.createWriteStream({ flush: true });
    const done = zstd ? pipeline(count(), zlib.createZstdCompress({ params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } }), out) : pipeline(count(), out);
    this.#piped = done.then(
      () => undefined,
      (err: unknown) => {
        this.#failure ??= err;
        return err;
      },
    );
  }

  static async open(path: string, options: BundleTarWriterOptions): Promise<BundleTarWriter> {
    const partial = `${path}.partial`;
    // 'w' truncates a partial file a crashed export left behind: it is ours and incomplete.
    const file = await open(partial, 'w', FILE_MODE);
    return new BundleTarWriter(path, partial, file, options.zstd);
  }

  /** Bytes of tar produced so far (before compression). */
  get bytesWritten(): number {
    return this.#bytes;
  }

  addBuffer(name: string, bytes: Buffer): Promise<void> {
    return this.addStream(name, bytes.length, Readable.from([bytes]));
  }

  /**
   * Writes an entry of exactly `size` bytes from `source`, at the pace the file takes them.
   * Resolves once the entry is in the tar; rejects (and fails the writer) if the source errors
   * or gives fewer or more bytes than `size`.
   */
  addStream(name: string, size: number, source: Readable): Promise<void> {
    const run = this.#tail.then(() => this.#write(name, size, source));
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #write(name: string, size: number, source: Readable): Promise<void> {
    if (this.#state !== 'open' || this.#failure !== undefined) {
      source.destroy();
      throw this.#unusable();
    }
    if (nameProblem(name) !== null || name.endsWith('/') || !Number.isSafeInteger(size) || size < 0) {
      source.destroy();
      throw new SignetError('INTERNAL', `invalid bundle entry "${printable(name)}" of ${size} bytes`);
    }
    let finished!: (err: unknown) => void;
    const entryDone = new Promise<unknown>((resolve) => (finished = resolve));
    const sink = this.#pack.entry({ name, size, mode: FILE_MODE, mtime: FIXED_MTIME, uid: 0, gid: 0, type: 'file' }, (err) => finished(err ?? undefined));
    // Its failures arrive through the entry callback (and drained()); an 'error' event with no
    // listener would be thrown as uncaught.
    sink.on('error', () => undefined);
    let written = 0;
    try {
      for await (const chunk of source as AsyncIterable<unknown>) {
        if (!(chunk instanceof Uint8Array)) throw new SignetError('INTERNAL', `the source of bundle entry ${name} gave a ${typeof chunk}, not bytes`);
        written += chunk.length;
        // Checked before the bytes reach the tar: tar-stream only notices an overlong entry at its end.
        if (written > size) throw new BundleError(`${name}: the source gave more than the ${size} bytes it should have: the bundle was not written`);
        if (!sink.write(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))) await drained(sink);
      }
      if (written < size) throw new BundleError(`${name}: the source ended after ${written} of ${size} bytes: the bundle was not written`);
      sink.end(null); // streamx: end(data) writes data first unless it is null
      const err = await entryDone;
      if (err !== undefined) throw toError(err);
    } catch (err) {
      this.#fail(err);
      sink.destroy();
      throw this.#failure === err ? toError(err) : this.#unusable();
    }
  }

  /** Ends the tar, fsyncs it and renames `<path>.partial` to `path`. */
  async finish(): Promise<void> {
    await this.#tail;
    if (this.#state !== 'open' || this.#failure !== undefined) throw this.#unusable();
    this.#state = 'finishing';
    this.#pack.finalize();
    const err = await this.#piped;
    if (err !== undefined) throw this.#unusable();
    await rename(this.#partial, this.#path);
    await syncDirectory(dirname(this.#path));
    this.#state = 'finished';
  }

  /** Stops writing and removes `<path>.partial`; safe to call at any point, and more than once (each call waits for the removal). */
  abort(): Promise<void> {
    if (this.#state === 'finished') return Promise.resolve();
    this.#aborting ??= this.#abort();
    return this.#aborting;
  }

  async #abort(): Promise<void> {
    this.#state = 'aborted';
    this.#failure ??= new BundleError('the bundle export was aborted');
    this.#pack.destroy(toError(this.#failure));
    await this.#piped;
    await this.#tail;
    await this.#file.close().catch(() => undefined);
    await rm(this.#partial, { force: true });
  }

  #fail(err: unknown): void {
    this.#failure ??= err;
    this.#pack.destroy(toError(err));
  }

  #unusable(): Error {
    if (this.#state === 'finished') return new SignetError('INTERNAL', `the bundle ${this.#path} is already finished`);
    if (this.#state === 'aborted') return new SignetError('INTERNAL', `the bundle ${this.#path} was aborted`);
    const failure = this.#failure;
    if (failure instanceof SignetError) return failure;
    return new BundleError(`writing ${this.#partial} failed: ${errorMessage(failure)}: free space or fix the target and export again`, { cause: failure });
  }
}

/** One regular file of a bundle. `stream` gives exactly `size` bytes. */
export interface TarEntry {
  name: string;
  size: number;
  stream: Readable;
}

export interface ReadBundleTarOptions {
  signal?: AbortSignal | undefined;
  /** Called with the number of bytes read from the file (compressed, when it is), for progress against bundleFileSize. */
  onBytes?: ((n: number) => void) | undefined;
}

/** Size of the bundle file in bytes (the total onBytes counts up to). */
export async function bundleFileSize(path: string): Promise<number> {
  return (await stat(path)).size;
}

/**
 * The regular files of a bundle tar, in tar order; zstd compression is detected by its magic
 * bytes. Refused with BundleError: entries that are not regular files (the `blobs/` and
 * `blobs/sha256/` directories other tools add are skipped), unsafe names (absolute, `..`,
 * backslash, NUL), a damaged archive, and a truncated one — including one cut exactly between
 * entries, which is told from a complete one by the end-of-archive blocks.
 *
 * Contract (tar-stream's): one entry at a time. Consume each entry's `stream` to its end, or
 * call `stream.resume()` to skip it, before asking for the next entry; an entry still unread
 * when the next is asked for is drained unread. Destroying an entry's stream stops the whole
 * archive. Leaving the loop early (break, throw) closes the file.
 */
export async function* readBundleTar(path: string, options: ReadBundleTarOptions = {}): AsyncGenerator<TarEntry, void, undefined> {
  const { signal, onBytes } = options;
  signal?.throwIfAborted();
  let file: FileHandle;
  let zstd: boolean;
  try {
    file = await open(path, 'r');
  } catch (err) {
    throw new BundleError(`cannot open the bundle ${path}: ${errorMessage(err)}`, { cause: err });
  }
  try {
    const magic = Buffer.alloc(ZSTD_MAGIC.length);
    const { bytesRead } = await file.read(magic, 0, magic.length, 0);
    zstd = bytesRead === magic.length && magic.equals(ZSTD_MAGIC);
  } catch (err) {
    await file.close().catch(() => undefined);
    throw new BundleError(`cannot read the bundle ${path}: ${errorMessage(err)}`, { cause: err });
  }

  const raw = file.createReadStream({ start: 0, highWaterMark: DEFAULTS.blobReadChunkBytes });
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      onBytes?.(chunk.length);
      callback(null, chunk);
    },
  });
  const extract = tar.extract();
  /** Bytes of tar (after decompression) handed to the parser. */
  let fed = 0;
  const feed = async (source: AsyncIterable<Buffer>): Promise<void> => {
    for await (const chunk of source) {
      fed += chunk.length;
      if (!extract.write(chunk)) await drained(extract);
    }
    extract.end(null);
  };
  const stages = zstd ? pipeline(raw, counter, zlib.createZstdDecompress(), feed, { signal }) : pipeline(raw, counter, feed, { signal });
  // Settles with the error (or undefined); a failure stops the parser, which then rejects the iteration.
  /** The pipeline's own failure (a damaged zstd frame, a read error): what an entry's stream reports instead of its own "destroyed". */
  let pipeFailure: unknown;
  const piped: Promise<unknown> = stages.then(
    () => undefined,
    (err: unknown) => {
      pipeFailure = err;
      extract.destroy(toError(err));
      return err;
    },
  );

  const entries = extract[Symbol.asyncIterator]();
  let previous: Readable | undefined;
  /** Where the data of the last entry ends, padded to a block: only zero blocks may follow. */
  let lastDataEnd = 0;
  try {
    for (;;) {
      if (previous) {
        if (previous.destroyed && !previous.readableEnded) throw new SignetError('INTERNAL', 'a bundle entry stream was destroyed before its end');
        previous.resume();
        previous = undefined;
      }
      const next = await entries.next();
      if (next.done === true) break;
      const entry = next.value;
      const header = entry.header;
      const offset = (header as { byteOffset?: unknown }).byteOffset;
      if (typeof offset !== 'number') throw new SignetError('INTERNAL', 'tar-stream no longer reports entry offsets (header.byteOffset)');
      const size = header.size;
      lastDataEnd = offset + Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
      const name = header.name;
      const problem = nameProblem(name);
      if (problem !== null)
        throw new BundleError(`the bundle holds an entry "${printable(name)}" whose name ${problem}: it was not written by signet; do not import it`);
      if (header.type === 'directory' && SKIPPED_DIRECTORIES.has(name)) {
        entry.resume();
        continue;
      }
      if (header.type !== 'file') {
        throw new BundleError(`the bundle holds "${printable(name)}", a ${header.type} entry where only regular files belong: it was not written by signet`);
      }
      const stream = Readable.from(
        entryBytes(entry, path, signal, () => pipeFailure),
        { objectMode: false },
      );
      previous = stream;
      yield { name, size, stream };
    }
    const err = await piped;
    if (err !== undefined) throw toError(err);
    // A tar cut exactly after an entry parses cleanly; its end-of-archive blocks are what is missing.
    if (fed - lastDataEnd < END_OF_ARCHIVE) throw new BundleError(TRUNCATED);
  } catch (err) {
    throw readError(err, path, signal);
  } finally {
    extract.destroy();
    raw.destroy();
    await piped;
  }
}

/** An entry's bytes, its failures told as the iteration tells them (a cut archive fails the entry being read). */
async function* entryBytes(entry: AsyncIterable<unknown>, path: string, signal: AbortSignal | undefined, pipeFailure: () => unknown): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of entry) yield chunk as Buffer;
  } catch (err) {
    throw readError(pipeFailure() ?? err, path, signal);
  }
}

/** Why an entry name is unsafe, or null. */
function nameProblem(name: string): string | null {
  if (name === '') return 'is empty';
  if (name.startsWith('/')) return 'is absolute';
  if (name.includes('..')) return 'contains ..';
  if (name.includes('\\')) return 'contains a backslash';
  if (name.includes('\0')) return 'contains a NUL byte';
  return null;
}

function readError(err: unknown, path: string, signal: AbortSignal | undefined): unknown {
  if (err instanceof SignetError) return err;
  if (signal?.aborted === true) return signal.reason ?? err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const message = errorMessage(err);
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  // tar-stream: "Unexpected end of data" (input ended inside an entry); zlib: "unexpected end of file" (Z_BUF_ERROR) for a cut frame.
  if (/unexpected end of (data|file)/i.test(message) || code === 'Z_BUF_ERROR') return new BundleError(TRUNCATED, { cause: err });
  if (typeof code === 'string' && (code.startsWith('ZSTD_') || code.startsWith('Z_'))) {
    return new BundleError(`the bundle's zstd compression is damaged (${message}): copy it again`, { cause: err });
  }
  if (/header/i.test(message)) return new BundleError(`the bundle is not a valid tar archive (${message}): copy it again, or export it again`, { cause: err });
  return new BundleError(`cannot read the bundle ${path}: ${message}`, { cause: err });
}

interface Drainable {
  once(event: string, listener: (...args: unknown[]) => void): unknown;
  off(event: string, listener: (...args: unknown[]) => void): unknown;
  readonly destroyed: boolean;
}

/** Resolves on 'drain'; rejects if the (streamx) stream errors or closes first, instead of waiting forever. */
function drained(stream: Drainable): Promise<void> {
  if (stream.destroyed) return Promise.reject(new Error('stream destroyed'));
  return new Promise((resolve, reject) => {
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(toError(err));
    };
    const onClose = (): void => {
      cleanup();
      reject(new Error('stream closed'));
    };
    const cleanup = (): void => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.once('drain', onDrain);
    stream.once('error', onError);
    stream.once('close', onClose);
  });
}

/** Makes a rename durable (POSIX: the directory entry is only on disk once the directory is synced). */
async function syncDirectory(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch {
    // Some file systems (and platforms) cannot fsync a directory; the file itself is synced.
  } finally {
    await handle?.close().catch(() => undefined);
  }
}

function toError(err: unknown): Error {
  return err instanceof Error ? err : new Error(String(err));
}
