import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import type { ManifestStore, StoredManifest, TagStore } from '../cache/ports.js';
import { Inflight } from '../cache/inflight.js';
import type { ParsedManifest } from '../cache/memoized-manifests.js';
import { INDEX_MEDIA_TYPES, UPSTREAM_MANIFEST_ACCEPT } from '../registry/media-types.js';
import { parseManifestReferences } from '../registry/manifest.js';
import { parseDigest, type Digest, type Reference } from '../registry/names.js';
import { header, type UpstreamResponse } from '../registry/upstream-client.js';
import type { Policy } from '../policy/policy.js';
import type { ManifestFacts, ManifestLoader, StaleManifest, StaleReason } from '../policy/requests.js';
import type { ProxyMetrics } from './observer.js';
import type { Target } from './router.js';
import { headTag } from './tag-head.js';
import { upstreamFailure } from './upstream-errors.js';

export interface ManifestServiceOptions {
  manifests: ManifestStore;
  tags: TagStore;
  policy: Pick<Policy, 'manifestByTag' | 'manifestByDigest'>;
  metrics: ProxyMetrics;
  logger: Logger;
  /** Seconds a tag answer is reused without asking the upstream. */
  tagCheckSeconds: number;
  maxManifestBytes?: number;
  clock?: () => number;
}

/** A manifest whose bytes hashed to its digest, with what the policy needs to know of it. */
export interface ServedManifest extends ManifestFacts {
  bytes: Buffer;
  cache: 'hit' | 'miss';
}

type Parsed = Omit<ServedManifest, 'cache'>;

/**
 * Manifests, by tag or digest. The policy decides what a tag means and whether a digest may be
 * served; this service only hands it manifests through the `ManifestLoader` port, each fetched
 * BY DIGEST (or hashed when a registry gives no digest) and checked before it is cached.
 */
export class ManifestService {
  readonly #o: ManifestServiceOptions;
  readonly #inflight = new Inflight<Parsed>();
  /** Parsed once per stored object: the memoizing store hands out the same object while it holds it. */
  readonly #parsed = new WeakMap<StoredManifest, Parsed>();
  readonly #maxBytes: number;
  readonly #clock: () => number;
  /** Errors made of 5xx answers (after the upstream client's retries): outages, not refusals. */
  readonly #outages = new WeakSet<Error>();

  constructor(options: ManifestServiceOptions) {
    this.#o = options;
    this.#maxBytes = options.maxManifestBytes ?? DEFAULTS.manifestMaxBytes;
    this.#clock = options.clock ?? Date.now;
  }

  async get(target: Target, reference: Reference): Promise<ServedManifest> {
    const loader = this.#loader(target);
    const request = { upstream: target.upstream.name, repository: target.repository, client: target.client, user: target.user };
    return reference.kind === 'digest'
      ? this.#o.policy.manifestByDigest({ ...request, digest: reference.digest.value }, loader)
      : this.#o.policy.manifestByTag({ ...request, tag: reference.tag }, loader);
  }

  /**
   * What the upstream says a tag means, with no decision: for `signet trust inspect`, which
   * shows the signatures of that digest. Never used to serve a client.
   */
  resolveTag(target: Target, tag: string): Promise<ServedManifest> {
    return this.#byTag(target, tag);
  }

  #loader(target: Target): ManifestLoader<ServedManifest> {
    return {
      byDigest: async (digest) => {
        try {
          return await this.#byDigest(target, parseDigest(digest));
        } catch (err) {
          if (err instanceof SignetError && err.code === 'MANIFEST_UNKNOWN') return undefined;
          throw err;
        }
      },
      byTag: (tag) => this.#byTag(target, tag),
      lastKnown: (tag, failure) => this.#lastKnown(target, tag, failure),
    };
  }

  /** The error for a failed upstream answer; 5xx ones are remembered as outages (#lastKnown). */
  async #failure(upstream: string, res: UpstreamResponse, what: string): Promise<SignetError> {
    const err = await upstreamFailure(upstream, res, what, 'MANIFEST_UNKNOWN');
    if (res.status >= 500) this.#outages.add(err);
    return err;
  }

  /**
   * The manifest a tag last resolved to, from the cache only, when `failure` says the upstream
   * is rate-limiting, failing or unreachable (not when it answered that the tag is unknown or
   * access is denied). The policy decides whether it is served; `served` logs and counts it.
   */
  async #lastKnown(target: Target, tag: string, failure: unknown): Promise<StaleManifest<ServedManifest> | undefined> {
    const reason = this.#outage(failure);
    if (!reason) return undefined;
    const upstream = target.upstream.name;
    const known = await this.#o.tags.get(upstream, target.repository, tag);
    const cached = known ? await this.#cached(known.digest) : undefined;
    if (!cached) return undefined;
    const cause = errorMessage(failure);
    return {
      manifest: { ...cached, cache: 'hit' },
      reason,
      cause,
      served: () => {
        this.#o.metrics.staleServes.inc({ upstream, reason });
        this.#o.logger.warn(
          { upstream, repository: target.repository, tag, digest: cached.digest, reason, err: cause },
          'upstream cannot answer; serving the last known digest of the tag from the cache',
        );
      },
    };
  }

  #outage(failure: unknown): StaleReason | undefined {
    if (!(failure instanceof SignetError)) return undefined;
    switch (failure.code) {
      case 'TOOMANYREQUESTS':
        return 'rate_limited';
      case 'UPSTREAM_UNAVAILABLE':
        return 'unreachable';
      case 'UPSTREAM_TIMEOUT':
        return 'timeout';
      default:
        return this.#outages.has(failure) ? 'upstream_error' : undefined;
    }
  }

  async #cached(digest: string): Promise<Parsed | undefined> {
    const stored = await this.#o.manifests.get(digest);
    if (!stored) return undefined;
    let parsed = this.#parsed.get(stored);
    if (!parsed) {
      parsed = describe(stored);
      this.#parsed.set(stored, parsed);
    }
    return parsed;
  }

  async #byDigest(target: Target, digest: Digest): Promise<ServedManifest> {
    const cached = await this.#cached(digest.value);
    if (cached) {
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
      if (res.status !== 200) throw await this.#failure(target.upstream.name, res, `manifest ${target.repository}@${digest.value}`);
      const bytes = await this.#readManifest(target, res, `${target.repository}@${digest.value}`);
      const actual = `${digest.algorithm}:${createHash(digest.algorithm).update(bytes).digest('hex')}`;
      if (actual !== digest.value) {
        this.#o.metrics.digestMismatches.inc({ upstream: target.upstream.name, kind: 'manifest' });
        this.#o.logger.warn({ upstream: target.upstream.name, repository: target.repository, expected: digest.value, actual }, 'manifest digest mismatch');
        throw new SignetError(
          'DIGEST_MISMATCH',
          `upstream ${target.upstream.name} sent a manifest for ${digest.value} whose bytes hash to ${actual}; nothing was served or cached`,
          { status: 502 },
        );
      }
      return this.#store(digest.value, bytes, header(res.headers, 'content-type'));
    });
    return { ...fetched, cache: 'miss' };
  }

  /**
   * What the upstream says a tag means: a HEAD (cheap, and not rate-limited by Docker Hub) gives
   * the digest, and the manifest itself comes by digest. When the upstream fails, the policy
   * decides whether the last digest seen for the tag is served from the cache (`lastKnown`).
   */
  async #byTag(target: Target, tag: string): Promise<ServedManifest> {
    const upstream = target.upstream.name;
    const known = await this.#o.tags.get(upstream, target.repository, tag);
    if (known && this.#clock() - known.checkedAt < this.#o.tagCheckSeconds * 1000) {
      const cached = await this.#cached(known.digest);
      if (cached) {
        this.#o.metrics.cacheHits.inc({ kind: 'manifest' });
        return { ...cached, cache: 'hit' };
      }
    }
    const { res, digest } = await headTag(target, tag);
    if (res.status === 429 || res.status >= 500) {
      // Rate-limiting or failing (after the upstream client's retries): a GET would only count
      // against its limits again. The policy may serve the tag's last digest (lastKnown).
      throw await this.#failure(upstream, res, `manifest ${target.repository}:${tag}`);
    }
    if (!digest) {
      // No digest to fetch by: GET the tag, whose bytes are hashed here. For a failed HEAD this
      // also brings the upstream's own error message (HEAD carries no body).
      const full = await target.upstream.request({
        method: 'GET',
        path: `/v2/${target.repository}/manifests/${tag}`,
        repository: target.repository,
        headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
      });
      if (full.status !== 200) throw await this.#failure(upstream, full, `manifest ${target.repository}:${tag}`);
      return this.#acceptTagBody(target, tag, full);
    }
    const served = await this.#byDigest(target, digest);
    await this.#o.tags.set(upstream, target.repository, tag, {
      digest: served.digest,
      mediaType: served.mediaType,
      size: served.size,
      checkedAt: this.#clock(),
    });
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
      new SignetError(
        'MANIFEST_TOO_LARGE',
        `manifest ${what} at upstream ${target.upstream.name} is ${size} bytes, over Signet's limit of ${this.#maxBytes} bytes`,
      );
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

  /**
   * Parses and stores verified bytes. Their media type comes from the bytes (mediaType, else their
   * structure): the Content-Type of whichever upstream answered first never types a digest.
   */
  async #store(digest: string, bytes: Buffer, contentType: string | undefined): Promise<Parsed> {
    const references = parseManifestReferences(bytes, contentType);
    const stored: ParsedManifest = { digest, mediaType: references.mediaType, bytes, references, children: [...references.manifests, ...references.blobs] };
    await this.#o.manifests.put(stored);
    return describe(stored);
  }
}

/**
 * The facts of stored manifest bytes (already hashed against their digest). A store that keeps
 * manifests parsed (MemoizedManifests) hands over its references; others are parsed here.
 */
function describe(stored: StoredManifest | ParsedManifest): Parsed {
  const refs = 'references' in stored ? stored.references : parseManifestReferences(stored.bytes, stored.mediaType);
  return {
    digest: stored.digest,
    size: stored.bytes.length,
    mediaType: refs.mediaType,
    bytes: stored.bytes,
    isIndex: INDEX_MEDIA_TYPES.includes(refs.mediaType),
    children: [...refs.manifests, ...refs.blobs],
    subject: refs.subject,
    signatureArtifact: refs.signatureArtifact,
  };
}
