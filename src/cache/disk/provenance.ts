import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import { parseDigest } from '../../registry/names.js';
import type { Provenance, ProvenanceStore } from '../ports.js';
import { isStronger, raisedDigests } from '../provenance-kind.js';
import { isNotFound, repositoryDir } from './files.js';

export interface DiskProvenanceStoreOptions {
  /** `<storage.path>/state`: one file per repository, `<root>/<upstream>/<repository>/_lineage`. */
  root: string;
  /** Repositories whose provenance is held in memory (entries); others are read again from disk. */
  memoryRepositories?: number;
}

/** One letter per kind; `v` and `u` are the lines Signet always wrote, `a` came with artifacts. */
const FLAG: Record<Provenance, string> = { verified: 'v', artifact: 'a', unverified: 'u' };
const KIND: ReadonlyMap<string, Provenance> = new Map([
  ['v', 'verified'],
  ['a', 'artifact'],
  ['u', 'unverified'],
]);

interface Loaded {
  entries: Map<string, Provenance>;
  /** False when a crash cut the last line short: the next append starts on a new line. */
  endsWithNewline: boolean;
}

/**
 * Which digests a repository's served manifests authorise, appended to one file per repository
 * (`<flag> <digest>` lines) and loaded lazily, so a digest pull after a restart is judged by what
 * was admitted before. Provenance is security state: a file that exists but cannot be read is an
 * error (STORAGE_ERROR), never "no provenance" read as empty and never silently rewritten. Lines
 * that do not parse (an unknown flag, a line cut by a crash) grant nothing.
 */
export class DiskProvenanceStore implements ProvenanceStore {
  readonly #root: string;
  readonly #loaded: LRUCache<string, Promise<Loaded>>;
  /** Appends in progress per repository, in order; a reload waits for them. */
  readonly #writes = new Map<string, Promise<void>>();

  constructor(options: DiskProvenanceStoreOptions) {
    this.#root = options.root;
    this.#loaded = new LRUCache({ max: Math.max(1, options.memoryRepositories ?? DEFAULTS.provenanceMemoryRepositories) });
  }

  #file(upstream: string, repository: string): string {
    // `_lineage`: the name the file always had, so existing data directories keep their provenance.
    return join(repositoryDir(this.#root, upstream, repository), '_lineage');
  }

  /** Keyed by upstream and repository; a repository name never holds a space (OCI name grammar). */
  static #key(upstream: string, repository: string): string {
    return `${upstream} ${repository}`;
  }

  #load(upstream: string, repository: string): Promise<Loaded> {
    const key = DiskProvenanceStore.#key(upstream, repository);
    const cached = this.#loaded.get(key);
    if (cached) return cached;
    const file = this.#file(upstream, repository);
    const loading = (async () => {
      await this.#writes.get(key)?.catch(() => undefined);
      return readProvenance(file);
    })();
    this.#loaded.set(key, loading);
    // A failed read is not remembered: the next request tries the file again.
    loading.catch(() => (this.#loaded.get(key) === loading ? this.#loaded.delete(key) : undefined));
    return loading;
  }

  async get(upstream: string, repository: string, digest: string): Promise<Provenance | undefined> {
    return (await this.#load(upstream, repository)).entries.get(digest);
  }

  /** Records `digests`; only new ones, or ones whose kind rises, touch the disk. */
  async record(upstream: string, repository: string, digests: readonly string[], provenance: Provenance): Promise<void> {
    // A digest is written into a line: anything but a digest could forge another line.
    const key = DiskProvenanceStore.#key(upstream, repository);
    const loaded = await this.#load(upstream, repository);
    const raised = raisedDigests(loaded.entries, digests, provenance);
    if (raised.length === 0) return; // the hot path: a manifest served again records nothing
    // Validated before they reach the file, so a crafted string cannot inject a line.
    for (const d of raised) parseDigest(d);
    const file = this.#file(upstream, repository);
    for (const d of raised) loaded.entries.set(d, provenance);
    const text = (loaded.endsWithNewline ? '' : '\n') + raised.map((d) => `${FLAG[provenance]} ${d}\n`).join('');
    loaded.endsWithNewline = true;
    const previous = this.#writes.get(key) ?? Promise.resolve();
    const write = previous
      .catch(() => undefined)
      .then(async () => {
        await mkdir(dirname(file), { recursive: true });
        await appendFile(file, text);
      });
    this.#writes.set(key, write);
    try {
      await write;
    } catch (err) {
      // Memory must not claim what the disk does not hold: read the file again next time.
      this.#loaded.delete(key);
      throw new SignetError('STORAGE_ERROR', `cannot record provenance in ${file}: ${errorMessage(err)}`, { cause: err });
    } finally {
      if (this.#writes.get(key) === write) this.#writes.delete(key);
    }
  }
}

async function readProvenance(file: string): Promise<Loaded> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (isNotFound(err)) return { entries: new Map(), endsWithNewline: true };
    throw new SignetError(
      'STORAGE_ERROR',
      `cannot read provenance file ${file}: ${errorMessage(err)}; digest pulls of this repository are denied until it is readable again (restore it, or remove it to start over: digests are then admitted again only as their tags are pulled)`,
      { cause: err },
    );
  }
  const entries = new Map<string, Provenance>();
  for (const line of text.split('\n')) {
    const space = line.indexOf(' ');
    const kind = KIND.get(line.slice(0, space));
    const digest = line.slice(space + 1);
    if (space < 0 || kind === undefined || !isDigest(digest)) continue;
    if (isStronger(kind, entries.get(digest))) entries.set(digest, kind);
  }
  return { entries, endsWithNewline: text === '' || text.endsWith('\n') };
}

function isDigest(text: string): boolean {
  try {
    return parseDigest(text).value === text;
  } catch {
    return false;
  }
}
