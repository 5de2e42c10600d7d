import type { Readable } from 'node:stream';

/**
 * The storage ports. The proxy, the policy and the trust sources see only these interfaces;
 * each has a disk and an in-memory implementation (and later S3 for content, Redis for state).
 * No file path, sidecar or index of a backend leaks past them.
 *
 * Every read distinguishes "absent" (`undefined`) from "could not read" (a thrown
 * `SignetError('STORAGE_ERROR')`): security state fails closed on the second.
 */

/** An inclusive byte range (HTTP Range semantics). */
export interface StoredRange {
  start: number;
  end: number;
}

/**
 * A blob being written before its digest is known to match. Bytes land at increasing
 * offsets; readers that fall behind the download read them back. Nothing is visible under a
 * digest until `BlobStore.commit`.
 */
export interface PendingBlob {
  /** Writes `buffers` back to back starting at byte `position`. */
  writev(buffers: readonly Buffer[], position: number): Promise<void>;
  /** Reads bytes already written; resolves with how many were read. */
  read(target: Buffer, position: number, length: number): Promise<number>;
  /** Releases the pending write's resources (the owner calls it once nobody reads any more); the only call that does. */
  close(): Promise<void>;
  /** Drops the written bytes (they can never be committed); idempotent, a no-op after commit. Reads still work until `close`. */
  discard(): Promise<void>;
}

export interface BlobStore {
  /** Prepares the backend (layout, leftovers of a crash, the LRU index) and evicts down to the limit. */
  init(): Promise<void>;
  /** Size of a committed blob, or undefined when absent. */
  stat(digest: string): Promise<{ size: number } | undefined>;
  /** A stream of a committed blob (or part of it); undefined when absent. Counts as a use for the LRU order. */
  openRead(digest: string, range?: StoredRange): Promise<Readable | undefined>;
  /** Marks a committed blob as just used (a HEAD answered from the store). */
  touch(digest: string): void;
  /** Starts a write whose bytes become visible only through `commit`. */
  createPending(): Promise<PendingBlob>;
  /**
   * Makes `pending` visible under `digest`. Callers invoke it only after the bytes hashed to
   * `digest` and were `size` long. The pending blob stays readable (readers that fell behind
   * finish from it) until its owner calls `close`.
   */
  commit(pending: PendingBlob, digest: string, size: number): Promise<void>;
  delete(digest: string): Promise<void>;
  /** Bytes held (blobs and manifests of the same backend count together against one limit). */
  readonly totalBytes: number;
}

export interface StoredManifest {
  digest: string;
  mediaType: string;
  bytes: Buffer;
}

/** Verified manifest bytes by digest. Only bytes whose digest the caller checked are put. */
export interface ManifestStore {
  get(digest: string): Promise<StoredManifest | undefined>;
  /** Marks a manifest as just used when a layer in front of the store answered without asking it. */
  touch(digest: string): void;
  put(manifest: StoredManifest): Promise<void>;
  delete(digest: string): Promise<void>;
}

/** The last digest seen for a tag at an upstream. */
export interface TagRecord {
  digest: string;
  mediaType: string;
  size: number;
  /** Epoch ms of the last time the upstream confirmed this digest for the tag. */
  checkedAt: number;
}

export interface TagStore {
  get(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined>;
  set(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void>;
}

/**
 * How a digest came to be served for a repository:
 * - `verified`: it is, or descends from, a manifest a trust source vouched for;
 * - `artifact`: it is, or belongs to, a signature artifact whose subject was admitted;
 * - `unverified`: it was served under a policy that did not check (mode off, or audit).
 * Stronger kinds win: verified > artifact > unverified.
 */
export type Provenance = 'verified' | 'artifact' | 'unverified';

/**
 * What vouched for a `verified` or `artifact` digest: the admitted top-level digest it is or
 * descends from (for an artifact: the admitted digest it is about), the tag it was admitted
 * through when a tag-signing format pinned it, and when. The policy re-checks a root once the
 * trust freshness interval has passed since `verifiedAt`, so a revoked signature stops vouching.
 */
export interface ProvenanceRoot {
  digest: string;
  tag?: string | undefined;
  /** Epoch ms of the admission that recorded it; 0 when unknown (records of earlier versions). */
  verifiedAt: number;
}

export interface ProvenanceEntry {
  kind: Provenance;
  /**
   * The roots that vouch for it, oldest first; empty for `unverified`. A record written without
   * a root (by earlier versions) reads as its own root, verified at an unknown time.
   */
  roots: readonly ProvenanceRoot[];
}

export interface ProvenanceStore {
  get(upstream: string, repository: string, digest: string): Promise<Provenance | undefined>;
  /** The kind of a digest with the roots that vouch for it. */
  entry(upstream: string, repository: string, digest: string): Promise<ProvenanceEntry | undefined>;
  /**
   * Records `digests`; a digest never loses a stronger kind it already has. `roots` (verified
   * and artifact only) are added to those a digest of the same kind has; without roots each
   * digest is its own root, verified now.
   */
  record(upstream: string, repository: string, digests: readonly string[], provenance: Provenance, roots?: readonly ProvenanceRoot[]): Promise<void>;
  /**
   * A root no longer vouches: drops it from every digest of the repository; a verified or
   * artifact digest left without roots is forgotten (absent, so digest pulls of it are denied).
   */
  dropRoot(upstream: string, repository: string, root: string): Promise<void>;
}

/**
 * Verified verdicts of the formats that sign digests (cosign, Notation), shared by replicas so
 * that one replica's verification serves the others for its freshness interval. Values are
 * opaque text; a verdict that cannot be read is simply verified again (it is a cache, not
 * security state), so reads never throw.
 */
export interface VerdictStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
}

/**
 * Which replica downloads a blob when several want it at once (one upstream fetch per blob
 * across all replicas sharing a store). The holder keeps its lock alive while it downloads and
 * releases it after the commit; a replica that dies loses it when its TTL runs out, and
 * another takes over. Absent for a single Signet (its own in-process sharing suffices).
 */
export interface FillLocks {
  /** The lock on `key`, or undefined while another replica holds it. */
  acquire(key: string): Promise<FillLock | undefined>;
  /** Resolves when nobody holds `key` any more (or after a long while); rejects when `signal` aborts. */
  waitUntilFree(key: string, signal: AbortSignal | undefined): Promise<void>;
}

export interface FillLock {
  /** Lets go (idempotent); the holder calls it once the blob is committed or the download failed. */
  release(): Promise<void>;
}

/**
 * What a trust format keeps per scope (Notary: the trust server's origin) and name (Notary:
 * the GUN) across restarts: raw verified metadata files, and the highest version seen per
 * role — the rollback floors. A read that fails for any reason other than "not found" throws:
 * the caller must deny rather than reset a floor or re-trust a root.
 */
export interface TrustStateStore {
  read(scope: string, name: string, file: string): Promise<Buffer | undefined>;
  write(scope: string, name: string, file: string, bytes: Buffer): Promise<void>;
  remove(scope: string, name: string, file: string): Promise<void>;
  versions(scope: string, name: string): Promise<Record<string, number>>;
  saveVersions(scope: string, name: string, versions: Record<string, number>): Promise<void>;
  /**
   * The scopes and names with saved rollback floors (each once verified), at most `limit`, in
   * no particular order: what the console reports on after a restart or from another replica.
   */
  names(limit: number): Promise<Array<{ scope: string; name: string }>>;
}

/**
 * The recent decisions the console shows: a bounded log of one JSON line per decision, oldest
 * first, kept on the state backend so that a restart (or another replica) still has them. The
 * audit log stays the record of truth; this log only keeps the newest `keep` lines.
 */
export interface DecisionLogStore {
  /** Appends `lines` (each one JSON document without a newline); the oldest beyond the bound go. */
  append(lines: readonly string[]): Promise<void>;
  /** The newest `limit` lines, oldest first. */
  recent(limit: number): Promise<string[]>;
}
