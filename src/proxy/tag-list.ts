import type { Readable } from 'node:stream';
import { SignetError } from '../errors.js';
import { header } from '../registry/upstream-client.js';
import type { Policy } from '../policy/policy.js';
import type { Target } from './router.js';
import { upstreamFailure } from './upstream-errors.js';

export interface TagListServiceOptions {
  policy: Pick<Policy, 'tagList'>;
}

/** An upstream answer handed to the client as it is (names only, no content to verify). */
export interface PassedThrough {
  contentType: string | undefined;
  /** The upstream's pagination link, rewritten to the client's repository path. */
  link: string | undefined;
  length: number | undefined;
  /** Undefined for HEAD. */
  body: Readable | undefined;
}

/**
 * `GET /v2/<name>/tags/list` (distribution-spec end-8a): the policy decides (and records) the
 * listing, then the upstream's answer is streamed through with `n` and `last` validated.
 */
export class TagListService {
  readonly #o: TagListServiceOptions;

  constructor(options: TagListServiceOptions) {
    this.#o = options;
  }

  async list(target: Target, query: { n: string | undefined; last: string | undefined }, method: 'GET' | 'HEAD'): Promise<PassedThrough> {
    const params = new URLSearchParams();
    if (query.n !== undefined) {
      if (!/^\d{1,6}$/.test(query.n)) throw new SignetError('UNSUPPORTED', `query parameter n must be a non-negative integer, got "${query.n.slice(0, 20)}"`);
      params.set('n', query.n);
    }
    if (query.last !== undefined) params.set('last', query.last);
    this.#o.policy.tagList({ upstream: target.upstream.name, repository: target.repository, client: target.client });
    const path = `/v2/${target.repository}/tags/list${params.size ? `?${params.toString()}` : ''}`;
    const res = await target.upstream.request({ method, path, repository: target.repository });
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
}
