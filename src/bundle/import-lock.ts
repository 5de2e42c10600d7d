import { randomUUID } from 'node:crypto';
import { link, open, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isNotFound } from '../cache/disk/files.js';
import { BundleError } from './bundle-manifest.js';
import { storageError } from './imported.js';

export interface ImportLock {
  release(): Promise<void>;
}

export interface ImportLockFileOptions {
  /** The lock file (`<store>/import.lock`). */
  path: string;
  /** Where its temporary files go (the store's `tmp/`, on the same filesystem: they are hard-linked into place). */
  tmpDir: string;
  /** The store, for messages. */
  root: string;
  logger: Logger;
}

/** The one import of a store at a time: a lock file holding the importing process's pid. */
export class ImportLockFile {
  readonly #path: string;
  readonly #tmpDir: string;
  readonly #root: string;
  readonly #logger: Logger;

  constructor(o: ImportLockFileOptions) {
    this.#path = o.path;
    this.#tmpDir = o.tmpDir;
    this.#root = o.root;
    this.#logger = o.logger;
  }

  /**
   * One import at a time: `import.lock` is created holding this process's pid (written to a
   * temporary file and hard-linked into place, so the lock never exists without its pid). A lock
   * whose process is gone (a killed import) is taken over; a live one is refused. `acquired`
   * runs once the lock is ours (if it fails, the lock is let go).
   */
  async acquire(acquired: () => Promise<void>): Promise<ImportLock> {
    const mine = String(process.pid);
    for (let attempt = 0; attempt < 3; attempt++) {
      if (await this.#tryLink(mine)) {
        try {
          await acquired();
        } catch (err) {
          await this.#releaseLock(mine).catch(() => undefined);
          throw err;
        }
        let released = false;
        return {
          release: async () => {
            if (released) return;
            released = true;
            await this.#releaseLock(mine);
          },
        };
      }
      const holder = await this.holder();
      if (holder === undefined) continue; // released meanwhile: try again
      if (holder.pid === undefined) {
        throw new BundleError(`${this.#path} holds no process id (it was not written by Signet): remove it if no import is running, then import again`);
      }
      if (holder.alive) {
        throw new BundleError(
          `another import (pid ${holder.pid}) is running on ${this.#root}: wait for it to finish, or, if process ${holder.pid} is not an import, remove ${this.#path}`,
        );
      }
      await this.#takeOver(holder.text);
    }
    throw new BundleError(`cannot take the import lock ${this.#path}: other imports keep taking it; try again`);
  }

  async #tryLink(pid: string): Promise<boolean> {
    const temp = join(this.#tmpDir, `lock-${randomUUID()}`);
    try {
      await writeFileFlushed(temp, `${pid}\n`);
      await link(temp, this.#path);
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw storageError(`cannot create the import lock ${this.#path}`, err);
    } finally {
      await unlink(temp).catch(() => undefined);
    }
  }

  /** The lock's holder: undefined when there is no lock. */
  async holder(): Promise<{ text: string; pid: number | undefined; alive: boolean } | undefined> {
    let text: string;
    try {
      text = await readFile(this.#path, 'utf8');
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw storageError(`cannot read the import lock ${this.#path}`, err);
    }
    const m = /^\s*(\d{1,10})\s*$/.exec(text);
    const pid = m?.[1] ? Number(m[1]) : undefined;
    return { text, pid, alive: pid !== undefined && pid > 0 && isAlive(pid) };
  }

  /**
   * Moves a stale lock aside, atomically: if another import replaced it meanwhile, what was
   * moved is not the stale lock, and it is put back (link fails if yet another lock appeared).
   */
  async #takeOver(staleText: string): Promise<void> {
    const aside = join(this.#tmpDir, `stale-lock-${randomUUID()}`);
    try {
      await rename(this.#path, aside);
    } catch (err) {
      if (isNotFound(err)) return;
      throw storageError(`cannot take over the stale import lock ${this.#path}`, err);
    }
    const moved = await readFile(aside, 'utf8').catch(() => undefined);
    if (moved !== staleText) await link(aside, this.#path).catch(() => undefined);
    else this.#logger.warn({ pid: staleText.trim() }, 'took over the import lock of a process that is gone');
    await unlink(aside).catch(() => undefined);
  }

  async #releaseLock(pid: string): Promise<void> {
    const holder = await this.holder().catch(() => undefined);
    // Another import's lock (ours was taken over as stale) is not ours to remove.
    if (holder && holder.text.trim() !== pid) return;
    try {
      await unlink(this.#path);
    } catch (err) {
      if (!isNotFound(err)) throw storageError(`cannot remove the import lock ${this.#path}`, err);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: the process exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function writeFileFlushed(path: string, text: string): Promise<void> {
  const handle = await open(path, 'wx');
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
