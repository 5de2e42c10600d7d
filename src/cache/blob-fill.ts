import { createHash, type Hash } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import type { Digest } from '../registry/names.js';
import type { BufferPool } from './buffer-pool.js';
import type { PendingBlob } from './ports.js';

export type FillState = 'running' | 'verified' | 'failed';

export interface FillResult {
  size: number;
}

/**
 * How far a download may run ahead of its leading reader. The next write batch (up to
 * blobWriteBufferBytes) and the reader's next read land on top of it, and all of that must still
 * be inside the window kept in memory.
 */
const PACE_AHEAD_BYTES = Math.max(0, DEFAULTS.blobMemoryWindowBytes - DEFAULTS.blobWriteBufferBytes - DEFAULTS.blobReadChunkBytes);

interface MemoryChunk {
  offset: number;
  buf: Buffer;
}

/**
 * One upstream download of a blob into a pending blob of a BlobStore, shared by every client
 * that asks for the blob meanwhile. The bytes are hashed as they arrive; readers that keep up
 * take them from the newest bytes kept in memory (`blobMemoryWindowBytes`), readers that fall
 * further behind read them back from the pending blob, and all are held back by one byte until
 * the digest matched, so no client can complete a download whose bytes turn out wrong: on a
 * mismatch every reader is destroyed and the caller cuts the client connection.
 *
 * The download is paced by its leading client: it runs at most about half a window ahead of the
 * client furthest ahead, so that client is served from memory instead of reading every byte
 * back from the file (a loopback or LAN upstream is faster than most clients, and reading back
 * doubled the copies and allocations of a cold pull). When that client stops taking bytes for
 * `blobPaceStallMs`, or no client follows the download, it runs at full speed for the cache.
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
  /** Bytes accepted (hashed, in order). */
  #received = 0;
  /** Bytes in the pending blob. */
  #written = 0;
  /** The newest accepted chunks, in order: every chunk not written yet, and the written ones of the last window. */
  #memory: MemoryChunk[] = [];
  /** Positions of the readers that follow the download (not the ones waiting for the verification). */
  readonly #followers = new Set<{ position: number }>();
  /** When a follower last took bytes (ms, performance.now()). */
  #followerMovedAt = 0;
  /** The write batch's callback while the download waits for its leading reader. */
  #paused: (() => void) | undefined;
  #pauseTimer: NodeJS.Timeout | undefined;
  #state: FillState = 'running';
  #error: Error | undefined;
  #readers = 0;
  #writerDone = false;
  #sealed = false;
  #closed = false;
  readonly done: Promise<FillResult>;

  /** Buffers for reading the pending blob back (else one allocation per read). */
  readonly #buffers: BufferPool | undefined;

  constructor(digest: Digest, expectedSize: number | undefined, pending: PendingBlob, buffers?: BufferPool) {
    super();
    this.#buffers = buffers;
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
        this.#memory.push({ offset: this.#received, buf: chunk });
        this.#received += chunk.length;
        length += chunk.length;
      }
      onBytes(length);
      this.emit('progress');
      this.pending.writev(buffers, this.#written).then(
        () => {
          this.#written += length;
          this.#trimMemory();
          this.emit('progress');
          this.#paceThen(() => cb());
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
      // A verified download keeps its window for the readers still behind it, until it closes.
      if (this.#state !== 'verified') this.#memory = [];
      this.#resume();
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
    const follower = waitForVerified ? undefined : { position };
    if (follower) this.#followers.add(follower);
    /**
     * Called after a push: the download may go on if it waited for this reader. Deferred, because
     * resuming it can accept the next bytes at once, whose 'progress' must not run this reader's
     * pump in the middle of its own (it would push later bytes before earlier ones).
     */
    const took = (): void => {
      if (!follower) return;
      follower.position = position;
      this.#followerMovedAt = performance.now();
      if (this.#paused) queueMicrotask(() => this.#paceThen(undefined));
    };
    const last = (): number | undefined =>
      end ?? (this.#state === 'verified' ? this.#received - 1 : this.expectedSize !== undefined ? this.expectedSize - 1 : undefined);
    const onProgress = (): void => pump();
    const stream = new Readable({
      highWaterMark: DEFAULTS.blobReadChunkBytes,
      read: () => pump(),
      destroy: (err, cb) => {
        this.off('progress', onProgress);
        if (follower) {
          this.#followers.delete(follower);
          if (this.#paused) queueMicrotask(() => this.#paceThen(undefined));
        }
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
      const inMemory = this.#inMemory(position);
      if (inMemory) {
        // Close behind the download: hand out the accepted bytes without a disk round trip.
        const slice = inMemory.buf.subarray(position - inMemory.offset, Math.min(inMemory.buf.length, limit - inMemory.offset));
        position += slice.length;
        const more = stream.push(slice);
        took();
        if (more) queueMicrotask(pump);
        return;
      }
      reading = true;
      const length = Math.min(DEFAULTS.blobReadChunkBytes, Math.min(limit, this.#state === 'verified' ? limit : this.#written) - position);
      if (length <= 0) {
        reading = false;
        return; // the bytes are between memory and disk: the write completes, then 'progress'
      }
      // The pool's buffers are blobReadChunkBytes long, so `length` fits.
      const buf = this.#buffers ? this.#buffers.take() : Buffer.allocUnsafe(length);
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
          const more = stream.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
          took();
          if (more) pump();
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

  /** The chunk in memory holding byte `position`, if it is still there. */
  #inMemory(position: number): MemoryChunk | undefined {
    const chunks = this.#memory;
    let lo = 0;
    let hi = chunks.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const c = chunks[mid] as MemoryChunk;
      if (position < c.offset) hi = mid - 1;
      else if (position >= c.offset + c.buf.length) lo = mid + 1;
      else return c;
    }
    return undefined;
  }

  /** Drops the written chunks older than the window; unwritten ones stay (readers cannot read them from the file yet). */
  #trimMemory(): void {
    const keepFrom = Math.min(this.#written, this.#received - DEFAULTS.blobMemoryWindowBytes);
    let drop = 0;
    for (const c of this.#memory) {
      if (c.offset + c.buf.length > keepFrom) break;
      drop++;
    }
    if (drop > 0) this.#memory.splice(0, drop);
  }

  /**
   * Calls `next` (or the waiting batch's callback) now, unless the leading follower is more than
   * PACE_AHEAD_BYTES behind and took bytes within `blobPaceStallMs`: then once it caught up,
   * left, or stalled.
   */
  #paceThen(next: (() => void) | undefined): void {
    if (next) this.#paused = next;
    const waiting = this.#paused;
    if (!waiting) return;
    let lead = -1;
    for (const f of this.#followers) lead = Math.max(lead, f.position);
    const stalledFor = performance.now() - this.#followerMovedAt;
    const ahead = this.#received - lead;
    if (lead < 0 || ahead <= PACE_AHEAD_BYTES || stalledFor >= DEFAULTS.blobPaceStallMs) {
      this.#resume();
      return;
    }
    if (!this.#pauseTimer) {
      this.#pauseTimer = setTimeout(() => {
        this.#pauseTimer = undefined;
        this.#paceThen(undefined);
      }, DEFAULTS.blobPaceStallMs - stalledFor);
    }
  }

  #resume(): void {
    if (this.#pauseTimer) clearTimeout(this.#pauseTimer);
    this.#pauseTimer = undefined;
    const waiting = this.#paused;
    this.#paused = undefined;
    waiting?.();
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
      this.#memory = [];
      this.pending.close().catch(() => undefined);
    }
  }
}
