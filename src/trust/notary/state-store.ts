import { mkdir, readFile, rename, writeFile, rm } from 'node:fs/promises';
import { randomUUID } from 'node:crypto';
import { dirname, join } from 'node:path';

/**
 * What is kept per trust server and GUN across restarts (Notary's local cache,
 * client/tufclient.go): the raw bytes of every metadata file last verified — the trusted
 * root is the anchor of the next update — and the highest version seen per role, which is
 * what rollback protection compares against.
 */
export interface TrustStateStore {
  read(server: string, gun: string, file: string): Promise<Buffer | undefined>;
  write(server: string, gun: string, file: string, bytes: Buffer): Promise<void>;
  remove(server: string, gun: string, file: string): Promise<void>;
  versions(server: string, gun: string): Promise<Record<string, number>>;
  saveVersions(server: string, gun: string, versions: Record<string, number>): Promise<void>;
}

export class DiskTrustStateStore implements TrustStateStore {
  readonly #root: string;

  constructor(root: string) {
    this.#root = root;
  }

  /** GUNs and role names are validated before they reach here; the server is encoded. */
  #path(server: string, gun: string, file: string): string {
    return join(this.#root, encodeURIComponent(server), ...gun.split('/').map(encodeURIComponent), '_tuf', ...file.split('/'));
  }

  async read(server: string, gun: string, file: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.#path(server, gun, file));
    } catch {
      return undefined;
    }
  }

  async write(server: string, gun: string, file: string, bytes: Buffer): Promise<void> {
    const path = this.#path(server, gun, file);
    await mkdir(dirname(path), { recursive: true });
    const temp = `${path}.${randomUUID()}.tmp`;
    await writeFile(temp, bytes);
    await rename(temp, path);
  }

  async remove(server: string, gun: string, file: string): Promise<void> {
    await rm(this.#path(server, gun, file), { force: true });
  }

  async versions(server: string, gun: string): Promise<Record<string, number>> {
    const bytes = await this.read(server, gun, 'versions');
    if (!bytes) return {};
    try {
      const parsed: unknown = JSON.parse(bytes.toString('utf8'));
      const out: Record<string, number> = {};
      if (typeof parsed === 'object' && parsed !== null) {
        for (const [k, v] of Object.entries(parsed)) if (typeof v === 'number' && Number.isSafeInteger(v)) out[k] = v;
      }
      return out;
    } catch {
      return {};
    }
  }

  async saveVersions(server: string, gun: string, versions: Record<string, number>): Promise<void> {
    await this.write(server, gun, 'versions', Buffer.from(JSON.stringify(versions)));
  }
}

/** For tests and `signet check` dry runs: the same contract, nothing on disk. */
export class MemoryTrustStateStore implements TrustStateStore {
  readonly #files = new Map<string, Buffer>();

  async read(server: string, gun: string, file: string): Promise<Buffer | undefined> {
    return this.#files.get(`${server}|${gun}|${file}`);
  }

  async write(server: string, gun: string, file: string, bytes: Buffer): Promise<void> {
    this.#files.set(`${server}|${gun}|${file}`, bytes);
  }

  async remove(server: string, gun: string, file: string): Promise<void> {
    this.#files.delete(`${server}|${gun}|${file}`);
  }

  async versions(server: string, gun: string): Promise<Record<string, number>> {
    const bytes = this.#files.get(`${server}|${gun}|versions`);
    return bytes ? (JSON.parse(bytes.toString('utf8')) as Record<string, number>) : {};
  }

  async saveVersions(server: string, gun: string, versions: Record<string, number>): Promise<void> {
    this.#files.set(`${server}|${gun}|versions`, Buffer.from(JSON.stringify(versions)));
  }
}
