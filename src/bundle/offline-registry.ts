import { Readable, addAbortSignal } from 'node:stream';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import { parseRange, resolveRange, type ByteRange } from '../proxy/blobs.js';
import { checkAnnotations, isObject } from '../registry/descriptors.js';
import { API_VERSION, HEADERS, MEDIA_TYPES, REFERRERS_HEADERS } from '../registry/media-types.js';
import { isTag, isValidRepositoryName, parseDigest, printable } from '../registry/names.js';
import type { Upstream, UpstreamRequest, UpstreamResponse } from '../registry/upstream-client.js';
import type { ImportedContent, ImportedRepository, ImportedState } from './imported.js';

export interface OfflineRegistryOptions {
  /** The upstream's name (`upstreams.<name>`); its repositories are `<name>/<repository>` in the index. */
  name: string;
  content: ImportedContent;
  logger?: Logger;
}

/** One entry of a referrers list (distribution-spec 1.1 "Listing Referrers"). */
interface Referrer {
  mediaType: string;
  digest: string;
  size: number;
  artifactType: string | undefined;
  annotations: Record<string, string> | undefined;
}

type Headers = Record<string, string>;

const JSON_TYPE = 'application/json; charset=utf-8';
const SHA256 = /^sha256:[a-f0-9]{64}$/;
/** distribution 2.8 registry/handlers/manifests.go: the OCI types it serves only to clients that accept them. */
const OCI_ACCEPT_REQUIRED: Record<string, string> = {
  [MEDIA_TYPES.ociManifest]: 'OCI manifest found, but accept header does not support OCI manifests',
  [MEDIA_TYPES.ociIndex]: 'OCI index found, but accept header does not support OCI indexes',
};

/**
 * An offline upstream: the registry API answered from imported bundles, never from the network.
 * It answers what Signet's proxy, the policy's loaders and the signature fetchers ask an upstream
 * the way CNCF distribution 2.8 answers them for the same content (statuses, headers, error
 * codes and details were compared with a running distribution 2.8), so none of that code knows
 * the difference and the policy decides exactly as for a live upstream. Beyond distribution 2.8,
 * as newer registries do: tag lists page with `n`/`last` and a Link header (distribution-spec
 * end-8b), the referrers API (distribution-spec 1.1 end-12a/12b) is answered, HEAD of a tag list
 * is answered, and a manifest is also served as a blob of its repository.
 *
 * A store that cannot be read is an error thrown (STORAGE_ERROR), never an answer: an upstream's
 * 5xx would make the proxy serve stale content, and a 404 would say the content is gone.
 */
export class OfflineRegistry implements Upstream {
  readonly name: string;
  readonly #content: ImportedContent;
  readonly #logger: Logger | undefined;
  /** The referrers of each repository, computed once per index (a new import is a new object). */
  readonly #referrers = new WeakMap<ImportedState, Map<string, Promise<Map<string, Referrer[]>>>>();
  /** Each repository's blob list as a set, once per repository object. */
  readonly #blobSets = new WeakMap<ImportedRepository, Set<string>>();

  constructor(options: OfflineRegistryOptions) {
    this.name = options.name;
    this.#content = options.content;
    this.#logger = options.logger?.child({ upstream: options.name, component: 'offline-registry' });
  }

  async close(): Promise<void> {
    // Nothing held: the content belongs to its store.
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    req.signal?.throwIfAborted();
    const queryAt = req.path.indexOf('?');
    const pathname = queryAt < 0 ? req.path : req.path.slice(0, queryAt);
    const query = new URLSearchParams(queryAt < 0 ? '' : req.path.slice(queryAt + 1));
    const url = this.#url(req.path);
    // Typed GET | HEAD, but a caller outside TypeScript's reach may send anything.
    const method: string = req.method;
    const head = method === 'HEAD';
    if (method !== 'GET' && !head) return this.#unsupported(url, false, `method ${printable(method)}`);

    // distribution-spec end-1: the API's base.
    if (pathname === '/v2/' || pathname === '/v2') return jsonAnswer(url, 200, Buffer.from('{}'), head);

    const route = /^\/v2\/(.+)\/(manifests|blobs|referrers)\/([^/]+)$/.exec(pathname) ?? /^\/v2\/(.+)\/(tags)\/(list)$/.exec(pathname);
    const repository = route?.[1];
    const kind = route?.[2];
    const reference = route?.[3];
    if (!repository || !kind || !reference || !isValidRepositoryName(repository)) return this.#unsupported(url, head, printable(pathname));

    const state = await this.#content.state();
    const key = `${this.name}/${repository}`;
    const repo = Object.hasOwn(state.repositories, key) ? state.repositories[key] : undefined;
    switch (kind) {
      case 'manifests':
        return this.#manifest(url, head, repository, repo, reference, header(req.headers, 'accept'), req.signal);
      case 'blobs':
        return this.#blob(url, head, repository, repo, reference, header(req.headers, 'range'), req.signal);
      case 'tags':
        return this.#tagList(url, head, repository, repo, query);
      default:
        return this.#referrersOf(url, head, state, repository, repo, reference, query.get('artifactType') ?? undefined);
    }
  }

  /** distribution-spec end-3 (HEAD) and end-2 (GET) `/v2/<name>/manifests/<reference>`. */
  async #manifest(
    url: URL,
    head: boolean,
    repository: string,
    repo: ImportedRepository | undefined,
    reference: string,
    accept: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResponse> {
    const byTag = isTag(reference);
    // distribution 2.8 answers MANIFEST_UNKNOWN for an unknown repository too (it does not look
    // the repository up for a manifest); the detail names the tag, or the name and revision.
    const unknown = (message: string): UpstreamResponse =>
      errorAnswer(url, 404, 'MANIFEST_UNKNOWN', message, byTag ? { Tag: reference } : { Name: repository, Revision: reference }, head);
    const where = `${this.name}/${repository}`;
    const notImported = `manifest unknown: ${where}${byTag ? ':' : '@'}${printable(reference)} is not in the bundles imported for offline upstream ${this.name}; export it on a connected Signet and import that bundle`;
    if (!repo) return unknown(notImported);
    let digest: string | undefined;
    if (byTag) digest = Object.hasOwn(repo.tags, reference) ? repo.tags[reference] : undefined;
    else if (SHA256.test(reference) && Object.hasOwn(repo.manifests, reference)) digest = reference;
    const mediaType = digest !== undefined && Object.hasOwn(repo.manifests, digest) ? repo.manifests[digest] : undefined;
    if (digest === undefined || mediaType === undefined) return unknown(notImported);

    const refused = OCI_ACCEPT_REQUIRED[mediaType];
    // distribution 2.8 sends this refusal without a detail.
    if (refused !== undefined && !acceptList(accept).includes(mediaType)) return errorAnswer(url, 404, 'MANIFEST_UNKNOWN', refused, undefined, head);

    const size = await this.#size(digest, `manifest ${where}@${digest}`);
    const headers: Headers = {
      'content-type': mediaType,
      'content-length': String(size),
      [HEADERS.contentDigest.toLowerCase()]: digest,
      etag: `"${digest}"`,
    };
    return answer(url, 200, headers, head ? emptyBody() : await this.#open(digest, undefined, `manifest ${where}@${digest}`, signal));
  }

  /** distribution-spec end-2 (GET) and HEAD `/v2/<name>/blobs/<digest>`, with one byte range (RFC 9110 §14). */
  async #blob(
    url: URL,
    head: boolean,
    repository: string,
    repo: ImportedRepository | undefined,
    digest: string,
    rangeHeader: string | undefined,
    signal: AbortSignal | undefined,
  ): Promise<UpstreamResponse> {
    if (!isDigest(digest)) return invalidDigest(url, digest, head);
    const where = `${this.name}/${repository}`;
    const known = repo !== undefined && (this.#blobSet(repo).has(digest) || Object.hasOwn(repo.manifests, digest));
    if (!known) {
      return errorAnswer(
        url,
        404,
        'BLOB_UNKNOWN',
        `blob unknown to registry: ${printable(digest)} of ${where} is not in the bundles imported for offline upstream ${this.name}`,
        digest,
        head,
      );
    }
    const what = `blob ${where}@${digest}`;
    const size = await this.#size(digest, what);
    const headers: Headers = {
      'accept-ranges': 'bytes',
      'cache-control': 'max-age=31536000',
      'content-type': 'application/octet-stream',
      [HEADERS.contentDigest.toLowerCase()]: digest,
      etag: `"${digest}"`,
    };
    const spec = parseRange(rangeHeader);
    let range: ByteRange | undefined;
    if (spec) {
      try {
        range = resolveRange(spec, size);
      } catch (err) {
        if (!(err instanceof SignetError) || err.code !== 'RANGE_INVALID') throw err;
        // RFC 9110 §15.5.17: 416 names the current length.
        const body = ociError('RANGE_INVALID', `requested range is not satisfiable: ${what} is ${size} bytes`, { size });
        return answer(
          url,
          416,
          { 'content-type': JSON_TYPE, 'content-length': String(body.length), 'content-range': `bytes */${size}` },
          head ? emptyBody() : Readable.from([body]),
        );
      }
    }
    if (range) {
      headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
      headers['content-length'] = String(range.end - range.start + 1);
    } else {
      headers['content-length'] = String(size);
    }
    return answer(url, range ? 206 : 200, headers, head ? emptyBody() : await this.#open(digest, range, what, signal));
  }

  /** distribution 2.8's answer for a repository it does not have (NAME_UNKNOWN), saying where content comes from. */
  #nameUnknown(url: URL, repository: string, head: boolean): UpstreamResponse {
    return errorAnswer(
      url,
      404,
      'NAME_UNKNOWN',
      `repository name not known to registry: ${this.name}/${repository} is not in the bundles imported for offline upstream ${this.name}`,
      { name: repository },
      head,
    );
  }

  /**
   * distribution-spec end-8a/8b `/v2/<name>/tags/list[?n=&last=]`: tags in lexical order, those
   * after `last`, at most `n`, with `Link: <...?n=&last=>; rel="next"` while more follow (as
   * distribution 3 pages; 2.8 ignores both parameters, and Signet applies them again anyway).
   */
  #tagList(url: URL, head: boolean, repository: string, repo: ImportedRepository | undefined, query: URLSearchParams): UpstreamResponse {
    if (!repo) {
      return this.#nameUnknown(url, repository, head);
    }
    const nText = query.get('n');
    let n: number | undefined;
    if (nText !== null) {
      if (!/^\d{1,9}$/.test(nText)) {
        return errorAnswer(url, 400, 'PAGINATION_NUMBER_INVALID', 'invalid number of results requested', { n: printable(nText) }, head);
      }
      n = Number(nText);
    }
    const last = query.get('last') ?? undefined;
    const all = Object.keys(repo.tags)
      .sort(compare)
      .filter((t) => last === undefined || t > last);
    const tags = n === undefined ? all : all.slice(0, n);
    const body = Buffer.from(JSON.stringify({ name: repository, tags }));
    const headers: Headers = { 'content-type': JSON_TYPE, 'content-length': String(body.length) };
    const lastShown = tags.at(-1);
    if (n !== undefined && tags.length < all.length && lastShown !== undefined) {
      headers['link'] = `</v2/${repository}/tags/list?${new URLSearchParams({ n: String(n), last: lastShown }).toString()}>; rel="next"`;
    }
    return answer(url, 200, headers, head ? emptyBody() : Readable.from([body]));
  }

  /**
   * distribution-spec 1.1 end-12a/12b `/v2/<name>/referrers/<digest>[?artifactType=]`: an image
   * index of the repository's manifests whose `subject` is the digest (an unknown subject has an
   * empty list), filtered by artifactType when asked, which OCI-Filters-Applied says.
   */
  async #referrersOf(
    url: URL,
    head: boolean,
    state: ImportedState,
    repository: string,
    repo: ImportedRepository | undefined,
    digest: string,
    artifactType: string | undefined,
  ): Promise<UpstreamResponse> {
    if (!repo) {
      return this.#nameUnknown(url, repository, head);
    }
    if (!isDigest(digest)) return invalidDigest(url, digest, head);
    const bySubject = await this.#referrersIndex(state, `${this.name}/${repository}`, repo);
    const listed = bySubject.get(digest) ?? [];
    const manifests = (artifactType === undefined ? listed : listed.filter((r) => r.artifactType === artifactType)).map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      ...(r.artifactType === undefined ? {} : { artifactType: r.artifactType }),
      ...(r.annotations === undefined ? {} : { annotations: r.annotations }),
    }));
    const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }));
    const headers: Headers = { 'content-type': MEDIA_TYPES.ociIndex, 'content-length': String(body.length) };
    if (artifactType !== undefined) headers[REFERRERS_HEADERS.filtersApplied.toLowerCase()] = 'artifactType';
    return answer(url, 200, headers, head ? emptyBody() : Readable.from([body]));
  }

  /** Subject digest → its referrers among a repository's manifests; once per index and repository. */
  #referrersIndex(state: ImportedState, key: string, repo: ImportedRepository): Promise<Map<string, Referrer[]>> {
    let perRepo = this.#referrers.get(state);
    if (!perRepo) {
      perRepo = new Map();
      this.#referrers.set(state, perRepo);
    }
    let computed = perRepo.get(key);
    if (!computed) {
      const map = perRepo;
      computed = this.#computeReferrers(key, repo);
      map.set(key, computed);
      // A failure (the store could not be read) is not remembered: the next request tries again.
      computed.catch(() => {
        if (map.get(key) === computed) map.delete(key);
      });
    }
    return computed;
  }

  async #computeReferrers(key: string, repo: ImportedRepository): Promise<Map<string, Referrer[]>> {
    const bySubject = new Map<string, Referrer[]>();
    for (const [digest, mediaType] of Object.entries(repo.manifests).sort(([a], [b]) => compare(a, b))) {
      let bytes: Buffer | undefined;
      try {
        bytes = await this.#content.read(digest, DEFAULTS.manifestMaxBytes);
      } catch (err) {
        if (err instanceof SignetError && err.code === 'BUNDLE_INVALID') {
          // Over the size Signet serves a manifest at: it could never be pulled as a referrer.
          this.#logger?.warn({ repository: key, digest, err: errorMessage(err) }, 'imported manifest too large to list as a referrer');
          continue;
        }
        throw err;
      }
      if (bytes === undefined) throw missing(`manifest ${key}@${digest}`, digest);
      const referrer = describeReferrer(bytes, digest, mediaType);
      if (!referrer) continue;
      const list = bySubject.get(referrer.subject) ?? [];
      list.push(referrer.descriptor);
      bySubject.set(referrer.subject, list);
    }
    return bySubject;
  }

  #blobSet(repo: ImportedRepository): Set<string> {
    let set = this.#blobSets.get(repo);
    if (!set) {
      set = new Set(repo.blobs);
      this.#blobSets.set(repo, set);
    }
    return set;
  }

  /** The size of a file the index lists; a listed file that is gone is a broken store, not a 404. */
  async #size(digest: string, what: string): Promise<number> {
    const st = await this.#content.stat(digest);
    if (!st) throw missing(what, digest);
    return st.size;
  }

  async #open(digest: string, range: ByteRange | undefined, what: string, signal: AbortSignal | undefined): Promise<Readable> {
    const stream = await this.#content.open(digest, range);
    if (!stream) throw missing(what, digest);
    // As an HTTP body would: a caller that aborts stops the read.
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  /** Neither a registry answer nor anything an offline upstream knows: distribution's router says 404. */
  #unsupported(url: URL, head: boolean, what: string): UpstreamResponse {
    return errorAnswer(url, 404, 'UNSUPPORTED', `${what} is not part of the registry API that offline upstream ${this.name} answers`, {}, head);
  }

  /** The response's URL: the request's path under `offline://<name>/`, for messages and Link resolution. */
  #url(path: string): URL {
    try {
      return new URL(path, `offline://${encodeURIComponent(this.name)}/`);
    } catch {
      return new URL(`offline://${encodeURIComponent(this.name)}/`);
    }
  }
}

/**
 * The referrer descriptor of a manifest with a `subject` (distribution-spec 1.1 "Listing
 * Referrers": mediaType, digest, size, artifactType — the manifest's, else its config's media
 * type — and its annotations). Bytes that are not a manifest with a valid subject list nothing.
 */
function describeReferrer(bytes: Buffer, digest: string, storedType: string): { subject: string; descriptor: Referrer } | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    return undefined;
  }
  if (!isObject(doc)) return undefined;
  const subject = doc['subject'];
  if (!isObject(subject) || typeof subject['digest'] !== 'string' || !isDigest(subject['digest'])) return undefined;
  const config = doc['config'];
  const configType = isObject(config) && typeof config['mediaType'] === 'string' ? config['mediaType'] : undefined;
  const own = typeof doc['artifactType'] === 'string' && doc['artifactType'] !== '' ? doc['artifactType'] : undefined;
  const annotations = checkAnnotations(doc['annotations']);
  const listed = annotations.ok && Object.keys(annotations.annotations).length > 0 ? annotations.annotations : undefined;
  // The media type the index keeps for the digest (taken from the verified bytes at import).
  return {
    subject: subject['digest'],
    descriptor: { mediaType: storedType, digest, size: bytes.length, artifactType: own ?? configType, annotations: listed },
  };
}

/** A digest of a registered algorithm with its exact length (names.ts): what a registry looks up at all. */
function isDigest(text: string): boolean {
  try {
    parseDigest(text);
    return true;
  } catch {
    return false;
  }
}

/** distribution 2.8 answers a malformed blob digest with 400 DIGEST_INVALID. */
function invalidDigest(url: URL, digest: string, head: boolean): UpstreamResponse {
  return errorAnswer(url, 400, 'DIGEST_INVALID', `provided digest "${printable(digest)}" is not a valid digest: use sha256:<64 lowercase hex>`, {}, head);
}

function missing(what: string, digest: string): SignetError {
  return new SignetError(
    'STORAGE_ERROR',
    `the imported index lists ${what}, but ${digest} is missing from the imported content: the store was changed by hand or damaged; import the bundle that carried it again`,
  );
}

/** The media types an Accept header lists (parameters dropped), as distribution 2.8 reads it. */
function acceptList(accept: string | undefined): string[] {
  if (!accept) return [];
  return accept
    .split(',')
    .map((part) => (part.split(';')[0] ?? '').trim().toLowerCase())
    .filter((t) => t.length > 0);
}

function header(headers: Record<string, string> | undefined, name: string): string | undefined {
  if (!headers) return undefined;
  for (const [key, value] of Object.entries(headers)) if (key.toLowerCase() === name) return value;
  return undefined;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function emptyBody(): Readable {
  return Readable.from([]);
}

function answer(url: URL, status: number, headers: Headers, body: Readable): UpstreamResponse {
  return { status, headers: { [HEADERS.apiVersion.toLowerCase()]: API_VERSION, ...headers }, body, url };
}

function jsonAnswer(url: URL, status: number, body: Buffer, head: boolean): UpstreamResponse {
  return answer(url, status, { 'content-type': JSON_TYPE, 'content-length': String(body.length) }, head ? emptyBody() : Readable.from([body]));
}

/** distribution-spec "Error Codes": `{"errors":[{"code","message","detail"}]}`. */
function ociError(code: string, message: string, detail: unknown): Buffer {
  return Buffer.from(JSON.stringify({ errors: [{ code, message, detail }] }));
}

/** An error answer; for HEAD the headers announce the body distribution would have sent, and none follows. */
function errorAnswer(url: URL, status: number, code: string, message: string, detail: unknown, head: boolean): UpstreamResponse {
  return jsonAnswer(url, status, ociError(code, message, detail), head);
}
