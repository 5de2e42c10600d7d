import { SignetError } from '../../errors.js';
import type { TrustStateStore } from '../ports.js';
import { checkVersions } from '../trust-versions.js';
import { settle } from '../settle.js';

/**
 * Trust state in memory (tests, `signet check` dry runs): the disk store's contract, nothing
 * on disk. Unbounded on purpose: forgetting a pinned root or a rollback floor would weaken
 * verification, and one run of `check` touches few repositories. Buffers and records are
 * copied in and out, so callers cannot change what is stored.
 */
export class MemoryTrustStateStore implements TrustStateStore {
  readonly #files = new Map<string, Buffer>();
  readonly #versions = new Map<string, Record<string, number>>();

  read(scope: string, name: string, file: string): Promise<Buffer | undefined> {
    return settle(() => {
      const bytes = this.#files.get(JSON.stringify([scope, name, file]));
      return bytes ? Buffer.from(bytes) : undefined;
    });
  }

  write(scope: string, name: string, file: string, bytes: Buffer): Promise<void> {
    return settle(() => {
      this.#files.set(JSON.stringify([scope, name, file]), Buffer.from(bytes));
    });
  }

  remove(scope: string, name: string, file: string): Promise<void> {
    return settle(() => {
      this.#files.delete(JSON.stringify([scope, name, file]));
    });
  }

  versions(scope: string, name: string): Promise<Record<string, number>> {
    return settle(() => ({ ...this.#versions.get(JSON.stringify([scope, name])) }));
  }

  saveVersions(scope: string, name: string, versions: Record<string, number>): Promise<void> {
    return settle(() => {
      const checked = checkVersions(versions);
      if (!checked) throw new SignetError('INTERNAL', `refusing to save rollback floors of ${name} that are not non-negative integers`);
      this.#versions.set(JSON.stringify([scope, name]), checked);
    });
  }

  names(limit: number): Promise<Array<{ scope: string; name: string }>> {
    return settle(() =>
      [...this.#versions.keys()].slice(0, limit).map((key) => {
        const [scope, name] = JSON.parse(key) as [string, string];
        return { scope, name };
      }),
    );
  }
}
