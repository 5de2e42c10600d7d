import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError } from '../../errors.js';
import { isTag, parseDigest } from '../../registry/names.js';
import type { Provenance, ProvenanceEntry, ProvenanceRoot, ProvenanceStore } from '../ports.js';
import { applyDrop, applyRecord, snapshot, validateRecord, type Entries } from '../provenance-entries.js';
import { keyPart, storageError, type RedisScript, type RedisState } from './client.js';

export interface RedisProvenanceStoreOptions {
  state: RedisState;
  logger?: Logger;
  clock?: () => number;
  /**
   * How many times a change is tried again when another replica changed the repository between
   * its read and its write. Each round one writer wins, so this bounds the replicas writing one
   * repository at the same instant; past it the change fails with STORAGE_ERROR.
   */
  casAttempts?: number;
}

/**
 * The field of a repository's hash holding its version, raised by every change. No digest
 * starts with `#` (`<algorithm>:<encoded>`), so it never collides with one.
 */
const VERSION = '#v';

/**
 * Writes `field, value` pairs (an empty value deletes the field) only if the hash is still at
 * the version the caller read, and raises the version. Redis runs a script atomically.
 */
const COMPARE_AND_SET = `
local current = redis.call('HGET', KEYS[1], '${VERSION}') or '0'
if current ~= ARGV[1] then return 0 end
redis.call('HINCRBY', KEYS[1], '${VERSION}', 1)
for i = 2, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', KEYS[1], ARGV[i])
  else
    redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  end
end
return 1
`;

const FLAG: Record<Provenance, string> = { verified: 'v', artifact: 'a', unverified: 'u' };
const KIND: ReadonlyMap<unknown, Provenance> = new Map([
  ['v', 'verified'],
  ['a', 'artifact'],
  ['u', 'unverified'],
]);

type Entry = NonNullable<ReturnType<Entries['get']>>;

/**
 * Provenance shared by every replica: one hash per repository (`<prefix>prov:<upstream>:<repository>`),
 * digest → `{"k":<flag>,"r":[[<root digest>,<verified at>,<tag>?],...]}`. Security state: a
 * Redis that cannot be asked is a STORAGE_ERROR, never "no provenance"; a value that does not
 * parse grants nothing (as a line the disk store does not understand) and is logged.
 *
 * Concurrency. A record or a dropped root is a read-modify-write of the repository, and two
 * replicas may do it at once. The merge rules stay in one place (provenance-entries.ts, shared
 * with the disk and memory stores) and run here, in the process; the write is an optimistic
 * compare-and-set: a Lua script writes the changed fields only if the repository's version is
 * still the one read, otherwise the change is computed again from a fresh read. Chosen over:
 * - WATCH/MULTI: WATCH belongs to a connection, and this client multiplexes every caller over one
 *   connection, so one caller's EXEC or UNWATCH would end another caller's WATCH (it would take a
 *   connection per transaction);
 * - the whole merge in Lua: a second implementation of the rules, in another language, that
 *   would have to agree with the first forever.
 * Within the process the changes of a repository queue behind one another, so its own callers
 * never conflict; a conflict means another replica won a round, and it costs one more read.
 * The hot path (a manifest served again) reads the digests' fields, finds nothing to change
 * and writes nothing.
 */
export class RedisProvenanceStore implements ProvenanceStore {
  readonly #state: RedisState;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;
  readonly #attempts: number;
  readonly #compareAndSet: RedisScript;
  /** Changes in progress per repository key, in order. */
  readonly #queue = new Map<string, Promise<void>>();

  constructor(options: RedisProvenanceStoreOptions) {
    this.#state = options.state;
    this.#logger = options.logger;
    this.#clock = options.clock ?? Date.now;
    this.#attempts = Math.max(1, options.casAttempts ?? DEFAULTS.redisProvenanceCasAttempts);
    this.#compareAndSet = options.state.script(COMPARE_AND_SET);
  }

  #key(upstream: string, repository: string): string {
    return this.#state.key('prov', keyPart(upstream), keyPart(repository));
  }

  async get(upstream: string, repository: string, digest: string): Promise<Provenance | undefined> {
    return (await this.#read(upstream, repository, digest))?.kind;
  }

  async entry(upstream: string, repository: string, digest: string): Promise<ProvenanceEntry | undefined> {
    return snapshot(await this.#read(upstream, repository, digest));
  }

  async #read(upstream: string, repository: string, digest: string): Promise<Entry | undefined> {
    let value: string | null;
    try {
      value = await this.#state.client.hGet(this.#key(upstream, repository), digest);
    } catch (err) {
      throw storageError(`cannot read the provenance of ${upstream}/${repository}; digest pulls of it are denied until Redis answers`, err);
    }
    return value === null ? undefined : this.#decode(upstream, repository, digest, value);
  }

  async record(upstream: string, repository: string, digests: readonly string[], provenance: Provenance, roots?: readonly ProvenanceRoot[]): Promise<void> {
    validateRecord(digests, roots);
    const unique = [...new Set(digests)];
    if (unique.length === 0) return;
    await this.#change(upstream, repository, async (key) => {
      const [version, ...values] = await this.#state.client.hmGet(key, [VERSION, ...unique]);
      const entries: Entries = new Map();
      for (const [i, digest] of unique.entries()) {
        const value = values[i];
        const entry = value === null || value === undefined ? undefined : this.#decode(upstream, repository, digest, value);
        if (entry) entries.set(digest, entry);
      }
      const changes = applyRecord(entries, unique, provenance, roots, this.#clock());
      const touched = new Set(changes.map((c) => c.digest));
      return { version: version ?? '0', writes: [...touched].map((d) => [d, encode(entries.get(d))] as const) };
    });
  }

  async dropRoot(upstream: string, repository: string, root: string): Promise<void> {
    parseDigest(root);
    await this.#change(upstream, repository, async (key) => {
      const all = await this.#state.maps.hGetAll(key);
      const entries: Entries = new Map();
      const before = new Map<string, string>();
      for (const [field, value] of all) {
        if (field === VERSION) continue;
        const entry = this.#decode(upstream, repository, field, value);
        if (!entry) continue;
        entries.set(field, entry);
        before.set(field, value);
      }
      if (!applyDrop(entries, root)) return { version: all.get(VERSION) ?? '0', writes: [] };
      const writes: Array<readonly [string, string]> = [];
      for (const [digest, value] of before) {
        const after = encode(entries.get(digest));
        if (after !== value) writes.push([digest, after]);
      }
      return { version: all.get(VERSION) ?? '0', writes };
    });
  }

  /**
   * Runs `plan` (read, merge) and writes its result if nobody changed the repository since the
   * read; plans again otherwise. Queued behind the process's earlier changes of the repository.
   */
  async #change(
    upstream: string,
    repository: string,
    plan: (key: string) => Promise<{ version: string; writes: ReadonlyArray<readonly [string, string]> }>,
  ): Promise<void> {
    const key = this.#key(upstream, repository);
    const previous = this.#queue.get(key) ?? Promise.resolve();
    const run = previous.then(async () => {
      for (let attempt = 0; attempt < this.#attempts; attempt++) {
        const { version, writes } = await plan(key);
        if (writes.length === 0) return;
        const done = await this.#compareAndSet.run([key], [version, ...writes.flat()]);
        if (done === 1) return;
      }
      throw new SignetError(
        'STORAGE_ERROR',
        `cannot update the provenance of ${upstream}/${repository}: it changed under each of ${this.#attempts} attempts (other replicas writing it)`,
      );
    });
    const settled = run.catch(() => undefined);
    this.#queue.set(key, settled);
    try {
      await run;
    } catch (err) {
      throw storageError(`cannot update the provenance of ${upstream}/${repository}`, err);
    } finally {
      if (this.#queue.get(key) === settled) this.#queue.delete(key);
    }
  }

  #decode(upstream: string, repository: string, digest: string, value: string): Entry | undefined {
    const entry = decode(value);
    if (!entry) this.#logger?.warn({ upstream, repository, digest }, 'provenance entry in Redis is damaged; it grants nothing');
    return entry;
  }
}

/** The stored form; '' (delete the field) for an entry that is gone. */
function encode(entry: Entry | undefined): string {
  if (!entry) return '';
  return JSON.stringify({ k: FLAG[entry.kind], r: entry.roots.map((r) => (r.tag === undefined ? [r.digest, r.verifiedAt] : [r.digest, r.verifiedAt, r.tag])) });
}

/** The entry, or undefined when `value` is not one this store wrote (it then grants nothing). */
function decode(value: string): Entry | undefined {
  let v: unknown;
  try {
    v = JSON.parse(value);
  } catch {
    return undefined;
  }
  if (typeof v !== 'object' || v === null) return undefined;
  const { k, r } = v as Record<string, unknown>;
  const kind = KIND.get(k);
  if (kind === undefined || !Array.isArray(r)) return undefined;
  const roots: ProvenanceRoot[] = [];
  for (const item of r as unknown[]) {
    if (!Array.isArray(item) || item.length < 2 || item.length > 3) return undefined;
    const [digest, verifiedAt, tag] = item as unknown[];
    if (typeof digest !== 'string' || !isDigest(digest)) return undefined;
    if (typeof verifiedAt !== 'number' || !Number.isSafeInteger(verifiedAt) || verifiedAt < 0) return undefined;
    if (tag !== undefined && (typeof tag !== 'string' || !isTag(tag))) return undefined;
    roots.push(tag === undefined ? { digest, verifiedAt } : { digest, tag, verifiedAt });
  }
  // Verified and artifact entries always have a root; one without grants nothing.
  if (kind !== 'unverified' && roots.length === 0) return undefined;
  return { kind, roots };
}

function isDigest(text: string): boolean {
  try {
    return parseDigest(text).value === text;
  } catch {
    return false;
  }
}
