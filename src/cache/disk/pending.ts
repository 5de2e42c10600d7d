import { open, unlink, type FileHandle } from 'node:fs/promises';
import { SignetError, errorMessage } from '../../errors.js';
import type { PendingBlob } from '../ports.js';

type State = 'writing' | 'committed' | 'discarded';

/**
 * A temporary file under `<root>/tmp` holding a blob until its digest matched. Bytes are read
 * back through the same descriptor, so readers keep working after the file was renamed to its
 * digest (commit), unlinked (discard) or evicted: POSIX keeps an open file's bytes until the
 * last descriptor closes. The descriptor is released by `close` only.
 */
export class DiskPendingBlob implements PendingBlob {
  /** The store that created it: a pending blob commits only into its own store. */
  readonly owner: object;
  readonly #path: string;
  readonly #handle: FileHandle;
  #state: State = 'writing';
  #closed = false;
  #length = 0;

  private constructor(owner: object, path: string, handle: FileHandle) {
    this.owner = owner;
    this.#path = path;
    this.#handle = handle;
  }

  static async create(owner: object, path: string): Promise<DiskPendingBlob> {
    try {
      return new DiskPendingBlob(owner, path, await open(path, 'wx+'));
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot create a temporary file ${path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Bytes written so far (the end of the furthest write). */
  get length(): number {
    return this.#length;
  }

  /** Where the bytes are while writing; the store renames it on commit. */
  get path(): string {
    return this.#path;
  }

  get state(): State {
    return this.#state;
  }

  async writev(buffers: readonly Buffer[], position: number): Promise<void> {
    if (this.#state !== 'writing' || this.#closed) {
      throw new SignetError('STORAGE_ERROR', `cannot write to a pending blob that is ${this.#closed ? 'closed' : this.#state}`);
    }
    let bytes = 0;
    for (const b of buffers) bytes += b.length;
    try {
      await this.#handle.writev(buffers, position);
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot write temporary file ${this.#path}: ${errorMessage(err)}`, { cause: err });
    }
    this.#length = Math.max(this.#length, position + bytes);
  }

  async read(target: Buffer, position: number, length: number): Promise<number> {
    if (this.#closed) throw new SignetError('STORAGE_ERROR', 'cannot read a pending blob that is closed');
    try {
      const { bytesRead } = await this.#handle.read(target, 0, length, position);
      return bytesRead;
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot read temporary file ${this.#path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    // FileHandle.close waits for reads still in flight on the descriptor.
    await this.#handle.close().catch(() => undefined);
  }

  /** Unlinks the temporary file; readers holding the descriptor finish first (POSIX). */
  async discard(): Promise<void> {
    if (this.#state !== 'writing') return;
    this.#state = 'discarded';
    await unlink(this.#path).catch(() => undefined);
  }

  /** Called by the store once the file was renamed to its digest: no more writes, no unlink. */
  markCommitted(): void {
    this.#state = 'committed';
  }
}
