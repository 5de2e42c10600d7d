import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError } from '../errors.js';
import { discard, readBounded } from './bounded-body.js';
import { baseMediaType, checkAnnotations, isObject, type Descriptor } from './descriptors.js';
import { nextLink } from './link-header.js';
import { parseJson, readReferrersIndex } from './referrers-index.js';
import { HEADERS, MEDIA_TYPES, REFERRERS_HEADERS, UPSTREAM_MANIFEST_ACCEPT } from './media-types.js';
import { assertRepositoryName, isTag, parseDigest, printable, type Digest } from './names.js';
import { firstOciError } from './oci-error-body.js';
import { SignatureFetchError, failedAnswer, unavailable } from './signature-fetch-error.js';
import { referrersTag } from './signature-artifacts.js';
import { readLimited, releaseBody } from './upstream-body.js';
import { header, type UpstreamClient, type UpstreamResponse } from './upstream-client.js';

/** Where a referrer was found. */
export type ReferrerSource =
  /** distribution-spec 1.1 end-12a/12b, `GET /v2/<name>/referrers/<digest>`. */
  | 'referrers-api'
  /** The image index tagged `<alg>-<hex>` (distribution-spec 1.1 "Referrers Tag Schema"). */
  | 'referrers-tag'
  /** A format-specific tag the caller named (cosign's `sha256-<hex>.sig`, `.att`). */
  | 'tag';

export interface ReferrerDescriptor extends Descriptor {
  source: ReferrerSource;
  /** The tag it was read from, for `referrers-tag` and `tag`. */
  tag: string | undefined;
}

export interface ReferrersQuery {
  /** Only referrers of this artifactType (server-side when the registry applies it, else here). */
  artifactType?: string;
  /**
   * Format-specific tags to read as well, e.g. cosignTag(digest, 'sig'); absent tags are skipped.
   * They are not filtered by artifactType: the caller named them, and a legacy `.sig` has none.
   */
  tags?: string[];
}

export interface FetchedManifest {
  /** The digest it was fetched by; its bytes hash to it. */
  digest: string;
  /** The body's mediaType, else the upstream's Content-Type (without parameters). */
  mediaType: string | undefined;
  bytes: Buffer;
  /** JSON.parse of the bytes, for the caller to validate. */
  json: unknown;
}

export interface FetchedBlob {
  /** The digest it was fetched by; its bytes hash to it. */
  digest: string;
  bytes: Buffer;
}

/**
 * The one way trust sources reach a registry for signatures (the port). Every answer is bounded
 * by DEFAULTS' signature limits, every manifest and blob is fetched by digest and hashed, and
 * every failure is a SignatureFetchError whose `code` says what kind it is.
 *
 * Referrers are what the registry claims: a referrer's manifest must still be fetched with
 * `manifest()` and its `subject` (or signed payload) checked by the caller.
 */
export interface SignatureFetcher {
  /**
   * The referrers of `subjectDigest` in `repository`: from the referrers API (following Link
   * pagination), or from the referrers tag schema where the registry has no API, then from the
   * named `tags`. One descriptor per digest, the first source found wins. No referrers is `[]`.
   */
  referrers(repository: string, subjectDigest: string, query?: ReferrersQuery): Promise<ReferrerDescriptor[]>;
  /** A manifest fetched by digest, hashed and at most `maxBytes` (default signatureManifestMaxBytes). */
  manifest(repository: string, digest: string, maxBytes?: number): Promise<FetchedManifest>;
  /** A small blob (signature payload, bundle, envelope) fetched by digest, hashed and at most `maxBytes`. */
  blob(repository: string, digest: string, maxBytes: number): Promise<FetchedBlob>;
}

export interface SignatureFetchLimits {
  referrersMaxEntries: number;
  referrersIndexMaxBytes: number;
  signatureManifestMaxBytes: number;
  signatureBlobMaxBytes: number;
  signatureArtifactsMax: number;
}

export interface RegistrySignatureFetcherOptions {
  /** The upstream's client (authentication, retries, timeouts, redirects): the only way out. */
  upstream: Pick<UpstreamClient, 'name' | 'request'>;
  logger?: Logger;
  /** Overrides of DEFAULTS' signature limits (config, tests). */
  limits?: Partial<SignatureFetchLimits>;
}

const INDEX_ACCEPT = MEDIA_TYPES.ociIndex;

/** The SignatureFetcher over Signet's upstream client. */
export class RegistrySignatureFetcher implements SignatureFetcher {
  readonly #upstream: Pick<UpstreamClient, 'name' | 'request'>;
  readonly #logger: Logger | undefined;
  readonly #limits: SignatureFetchLimits;

  constructor(options: RegistrySignatureFetcherOptions) {
    this.#upstream = options.upstream;
    this.#logger = options.logger?.child({ upstream: options.upstream.name, component: 'signature-fetcher' });
    this.#limits = {
      referrersMaxEntries: DEFAULTS.referrersMaxEntries,
      referrersIndexMaxBytes: DEFAULTS.referrersIndexMaxBytes,
      signatureManifestMaxBytes: DEFAULTS.signatureManifestMaxBytes,
      signatureBlobMaxBytes: DEFAULTS.signatureBlobMaxBytes,
      signatureArtifactsMax: DEFAULTS.signatureArtifactsMax,
      ...options.limits,
    };
    for (const name of Object.keys(this.#limits) as Array<keyof SignatureFetchLimits>) assertLimit(name, this.#limits[name]);
  }

  async referrers(repository: string, subjectDigest: string, query: ReferrersQuery = {}): Promise<ReferrerDescriptor[]> {
    assertRepositoryName(repository);
    const subject = parseDigest(subjectDigest);
    const { artifactType } = query;
    if (artifactType !== undefined && (artifactType.length === 0 || /[^\x21-\x7e]/.test(artifactType))) {
      throw new SignetError('INTERNAL', `invalid artifactType "${printable(artifactType)}" for a referrers query`);
    }
    const tags = query.tags ?? [];
    if (tags.length > this.#limits.signatureArtifactsMax) {
      throw new SignetError('INTERNAL', `${tags.length} signature tags asked for, more than signatureArtifactsMax (${this.#limits.signatureArtifactsMax})`);
    }
    for (const tag of tags) {
      if (!isTag(tag)) throw new SignetError('INTERNAL', `invalid signature tag "${printable(tag)}"`);
    }

    const found = new Map<string, ReferrerDescriptor>();
    const add = (d: ReferrerDescriptor): void => {
      if (!found.has(d.digest)) found.set(d.digest, d);
    };
    const listed = await this.#referrersApi(repository, subject, artifactType);
    for (const d of listed ?? (await this.#referrersTagSchema(repository, subject, artifactType))) add(d);
    for (const tag of tags) {
      const d = await this.#tagged(repository, tag);
      if (d) add(d);
    }
    return [...found.values()];
  }

  async manifest(repository: string, digest: string, maxBytes: number = this.#limits.signatureManifestMaxBytes): Promise<FetchedManifest> {
    assertRepositoryName(repository);
    const d = parseDigest(digest);
    assertLimit('maxBytes', maxBytes);
    const what = `manifest ${repository}@${d.value}`;
    const res = await this.#request(`/v2/${repository}/manifests/${d.value}`, repository, UPSTREAM_MANIFEST_ACCEPT, what);
    if (res.status !== 200) throw await failedAnswer(this.#upstream.name, res, what);
    const { bytes, digest: actual } = await readBounded(res, { upstream: this.#upstream.name, what, maxBytes, hash: d.algorithm });
    this.#checkDigest(what, d.value, actual);
    const json = parseJson(bytes, what, this.#upstream.name);
    const bodyType = isObject(json) && typeof json['mediaType'] === 'string' ? json['mediaType'] : undefined;
    const contentType = header(res.headers, 'content-type');
    return { digest: d.value, mediaType: bodyType ?? (contentType ? baseMediaType(contentType) : undefined), bytes, json };
  }

  async blob(repository: string, digest: string, maxBytes: number): Promise<FetchedBlob> {
    assertRepositoryName(repository);
    const d = parseDigest(digest);
    assertLimit('maxBytes', maxBytes);
    const what = `blob ${repository}@${d.value}`;
    // Registries redirect blob downloads to object storage; the client follows them server-side
    // and never sends credentials to another origin.
    const res = await this.#request(`/v2/${repository}/blobs/${d.value}`, repository, undefined, what, true);
    if (res.status !== 200) throw await failedAnswer(this.#upstream.name, res, what);
    const { bytes, digest: actual } = await readBounded(res, { upstream: this.#upstream.name, what, maxBytes, hash: d.algorithm });
    this.#checkDigest(what, d.value, actual);
    return { digest: d.value, bytes };
  }

  /**
   * distribution-spec 1.1 "Listing Referrers". Returns undefined when the registry has no
   * referrers API: a 404 that is not NAME_UNKNOWN (oras-go registry/remote referrersPageByAPI
   * does the same), or a 200 that is not an image index (a front end answering unknown paths).
   */
  async #referrersApi(repository: string, subject: Digest, artifactType: string | undefined): Promise<ReferrerDescriptor[] | undefined> {
    const first = `/v2/${repository}/referrers/${subject.value}${artifactType === undefined ? '' : `?${new URLSearchParams({ artifactType }).toString()}`}`;
    const what = `referrers of ${repository}@${subject.value}`;
    const out: ReferrerDescriptor[] = [];
    const visited = new Set<string>();
    let entries = 0;
    let bytes = 0;
    let path = first;
    for (let page = 0; ; page++) {
      visited.add(path);
      const res = await this.#request(path, repository, INDEX_ACCEPT, what);
      if (page === 0 && res.status === 404) {
        const text = await readLimited(res.body, DEFAULTS.errorBodyMaxBytes).catch(() => '');
        if (firstOciError(text)?.code === 'NAME_UNKNOWN') {
          throw new SignatureFetchError('not_found', `repository of ${what} not found at upstream ${this.#upstream.name}`, { status: 404 });
        }
        this.#logger?.debug({ repository }, 'no referrers API (404); using the referrers tag schema');
        return undefined;
      }
      if (res.status !== 200) throw await failedAnswer(this.#upstream.name, res, what);
      const type = baseMediaType(header(res.headers, 'content-type') ?? '');
      if (type !== MEDIA_TYPES.ociIndex) {
        discard(res);
        if (page === 0) {
          this.#logger?.debug({ repository, contentType: type }, 'referrers API answered without an image index; using the referrers tag schema');
          return undefined;
        }
        throw new SignatureFetchError(
          'malformed',
          `page ${page + 1} of ${what} at upstream ${this.#upstream.name} is "${printable(type)}", not an image index`,
        );
      }
      // The limits hold for the whole list, however the registry pages it.
      const descriptors = await readReferrersIndex(res, {
        upstream: this.#upstream.name,
        what: `${what} (page ${page + 1})`,
        maxBytes: this.#limits.referrersIndexMaxBytes - bytes,
        maxEntries: this.#limits.referrersMaxEntries - entries,
        limits: { bytes: this.#limits.referrersIndexMaxBytes, entries: this.#limits.referrersMaxEntries },
      });
      entries += descriptors.list.length;
      bytes += descriptors.size;
      const serverFiltered = artifactType !== undefined && filtersApplied(res).includes('artifacttype');
      for (const d of descriptors.list) {
        if (artifactType !== undefined && !matchesFilter(d, artifactType, serverFiltered)) {
          if (serverFiltered)
            this.#logger?.warn({ repository, digest: d.digest, artifactType: d.artifactType }, 'referrers API sent a referrer its own filter excludes');
          continue;
        }
        out.push({ ...d, source: 'referrers-api', tag: undefined });
      }
      const next = nextLink(res.headers[REFERRERS_HEADERS.link.toLowerCase()], res.url);
      if (!next) break;
      // Pages stay on the same origin and the same endpoint: a Link is no way to send Signet
      // (with its credentials) anywhere else. An empty page ends the list (no endless paging).
      const firstUrl = new URL(first, res.url);
      if (next.origin !== res.url.origin || next.pathname !== firstUrl.pathname) {
        throw new SignatureFetchError(
          'malformed',
          `${what} at upstream ${this.#upstream.name} links its next page to another endpoint (${printable(next.href)})`,
        );
      }
      path = `${next.pathname}${next.search}`;
      if (descriptors.list.length === 0 || visited.has(path)) break;
    }
    return out;
  }

  /**
   * distribution-spec 1.1 "Unavailable Referrers API": the image index tagged with the subject's
   * referrers tag. No tag, or a tag that is not a valid image index, means no referrers ("the
   * client SHOULD assume there are no referrers"); an index over the limits is refused.
   */
  async #referrersTagSchema(repository: string, subject: Digest, artifactType: string | undefined): Promise<ReferrerDescriptor[]> {
    const tag = referrersTag(subject.value);
    const what = `referrers index ${repository}:${tag}`;
    const res = await this.#request(`/v2/${repository}/manifests/${tag}`, repository, INDEX_ACCEPT, what);
    if (res.status === 404) {
      releaseBody(res.body, res.headers);
      return [];
    }
    if (res.status !== 200) throw await failedAnswer(this.#upstream.name, res, what);
    let list: Descriptor[];
    try {
      ({ list } = await readReferrersIndex(res, {
        upstream: this.#upstream.name,
        what,
        maxBytes: this.#limits.referrersIndexMaxBytes,
        maxEntries: this.#limits.referrersMaxEntries,
        limits: { bytes: this.#limits.referrersIndexMaxBytes, entries: this.#limits.referrersMaxEntries },
      }));
    } catch (err) {
      if (err instanceof SignatureFetchError && err.code === 'malformed') {
        this.#logger?.warn({ repository, tag, err: err.message }, 'the referrers tag does not hold a valid image index; taking it as no referrers');
        return [];
      }
      throw err;
    }
    return list.filter((d) => artifactType === undefined || d.artifactType === artifactType).map((d) => ({ ...d, source: 'referrers-tag' as const, tag }));
  }

  /**
   * A manifest the caller names by tag (cosign's `.sig`/`.att`): its digest is the hash of the
   * bytes received, never a header's word; a Docker-Content-Digest that disagrees is refused.
   */
  async #tagged(repository: string, tag: string): Promise<ReferrerDescriptor | undefined> {
    const what = `manifest ${repository}:${tag}`;
    const res = await this.#request(`/v2/${repository}/manifests/${tag}`, repository, UPSTREAM_MANIFEST_ACCEPT, what);
    if (res.status === 404) {
      releaseBody(res.body, res.headers);
      return undefined;
    }
    if (res.status !== 200) throw await failedAnswer(this.#upstream.name, res, what);
    const { bytes, digest } = await readBounded(res, { upstream: this.#upstream.name, what, maxBytes: this.#limits.signatureManifestMaxBytes, hash: 'sha256' });
    if (!digest) throw new SignetError('INTERNAL', 'no digest computed');
    const claimed = header(res.headers, HEADERS.contentDigest.toLowerCase());
    if (claimed !== undefined && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new SignatureFetchError(
        'digest_mismatch',
        `upstream ${this.#upstream.name} announced ${printable(claimed)} for ${what}, but its bytes hash to ${digest}`,
      );
    }
    const json = parseJson(bytes, what, this.#upstream.name);
    if (!isObject(json)) throw new SignatureFetchError('malformed', `${what} at upstream ${this.#upstream.name} is not a JSON object`);
    const contentType = header(res.headers, 'content-type');
    const mediaType = typeof json['mediaType'] === 'string' ? json['mediaType'] : contentType ? baseMediaType(contentType) : undefined;
    if (!mediaType) throw new SignatureFetchError('malformed', `${what} at upstream ${this.#upstream.name} has no media type`);
    const annotations = checkAnnotations(json['annotations']);
    if (!annotations.ok) throw new SignatureFetchError('malformed', `${what} at upstream ${this.#upstream.name} ${annotations.problem}`);
    // distribution-spec 1.1 "Listing Referrers": artifactType, else the config's mediaType.
    const config = json['config'];
    const configType = isObject(config) && typeof config['mediaType'] === 'string' ? config['mediaType'] : undefined;
    const artifactType = typeof json['artifactType'] === 'string' && json['artifactType'] !== '' ? json['artifactType'] : configType;
    return { mediaType, digest, size: bytes.length, artifactType, annotations: annotations.annotations, source: 'tag', tag };
  }

  async #request(path: string, repository: string, accept: string | undefined, what: string, followRedirects = false): Promise<UpstreamResponse> {
    try {
      return await this.#upstream.request({
        method: 'GET',
        path,
        repository,
        ...(accept === undefined ? {} : { headers: { accept } }),
        ...(followRedirects ? { followRedirects } : {}),
      });
    } catch (err) {
      throw unavailable(this.#upstream.name, what, err);
    }
  }

  #checkDigest(what: string, expected: string, actual: string | undefined): void {
    if (actual !== expected) {
      this.#logger?.warn({ expected, actual }, 'signature artifact digest mismatch');
      throw new SignatureFetchError(
        'digest_mismatch',
        `upstream ${this.#upstream.name} sent ${what} whose bytes hash to ${actual ?? 'nothing'}; it was discarded`,
      );
    }
  }
}

/**
 * Whether a referrer passes the artifactType filter. When the registry says it applied the
 * filter (OCI-Filters-Applied: artifactType) its answer is taken, except a referrer that states
 * another artifactType: a registry is not believed against its own descriptor. Otherwise the
 * filter is applied here (distribution-spec 1.1: registries SHOULD, not MUST, support it).
 */
function matchesFilter(d: Descriptor, artifactType: string, serverFiltered: boolean): boolean {
  if (d.artifactType === artifactType) return true;
  return serverFiltered && d.artifactType === undefined;
}

/** OCI-Filters-Applied: a comma-separated list of the filters the registry applied, lowercased. */
function filtersApplied(res: UpstreamResponse): string[] {
  const value = header(res.headers, REFERRERS_HEADERS.filtersApplied.toLowerCase()) ?? '';
  return value
    .split(',')
    .map((f) => f.trim().toLowerCase())
    .filter((f) => f.length > 0);
}

function assertLimit(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new SignetError('INTERNAL', `signature fetch limit ${name} must be a positive integer, got ${value}`);
}
