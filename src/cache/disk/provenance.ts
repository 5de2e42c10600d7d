import { appendFile, mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError, errorMessage } from '../../errors.js';
import { isTag, parseDigest } from '../../registry/names.js';
import type { Provenance, ProvenanceEntry, ProvenanceRoot, ProvenanceStore } from '../ports.js';
import { applyDrop, applyRecord, snapshot, validateRecord, type Change, type Entries } from '../provenance-entries.js';
import { isNotFound, repositoryDir } from './files.js';

export interface DiskProvenanceStoreOptions {
  /** `<storage.path>/state`: one file per repository, `<root>/<upstream>/<repository>/_lineage`. */
  root: string;
  /** Repositories whose provenance is held in memory (entries); others are read again from disk. */
  memoryRepositories?: number;
  clock?: () => number;
}

/**
 * One letter per kind; `v` and `u` are the lines Signet always wrote, `a` came with artifacts.
 * Lines (appended, replayed in order when loaded):
 * - `<flag> <digest>`: a digest recorded without a root (earlier versions): its own root,
 *   verified at an unknown time, so the policy re-checks it before it serves it again;
 * - `<flag> <digest> <root digest> <verified at, epoch ms> [<tag>]`: a root vouching for it;
 * - `- <root digest>`: that root no longer vouches, for any digest of the repository.
 * Earlier versions read the two newer kinds of line as lines they do not understand: they grant
 * nothing (the safe direction).
 */
const FLAG: Record<Provenance, string> = { verified: 'v', artifact: 'a', unverified: 'u' };
const KIND: ReadonlyMap<string, Provenance> = new Map([
  ['v', 'verified'],
  ['a', 'artifact'],
  ['u', 'unverified'],
]);

const DROP = '-';
const EPOCH_MS = /^\d{1,15}$/;

interface Loaded {
  entries: Entries;
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
  readonly #clock: () => number;

  constructor(options: DiskProvenanceStoreOptions) {
    this.#root = options.root;
    this.#clock = options.clock ?? Date.now;
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
    return (await this.#load(upstream, repository)).entries.get(digest)?.kind;
  }

  async entry(upstream: string, repository: string, digest: string): Promise<ProvenanceEntry | undefined> {
    return snapshot((await this.#load(upstream, repository)).entries.get(digest));
  }

  /** Records `digests`; only new digests and roots, or kinds that rise, touch the disk. */
  async record(upstream: string, repository: string, digests: readonly string[], provenance: Provenance, roots?: readonly ProvenanceRoot[]): Promise<void> {
    // Validated before they reach the file: anything but a digest (or a tag) could forge a line.
    validateRecord(digests, roots);
    const loaded = await this.#load(upstream, repository);
    const changes = applyRecord(loaded.entries, digests, provenance, roots, this.#clock());
    if (changes.length === 0) return; // the hot path: a manifest served again records nothing
    await this.#append(upstream, repository, loaded, changes.map(line));
  }

  async dropRoot(upstream: string, repository: string, root: string): Promise<void> {
    parseDigest(root);
    const loaded = await this.#load(upstream, repository);
    if (!applyDrop(loaded.entries, root)) return;
    await this.#append(upstream, repository, loaded, [`${DROP} ${root}`]);
  }

  /** Appends lines after the writes already queued for the repository. */
  async #append(upstream: string, repository: string, loaded: Loaded, lines: readonly string[]): Promise<void> {
    const key = DiskProvenanceStore.#key(upstream, repository);
    const file = this.#file(upstream, repository);
    const text = (loaded.endsWithNewline ? '' : '\n') + lines.map((l) => `${l}\n`).join('');
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

function line(change: Change): string {
  const head = `${FLAG[change.kind]} ${change.digest}`;
  const root = change.root;
  return root ? `${head} ${root.digest} ${root.verifiedAt}${root.tag === undefined ? '' : ` ${root.tag}`}` : head;
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
  const entries: Entries = new Map();
  for (const l of text.split('\n')) replay(entries, l);
  return { entries, endsWithNewline: text === '' || text.endsWith('\n') };
}

/** Applies one line; a line that does not parse (an unknown flag, a line cut by a crash) grants nothing. */
function replay(entries: Entries, text: string): void {
  const fields = text.split(' ');
  const [flag = '', digest = '', root, at, tag] = fields;
  if (!isDigest(digest)) return;
  if (flag === DROP) {
    if (fields.length === 2) applyDrop(entries, digest);
    return;
  }
  const kind = KIND.get(flag);
  if (kind === undefined) return;
  if (fields.length === 2) {
    applyRecord(entries, [digest], kind, undefined, 0);
    return;
  }
  if (kind === 'unverified' || fields.length > 5 || root === undefined || !isDigest(root) || at === undefined || !EPOCH_MS.test(at)) return;
  if (tag !== undefined && !isTag(tag)) return;
  applyRecord(entries, [digest], kind, [{ digest: root, verifiedAt: Number(at), ...(tag === undefined ? {} : { tag }) }], 0);
}

function isDigest(text: string): boolean {
  try {
    return parseDigest(text).value === text;
  } catch {
    return false;
  }
}
