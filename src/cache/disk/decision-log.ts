import { appendFile, mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { SignetError, errorMessage } from '../../errors.js';
import type { DecisionLogStore } from '../ports.js';
import { isNotFound, writeFileAtomic } from './files.js';

export interface DiskDecisionLogOptions {
  /** `<storage.path>/state`: the log is `<root>/decisions.jsonl`. */
  root: string;
  /** Lines kept (entries). */
  keep: number;
  /** Bytes of one line at most; a longer one is not kept (the audit log still has it). */
  maxLineBytes: number;
  logger?: Logger;
}

/**
 * The recent decisions in one append-only file of JSON lines. Appends go to the end; once the
 * file holds twice the lines it must keep, the newest `keep` are written to a new file that
 * replaces it (rename), so the file stays bounded and a crash leaves the old or the new one.
 * At start only the file's tail is read: `keep` lines of at most `maxLineBytes`.
 */
export class DiskDecisionLog implements DecisionLogStore {
  readonly #path: string;
  readonly #keep: number;
  readonly #maxLineBytes: number;
  readonly #logger: Logger | undefined;
  /** The newest lines, as in the file (at most `keep`). */
  #lines: string[] | undefined;
  /** Lines in the file now. */
  #fileLines = 0;
  /** The file ends in a line cut short (a crash mid-append): the next append starts a new line. */
  #cutShort = false;
  /** Appends and compactions, one after the other. */
  #queue: Promise<void> = Promise.resolve();

  constructor(options: DiskDecisionLogOptions) {
    this.#path = join(options.root, 'decisions.jsonl');
    this.#keep = Math.max(1, options.keep);
    this.#maxLineBytes = options.maxLineBytes;
    this.#logger = options.logger;
  }

  async #load(): Promise<string[]> {
    if (this.#lines) return this.#lines;
    const tailBytes = this.#keep * (this.#maxLineBytes + 1);
    let text = '';
    try {
      const handle = await open(this.#path, 'r');
      try {
        const { size } = await handle.stat();
        const start = Math.max(0, size - tailBytes);
        const buf = Buffer.alloc(size - start);
        await handle.read(buf, 0, buf.length, start);
        text = buf.toString('utf8');
        // A tail that starts mid-line: its first, partial line is dropped.
        if (start > 0) text = text.slice(text.indexOf('\n') + 1);
      } finally {
        await handle.close();
      }
    } catch (err) {
      if (!isNotFound(err)) throw new SignetError('STORAGE_ERROR', `cannot read ${this.#path}: ${errorMessage(err)}`, { cause: err });
    }
    this.#cutShort = text.length > 0 && !text.endsWith('\n');
    const lines = text.split('\n').filter((l) => l.length > 0);
    this.#fileLines = lines.length;
    this.#lines = lines.slice(-this.#keep);
    return this.#lines;
  }

  append(lines: readonly string[]): Promise<void> {
    const kept = lines.filter((l) => {
      const fits = Buffer.byteLength(l) <= this.#maxLineBytes && !l.includes('\n');
      if (!fits) this.#logger?.warn({ bytes: Buffer.byteLength(l) }, 'a decision too large for the recent-decisions log was left out (the audit log has it)');
      return fits;
    });
    if (kept.length === 0) return this.#queue;
    const run = this.#queue.then(async () => {
      const current = await this.#load();
      await mkdir(dirname(this.#path), { recursive: true });
      try {
        await appendFile(this.#path, `${this.#cutShort ? '\n' : ''}${kept.join('\n')}\n`);
        this.#cutShort = false;
      } catch (err) {
        throw new SignetError('STORAGE_ERROR', `cannot append to ${this.#path}: ${errorMessage(err)}`, { cause: err });
      }
      this.#fileLines += kept.length;
      current.push(...kept);
      if (current.length > this.#keep) this.#lines = current.slice(-this.#keep);
      if (this.#fileLines > 2 * this.#keep) await this.#compact();
    });
    // The queue goes on after a failure; the caller sees it.
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #compact(): Promise<void> {
    const lines = this.#lines ?? [];
    try {
      await writeFileAtomic(this.#path, lines.length > 0 ? `${lines.join('\n')}\n` : '');
      this.#fileLines = lines.length;
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot rewrite ${this.#path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async recent(limit: number): Promise<string[]> {
    await this.#queue;
    const lines = await this.#load();
    return limit <= 0 ? [] : lines.slice(-limit);
  }
}
