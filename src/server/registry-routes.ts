import type { Context } from 'koa';
import { SignetError } from '../errors.js';
import { API_VERSION, HEADERS, acceptsMediaType } from '../registry/media-types.js';
import { printable, parseDigest, parseReference } from '../registry/names.js';
import type { BlobService } from '../proxy/blobs.js';
import { parseRange } from '../proxy/blobs.js';
import type { ManifestService } from '../proxy/manifests.js';
import type { ReferrersService } from '../proxy/referrers.js';
import type { Router, Target } from '../proxy/router.js';
import type { PassedThrough, TagListService } from '../proxy/tag-list.js';
import type { RequestState } from './middleware.js';
import { sendBody } from './send-body.js';
import type { BufferPool } from '../cache/buffer-pool.js';

export interface RegistryRoutesOptions {
  router: Router;
  manifests: ManifestService;
  blobs: BlobService;
  referrers: ReferrersService;
  tagList: TagListService;
  /** The pool blob bodies are read into: each chunk goes back once the socket took it. */
  buffers?: BufferPool;
  /** Client access check, once the repository is known (throws 401/403); absent: everybody may pull. */
  authorize?: (ctx: Context, target: Target) => void;
}

const MANIFEST_OR_BLOB = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;
const TAGS_LIST = /^\/v2\/(.+)\/tags\/list$/;
const REFERRERS = /^\/v2\/(.+)\/referrers\/([^/]+)$/;

/** The read side of the OCI distribution API (end-1 to end-3, end-8a, end-12a). */
export function registryRoutes(options: RegistryRoutesOptions) {
  return async (ctx: Context): Promise<void> => {
    const path = ctx.path;
    const state = ctx.state as RequestState;
    ctx.set(HEADERS.apiVersion, API_VERSION);
    if (path === '/v2/' || path === '/v2') {
      state.route = 'base';
      assertReadMethod(ctx);
      ctx.body = {};
      return;
    }
    let m: RegExpExecArray | null;
    if ((m = MANIFEST_OR_BLOB.exec(path))) {
      const [, name = '', kind, ref = ''] = m;
      state.route = kind === 'manifests' ? 'manifest' : 'blob';
      assertReadMethod(ctx);
      const target = resolve(ctx, options, name);
      if (kind === 'manifests') await serveManifest(ctx, options, target, ref);
      else await serveBlob(ctx, options, target, ref);
      return;
    }
    if ((m = TAGS_LIST.exec(path))) {
      state.route = 'tags';
      assertReadMethod(ctx);
      const target = resolve(ctx, options, m[1] ?? '');
      const listed = await options.tagList.list(target, { n: single(ctx.query['n']), last: single(ctx.query['last']) }, ctx.method === 'HEAD' ? 'HEAD' : 'GET');
      respond(ctx, listed);
      return;
    }
    if ((m = REFERRERS.exec(path))) {
      state.route = 'referrers';
      assertReadMethod(ctx);
      const target = resolve(ctx, options, m[1] ?? '');
      const digest = parseDigest(m[2] ?? '');
      const index = await options.referrers.list(target, digest, single(ctx.query['artifactType']));
      ctx.status = 200;
      ctx.set('Content-Type', index.mediaType);
      if (index.filtersApplied) ctx.set('OCI-Filters-Applied', index.filtersApplied);
      ctx.body = index.bytes;
      return;
    }
    state.route = 'unknown';
    throw new SignetError('UNSUPPORTED', `no such registry endpoint: ${printable(path)}`, { status: 404 });
  };
}

function assertReadMethod(ctx: Context): void {
  if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
    ctx.set('Allow', 'GET, HEAD');
    throw new SignetError('UNSUPPORTED', `${ctx.method} is not supported: Signet is a read-only pull-through proxy`, { status: 405 });
  }
}

function resolve(ctx: Context, options: RegistryRoutesOptions, name: string): Target {
  const ns = ctx.query['ns'];
  const state = ctx.state as RequestState;
  const target = options.router.resolve(name, typeof ns === 'string' ? ns : Array.isArray(ns) ? (ns[0] ?? '') : undefined, ctx.request.ip, state.user);
  state.upstream = target.upstream.name;
  state.repository = target.repository;
  options.authorize?.(ctx, target);
  return target;
}

async function serveManifest(ctx: Context, options: RegistryRoutesOptions, target: Target, ref: string): Promise<void> {
  const reference = parseReference(ref);
  const served = await options.manifests.get(target, reference);
  (ctx.state as RequestState).cache = served.cache;
  const accept = ctx.get('Accept');
  if (!acceptsMediaType(accept, served.mediaType)) {
    throw new SignetError('MANIFEST_UNKNOWN', `manifest ${ref} is ${served.mediaType}, which the client's Accept header does not allow`, { status: 404 });
  }
  ctx.status = 200;
  ctx.set('Content-Type', served.mediaType);
  ctx.set(HEADERS.contentDigest, served.digest);
  ctx.set('ETag', `"${served.digest}"`);
  // Koa sends no body for HEAD but keeps the Content-Length of the body that a GET would get.
  ctx.body = served.bytes;
}

async function serveBlob(ctx: Context, options: RegistryRoutesOptions, target: Target, ref: string): Promise<void> {
  const digest = parseDigest(ref);
  const method = ctx.method === 'HEAD' ? 'HEAD' : 'GET';
  // A client that leaves before the download started stops waiting for it: what is read from the
  // upstream only for that client stops then too.
  const left = new AbortController();
  ctx.res.once('close', () => {
    if (!ctx.res.writableFinished) left.abort();
  });
  const served = await options.blobs.get(target, digest, method, method === 'GET' ? parseRange(ctx.get('Range')) : undefined, left.signal);
  (ctx.state as RequestState).cache = served.cache;
  ctx.set('Content-Type', 'application/octet-stream');
  ctx.set(HEADERS.contentDigest, digest.value);
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('ETag', `"${digest.value}"`);
  if (served.range) {
    ctx.status = 206;
    ctx.set('Content-Range', `bytes ${served.range.start}-${served.range.end}/${served.size ?? '*'}`);
  } else {
    ctx.status = 200;
  }
  if (!served.stream) {
    // HEAD: leave the body unset (a null body would turn the status into 204).
    if (served.size !== undefined) ctx.length = served.size;
    return;
  }
  const stream = served.stream;
  // A failed stream after the headers went out (digest mismatch, upstream reset) must not look
  // like a complete response: cut the connection.
  stream.once('error', () => ctx.req.socket.destroy());
  const length = served.range ? served.range.end - served.range.start + 1 : served.size;
  if (length !== undefined) ctx.length = length;
  // Written here rather than piped by Koa, so pooled read buffers go back to their pool once sent
  // (the pool ignores chunks it did not hand out).
  ctx.respond = false;
  const pool = options.buffers;
  sendBody(ctx.res, stream, (chunk) => pool?.recycle(chunk));
}

/** The first value of a query parameter given once or several times. */
function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function respond(ctx: Context, passed: PassedThrough): void {
  ctx.status = 200;
  if (passed.contentType) ctx.set('Content-Type', passed.contentType);
  if (passed.link) ctx.set('Link', passed.link);
  if (passed.body) {
    passed.body.once('error', () => ctx.req.socket.destroy());
    ctx.body = passed.body;
  }
  if (passed.length !== undefined) ctx.length = passed.length;
}
