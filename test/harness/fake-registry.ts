import { createServer, type IncomingHttpHeaders, type IncomingMessage, type RequestListener, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { sha256Digest } from './streams.js';

/**
 * The one in-process stand-in for a registry (or any HTTP server a registry talks to: token
 * servers, blob storage behind redirects), for what the real distribution registry cannot be
 * made to do: bodies cut mid-stream, bytes that do not match their digest, missing
 * Docker-Content-Digest, manifests over 4 MiB (distribution 2.8.2 neither stores nor serves
 * them), the OCI referrers API (distribution 2.8 has none) with Link pagination and
 * OCI-Filters-Applied, retries and Retry-After, redirects to other origins, stalls held open
 * until the client leaves or a test releases them.
 *
 * It serves the manifests and blobs it is given (GET and HEAD, OCI error bodies otherwise),
 * optionally behind HTTP Basic, and records every request (a CONNECT too: as an HTTP(S)_PROXY it
 * records and refuses the tunnels a client asks for). Three layers answer, first match
 * wins: a `handler`, which takes over any request it answers and calls `next()` to pass it on;
 * then the answers set per path with `route()`; then the built-in manifests and blobs.
 *
 * An answer may stall: it sends its headers and its first `stallAfter` bytes, then holds the
 * connection until the client closes it (or the fake stops). A handler may send a body that never
 * ends by itself (`sendEndless`), to tell a client that stops reading from one that reads on. A test proves a body was refused
 * without being read this way: a client that read on would wait forever and the test would
 * time out. `stalls()` tells how much was sent and when the client left.
 */

export interface FakeRequest {
  method: string;
  /** Path and query, as sent. */
  url: string;
  path: string;
  /** The query string without "?", or "". */
  query: string;
  headers: IncomingHttpHeaders;
}

export interface FakeManifest {
  repo: string;
  /** Served by this tag and by its digest; by digest only when omitted. */
  tag?: string;
  bytes: Buffer;
  mediaType: string;
}

/** One response, described rather than written. */
export interface FakeAnswer {
  /** 200 when omitted. */
  status?: number;
  /** Docker-Distribution-API-Version is added; Content-Length too, unless given or `chunked`. */
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
  /** Leave Content-Length out (chunked transfer), so only counting while reading can refuse it. */
  chunked?: boolean;
  /** Send this many bytes of the body, then hold the connection until the client closes it. */
  stallAfter?: number;
}

/** A fixed answer, or one made per request (a route sees the method, query and headers). */
export type FakeRoute = FakeAnswer | ((req: FakeRequest) => FakeAnswer);

export interface FakeStall {
  path: string;
  /** Bytes of the body written before the stall. */
  written: number;
  /** Bytes the full body had. */
  total: number;
  /** Resolves when the connection of this answer closed (the client left, or the fake stopped). */
  closed: Promise<void>;
}

export type FakeHandler = (req: IncomingMessage, res: ServerResponse, next: () => void) => void | Promise<void>;

export interface FakeRegistryOptions {
  manifests?: FakeManifest[];
  /** Served by digest in every repository. */
  blobs?: Buffer[];
  /** Every request without these credentials gets a 401 with a Basic challenge. */
  basicAuth?: { username: string; password: string };
  handler?: FakeHandler;
  /** Serve HTTPS with this certificate (PEM; e.g. from test-ca.ts) instead of plain HTTP. */
  tls?: { certPem: string; keyPem: string };
}

export interface FakeRegistry {
  /** http://127.0.0.1:PORT (https:// with `tls`) */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly port: number;
  /**
   * Answers every request for `path` (exact, without the query) with `answer`, in place of the
   * built-in routes, from now on; a later call for the same path replaces it.
   */
  route(path: string, answer: FakeRoute): void;
  /** Requests received so far, oldest first. */
  requests(): FakeRequest[];
  /** Answers that stalled so far, oldest first. */
  stalls(): FakeStall[];
  /** Closes every connection and stops listening (connections are refused from then on). Idempotent. */
  stop(): Promise<void>;
}

/** An OCI error answer `{"errors":[{code,message}]}`. */
export function ociError(status: number, code: string, message: string, headers: Record<string, string> = {}): FakeAnswer {
  return { status, headers: { ...headers, 'content-type': 'application/json' }, body: JSON.stringify({ errors: [{ code, message }] }) };
}

/** Answers with an OCI error body `{"errors":[{code,message}]}`. */
export function sendOciError(res: ServerResponse, status: number, code: string, message: string, headers: Record<string, string> = {}): void {
  const body = JSON.stringify({ errors: [{ code, message }] });
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export interface EndlessBody {
  /** Bytes handed to the socket so far: the reader cannot have read more. */
  written(): number;
  /**
   * Resolves when the answer is over: `cut` when the client closed the connection before
   * `maxBytes` were written (it stopped reading), not when the whole bounded supply went out.
   */
  done: Promise<{ written: number; cut: boolean }>;
}

/**
 * Answers with `status` and `headers` (no Content-Length: chunked) and a body that does not end
 * by itself: `chunk` again and again, each write after the last one drained, until the client
 * closes the connection. `maxBytes` bounds the supply so that a test of a client that reads on
 * ends too (with `cut: false`) instead of running forever.
 */
export function sendEndless(res: ServerResponse, status: number, headers: Record<string, string>, options: { maxBytes: number; chunk?: Buffer }): EndlessBody {
  const chunk = options.chunk ?? Buffer.alloc(64 * 1024, 0x7b);
  let written = 0;
  const done = new Promise<{ written: number; cut: boolean }>((resolve) => {
    res.once('close', () => resolve({ written, cut: !res.writableFinished }));
  });
  res.writeHead(status, { 'docker-distribution-api-version': 'registry/2.0', ...headers });
  const pump = (): void => {
    while (written < options.maxBytes && !res.destroyed) {
      written += chunk.length;
      if (!res.write(chunk)) {
        res.once('drain', pump);
        return;
      }
    }
    if (!res.destroyed) res.end();
  };
  pump();
  return { written: () => written, done };
}

/** Writes `answer`; a stalling one is recorded in `stalls`. */
function respond(req: IncomingMessage, res: ServerResponse, path: string, answer: FakeAnswer, stalls: FakeStall[]): void {
  const body = answer.body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(answer.body) ? answer.body : Buffer.from(answer.body);
  const headers: Record<string, string | string[]> = { 'docker-distribution-api-version': 'registry/2.0', ...answer.headers };
  if (!answer.chunked && !Object.keys(headers).some((h) => h.toLowerCase() === 'content-length')) headers['content-length'] = String(body.length);
  res.writeHead(answer.status ?? 200, headers);
  if (req.method === 'HEAD') {
    res.end();
    return;
  }
  if (answer.stallAfter === undefined) {
    res.end(body);
    return;
  }
  const written = Math.min(answer.stallAfter, body.length);
  const closed = new Promise<void>((resolve) => res.once('close', () => resolve()));
  stalls.push({ path, written, total: body.length, closed });
  res.flushHeaders();
  if (written > 0) res.write(body.subarray(0, written));
}

export async function startFakeRegistry(options: FakeRegistryOptions | FakeHandler = {}): Promise<FakeRegistry> {
  const opts: FakeRegistryOptions = typeof options === 'function' ? { handler: options } : options;
  const seen: FakeRequest[] = [];
  const stalls: FakeStall[] = [];
  const routed = new Map<string, FakeRoute>();
  const manifests = new Map<string, FakeManifest>();
  for (const m of opts.manifests ?? []) {
    if (m.tag !== undefined) manifests.set(`${m.repo}:${m.tag}`, m);
    manifests.set(`${m.repo}@${sha256Digest(m.bytes)}`, m);
  }
  const blobs = new Map<string, Buffer>();
  for (const b of opts.blobs ?? []) blobs.set(sha256Digest(b), b);
  const basic = opts.basicAuth ? `Basic ${Buffer.from(`${opts.basicAuth.username}:${opts.basicAuth.password}`).toString('base64')}` : undefined;

  /** The answer of the built-in routes: a manifest or blob (with Docker-Content-Digest), /v2/, or an OCI error. */
  const builtIn = (method: string, path: string): FakeAnswer => {
    if (method !== 'GET' && method !== 'HEAD') return ociError(405, 'UNSUPPORTED', 'read-only registry');
    if (path === '/v2/') return { headers: { 'content-type': 'application/json' }, body: '{}' };
    const manifest = /^\/v2\/(.+)\/manifests\/([^/]+)$/.exec(path);
    if (manifest) {
      const [, repo = '', reference = ''] = manifest;
      const found = manifests.get(`${repo}${reference.includes(':') ? '@' : ':'}${reference}`);
      return found
        ? { headers: { 'content-type': found.mediaType, 'docker-content-digest': sha256Digest(found.bytes) }, body: found.bytes }
        : ociError(404, 'MANIFEST_UNKNOWN', `manifest unknown: ${repo}:${reference}`);
    }
    const blob = /^\/v2\/.+\/blobs\/([^/]+)$/.exec(path);
    if (blob) {
      const found = blobs.get(blob[1] ?? '');
      return found
        ? { headers: { 'content-type': 'application/octet-stream', 'docker-content-digest': sha256Digest(found) }, body: found }
        : ociError(404, 'BLOB_UNKNOWN', `blob unknown: ${blob[1] ?? ''}`);
    }
    return ociError(404, 'NAME_UNKNOWN', `nothing at ${path}`);
  };

  const routes = (req: IncomingMessage, res: ServerResponse, request: FakeRequest): void => {
    const route = routed.get(request.path);
    const answer = route === undefined ? builtIn(request.method, request.path) : typeof route === 'function' ? route(request) : route;
    respond(req, res, request.path, answer, stalls);
  };

  const listener: RequestListener = (req, res) => {
    const url = req.url ?? '/';
    const parsed = new URL(url, 'http://127.0.0.1');
    const request: FakeRequest = { method: req.method ?? '', url, path: parsed.pathname, query: parsed.search.slice(1), headers: req.headers };
    seen.push(request);
    res.on('error', () => undefined); // the client may leave mid-answer; that is what some tests do
    if (basic !== undefined && req.headers.authorization !== basic) {
      sendOciError(res, 401, 'UNAUTHORIZED', 'authentication required', { 'www-authenticate': 'Basic realm="fake-registry"' });
      return;
    }
    if (!opts.handler) {
      routes(req, res, request);
      return;
    }
    Promise.resolve(opts.handler(req, res, () => routes(req, res, request))).catch(() => res.destroy());
  };
  const server = opts.tls ? createTlsServer({ cert: opts.tls.certPem, key: opts.tls.keyPem }, listener) : createServer(listener);
  // As an HTTP(S)_PROXY: a CONNECT (a client tunnelling to some other host) is recorded, with
  // the target host:port as `url` and `path`, and refused; nothing is tunnelled anywhere.
  server.on('connect', (req: IncomingMessage, socket: Duplex) => {
    const target = req.url ?? '';
    seen.push({ method: req.method ?? 'CONNECT', url: target, path: target, query: '', headers: req.headers });
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let stopped: Promise<void> | undefined;
  return {
    url: `${opts.tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    route: (path, answer) => {
      routed.set(path, answer);
    },
    requests: () => [...seen],
    stalls: () => [...stalls],
    stop: () => {
      stopped ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
