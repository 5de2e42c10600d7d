import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * A small client for the distribution API as the harness needs it (pushing blobs and manifests,
 * reading back what was pushed). Handles Basic and Bearer (token) challenges.
 * Uses node:http so request bodies can be streams of any size.
 */

export interface RegistryTarget {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  readonly credentials?: { username: string; password: string } | undefined;
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** A Buffer, or a factory for a stream (called once; the body cannot be replayed). */
  body?: Buffer | (() => Readable);
  /** Token scope; derived from the path when omitted. */
  scope?: string;
}

interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="...",service="...",scope="..."` (quoted values may hold commas). */
export function parseChallenge(header: string): Challenge | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const scheme = m[1]?.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  for (const p of (m[2] ?? '').matchAll(re)) {
    const key = p[1];
    if (key) params[key.toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  }
  return { scheme, params };
}

function defaultScope(method: string, path: string): string | undefined {
  const m = /^\/v2\/(.+?)\/(?:manifests|blobs|tags)\//.exec(path);
  if (!m?.[1]) return undefined;
  const write = method !== 'GET' && method !== 'HEAD';
  return `repository:${m[1]}:${write ? 'pull,push' : 'pull'}`;
}

function basic(credentials: { username: string; password: string }): string {
  return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
}

// No caching of challenges or tokens: ports get reused by other registries within one test run,
// and a probe of /v2/ on loopback costs next to nothing.
async function challengeFor(target: RegistryTarget): Promise<Challenge | undefined> {
  const res = await fetch(`${target.url}/v2/`);
  await res.arrayBuffer();
  const header = res.headers.get('www-authenticate');
  return res.status === 401 && header ? parseChallenge(header) : undefined;
}

/** The Authorization header value for a request in `scope`, or undefined when none is needed. */
export async function authorization(target: RegistryTarget, scope: string | undefined): Promise<string | undefined> {
  if (!target.credentials) return undefined;
  const challenge = await challengeFor(target);
  if (!challenge) return undefined;
  if (challenge.scheme === 'basic') return basic(target.credentials);
  const realm = challenge.params.realm;
  if (!realm) throw new Error(`bearer challenge without realm from ${target.url}`);
  const tokenUrl = new URL(realm);
  if (challenge.params.service) tokenUrl.searchParams.set('service', challenge.params.service);
  if (scope) tokenUrl.searchParams.set('scope', scope);
  const res = await fetch(tokenUrl, { headers: { authorization: basic(target.credentials) } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`token request to ${tokenUrl.href} answered ${res.status}: ${text}`);
  const body = JSON.parse(text) as { token?: string; access_token?: string };
  const token = body.token ?? body.access_token;
  if (!token) throw new Error(`token response without token: ${text}`);
  return `Bearer ${token}`;
}

/** Sends one request (following no redirects) and returns the raw response stream. */
export async function registryStream(target: RegistryTarget, method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<IncomingMessage> {
  const url = new URL(pathOrUrl, target.url);
  if (url.origin !== new URL(target.url).origin) throw new Error(`refusing to leave ${target.url}: ${url.href}`);
  const auth = await authorization(target, opts.scope ?? defaultScope(method, url.pathname));
  const headers: Record<string, string> = { ...(opts.headers ?? {}) };
  if (auth) headers.authorization = auth;
  const body = opts.body;
  if (Buffer.isBuffer(body)) headers['content-length'] = String(body.length);
  else if (body === undefined && method !== 'GET' && method !== 'HEAD') headers['content-length'] = '0';
  return new Promise<IncomingMessage>((resolve, reject) => {
    const req = httpRequest(url, { method, headers }, resolve);
    req.once('error', reject);
    if (body === undefined) req.end();
    else if (Buffer.isBuffer(body)) req.end(body);
    else pipeline(body(), req).catch(reject);
  });
}

/** Sends one request and reads the whole response body. */
export async function registryRequest(target: RegistryTarget, method: string, pathOrUrl: string, opts: RequestOptions = {}): Promise<Reply> {
  const res = await registryStream(target, method, pathOrUrl, opts);
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return { status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) };
}

/** Throws unless the reply has one of the expected statuses. */
export function expectStatus(reply: Reply, what: string, ...expected: number[]): Reply {
  if (!expected.includes(reply.status)) {
    throw new Error(`${what}: expected HTTP ${expected.join('/')}, got ${reply.status}: ${reply.body.toString('utf8').slice(0, 2000)}`);
  }
  return reply;
}

/** Turns a Buffer into a one-shot stream factory (for callers that take either). */
export function bufferSource(data: Buffer): () => Readable {
  return () => Readable.from([data]);
}
