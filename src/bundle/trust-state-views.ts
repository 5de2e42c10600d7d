import type { TrustStateStore } from '../cache/ports.js';
import { MemoryTrustStateStore } from '../cache/memory/trust-state.js';

/**
 * Trust state of an export: in memory (the export verifies from the pinned roots, not from what
 * a server remembered), remembering every metadata file the verification kept per GUN — the
 * Notary trust data the verdicts used, which the bundle carries.
 */
export class RecordingTrustState implements TrustStateStore {
  readonly #inner = new MemoryTrustStateStore();
  /** GUN → file → bytes, as last written. */
  readonly #files = new Map<string, Map<string, Buffer>>();
  /** GUN → the scope it was written under (the trust server's origin). */
  readonly #scopes = new Map<string, string>();

  read(scope: string, name: string, file: string): Promise<Buffer | undefined> {
    return this.#inner.read(scope, name, file);
  }

  async write(scope: string, name: string, file: string, bytes: Buffer): Promise<void> {
    await this.#inner.write(scope, name, file, bytes);
    this.#scopes.set(name, scope);
    let files = this.#files.get(name);
    if (!files) this.#files.set(name, (files = new Map<string, Buffer>()));
    files.set(file, Buffer.from(bytes));
  }

  async remove(scope: string, name: string, file: string): Promise<void> {
    await this.#inner.remove(scope, name, file);
    this.#files.get(name)?.delete(file);
  }

  versions(scope: string, name: string): Promise<Record<string, number>> {
    return this.#inner.versions(scope, name);
  }

  saveVersions(scope: string, name: string, versions: Record<string, number>): Promise<void> {
    return this.#inner.saveVersions(scope, name, versions);
  }

  names(limit: number): Promise<Array<{ scope: string; name: string }>> {
    return this.#inner.names(limit);
  }

  /** The trust-state scope (the trust server's origin) each GUN was verified under. */
  get scopes(): ReadonlyMap<string, string> {
    return this.#scopes;
  }

  /** The verified metadata files kept for each GUN. */
  get guns(): ReadonlyMap<string, ReadonlyMap<string, Buffer>> {
    return this.#files;
  }
}

/**
 * Trust state of an import being decided: reads the site's persisted state (pinned TOFU roots,
 * rollback floors — an older bundle cannot roll trust data back), but keeps every write in
 * memory, so a refused import changes nothing. Once imported, serving verifies the data again
 * and persists its floors.
 */
export class OverlayTrustState implements TrustStateStore {
  readonly #base: TrustStateStore;
  readonly #overlay = new MemoryTrustStateStore();
  readonly #written = new Set<string>();
  readonly #removed = new Set<string>();
  readonly #versioned = new Set<string>();

  constructor(base: TrustStateStore) {
    this.#base = base;
  }

  async read(scope: string, name: string, file: string): Promise<Buffer | undefined> {
    const key = JSON.stringify([scope, name, file]);
    if (this.#written.has(key)) return this.#overlay.read(scope, name, file);
    if (this.#removed.has(key)) return undefined;
    return this.#base.read(scope, name, file);
  }

  async write(scope: string, name: string, file: string, bytes: Buffer): Promise<void> {
    const key = JSON.stringify([scope, name, file]);
    await this.#overlay.write(scope, name, file, bytes);
    this.#written.add(key);
    this.#removed.delete(key);
  }

  async remove(scope: string, name: string, file: string): Promise<void> {
    const key = JSON.stringify([scope, name, file]);
    await this.#overlay.remove(scope, name, file);
    this.#written.delete(key);
    this.#removed.add(key);
  }

  async versions(scope: string, name: string): Promise<Record<string, number>> {
    return this.#versioned.has(JSON.stringify([scope, name])) ? this.#overlay.versions(scope, name) : this.#base.versions(scope, name);
  }

  async saveVersions(scope: string, name: string, versions: Record<string, number>): Promise<void> {
    await this.#overlay.saveVersions(scope, name, versions);
    this.#versioned.add(JSON.stringify([scope, name]));
  }

  /** The site's names and those the import added, each once. */
  async names(limit: number): Promise<Array<{ scope: string; name: string }>> {
    const all = new Map<string, { scope: string; name: string }>();
    for (const n of [...(await this.#overlay.names(limit)), ...(await this.#base.names(limit))]) all.set(JSON.stringify([n.scope, n.name]), n);
    return [...all.values()].slice(0, limit);
  }
}
