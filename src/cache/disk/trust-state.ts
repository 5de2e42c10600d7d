import type { Dirent } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { SignetError, errorMessage } from '../../errors.js';
import type { TrustStateStore } from '../ports.js';
import { checkVersions } from '../trust-versions.js';
import { isNotFound, safeSegment, writeFileAtomic } from './files.js';

/**
 * A site's trust state, where the server keeps it (`<storage.path>/state/trust`): the commands
 * that decide outside the server (check, trust inspect, bundle import) share its pinned roots
 * and rollback floors.
 */
export function siteTrustState(storagePath: string): DiskTrustStateStore {
  return new DiskTrustStateStore(join(storagePath, 'state', 'trust'));
}

/** The rollback floors of a name live next to its metadata files. */
const VERSIONS_FILE = 'versions';

/**
 * Trust state on disk, the layout Signet always used (Notary's local cache,
 * client/tufclient.go): `<root>/<scope, URI-encoded>/<name parts, URI-encoded>/_tuf/<file>`,
 * where a role file's `/` makes sub-directories (`targets/releases.json`).
 *
 * Fail closed: only "not found" means absent. Any other read error, or floors that are not
 * valid, is a STORAGE_ERROR naming the file and what to do, because treating it as absent would
 * re-trust a root on first use or lower a rollback floor. Writes are atomic and flushed.
 */
export class DiskTrustStateStore implements TrustStateStore {
  readonly #root: string;

  /** `root`: `<storage.path>/state/trust`. */
  constructor(root: string) {
    this.#root = root;
  }

  #dir(scope: string, name: string): string {
    const parts = name.split('/').map((p) => safeSegment(encodeURIComponent(p), 'trust name component'));
    return join(this.#root, safeSegment(encodeURIComponent(scope), 'trust scope'), ...parts, '_tuf');
  }

  #path(scope: string, name: string, file: string): string {
    return join(this.#dir(scope, name), ...file.split('/').map((p) => safeSegment(p, 'trust file name')));
  }

  async read(scope: string, name: string, file: string): Promise<Buffer | undefined> {
    const path = this.#path(scope, name, file);
    try {
      return await readFile(path);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw unreadable(path, this.#dir(scope, name), name, errorMessage(err), err);
    }
  }

  async write(scope: string, name: string, file: string, bytes: Buffer): Promise<void> {
    const path = this.#path(scope, name, file);
    try {
      await writeFileAtomic(path, bytes, true);
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot save trust state ${path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async remove(scope: string, name: string, file: string): Promise<void> {
    const path = this.#path(scope, name, file);
    try {
      await rm(path, { force: true });
    } catch (err) {
      throw new SignetError('STORAGE_ERROR', `cannot remove trust state ${path}: ${errorMessage(err)}`, { cause: err });
    }
  }

  async versions(scope: string, name: string): Promise<Record<string, number>> {
    const bytes = await this.read(scope, name, VERSIONS_FILE);
    if (!bytes) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(bytes.toString('utf8'));
    } catch {
      parsed = undefined;
    }
    const versions = checkVersions(parsed);
    if (!versions) {
      const path = this.#path(scope, name, VERSIONS_FILE);
      throw unreadable(path, this.#dir(scope, name), name, 'not a JSON object of non-negative integer versions', undefined);
    }
    return versions;
  }

  async saveVersions(scope: string, name: string, versions: Record<string, number>): Promise<void> {
    const checked = checkVersions(versions);
    if (!checked) throw new SignetError('INTERNAL', `refusing to save rollback floors of ${name} that are not non-negative integers`);
    await this.write(scope, name, VERSIONS_FILE, Buffer.from(JSON.stringify(checked)));
  }

  async names(limit: number): Promise<Array<{ scope: string; name: string }>> {
    const found: Array<{ scope: string; name: string }> = [];
    // A name's directories hold its `_tuf/` with a `versions` file; anything else is skipped.
    const walk = async (dir: string, scope: string, parts: string[]): Promise<void> => {
      if (found.length >= limit || parts.length > MAX_NAME_DEPTH) return;
      const entries = await listDir(dir);
      if (parts.length > 0 && entries.some((e) => e.name === '_tuf' && e.isDirectory())) {
        if ((await listDir(join(dir, '_tuf'))).some((e) => e.name === VERSIONS_FILE && e.isFile())) found.push({ scope, name: parts.join('/') });
      }
      for (const e of entries) {
        if (found.length >= limit) return;
        const part = e.isDirectory() && e.name !== '_tuf' ? decodeSegment(e.name) : undefined;
        if (part !== undefined) await walk(join(dir, e.name), scope, [...parts, part]);
      }
    };
    for (const e of await listDir(this.#root)) {
      const scope = e.isDirectory() ? decodeSegment(e.name) : undefined;
      if (scope !== undefined) await walk(join(this.#root, e.name), scope, []);
      if (found.length >= limit) break;
    }
    return found;
  }
}

/** Components a name may have: a GUN is `<registry>/<repository>`, and repositories nest a few levels. */
const MAX_NAME_DEPTH = 16;

async function listDir(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if (isNotFound(err)) return [];
    throw new SignetError('STORAGE_ERROR', `cannot list trust state ${dir}: ${errorMessage(err)}`, { cause: err });
  }
}

/** A directory name back to the text it encodes; undefined for one this store did not write. */
function decodeSegment(segment: string): string | undefined {
  try {
    return decodeURIComponent(segment);
  } catch {
    return undefined;
  }
}

function unreadable(path: string, dir: string, name: string, problem: string, cause: unknown): SignetError {
  return new SignetError(
    'STORAGE_ERROR',
    `cannot read trust state ${path} (${problem}): ${name} is denied until it is readable. Restore the file from a backup, or remove ${dir} to trust ${name} again from scratch on purpose (its pinned root and rollback floors are then forgotten)`,
    cause === undefined ? {} : { cause },
  );
}
