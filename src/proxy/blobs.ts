import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { SignetError } from '../errors.js';
import { BlobFill } from '../cache/blob-fill.js';
import type { BufferPool } from '../cache/buffer-pool.js';
import type { BlobStore, FillLock, FillLocks, PendingBlob } from '../cache/ports.js';
import type { Digest } from '../registry/names.js';
import { header } from '../registry/upstream-client.js';
import type { Policy } from '../policy/policy.js';
import type { ProxyMetrics } from './observer.js';
import type { Target } from './router.js';
import { upstreamFailure } from './upstream-errors.js';

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export interface ServedBlob {
  /** Total size of the blob, when known before the download finished. */
  size: number | undefined;
  /** Undefined for HEAD. */
  stream: Readable | undefined;
  range: ByteRange | undefined;
  cache: 'hit' | 'miss';
}

export interface BlobServiceOptions {
  store: BlobStore;
  /** Buffers for the downloads read back from their pending files (the response writer gives them back). */
  buffers?: BufferPool;
  /** Replicas sharing `store`: one of them downloads a blob, the others serve it once committed. */
  fillLocks?: FillLocks;
  policy: Pick<Policy, 'blob'>;
  metrics: ProxyMetrics;
  logger: Logger;
}

/** A requested range, before the blob's size is known: `bytes=a-b`, `bytes=a-` or `bytes=-n`. */
export type RangeSpec = { start: number; end: number | undefined } | { suffix: number };

/**
 * The clients waiting for a download being started (request sent, no body yet). A client that
 * leaves (its signal aborts) stops waiting; when the last one has left before the download
 * started, the start is abandoned: the upstream request, or the reading of its error body,
 * stops rather than go on for nobody. Once the download runs it goes on for the cache.
 */
class StartWaiters {
  /** Aborts the start once nobody waits. */
  readonly controller = new AbortController();
  #waiting = 0;
  /** A client without a signal waits: the start is never abandoned. */
  #pinned = false;
  #started = false;

  /** Called once the download runs: its body is tied to `controller`, which must not abort it. */
  started(): void {
    this.#started = true;
  }

  async wait(fill: Promise<BlobFill>, signal: AbortSignal | undefined): Promise<BlobFill> {
    if (!signal) {
      this.#pinned = true;
      return fill;
    }
    this.#waiting++;
    const leave = (): void => {
      if (--this.#waiting === 0 && !this.#pinned && !this.#started) this.controller.abort(signal.reason);
    };
    if (signal.aborted) leave();
    else signal.addEventListener('abort', leave, { once: true });
    try {
      return await fill;
    } finally {
      signal.removeEventListener('abort', leave);
    }
  }
}

interface Starting {
  fill: Promise<BlobFill>;
  waiters: StartWaiters;
}

/**
 * Blobs: served from the content store when present; otherwise streamed from the upstream
 * while being hashed into a temp file that one download shares with every concurrent client,
 * and committed to the store only after the digest matched.
 *
 * A download is shared only by requests for the same upstream, repository and digest: the
 * requests the same source could serve. A registry answers for a blob per repository (the
 * blob may be missing, or refused, in another one), and another upstream is another source
 * altogether, so a client of a repository that cannot serve the blob (a policy-off repository
 * that does not exist, a hostile upstream) never joins, breaks, delays or sizes the download of
 * another repository's client. The cost: a blob pulled cold through two repositories at the
 * same moment is downloaded twice; once committed, the store serves it to every repository.
 */
export class BlobService {
  readonly #o: BlobServiceOptions;
  /** Running downloads, by source (`fillKey`). */
  readonly #fills = new Map<string, BlobFill>();
  readonly #starting = new Map<string, Starting>();

  constructor(options: BlobServiceOptions) {
    this.#o = options;
  }

  /** `signal` aborts when the client leaves: what is read from the upstream only for it stops then. */
  async get(target: Target, digest: Digest, method: 'GET' | 'HEAD', range: RangeSpec | undefined, signal?: AbortSignal): Promise<ServedBlob> {
    await this.#o.policy.blob({
      upstream: target.upstream.name,
      repository: target.repository,
      digest: digest.value,
      client: target.client,
      user: target.user,
    });
    return this.#serve(target, digest, method, range, signal);
  }

  async #serve(target: Target, digest: Digest, method: 'GET' | 'HEAD', range: RangeSpec | undefined, signal: AbortSignal | undefined): Promise<ServedBlob> {
    const upstream = target.upstream.name;
    const cached = await this.#o.store.stat(digest.value);
    if (cached) {
      this.#o.metrics.cacheHits.inc({ kind: 'blob' });
      const r = range ? resolveRange(range, cached.size) : undefined;
      if (method === 'HEAD') {
        this.#o.store.touch(digest.value);
        return { size: cached.size, stream: undefined, range: r, cache: 'hit' };
      }
      const stream = await this.#o.store.openRead(digest.value, r);
      if (!stream) return this.#serve(target, digest, method, range, signal); // evicted meanwhile
      return { size: cached.size, stream, range: r, cache: 'hit' };
    }
    this.#o.metrics.cacheMisses.inc({ kind: 'blob' });

    if (method === 'HEAD') {
      // Only a download from the same source knows the size this source would announce.
      const fill = this.#fills.get(fillKey(target, digest));
      if (fill?.expectedSize !== undefined) return { size: fill.expectedSize, stream: undefined, range: undefined, cache: 'miss' };
      const res = await target.upstream.request({
        method: 'HEAD',
        path: `/v2/${target.repository}/blobs/${digest.value}`,
        repository: target.repository,
        followRedirects: true,
        ...(signal ? { signal } : {}),
      });
      res.body.resume();
      if (res.status !== 200) throw await upstreamFailure(upstream, res, `blob ${target.repository}@${digest.value}`, 'BLOB_UNKNOWN', signal);
      const size = Number(header(res.headers, 'content-length'));
      return { size: Number.isFinite(size) ? size : undefined, stream: undefined, range: undefined, cache: 'miss' };
    }

    let fill: BlobFill;
    try {
      fill = await this.#fill(target, digest, signal);
    } catch (err) {
      // Another replica downloaded and committed it meanwhile: served from the shared store.
      if (err instanceof CommittedElsewhere) return this.#serve(target, digest, method, range, signal);
      throw err;
    }
    if (range) {
      // A part of a blob cannot be checked by the client: it gets only verified bytes, and its
      // answer waits for the verification, so that a download that fails is an error response
      // (before any header went out), not a connection cut after a 206.
      if (fill.expectedSize !== undefined) resolveRange(range, fill.expectedSize); // 416 at once
      const release = fill.hold();
      try {
        const { size } = await fill.done;
        const r = resolveRange(range, size);
        return { size, stream: fill.createReader(r.start, r.end, true), range: r, cache: 'miss' };
      } finally {
        release();
      }
    }
    return { size: fill.expectedSize, stream: fill.createReader(0), range: undefined, cache: 'miss' };
  }

  /** The running download of this source's blob, or a new one; concurrent callers share one. */
  async #fill(target: Target, digest: Digest, signal: AbortSignal | undefined): Promise<BlobFill> {
    const key = fillKey(target, digest);
    const running = this.#fills.get(key);
    if (running) return running;
    let starting = this.#starting.get(key);
    // A start abandoned by its clients is not joined: it fails for want of anyone waiting.
    if (!starting || starting.waiters.controller.signal.aborted) {
      const waiters = new StartWaiters();
      const entry: Starting = {
        fill: this.#start(target, digest, key, waiters).finally(() => {
          if (this.#starting.get(key) === entry) this.#starting.delete(key);
        }),
        waiters,
      };
      this.#starting.set(key, entry);
      starting = entry;
    }
    return starting.waiters.wait(starting.fill, signal);
  }

  async #start(target: Target, digest: Digest, key: string, waiters: StartWaiters): Promise<BlobFill> {
    const signal = waiters.controller.signal;
    const lock = await this.#replicaLock(digest, key, signal);
    try {
      // From here the lock is released by #finish, after the commit (or the failure).
      return await this.#download(target, digest, key, waiters, lock);
    } catch (err) {
      await lock?.release();
      throw err;
    }
  }

  /**
   * With replicas sharing the store: the download lock of this source's blob. While another
   * replica holds it, this one waits; when the blob was committed meanwhile, CommittedElsewhere
   * sends the request back to the store. Undefined for a single Signet.
   */
  async #replicaLock(digest: Digest, key: string, signal: AbortSignal): Promise<FillLock | undefined> {
    const locks = this.#o.fillLocks;
    if (!locks) return undefined;
    for (;;) {
      const lock = await locks.acquire(key);
      if (lock) {
        // Committed by another replica just before the lock was free: nothing to download.
        if (await this.#o.store.stat(digest.value)) {
          await lock.release();
          throw new CommittedElsewhere();
        }
        return lock;
      }
      await locks.waitUntilFree(key, signal);
      if (await this.#o.store.stat(digest.value)) throw new CommittedElsewhere();
    }
  }

  async #download(target: Target, digest: Digest, key: string, waiters: StartWaiters, lock: FillLock | undefined): Promise<BlobFill> {
    const upstream = target.upstream.name;
    const signal = waiters.controller.signal;
    const res = await target.upstream.request({
      method: 'GET',
      path: `/v2/${target.repository}/blobs/${digest.value}`,
      repository: target.repository,
      followRedirects: true,
      signal,
    });
    if (res.status !== 200) throw await upstreamFailure(upstream, res, `blob ${target.repository}@${digest.value}`, 'BLOB_UNKNOWN', signal);
    // The body is tied to the start's signal: from here on nobody may abort it.
    waiters.started();
    this.#o.metrics.upstreamBlobFetches.inc({ upstream });
    const announced = Number(header(res.headers, 'content-length'));
    let pending: PendingBlob;
    try {
      pending = await this.#o.store.createPending();
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    const fill = new BlobFill(digest, Number.isFinite(announced) && announced >= 0 ? announced : undefined, pending, this.#o.buffers);
    this.#fills.set(key, fill);
    void fill.run(res.body, (n) => this.#o.metrics.upstreamBytes.inc({ upstream }, n));
    void this.#finish(target, fill, key, lock);
    return fill;
  }

  async #finish(target: Target, fill: BlobFill, key: string, lock: FillLock | undefined): Promise<void> {
    const digest = fill.digest.value;
    try {
      const { size } = await fill.done;
      await this.#o.store.commit(fill.pending, digest, size);
    } catch (err) {
      // A failed download discarded its bytes already; a failed commit leaves them to drop here.
      await fill.pending.discard();
      const code = err instanceof SignetError ? String(err.code) : undefined;
      if (code === 'DIGEST_MISMATCH') {
        this.#o.metrics.digestMismatches.inc({ upstream: target.upstream.name, kind: 'blob' });
        this.#o.logger.error(
          { upstream: target.upstream.name, repository: target.repository, digest, err: (err as Error).message },
          'blob digest mismatch: client connections cut, nothing cached',
        );
      } else {
        this.#o.logger.warn({ upstream: target.upstream.name, repository: target.repository, digest, err: (err as Error).message }, 'blob download failed');
      }
    } finally {
      this.#fills.delete(key);
      fill.seal();
      // Other replicas waiting on this download now find the blob committed (or take over).
      await lock?.release();
    }
  }
}

/** Another replica committed the blob while this one waited for its download lock. */
class CommittedElsewhere extends Error {
  constructor() {
    super('committed by another replica');
    this.name = 'CommittedElsewhere';
  }
}

/** The source of a download: one upstream's one repository. */
function fillKey(target: Target, digest: Digest): string {
  return `${target.upstream.name}/${target.repository}@${digest.value}`;
}

/** RFC 9110 §14.1.2 byte ranges against a known size; unsatisfiable ranges are RANGE_INVALID (416). */
export function resolveRange(spec: RangeSpec, size: number): ByteRange {
  if ('suffix' in spec) {
    if (spec.suffix === 0 || size === 0) throw rangeError(size);
    return { start: Math.max(0, size - spec.suffix), end: size - 1 };
  }
  if (spec.start >= size) throw rangeError(size);
  const end = spec.end === undefined ? size - 1 : Math.min(spec.end, size - 1);
  return { start: spec.start, end };
}

function rangeError(size: number): SignetError {
  return new SignetError('RANGE_INVALID', `requested range is not satisfiable: the blob is ${size} bytes`, { status: 416, detail: { size } });
}

/** Parses a Range header with one byte range; anything else is ignored (full content), per RFC 9110. */
export function parseRange(value: string | undefined): RangeSpec | undefined {
  if (!value) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(value.trim());
  if (!m) return undefined;
  const [, a = '', b = ''] = m;
  if (a === '' && b === '') return undefined;
  if (a === '') return { suffix: Number(b) };
  const start = Number(a);
  const end = b === '' ? undefined : Number(b);
  if (end !== undefined && end < start) return undefined;
  return { start, end };
}
