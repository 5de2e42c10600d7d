import { createHash, type Hash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import type { Digest } from '../registry/names.js';
import type { PendingBlob } from './ports.js';

export type FillState = 'running' | 'verified' | 'failed';

export interface FillResult {
  size: number;
}

/**
 * One upstream download of a blob into a pending blob of a BlobStore, shared by every client
 * that asks for the blob meanwhile. The bytes are hashed as they arrive; readers that keep up
 * take them from the write batches still in memory, readers that fall behind read them back
 * from the pending blob, and all are held back by one byte until the digest matched, so no
 * client can complete a download whose bytes turn out wrong: on a mismatch every reader is
 * destroyed and the caller cuts the client connection.
 *
 * The pending blob's life: the owner creates it and, once `done` resolves, calls
 * `store.commit(pending, digest, size)`; readers still behind keep reading from the pending
 * blob after the commit. On a failure the fill discards the pending blob itself (its bytes must
 * never become visible, even if the owner forgets); the owner's own `discard()` afterwards is a
 * harmless repeat. The fill closes the pending blob when the writer is done, the owner sealed
 * it and no reader is left; the owner never closes it.
 */
export class BlobFill extends EventEmitter {
  readonly digest: Digest;
  /** Size announced by the upstream (Content-Length), if any. */
  readonly expectedSize: number | undefined;
  /** Where the bytes go; the owner commits it after `done` (see the class comment). */
  readonly pending: PendingBlob;
  readonly #hash: Hash;
  /** Bytes accepted (hashed, in order); the ones past `#written` are still in `#queued`. */
  #received = 0;
  /** Bytes in the pending blob. */
  #written = 0;
  /** Accepted chunks whose write has not completed yet, in order. */
  #queued: Array<{ offset: number; buf: Buffer }> = [];
  #state: FillState = 'running';
  #error: Error | undefined;
  #readers = 0;
  #writerDone = false;
  #sealed = false;
  #closed = false;
  readonly done: Promise<FillResult>;

  constructor(digest: Digest, expectedSize: number | undefined, pending: PendingBlob) {
    super();
    this.setMaxListeners(0);
    this.digest = digest;
    this.expectedSize = expectedSize;
    this.pending = pending;
    this.#hash = createHash(digest.algorithm);
    this.done = new Promise<FillResult>((resolve, reject) => {
      this.once('settled', () => {
        if (this.#state === 'verified') resolve({ size: this.#received });
        else reject(this.#error ?? new SignetError('INTERNAL', `download of ${this.digest.value} settled without an outcome`));
      });
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
    if (this.#state === 'verified') return this.#received;
    if (waitForVerified) return 0;
    return Math.max(0, this.#received - 1);
  }

  get error(): Error | undefined {
    return this.#error;
  }

  /**
   * Copies `source` into the pending blob, hashing as bytes pass, then checks size and digest.
   * `onBytes` reports progress for metrics. Never throws: the outcome is in `done`.
   */
  async run(source: Readable, onBytes: (n: number) => void): Promise<void> {
    // Chunks queue up (to blobWriteBufferBytes) while a write is in flight and go out in one writev, so
    // reading the upstream never waits for the store chunk by chunk; readers see them at once.
    const writeBatch = (buffers: Buffer[], cb: (err?: Error | null) => void): void => {
      let length = 0;
      for (const chunk of buffers) {
        if (this.expectedSize !== undefined && this.#received + chunk.length > this.expectedSize) {
          cb(new SignetError('DIGEST_MISMATCH', `upstream sent more than the announced ${this.expectedSize} bytes for ${this.digest.value}`));
          return;
        }
        this.#hash.update(chunk);
        this.#queued.push({ offset: this.#received, buf: chunk });
        this.#received += chunk.length;
        length += chunk.length;
      }
      onBytes(length);
      this.emit('progress');
      this.pending.writev(buffers, this.#written).then(
        () => {
          this.#written += length;
          while (this.#queued.length > 0 && (this.#queued[0] as { offset: number; buf: Buffer }).offset < this.#written) this.#queued.shift();
          this.emit('progress');
          cb();
        },
        (err: unknown) => cb(err as Error),
      );
    };
    const sink = new Writable({
      highWaterMark: DEFAULTS.blobWriteBufferBytes,
      write: (chunk: Buffer, _enc, cb) => writeBatch([chunk], cb),
      writev: (chunks, cb) =>
        writeBatch(
          chunks.map((c) => c.chunk as Buffer),
          cb,
        ),
    });
    try {
      await pipeline(source, sink);
      const actual = `${this.digest.algorithm}:${this.#hash.digest('hex')}`;
      if (this.expectedSize !== undefined && this.#received !== this.expectedSize) {
        throw new SignetError('DIGEST_MISMATCH', `upstream sent ${this.#received} of the announced ${this.expectedSize} bytes for ${this.digest.value}`);
      }
      if (actual !== this.digest.value) {
        throw new SignetError('DIGEST_MISMATCH', `upstream bytes for ${this.digest.value} hash to ${actual}`);
      }
      this.#state = 'verified';
    } catch (err) {
      this.#state = 'failed';
      this.#error =
        err instanceof SignetError
          ? err
          : new SignetError('UPSTREAM_UNAVAILABLE', `download of ${this.digest.value} failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      this.#queued = [];
      this.emit('progress');
      this.emit('settled');
    }
    // Readers were destroyed above and issue no new read; one in flight still completes.
    if (this.#state === 'failed') await this.pending.discard().catch(() => undefined);
    this.#writerDone = true;
    this.#maybeClose();
  }

  /**
   * A stream of the blob from `start` to `end` (inclusive) following the download as it grows.
   * With `waitForVerified` nothing is handed out before the digest matched (ranges: a client
   * cannot check a part, so it gets only verified bytes).
   */
  createReader(start = 0, end?: number, waitForVerified = false): Readable {
    this.#readers++;
    let position = start;
    let reading = false;
    const last = (): number | undefined =>
      end ?? (this.#state === 'verified' ? this.#received - 1 : this.expectedSize !== undefined ? this.expectedSize - 1 : undefined);
    const onProgress = (): void => pump();
    const stream = new Readable({
      highWaterMark: DEFAULTS.blobReadChunkBytes,
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
      const inMemory = this.#queued.find((p) => position >= p.offset && position < p.offset + p.buf.length);
      if (inMemory) {
        // Caught up with the download: hand out the accepted bytes without a disk round trip.
        const slice = inMemory.buf.subarray(position - inMemory.offset, Math.min(inMemory.buf.length, limit - inMemory.offset));
        position += slice.length;
        if (stream.push(slice)) queueMicrotask(pump);
        return;
      }
      reading = true;
      const length = Math.min(DEFAULTS.blobReadChunkBytes, Math.min(limit, this.#state === 'verified' ? limit : this.#written) - position);
      if (length <= 0) {
        reading = false;
        return; // the bytes are between memory and disk: the write completes, then 'progress'
      }
      const buf = Buffer.allocUnsafe(length);
      this.pending.read(buf, position, length).then(
        (bytesRead) => {
          reading = false;
          if (bytesRead === 0) {
            // Never expected (only written bytes are read): fail rather than spin.
            stream.destroy(new SignetError('STORAGE_ERROR', `pending blob of ${this.digest.value} ended at ${position} of ${this.#written} written bytes`));
            return;
          }
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

  /**
   * Keeps the pending blob open as a reader would, until the returned release is called: for a
   * caller that waits for `done` before it creates its reader (a range of a blob not verified
   * yet), while the owner may commit and seal the fill meanwhile.
   */
  hold(): () => void {
    this.#readers++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#readers--;
      this.#maybeClose();
    };
  }

  /** Called by the owner once no new reader can be created (the fill left the in-flight map). */
  seal(): void {
    this.#sealed = true;
    this.#maybeClose();
  }

  /** The pending blob stays open while the writer or any reader may still use it. */
  #maybeClose(): void {
    if (this.#writerDone && this.#sealed && this.#readers === 0 && !this.#closed) {
      this.#closed = true;
      this.pending.close().catch(() => undefined);
    }
  }
}
