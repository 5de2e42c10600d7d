import { SignetError } from '../../errors.js';
import type { PendingBlob } from '../ports.js';
import { settle } from '../settle.js';

type State = 'writing' | 'committed' | 'discarded';

/**
 * A blob being written into memory. It behaves like the disk one: reads keep working after
 * commit or discard until `close` (a reader behind the download still gets its bytes), writes
 * stop at commit, discard or close.
 */
export class MemoryPendingBlob implements PendingBlob {
  readonly owner: object;
  #buffer = Buffer.alloc(0);
  #length = 0;
  #state: State = 'writing';
  #closed = false;

  constructor(owner: object) {
    this.owner = owner;
  }

  get length(): number {
    return this.#length;
  }

  get state(): State {
    return this.#state;
  }

  writev(buffers: readonly Buffer[], position: number): Promise<void> {
    return settle(() => {
      if (this.#state !== 'writing' || this.#closed) {
        throw new SignetError('STORAGE_ERROR', `cannot write to a pending blob that is ${this.#closed ? 'closed' : this.#state}`);
      }
      let end = position;
      for (const b of buffers) end += b.length;
      if (end > this.#buffer.length) {
        // Doubling keeps a blob written chunk by chunk from being copied once per chunk.
        const grown = Buffer.alloc(Math.max(end, this.#buffer.length * 2));
        this.#buffer.copy(grown, 0, 0, this.#length);
        this.#buffer = grown;
      }
      let at = position;
      for (const b of buffers) at += b.copy(this.#buffer, at);
      this.#length = Math.max(this.#length, end);
    });
  }

  read(target: Buffer, position: number, length: number): Promise<number> {
    return settle(() => {
      if (this.#closed) throw new SignetError('STORAGE_ERROR', 'cannot read a pending blob that is closed');
      if (position >= this.#length) return 0;
      return this.#buffer.copy(target, 0, position, Math.min(this.#length, position + length));
    });
  }

  close(): Promise<void> {
    return settle(() => {
      this.#closed = true;
      // Bytes that can still be committed stay until the owner commits or discards them.
      if (this.#state !== 'writing') this.#buffer = Buffer.alloc(0);
    });
  }

  discard(): Promise<void> {
    return settle(() => {
      if (this.#state !== 'writing') return;
      this.#state = 'discarded';
      if (this.#closed) this.#buffer = Buffer.alloc(0);
    });
  }

  /** Hands the bytes to the store (exactly `length` of them); reads go on until `close`. */
  takeForCommit(): Buffer {
    this.#state = 'committed';
    const exact = this.#buffer.length === this.#length ? this.#buffer : Buffer.from(this.#buffer.subarray(0, this.#length));
    this.#buffer = this.#closed ? Buffer.alloc(0) : exact;
    return exact;
  }
}
