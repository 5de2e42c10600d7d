import { mkdir, open, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';

export interface RotatingFileOptions {
  path: string;
  /** Bytes the current file may reach; a line that would cross it goes to a fresh file. */
  maxBytes: number;
  /** Rotated files kept besides the current one: `<path>.1` (newest) ... `<path>.<files>`. */
  files: number;
  /** Bytes per write when lines are queued (DEFAULTS.auditMaxWriteBytes). */
  maxWriteBytes?: number;
  /** A write, rotation or open that failed; the lines of that write are lost. */
  onError?: (err: unknown) => void;
}

/**
 * An append-only log file that rotates by size, the way logrotate's `rotate N` / `size` do: the
 * current file becomes `<path>.1`, `<path>.1` becomes `<path>.2`, ..., the oldest beyond `files`
 * is overwritten. On disk it never holds more than `(files + 1) × maxBytes` (plus one line that
 * is alone larger than maxBytes). Writes are queued and appended in batches by one writer, in
 * order; `write` never blocks the event loop.
 */
export class RotatingFile {
  readonly #o: Required<Omit<RotatingFileOptions, 'onError'>> & Pick<RotatingFileOptions, 'onError'>;
  readonly #queue: string[] = [];
  #file: FileHandle | undefined;
  /** Bytes in the current file. */
  #size = 0;
  #writing: Promise<void> | undefined;
  #closed = false;

  constructor(options: RotatingFileOptions) {
    this.#o = { maxWriteBytes: DEFAULTS.auditMaxWriteBytes, ...options, maxBytes: Math.max(1, options.maxBytes), files: Math.max(1, options.files) };
  }

  /** Queues `line` (which ends with its newline). */
  write(line: string): boolean {
    if (this.#closed) return false;
    this.#queue.push(line);
    this.#kick();
    return true;
  }

  /**
   * Resolves once every line written so far is in the file, and closes the file until the next
   * line (flush is what a stopping Signet calls: it then holds no descriptor).
   */
  async flush(): Promise<void> {
    while (this.#writing) await this.#writing;
    const file = this.#file;
    this.#file = undefined;
    await file?.close();
  }

  /** Flushes; later lines are dropped. */
  async close(): Promise<void> {
    this.#closed = true;
    await this.flush();
  }

  /** Starts the one writer unless it runs; a line queued while it was finishing starts it again. */
  #kick(): void {
    if (this.#writing || this.#queue.length === 0) return;
    this.#writing = this.#drain().finally(() => {
      this.#writing = undefined;
      this.#kick();
    });
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#take();
      try {
        let file = this.#file ?? (await this.#open());
        if (this.#size > 0 && this.#size + batch.bytes > this.#o.maxBytes) file = await this.#rotate(file);
        // appendFile writes all of it (a plain write may be partial).
        await file.appendFile(batch.text);
        this.#size += batch.bytes;
      } catch (err) {
        // The batch is dropped: retrying it forever would queue every later line in memory.
        this.#o.onError?.(err);
      }
    }
  }

  /**
   * The next lines to write: as many as fit in one write, stopping before the line that would
   * take the current file over maxBytes (that one starts the next file). At least one line.
   */
  #take(): { text: string; bytes: number } {
    let count = 0;
    let bytes = 0;
    for (const line of this.#queue) {
      const n = Buffer.byteLength(line);
      if (count > 0 && (bytes + n > this.#o.maxWriteBytes || this.#size + bytes + n > this.#o.maxBytes)) break;
      count++;
      bytes += n;
    }
    // One splice per batch: shifting line by line is quadratic in a long backlog.
    return { text: this.#queue.splice(0, count).join(''), bytes };
  }

  async #open(): Promise<FileHandle> {
    await mkdir(dirname(this.#o.path), { recursive: true });
    const file = await open(this.#o.path, 'a');
    this.#size = (await file.stat()).size;
    this.#file = file;
    return file;
  }

  async #rotate(current: FileHandle): Promise<FileHandle> {
    this.#file = undefined;
    await current.close();
    const { path, files } = this.#o;
    for (let i = files - 1; i >= 1; i--) await renameIfPresent(`${path}.${i}`, `${path}.${i + 1}`);
    await renameIfPresent(path, `${path}.1`);
    return this.#open();
  }
}

async function renameIfPresent(from: string, to: string): Promise<void> {
  try {
    await rename(from, to);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new Error(`cannot rotate ${from} to ${to}: ${errorMessage(err)}`, { cause: err });
  }
}
