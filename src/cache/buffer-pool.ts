/**
 * Read buffers of one size, given back once their bytes are on their way to a client.
 *
 * A blob served from a file is read into buffers of `blobReadChunkBytes`; allocating a fresh one
 * per read made every served GiB some 4 000 short-lived buffers outside the JavaScript heap,
 * which V8 answers with full collections (and resident memory that grows between them). A
 * buffer taken here goes back to the pool only when the one consumer that knows the socket is
 * done with it (the response writer, after the write's callback) gives it back; a buffer never
 * given back is simply collected, so a consumer that does not recycle costs an allocation, never
 * a corruption.
 */
export class BufferPool {
  readonly size: number;
  readonly #maxFree: number;
  readonly #free: Buffer[] = [];
  /** The memory of every buffer this pool handed out, so slices of them can be recognised. */
  readonly #owned = new WeakSet<ArrayBufferLike>();

  /** `size`: bytes per buffer; `maxFreeBytes`: bytes of unused buffers kept for reuse. */
  constructor(size: number, maxFreeBytes: number) {
    this.size = size;
    this.#maxFree = Math.floor(maxFreeBytes / size);
  }

  /** A buffer of `size` bytes, with old contents: the caller overwrites what it uses. */
  take(): Buffer {
    const reused = this.#free.pop();
    if (reused) return reused;
    // Its own memory (not a slice of Node's shared 8 KiB pool), so it can be handed out again whole.
    const buf = Buffer.allocUnsafeSlow(this.size);
    this.#owned.add(buf.buffer);
    return buf;
  }

  /**
   * Gives back the buffer `chunk` is (or is a slice of), if it came from this pool. The caller
   * must hold no other reference to its bytes: the next `take` overwrites them.
   */
  recycle(chunk: Uint8Array): void {
    if (!this.#owned.has(chunk.buffer) || this.#free.length >= this.#maxFree) return;
    this.#free.push(Buffer.from(chunk.buffer, 0, this.size));
  }

  /** Buffers waiting for reuse (for tests and metrics). */
  get freeCount(): number {
    return this.#free.length;
  }
}
