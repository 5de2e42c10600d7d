import { open, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import { parseHtpasswd } from './htpasswd-parse.js';

export interface HtpasswdFileOptions {
  path: string;
  logger: Logger;
  /** bytes; default DEFAULTS.htpasswdMaxBytes. */
  maxBytes?: number;
}

/**
 * The `auth.htpasswd` file, re-read when it changes (device, inode, size or mtime differ: an
 * editor's rename-over counts too), so users can be added or removed without a restart. A file
 * that cannot be read or is too large at start stops the start; later, the last good contents
 * stay in use and the problem is logged.
 */
export class HtpasswdFile {
  readonly #o: HtpasswdFileOptions;
  #users = new Map<string, string>();
  #stamp: string | undefined;
  #generation = 0;
  #refreshing: Promise<void> | undefined;

  constructor(options: HtpasswdFileOptions) {
    this.#o = options;
  }

  /** Reads the file; throws CONFIG_INVALID when it cannot be used. */
  async load(): Promise<void> {
    try {
      await this.#read();
    } catch (err) {
      throw new SignetError('CONFIG_INVALID', `auth.htpasswd: ${errorMessage(err)}`, { cause: err });
    }
  }

  /** Increases whenever the contents were re-read: credentials verified earlier may no longer hold. */
  get generation(): number {
    return this.#generation;
  }

  /** The bcrypt hash of `user`, after re-reading the file if it changed. */
  async lookup(user: string): Promise<string | undefined> {
    await this.refresh();
    return this.#users.get(user);
  }

  /** Some user's hash (for a decoy check of an unknown user), or undefined when there are none. */
  anyHash(): string | undefined {
    return this.#users.values().next().value;
  }

  /** Re-reads the file if it changed since the last read; concurrent callers share one check. */
  async refresh(): Promise<void> {
    this.#refreshing ??= this.#refreshIfChanged().finally(() => (this.#refreshing = undefined));
    return this.#refreshing;
  }

  async #refreshIfChanged(): Promise<void> {
    try {
      if (stampOf(await stat(this.#o.path)) === this.#stamp) return;
      await this.#read();
    } catch (err) {
      this.#o.logger.error({ path: this.#o.path, err: errorMessage(err) }, 'htpasswd file cannot be read; the last good contents stay in use');
    }
  }

  async #read(): Promise<void> {
    const max = this.#o.maxBytes ?? DEFAULTS.htpasswdMaxBytes;
    const handle = await open(this.#o.path, 'r');
    try {
      const info = await handle.stat();
      if (info.size > max) throw new Error(`${this.#o.path} is ${info.size} bytes, more than the ${max} allowed (DEFAULTS.htpasswdMaxBytes)`);
      // One byte more than the stat said: a file that grew after the stat is caught, never cut.
      const buffer = Buffer.alloc(info.size + 1);
      let length = 0;
      while (length < buffer.length) {
        const { bytesRead } = await handle.read(buffer, length, buffer.length - length, length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
      if (length > info.size) throw new Error(`${this.#o.path} changed while it was read`);
      const parsed = parseHtpasswd(buffer.subarray(0, length).toString('utf8'));
      for (const r of parsed.rejected) {
        // The user name helps the operator find the line; the hash is never logged.
        this.#o.logger.error({ path: this.#o.path, line: r.line, user: r.user }, `htpasswd entry refused: ${r.reason}`);
      }
      this.#users = parsed.users;
      this.#stamp = stampOf(info);
      this.#generation++;
      this.#o.logger.info({ path: this.#o.path, users: parsed.users.size, refused: parsed.rejected.length }, 'htpasswd file read');
    } finally {
      await handle.close();
    }
  }
}

function stampOf(s: Stats): string {
  return `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
}
