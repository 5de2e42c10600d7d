import { SignetError } from '../errors.js';
import { HEADERS, UPSTREAM_MANIFEST_ACCEPT } from '../registry/media-types.js';
import { parseDigest, type Digest } from '../registry/names.js';
import { header, type UpstreamResponse } from '../registry/upstream-client.js';
import type { Target } from './router.js';

export interface TagHead {
  /** The upstream's answer; a HEAD has no body to read (distribution-spec end-3). */
  res: UpstreamResponse;
  /** The digest a 200 announced in Docker-Content-Digest, if it sent one. */
  digest: Digest | undefined;
}

/**
 * What a tag means at the upstream, asked with a HEAD (cheap, and not counted as a pull by
 * Docker Hub). A malformed Docker-Content-Digest is the upstream's fault, not the client's.
 */
export async function headTag(target: Target, tag: string): Promise<TagHead> {
  const res = await target.upstream.request({
    method: 'HEAD',
    path: `/v2/${target.repository}/manifests/${tag}`,
    repository: target.repository,
    headers: { accept: UPSTREAM_MANIFEST_ACCEPT },
  });
  res.body.resume();
  const value = res.status === 200 ? header(res.headers, HEADERS.contentDigest.toLowerCase()) : undefined;
  if (value === undefined) return { res, digest: undefined };
  try {
    return { res, digest: parseDigest(value) };
  } catch (err) {
    throw new SignetError('UPSTREAM_ERROR', `upstream ${target.upstream.name} sent an invalid Docker-Content-Digest for ${target.repository}:${tag}`, {
      cause: err,
    });
  }
}
