import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { UpstreamConfig } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import { parseChallenges, type AuthChallenge } from './auth-challenge.js';
import { TokenCache, type Clock } from './token-cache.js';

export interface UpstreamRequest {
  method: 'GET' | 'HEAD';
  /** Path below the registry root, e.g. `/v2/library/alpine/manifests/latest`; query allowed. */
  path: string;
  /** Repository whose pull scope authorises the request (Docker token spec `repository:<name>:pull`). */
  repository: string | undefined;
  headers?: Record<string, string>;
  /** Follow 3xx server-side (blob downloads are redirected to object storage by many registries). */
  followRedirects?: boolean;
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Readable;
  /** The URL that produced this response, after redirects. */
  url: URL;
}

export interface UpstreamObserver {
  request(upstream: string, method: string, status: number | 'error'): void;
}

export interface UpstreamClientOptions {
  logger: Logger;
  observer?: UpstreamObserver;
  clock?: Clock;
  /** Injected for tests; defaults to an undici Agent with the configured timeouts. */
  dispatcher?: Dispatcher;
  delay?: (ms: number) => Promise<void>;
  /** PEM CA bundle for the server's TLS certificate (instead of the system roots). */
  ca?: string;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * The client for one configured upstream registry: authentication (anonymous, Basic, and the
 * Docker token flow), retries with backoff honouring Retry-After, timeouts, and server-side
 * redirects that never carry credentials to another origin.
 */
export class UpstreamClient {
  readonly name: string;
  readonly #config: UpstreamConfig;
  readonly #logger: Logger;
  readonly #observer: UpstreamObserver | undefined;
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #tokens: TokenCache;
  readonly #clock: Clock;
  readonly #delay: (ms: number) => Promise<void>;
  /** Set once the upstream asked for Basic: later requests send it up front, like Docker does. */
  #basicKnown = false;
  /** The last Bearer challenge seen: lets later requests fetch a token before the first 401. */
  #bearer: AuthChallenge | undefined;

  constructor(config: UpstreamConfig, options: UpstreamClientOptions) {
    this.name = config.name;
    this.#config = config;
    this.#logger = options.logger.child({ upstream: config.name });
    this.#observer = options.observer;
    this.#clock = options.clock ?? Date.now;
    this.#tokens = new TokenCache(this.#clock);
    this.#delay = options.delay ?? ((ms) => sleep(ms));
    if (options.dispatcher) {
      this.#dispatcher = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      this.#dispatcher = new Agent({
        connect: { timeout: config.timeouts.connectMs, ...(options.ca ? { ca: options.ca } : {}) },
        headersTimeout: config.timeouts.responseMs,
        bodyTimeout: config.timeouts.idleMs,
        keepAliveTimeout: 30_000,
        connections: 64,
      });
      this.#ownsDispatcher = true;
    }
  }

  get baseUrl(): URL {
    return this.#config.url;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#dispatcher.close();
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    let url = new URL(req.path, this.#config.url);
    let redirects = 0;
    for (;;) {
      const sameOrigin = url.origin === this.#config.url.origin;
      const res = await this.#requestWithRetries(req, url, sameOrigin);
      if (req.followRedirects && REDIRECT_STATUSES.has(res.status)) {
        const location = header(res.headers, 'location');
        if (location) {
          res.body.resume();
          if (++redirects > this.#config.maxRedirects) {
            throw new SignetError('UPSTREAM_ERROR', `upstream ${this.name} redirected more than ${this.#config.maxRedirects} times for ${req.path}`);
          }
          url = new URL(location, url);
          if (url.protocol !== 'https:' && url.protocol !== 'http:') {
            throw new SignetError('UPSTREAM_ERROR', `upstream ${this.name} redirected to an unsupported URL scheme ${url.protocol}`);
          }
          continue;
        }
      }
      return res;
    }
  }

  async #requestWithRetries(req: UpstreamRequest, url: URL, sameOrigin: boolean): Promise<UpstreamResponse> {
    const maxAttempts = this.#config.retries.max + 1;
    let authRetried = false;
    for (let attempt = 1; ; attempt++) {
      let res: UpstreamResponse;
      let sent: string | undefined;
      try {
        // Credentials only ever go to the configured upstream's own origin.
        sent = sameOrigin ? await this.#authorization(req.repository) : undefined;
        res = await this.#send(req, url, sent);
      } catch (err) {
        if (err instanceof SignetError) throw err;
        this.#observer?.request(this.name, req.method, 'error');
        const timeout = TIMEOUT_CODES.has((err as { code?: string }).code ?? '');
        if (attempt < maxAttempts && !req.signal?.aborted) {
          const wait = this.#backoff(attempt);
          this.#logger.warn({ err: errorMessage(err), attempt, waitMs: wait, path: url.pathname }, 'upstream request failed, retrying');
          await this.#delay(wait);
          continue;
        }
        throw new SignetError(
          timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE',
          `upstream ${this.name} (${url.origin}) ${timeout ? 'timed out' : 'is unreachable'}: ${errorMessage(err)}`,
          { cause: err },
        );
      }
      this.#observer?.request(this.name, req.method, res.status);

      if (res.status === 401 && sameOrigin && !authRetried) {
        const handled = this.#learnChallenge(res.headers['www-authenticate'], req.repository, sent);
        if (handled) {
          authRetried = true;
          res.body.resume();
          continue;
        }
      }
      if (RETRY_STATUSES.has(res.status) && attempt < maxAttempts) {
        const wait = this.#retryAfter(res.headers) ?? this.#backoff(attempt);
        if (wait <= this.#config.retries.maxDelayMs) {
          res.body.resume();
          this.#logger.warn({ status: res.status, attempt, waitMs: wait, path: url.pathname }, 'upstream asked to retry');
          await this.#delay(wait);
          continue;
        }
      }
      return res;
    }
  }

  async #send(req: UpstreamRequest, url: URL, authorization: string | undefined): Promise<UpstreamResponse> {
    const headers: Record<string, string> = { 'user-agent': 'signet', ...req.headers };
    if (authorization) headers['authorization'] = authorization;
    const res = await request(url, {
      method: req.method,
      headers,
      dispatcher: this.#dispatcher,
      signal: req.signal,
    });
    return { status: res.statusCode, headers: res.headers, body: res.body, url };
  }

  /** Remembers how the upstream wants to be authenticated; true when a retry can succeed. */
  #learnChallenge(header: string | string[] | undefined, repository: string | undefined, sent: string | undefined): boolean {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm']);
    if (bearer) {
      const scope = this.#scope(repository, bearer);
      const cached = this.#tokens.get(scope);
      this.#bearer = bearer;
      // Drop the token only if this very request carried it and was refused: concurrent cold
      // requests that went out before the first token arrived must not discard it.
      if (cached !== undefined && sent === `Bearer ${cached}`) this.#tokens.invalidate(scope);
      return true;
    }
    if (challenges.some((c) => c.scheme === 'basic') && this.#config.credentials && !this.#basicKnown) {
      this.#basicKnown = true;
      return true;
    }
    return false;
  }

  async #authorization(repository: string | undefined): Promise<string | undefined> {
    if (this.#bearer) {
      const challenge = this.#bearer;
      const scope = this.#scope(repository, challenge);
      const token = await this.#tokens.obtain(scope, () => this.#fetchToken(challenge, scope));
      return `Bearer ${token}`;
    }
    if (this.#basicKnown && this.#config.credentials) return this.#basic();
    return undefined;
  }

  #basic(): string {
    const c = this.#config.credentials;
    if (!c) throw new SignetError('INTERNAL', 'no credentials');
    return `Basic ${Buffer.from(`${c.username}:${c.password.reveal()}`).toString('base64')}`;
  }

  #scope(repository: string | undefined, challenge: AuthChallenge): string {
    return repository ? `repository:${repository}:pull` : (challenge.params['scope'] ?? '');
  }

  /** Docker token spec ("Requesting a Token"): GET realm?service=&scope= with Basic credentials if any. */
  async #fetchToken(challenge: AuthChallenge, scope: string): Promise<{ token: string; expiresInSeconds: number | undefined; issuedAt: number | undefined }> {
    const realm = new URL(challenge.params['realm'] ?? '');
    if (challenge.params['service']) realm.searchParams.set('service', challenge.params['service']);
    if (scope) realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': 'signet', accept: 'application/json' };
    if (this.#config.credentials) headers['authorization'] = this.#basic();
    let res: Dispatcher.ResponseData;
    try {
      res = await request(realm, { method: 'GET', headers, dispatcher: this.#dispatcher });
    } catch (err) {
      throw new SignetError('UPSTREAM_UNAVAILABLE', `token server ${realm.origin} of upstream ${this.name} is unreachable: ${errorMessage(err)}`, {
        cause: err,
      });
    }
    const text = await readLimited(res.body, DEFAULTS.errorBodyMaxBytes);
    if (res.statusCode === 401 || res.statusCode === 403) {
      throw new SignetError(
        'UPSTREAM_ERROR',
        `token server ${realm.origin} of upstream ${this.name} refused Signet's credentials (HTTP ${res.statusCode}): check upstreams.${this.name}.credentials`,
      );
    }
    if (res.statusCode !== 200) {
      throw new SignetError('UPSTREAM_ERROR', `token server ${realm.origin} of upstream ${this.name} answered HTTP ${res.statusCode}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new SignetError('UPSTREAM_ERROR', `token server ${realm.origin} of upstream ${this.name} sent a response that is not JSON`);
    }
    const obj = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const token = typeof obj['token'] === 'string' ? obj['token'] : typeof obj['access_token'] === 'string' ? obj['access_token'] : undefined;
    if (!token) throw new SignetError('UPSTREAM_ERROR', `token server ${realm.origin} of upstream ${this.name} sent no token`);
    const expiresIn = typeof obj['expires_in'] === 'number' && obj['expires_in'] > 0 ? obj['expires_in'] : undefined;
    const issued = typeof obj['issued_at'] === 'string' ? Date.parse(obj['issued_at']) : NaN;
    return { token, expiresInSeconds: expiresIn, issuedAt: Number.isFinite(issued) ? issued : undefined };
  }

  #backoff(attempt: number): number {
    const base = this.#config.retries.baseDelayMs * 2 ** (attempt - 1);
    return Math.min(this.#config.retries.maxDelayMs, Math.round(base * (0.5 + Math.random() / 2)));
  }

  /** RFC 9110 §10.2.3: Retry-After is delay-seconds or an HTTP-date. */
  #retryAfter(headers: UpstreamResponse['headers']): number | undefined {
    const value = header(headers, 'retry-after');
    if (!value) return undefined;
    if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
    const date = Date.parse(value);
    return Number.isFinite(date) ? Math.max(0, date - this.#clock()) : undefined;
  }
}

export function header(headers: UpstreamResponse['headers'], name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Reads at most `limit` bytes of a body as text and discards the rest. */
export async function readLimited(body: Readable, limit: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    const buf = chunk as Buffer;
    if (size < limit) chunks.push(buf.subarray(0, limit - size));
    size += buf.length;
  }
  return Buffer.concat(chunks).toString('utf8');
}
