import { Readable } from 'node:stream';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError } from '../errors.js';
import { nextLink } from '../registry/link-header.js';
import { isTag } from '../registry/names.js';
import { readSmallBody } from '../registry/upstream-body.js';
import { header } from '../registry/upstream-client.js';
import type { Policy } from '../policy/policy.js';
import type { TagLister, TagPage } from '../policy/requests.js';
import type { Target } from './router.js';
import { headTag } from './tag-head.js';
import { upstreamFailure } from './upstream-errors.js';

export interface TagListServiceOptions {
  policy: Pick<Policy, 'tagList'>;
}

/** A tags/list answer: the upstream's streamed through, or a filtered list rendered here. */
export interface PassedThrough {
  contentType: string | undefined;
  /** The pagination link, naming the client's repository path. */
  link: string | undefined;
  length: number | undefined;
  /** Undefined for HEAD. */
  body: Readable | undefined;
}

const JSON_TYPE = 'application/json';

/**
 * `GET /v2/<name>/tags/list` (distribution-spec end-8a, end-8b). The policy decides: under `off`
 * the upstream's answer is streamed through with `n` and `last` validated; otherwise the policy
 * hands back the page to list (under `enforce` only tags a pull would be admitted for), which is
 * rendered here with a Link header to the next page of the filtered list.
 */
export class TagListService {
  readonly #o: TagListServiceOptions;

  constructor(options: TagListServiceOptions) {
    this.#o = options;
  }

  async list(target: Target, query: { n: string | undefined; last: string | undefined }, method: 'GET' | 'HEAD'): Promise<PassedThrough> {
    let n: number | undefined;
    if (query.n !== undefined) {
      if (!/^\d{1,6}$/.test(query.n)) throw new SignetError('UNSUPPORTED', `query parameter n must be a non-negative integer, got "${query.n.slice(0, 20)}"`);
      n = Number(query.n);
    }
    const request = { upstream: target.upstream.name, repository: target.repository, client: target.client, user: target.user };
    const page = await this.#o.policy.tagList(request, { n, last: query.last }, lister(target));
    if (page) return rendered(target, page, n, method);
    return passThrough(target, query, method);
  }
}

/** The upstream's answer as it is: names only, no content to verify (policy `off`). */
async function passThrough(target: Target, query: { n: string | undefined; last: string | undefined }, method: 'GET' | 'HEAD'): Promise<PassedThrough> {
  const res = await target.upstream.request({ method, path: listPath(target.repository, query.n, query.last), repository: target.repository });
  if (res.status !== 200) throw await upstreamFailure(target.upstream.name, res, `${target.repository} (tags/list)`, 'NAME_UNKNOWN');
  const link = header(res.headers, 'link');
  const length = Number(header(res.headers, 'content-length'));
  if (method === 'HEAD') res.body.resume();
  return {
    contentType: header(res.headers, 'content-type'),
    // The upstream's pagination link names its own repository path; the client used its own.
    link: link?.replace(`/v2/${target.repository}/`, `/v2/${target.clientName}/`),
    length: Number.isFinite(length) ? length : undefined,
    body: method === 'HEAD' ? undefined : res.body,
  };
}

/** A page the policy chose, as distribution-spec end-8a answers: `{name, tags}` and RFC 8288 Link. */
function rendered(target: Target, page: TagPage, n: number | undefined, method: 'GET' | 'HEAD'): PassedThrough {
  const bytes = Buffer.from(JSON.stringify({ name: target.clientName, tags: page.tags }));
  const link = page.next === undefined ? undefined : `<${listPath(target.clientName, n === undefined ? undefined : String(n), page.next)}>; rel="next"`;
  return { contentType: JSON_TYPE, link, length: bytes.length, body: method === 'HEAD' ? undefined : Readable.from([bytes]) };
}

function listPath(repository: string, n: string | undefined, last: string | undefined): string {
  const params = new URLSearchParams();
  if (n !== undefined) params.set('n', n);
  if (last !== undefined) params.set('last', last);
  return `/v2/${repository}/tags/list${params.size ? `?${params.toString()}` : ''}`;
}

/** The policy's view of the upstream's tags: pages of its list, and tags resolved by HEAD. */
function lister(target: Target): TagLister {
  const upstream = target.upstream.name;
  const what = `${target.repository} (tags/list)`;
  return {
    async page(n, last) {
      const path = listPath(target.repository, n === undefined ? undefined : String(n), last);
      const res = await target.upstream.request({ method: 'GET', path, repository: target.repository });
      if (res.status !== 200) throw await upstreamFailure(upstream, res, what, 'NAME_UNKNOWN');
      const read = await readSmallBody(res.body, { maxBytes: DEFAULTS.tagListMaxBytes + 1 });
      if (!read.complete) {
        throw read.stopped === 'size'
          ? new SignetError(
              'UPSTREAM_ERROR',
              `the tag list of ${target.repository} at upstream ${upstream} is over Signet's limit of ${DEFAULTS.tagListMaxBytes} bytes`,
            )
          : new SignetError(
              read.stopped === 'time' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR',
              `the tag list of ${target.repository} at upstream ${upstream} was not received whole`,
            );
      }
      // Some registries ignore n and last (distribution 2.8): both are applied here again.
      const all = parseTags(read.bytes, upstream, target.repository)
        .filter((t) => last === undefined || t > last)
        .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
      const tags = n === undefined ? all : all.slice(0, n);
      if (tags.length < all.length) return { tags, next: tags.at(-1) };
      const link = nextLink(header(res.headers, 'link'), new URL(`http://upstream${path}`));
      const after = link?.searchParams.get('last') ?? tags.at(-1);
      // A next page only after this one: an upstream link that would not advance is ignored.
      return { tags, next: link && after !== undefined && (last === undefined || after > last) ? after : undefined };
    },
    async resolve(tag) {
      const { res, digest } = await headTag(target, tag);
      if (res.status === 404) return undefined;
      if (res.status !== 200) throw await upstreamFailure(upstream, res, `manifest ${target.repository}:${tag}`, 'MANIFEST_UNKNOWN');
      if (!digest) throw new SignetError('UPSTREAM_ERROR', `upstream ${upstream} sent no Docker-Content-Digest for ${target.repository}:${tag}`);
      return digest.value;
    },
  };
}

/** `{"name": ..., "tags": [...]}` (tags may be null for an empty repository); names that are not tags are left out. */
function parseTags(bytes: Buffer, upstream: string, repository: string): string[] {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new SignetError('UPSTREAM_ERROR', `upstream ${upstream} sent a tag list of ${repository} that is not JSON`);
  }
  const tags = typeof doc === 'object' && doc !== null ? (doc as Record<string, unknown>)['tags'] : undefined;
  if (tags === null || tags === undefined) return [];
  if (!Array.isArray(tags)) throw new SignetError('UPSTREAM_ERROR', `upstream ${upstream} sent a tag list of ${repository} whose "tags" is not a list`);
  return [...new Set(tags.filter((t): t is string => typeof t === 'string' && isTag(t)))];
}
