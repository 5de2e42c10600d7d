import { createHash, type Hash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { FileHandle } from 'node:fs/promises';
import { unlink } from 'node:fs/promises';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SignetError, errorMessage } from '../errors.js';
import type { Digest } from '../registry/names.js';

const READ_CHUNK = 256 * 1024; // bytes read from the temp file per push to a client

export type FillState = 'running' | 'verified' | 'failed';

export interface FillResult {
  size: number;
}

/**
 * One upstream download of a blob into a temporary file, shared by every client that asks for
 * the blob meanwhile. The bytes are hashed as they arrive; readers follow the file as it grows
 * but are always held back by one byte until the digest matched, so no client can complete a
 * download whose bytes turn out wrong: on a mismatch every reader is destroyed and the caller
 * cuts the client connection. The caller commits the temp file to the store on success.
 */
export class BlobFill extends EventEmitter {
  readonly digest: Digest;
  /** Size announced by the upstream (Content-Length), if any. */
  readonly expectedSize: number | undefined;
  readonly tempPath: string;
  readonly #handle: FileHandle;
  readonly #hash: Hash;
  #written = 0;
  #state: FillState = 'running';
  #error: Error | undefined;
  #readers = 0;
  #writerDone = false;
  #sealed = false;
  #closed = false;
  readonly done: Promise<FillResult>;

  constructor(digest: Digest, expectedSize: number | undefined, temp: { path: string; handle: FileHandle }) {
    super();
    this.setMaxListeners(0);
    this.digest = digest;
    this.expectedSize = expectedSize;
    this.tempPath = temp.path;
    this.#handle = temp.handle;
    this.#hash = createHash(digest.algorithm);
    this.done = new Promise<FillResult>((resolve, reject) => {
      this.once('settled', () => (this.#state === 'verified' ? resolve({ size: this.#written }) : reject(this.#error)));
    });
    // Readers observe failures through their own streams; the promise is for the owner.
    this.done.catch(() => undefined);
  }

  get state(): FillState {
    return this.#state;
  }

  get written(): number {
    return this.#written;
  }

  /** Bytes a reader may hand out now: all of them once verified, all but the last before. */
  available(waitForVerified: boolean): number {
    if (this.#state === 'verified') return this.#written;
    if (waitForVerified) return 0;
    return Math.max(0, this.#written - 1);
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Copies `source` into the temp file, hashing as bytes pass, then checks size and digest.
   * `onBytes` reports progress for metrics. Never throws: the outcome is in `done`.
   */
  async run(source: Readable, onBytes: (n: number) => void): Promise<void> {
    const sink = new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _enc, cb) => {
        if (this.expectedSize !== undefined && this.#written + chunk.length > this.expectedSize) {
          cb(new SignetError('DIGEST_MISMATCH', `upstream sent more than the announced ${this.expectedSize} bytes for ${this.digest.value}`));
          return;
        }
        this.#hash.update(chunk);
        this.#handle.write(chunk, 0, chunk.length, this.#written).then(
          () => {
            this.#written += chunk.length;
            onBytes(chunk.length);
            this.emit('progress');
            cb();
          },
          (err: unknown) => cb(err as Error),
        );
      },
    });
    try {
      await pipeline(source, sink);
      const actual = `${this.digest.algorithm}:${this.#hash.digest('hex')}`;
      if (this.expectedSize !== undefined && this.#written !== this.expectedSize) {
        throw new SignetError('DIGEST_MISMATCH', `upstream sent ${this.#written} of the announced ${this.expectedSize} bytes for ${this.digest.value}`);
      }
      if (actual !== this.digest.value) {
        throw new SignetError('DIGEST_MISMATCH', `upstream bytes for ${this.digest.value} hash to ${actual}`);
      }
      this.#state = 'verified';
    } catch (err) {
      this.#state = 'failed';
      this.#error =
        err instanceof SignetError ? err : new SignetError('UPSTREAM_UNAVAILABLE', `download of ${this.digest.value} failed: ${errorMessage(err)}`, { cause: err });
      await unlink(this.tempPath).catch(() => undefined);
    } finally {
      this.#writerDone = true;
      this.emit('progress');
      this.emit('settled');
      this.#maybeClose();
    }
  }

  /**
   * A stream of the blob from `start` to `end` (inclusive) following the file as it grows.
   * With `waitForVerified` nothing is handed out before the digest matched (ranges: a client
   * cannot check a part, so it gets only verified bytes).
   */
  createReader(start = 0, end?: number, waitForVerified = false): Readable {
    this.#readers++;
    let position = start;
    let reading = false;
    const last = (): number | undefined => end ?? (this.#state === 'verified' ? this.#written - 1 : this.expectedSize !== undefined ? this.expectedSize - 1 : undefined);
    const onProgress = (): void => pump();
    const stream = new Readable({
      highWaterMark: READ_CHUNK,
      read: () => pump(),
      destroy: (err, cb) => {
        this.off('progress', onProgress);
        this.#readers--;
        this.#maybeClose();
        cb(err);
      },
    });
    const pump = (): void => {
      if (reading || stream.destroyed) return;
      if (this.#state === 'failed') {
        stream.destroy(this.#error);
        return;
      }
      const stop = last();
      if (stop !== undefined && position > stop && this.#state === 'verified') {
        stream.push(null);
        return;
      }
      const limit = Math.min(this.available(waitForVerified), stop === undefined ? Infinity : stop + 1);
      if (position >= limit) return; // wait for the next 'progress'
      reading = true;
      const length = Math.min(READ_CHUNK, limit - position);
      const buf = Buffer.allocUnsafe(length);
      this.#handle.read(buf, 0, length, position).then(
        ({ bytesRead }) => {
          reading = false;
          position += bytesRead;
          if (stream.destroyed) return;
          if (stream.push(bytesRead === length ? buf : buf.subarray(0, bytesRead))) pump();
        },
        (err: unknown) => {
          reading = false;
          stream.destroy(err as Error);
        },
      );
    };
    this.on('progress', onProgress);
    return stream;
  }

  /** Called by the owner once no new reader can be created (the fill left the in-flight map). */
  seal(): void {
    this.#sealed = true;
    this.#maybeClose();
  }

  /** The shared descriptor stays open while the writer or any reader may still use it. */
  #maybeClose(): void {
    if (this.#writerDone && this.#sealed && this.#readers === 0 && !this.#closed) {
      this.#closed = true;
      this.#handle.close().catch(() => undefined);
    }
  }
}
