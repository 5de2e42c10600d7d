import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import { SignetError } from '../errors.js';
import { BlobFill } from '../cache/blob-fill.js';
import type { BlobStore, PendingBlob } from '../cache/ports.js';
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
  policy: Pick<Policy, 'blob'>;
  metrics: ProxyMetrics;
  logger: Logger;
}

/** A requested range, before the blob's size is known: `bytes=a-b`, `bytes=a-` or `bytes=-n`. */
export type RangeSpec = { start: number; end: number | undefined } | { suffix: number };

/**
 * Blobs: served from the content store when present; otherwise streamed from the upstream
 * while being hashed into a temp file that one download shares with every concurrent client,
 * and committed to the store only after the digest matched.
 */
export class BlobService {
  readonly #o: BlobServiceOptions;
  readonly #fills = new Map<string, BlobFill>();
  readonly #starting = new Map<string, Promise<BlobFill>>();

  constructor(options: BlobServiceOptions) {
    this.#o = options;
  }

  async get(target: Target, digest: Digest, method: 'GET' | 'HEAD', range: RangeSpec | undefined): Promise<ServedBlob> {
    await this.#o.policy.blob({ upstream: target.upstream.name, repository: target.repository, digest: digest.value, client: target.client });
    return this.#serve(target, digest, method, range);
  }

  async #serve(target: Target, digest: Digest, method: 'GET' | 'HEAD', range: RangeSpec | undefined): Promise<ServedBlob> {
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
      if (!stream) return this.#serve(target, digest, method, range); // evicted meanwhile
      return { size: cached.size, stream, range: r, cache: 'hit' };
    }
    this.#o.metrics.cacheMisses.inc({ kind: 'blob' });

    if (method === 'HEAD') {
      const fill = this.#fills.get(digest.value);
      if (fill?.expectedSize !== undefined) return { size: fill.expectedSize, stream: undefined, range: undefined, cache: 'miss' };
      const res = await target.upstream.request({
        method: 'HEAD',
        path: `/v2/${target.repository}/blobs/${digest.value}`,
        repository: target.repository,
        followRedirects: true,
      });
      res.body.resume();
      if (res.status !== 200) throw await upstreamFailure(upstream, res, `blob ${target.repository}@${digest.value}`, 'BLOB_UNKNOWN');
      const size = Number(header(res.headers, 'content-length'));
      return { size: Number.isFinite(size) ? size : undefined, stream: undefined, range: undefined, cache: 'miss' };
    }

    const fill = await this.#fill(target, digest);
    if (range) {
      // A part of a blob cannot be checked by the client: hand out only verified bytes.
      const size = fill.expectedSize ?? (await fill.done).size;
      const r = resolveRange(range, size);
      return { size, stream: fill.createReader(r.start, r.end, true), range: r, cache: 'miss' };
    }
    return { size: fill.expectedSize, stream: fill.createReader(0), range: undefined, cache: 'miss' };
  }

  /** The running download of `digest`, or a new one; concurrent callers share one. */
  async #fill(target: Target, digest: Digest): Promise<BlobFill> {
    const running = this.#fills.get(digest.value);
    if (running) return running;
    let starting = this.#starting.get(digest.value);
    if (!starting) {
      starting = this.#start(target, digest).finally(() => this.#starting.delete(digest.value));
      this.#starting.set(digest.value, starting);
    }
    return starting;
  }

  async #start(target: Target, digest: Digest): Promise<BlobFill> {
    const upstream = target.upstream.name;
    const res = await target.upstream.request({
      method: 'GET',
      path: `/v2/${target.repository}/blobs/${digest.value}`,
      repository: target.repository,
      followRedirects: true,
    });
    if (res.status !== 200) throw await upstreamFailure(upstream, res, `blob ${target.repository}@${digest.value}`, 'BLOB_UNKNOWN');
    this.#o.metrics.upstreamBlobFetches.inc({ upstream });
    const announced = Number(header(res.headers, 'content-length'));
    let pending: PendingBlob;
    try {
      pending = await this.#o.store.createPending();
    } catch (err) {
      res.body.destroy();
      throw err;
    }
    const fill = new BlobFill(digest, Number.isFinite(announced) && announced >= 0 ? announced : undefined, pending);
    this.#fills.set(digest.value, fill);
    void fill.run(res.body, (n) => this.#o.metrics.upstreamBytes.inc({ upstream }, n));
    void this.#finish(target, fill);
    return fill;
  }

  async #finish(target: Target, fill: BlobFill): Promise<void> {
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
      this.#fills.delete(digest);
      fill.seal();
    }
  }
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
