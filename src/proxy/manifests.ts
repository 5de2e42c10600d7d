import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import type { ManifestCache, CachedManifest } from '../cache/manifest-cache.js';
import type { TagStore } from '../cache/tag-store.js';
import type { LineageStore } from '../cache/lineage-store.js';
import { Inflight } from '../cache/inflight.js';
import { HEADERS, UPSTREAM_MANIFEST_ACCEPT } from '../registry/media-types.js';
import { parseManifestReferences } from '../registry/manifest.js';
import { parseDigest, type Digest, type Reference } from '../registry/names.js';
import { header, type UpstreamResponse } from '../registry/upstream-client.js';
import type { Authorizer } from '../policy/authorizer.js';
import type { Metrics } from '../server/metrics.js';
import type { Target } from './router.js';
import { upstreamFailure } from './upstream-errors.js';

export interface ManifestServiceOptions {
  manifests: ManifestCache;
  tags: TagStore;
  lineage: LineageStore;
  authorizer: Authorizer;
  metrics: Metrics;
  logger: Logger;
  /** Seconds a tag answer is reused without asking the upstream. */
  tagCheckSeconds: number;
  maxManifestBytes?: number;
  clock?: () => number;
}

export interface ServedManifest extends CachedManifest {
  cache: 'hit' | 'miss';
}

/**
 * Manifests, by tag or digest. Every byte served was hashed against the digest it is served
 * under: a tag is first resolved to a digest (a pinned, signed one when the authorizer gives
 * one; else the upstream's HEAD answer), then the manifest is taken from the verified cache or
 * fetched BY DIGEST and checked. Serving records the manifest's children as its lineage.
 */
export class ManifestService {
  readonly #o: ManifestServiceOptions;
  readonly #inflight = new Inflight<CachedManifest>();
  readonly #maxBytes: number;
  readonly #clock: () => number;

  constructor(options: ManifestServiceOptions) {
    this.#o = options;
    this.#maxBytes = options.maxManifestBytes ?? DEFAULTS.manifestMaxBytes;
    this.#clock = options.clock ?? Date.now;
  }

  async get(target: Target, reference: Reference): Promise<ServedManifest> {
    const upstream = target.upstream.name;
    let served: ServedManifest;
    let verified: boolean;
    if (reference.kind === 'digest') {
      const lineage = await this.#o.lineage.get(upstream, target.repository, reference.digest.value);
      const decision = await this.#o.authorizer.authorizeDigest({
        upstream,
        repository: target.repository,
        digest: reference.digest.value,
        kind: 'manifest',
        lineage,
        client: target.client,
      });
      verified = decision.verified;
      served = await this.#byDigest(target, reference.digest, undefined);
    } else {
      const decision = await this.#o.authorizer.authorizeTag({ upstream, repository: target.repository, tag: reference.tag, client: target.client });
      verified = decision.pinned !== undefined;
      served = decision.pinned ? await this.#signed(target, reference.tag, decision.pinned) : await this.#byTag(target, reference.tag);
    }
    await this.#o.lineage.record(upstream, target.repository, [served.digest, ...served.children], verified ? 'verified' : 'unverified');
    return served;
  }

  /**
   * The signature decides what a tag means: the signed digest is served from the verified cache
   * (no upstream request at all) or fetched by digest; the registry's own idea of the tag is
   * never asked for.
   */
  async #signed(target: Target, tag: string, pinned: { digest: string; size: number | undefined }): Promise<ServedManifest> {
    try {
      return await this.#byDigest(target, parseDigest(pinned.digest), pinned.size);
    } catch (err) {
      if (err instanceof SignetError && err.code === 'MANIFEST_UNKNOWN') {
        throw new SignetError(
          'DENIED',
          `the signed digest ${pinned.digest} of ${target.repository}:${tag} is not available at upstream ${target.upstream.name}: the tag was probably re-pushed without being signed again`,
          { detail: { reason: 'signed_digest_unavailable' } },
        );
      }
      throw err;
    }
  }

  async #byDigest(target: Target, digest: Digest, expectedSize: number | undefined): Promise<ServedManifest> {
    const cached = await this.#o.manifests.get(digest.value);
    if (cached) {
      if (expectedSize !== undefined && cached.bytes.length !== expectedSize) {
        throw new SignetError('DENIED', `manifest ${digest.value} is ${cached.bytes.length} bytes, but ${expectedSize} bytes were signed`, { detail: { reason: 'size_mismatch' } });
      }
      this.#o.metrics.cacheHits.inc({ kind: 'manifest' });
      return { ...cached, cache: 'hit' };
    }
    this.#o.metrics.cacheMisses.inc({ kind: 'manifest' });
    const fetched = await this.#inflight.run(`${target.upstream.name}/${target.repository}@${digest.value}`, async () => {
      const res = await target.upstream.request({
        method: 'GET',
        path: `/v2/${target.repository}/manifests/${digest.value}`,
        repository: target.repository,
        headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
      });
      if (res.status !== 200) throw await upstreamFailure(target.upstream.name, res, `manifest ${target.repository}@${digest.value}`, 'MANIFEST_UNKNOWN');
      const bytes = await this.#readManifest(target, res, `${target.repository}@${digest.value}`);
      const actual = `${digest.algorithm}:${createHash(digest.algorithm).update(bytes).digest('hex')}`;
      if (actual !== digest.value) {
        this.#o.metrics.digestMismatches.inc({ upstream: target.upstream.name, kind: 'manifest' });
        this.#o.logger.warn({ upstream: target.upstream.name, repository: target.repository, expected: digest.value, actual }, 'manifest digest mismatch');
        throw new SignetError('DIGEST_MISMATCH', `upstream ${target.upstream.name} sent a manifest for ${digest.value} whose bytes hash to ${actual}; nothing was served or cached`, { status: 502 });
      }
      return this.#store(digest.value, bytes, header(res.headers, 'content-type'));
    });
    if (expectedSize !== undefined && fetched.bytes.length !== expectedSize) {
      throw new SignetError('DENIED', `manifest ${digest.value} is ${fetched.bytes.length} bytes, but ${expectedSize} bytes were signed`, { detail: { reason: 'size_mismatch' } });
    }
    return { ...fetched, cache: 'miss' };
  }

  /**
   * Until a trust source pins tags, the upstream says what a tag means: a HEAD (cheap, and not
   * rate-limited by Docker Hub) gives the digest, and the manifest itself comes by digest. When
   * the upstream is unreachable, the last digest seen for the tag is served from the cache.
   */
  async #byTag(target: Target, tag: string): Promise<ServedManifest> {
    const upstream = target.upstream.name;
    const known = await this.#o.tags.get(upstream, target.repository, tag);
    if (known && this.#clock() - known.checkedAt < this.#o.tagCheckSeconds * 1000) {
      const cached = await this.#o.manifests.get(known.digest);
      if (cached) {
        this.#o.metrics.cacheHits.inc({ kind: 'manifest' });
        return { ...cached, cache: 'hit' };
      }
    }
    let res: UpstreamResponse;
    try {
      res = await target.upstream.request({
        method: 'HEAD',
        path: `/v2/${target.repository}/manifests/${tag}`,
        repository: target.repository,
        headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
      });
    } catch (err) {
      const stale = known ? await this.#o.manifests.get(known.digest) : undefined;
      if (known && stale && err instanceof SignetError && (err.code === 'UPSTREAM_UNAVAILABLE' || err.code === 'UPSTREAM_TIMEOUT')) {
        this.#o.metrics.staleServes.inc({ upstream });
        this.#o.logger.warn({ upstream, repository: target.repository, tag, digest: known.digest, err: errorMessage(err) }, 'upstream unreachable; serving the last known digest of the tag');
        return { ...stale, cache: 'hit' };
      }
      throw err;
    }
    res.body.resume();
    if (res.status >= 500 && known) {
      const stale = await this.#o.manifests.get(known.digest);
      if (stale) {
        this.#o.metrics.staleServes.inc({ upstream });
        return { ...stale, cache: 'hit' };
      }
    }
    const digestHeader = res.status === 200 ? header(res.headers, HEADERS.contentDigest.toLowerCase()) : undefined;
    if (!digestHeader) {
      // No digest to fetch by: GET the tag, whose bytes are hashed here. For a failed HEAD this
      // also brings the upstream's own error message (HEAD carries no body).
      const full = await target.upstream.request({ method: 'GET', path: `/v2/${target.repository}/manifests/${tag}`, repository: target.repository, headers: { accept: UPSTREAM_MANIFEST_ACCEPT } });
      if (full.status !== 200) throw await upstreamFailure(upstream, full, `manifest ${target.repository}:${tag}`, 'MANIFEST_UNKNOWN');
      return this.#acceptTagBody(target, tag, full);
    }
    let digest: Digest;
    try {
      digest = parseDigest(digestHeader);
    } catch (err) {
      throw new SignetError('UPSTREAM_ERROR', `upstream ${upstream} sent an invalid Docker-Content-Digest for ${target.repository}:${tag}`, { cause: err });
    }
    const served = await this.#byDigest(target, digest, undefined);
    await this.#o.tags.set(upstream, target.repository, tag, { digest: served.digest, mediaType: served.mediaType, size: served.bytes.length, checkedAt: this.#clock() });
    return served;
  }

  /** A manifest fetched by tag: its digest is computed from the bytes, never taken on trust. */
  async #acceptTagBody(target: Target, tag: string, res: UpstreamResponse): Promise<ServedManifest> {
    const bytes = await this.#readManifest(target, res, `${target.repository}:${tag}`);
    const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    const stored = await this.#store(digest, bytes, header(res.headers, 'content-type'));
    await this.#o.tags.set(target.upstream.name, target.repository, tag, { digest, mediaType: stored.mediaType, size: bytes.length, checkedAt: this.#clock() });
    this.#o.metrics.cacheMisses.inc({ kind: 'manifest' });
    return { ...stored, cache: 'miss' };
  }

  /** Reads a manifest body, refusing (before and while reading) anything over the limit. */
  async #readManifest(target: Target, res: UpstreamResponse, what: string): Promise<Buffer> {
    const tooLarge = (size: string): SignetError =>
      new SignetError('MANIFEST_TOO_LARGE', `manifest ${what} at upstream ${target.upstream.name} is ${size} bytes, over Signet's limit of ${this.#maxBytes} bytes`);
    const announced = Number(header(res.headers, 'content-length'));
    if (Number.isFinite(announced) && announced > this.#maxBytes) {
      res.body.destroy();
      throw tooLarge(String(announced));
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > this.#maxBytes) {
        res.body.destroy();
        throw tooLarge(`more than ${this.#maxBytes}`);
      }
      chunks.push(buf);
    }
    this.#o.metrics.upstreamBytes.inc({ upstream: target.upstream.name }, size);
    return Buffer.concat(chunks);
  }

  async #store(digest: string, bytes: Buffer, contentType: string | undefined): Promise<CachedManifest> {
    const refs = parseManifestReferences(bytes, contentType);
    const entry = { digest, mediaType: refs.mediaType, bytes, children: [...refs.manifests, ...refs.blobs] };
    await this.#o.manifests.put(entry);
    return entry;
  }
}
