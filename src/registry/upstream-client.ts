import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { UpstreamConfig } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import { parseChallenges, type AuthChallenge } from './auth-challenge.js';
import { translateBodyErrors } from './body-errors.js';
import { FollowRules } from './follow-rules.js';
import { HostGuard, type Resolver } from './host-guard.js';
import { TokenCache, type Clock } from './token-cache.js';
import { bodyTransferError, destroyBody, readSmallBody, releaseBody } from './upstream-body.js';

export { readLimited } from './upstream-body.js';

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
  /**
   * True when the answer came from another origin than the upstream's own (a redirect target):
   * its status and body are not the upstream's word, and are never relayed to a client.
   */
  foreign?: boolean;
}

/**
 * What the proxy, the policy's loaders and the signature fetchers ask of an upstream: registry
 * API requests by path. `UpstreamClient` speaks HTTP to a configured registry; an offline
 * upstream (src/bundle/offline-registry.ts) answers the same requests from imported bundles.
 */
export interface Upstream {
  readonly name: string;
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

export interface UpstreamObserver {
  request(upstream: string, method: string, status: number | 'error'): void;
  /** A redirect or token realm Signet refused to follow, by reason (`redirect_host_not_allowed`, `realm_plain_http`, ...). */
  refused?(upstream: string, reason: string): void;
}

export interface UpstreamClientOptions {
  logger: Logger;
  observer?: UpstreamObserver;
  clock?: Clock;
  /**
   * Injected for tests; defaults to an undici Agent with the configured timeouts, `caFile`, and
   * the connect-time address check of host-guard.ts (an injected dispatcher brings its own).
   */
  dispatcher?: Dispatcher;
  delay?: (ms: number) => Promise<void>;
  /** Config path of this upstream, for messages that say which key to set (default `upstreams.<name>`). */
  configPath?: string;
  /** Injected for tests: name resolution behind the connect-time address check (dns.lookup by default). */
  resolve?: Resolver;
}

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);
const TIMEOUT_CODES = new Set(['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * The client for one configured upstream registry: authentication (anonymous, Basic, and the
 * Docker token flow), retries with backoff honouring Retry-After, timeouts, and server-side
 * redirects that never carry credentials to another origin. Redirects and token realms are
 * followed only to the upstream's own origin and `allowedHosts`, never to private addresses
 * unless `allowPrivateAddresses` (host-guard.ts); credentials go to a realm only over HTTPS or
 * on the upstream's own origin; TLS uses `caFile` when set. Bodies that fail after their headers
 * fail with UPSTREAM_ERROR / UPSTREAM_TIMEOUT naming the upstream (body-errors.ts).
 */
export class UpstreamClient implements Upstream {
  readonly name: string;
  readonly #config: UpstreamConfig;
  readonly #logger: Logger;
  readonly #observer: UpstreamObserver | undefined;
  /** The base dispatcher (closed with the client when it made it). */
  readonly #agent: Dispatcher;
  /** `#agent` with body errors translated: what every request goes through. */
  readonly #dispatcher: Dispatcher;
  readonly #ownsDispatcher: boolean;
  readonly #guard: HostGuard;
  readonly #follow: FollowRules;
  readonly #configPath: string;
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
    this.#configPath = options.configPath ?? `upstreams.${config.name}`;
    this.#guard = new HostGuard({
      origin: config.url,
      allowedHosts: config.allowedHosts,
      allowPrivateAddresses: config.allowPrivateAddresses,
      ...(options.resolve ? { resolve: options.resolve } : {}),
    });
    this.#follow = new FollowRules({
      upstream: config.name,
      configPath: this.#configPath,
      guard: this.#guard,
      hasCredentials: config.credentials !== undefined,
      logger: this.#logger,
      onRefused: (reason) => this.#observer?.refused?.(config.name, reason),
    });
    if (options.dispatcher) {
      this.#agent = options.dispatcher;
      this.#ownsDispatcher = false;
    } else {
      const lookup = this.#guard.lookup;
      this.#agent = new Agent({
        // caFile replaces the system roots for the upstream, its token realm and its redirects.
        connect: { timeout: config.timeouts.connectMs, ...(config.ca ? { ca: config.ca } : {}), ...(lookup ? { lookup } : {}) },
        headersTimeout: config.timeouts.responseMs,
        bodyTimeout: config.timeouts.idleMs,
        keepAliveTimeout: 30_000,
        connections: 64,
      });
      this.#ownsDispatcher = true;
    }
    this.#dispatcher = this.#agent.compose(translateBodyErrors((err, origin) => bodyTransferError(this.name, origin, err)));
  }

  get baseUrl(): URL {
    return this.#config.url;
  }

  async close(): Promise<void> {
    if (this.#ownsDispatcher) await this.#agent.close();
  }

  async request(req: UpstreamRequest): Promise<UpstreamResponse> {
    let url = new URL(req.path, this.#config.url);
    let redirects = 0;
    for (;;) {
      const res = await this.#requestWithRetries(req, url, this.#guard.isOwnOrigin(url));
      const location = req.followRedirects && REDIRECT_STATUSES.has(res.status) ? header(res.headers, 'location') : undefined;
      if (location === undefined) return res;
      releaseBody(res.body, res.headers);
      if (++redirects > this.#config.maxRedirects) {
        throw new SignetError('UPSTREAM_ERROR', `upstream ${this.name} redirected more than ${this.#config.maxRedirects} times for ${req.path}`);
      }
      url = this.#follow.redirect(location, url, req.path);
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
        const refused = this.#follow.connectRefusal('redirect', err, url, req.path);
        if (refused) throw refused;
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
          releaseBody(res.body, res.headers);
          continue;
        }
      }
      if (RETRY_STATUSES.has(res.status) && attempt < maxAttempts) {
        const wait = this.#retryAfter(res.headers) ?? this.#backoff(attempt);
        if (wait <= this.#config.retries.maxDelayMs) {
          releaseBody(res.body, res.headers);
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
    return { status: res.statusCode, headers: res.headers, body: res.body, url, foreign: !this.#guard.isOwnOrigin(url) };
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

  /**
   * Docker token spec ("Requesting a Token"): GET realm?service=&scope= with Basic credentials if
   * any. The realm comes from the upstream's challenge, so it is held to the same hosts as
   * redirects, and the credentials go to it only over HTTPS or on the upstream's own origin.
   */
  async #fetchToken(challenge: AuthChallenge, scope: string): Promise<{ token: string; expiresInSeconds: number | undefined; issuedAt: number | undefined }> {
    const realm = this.#follow.realm(challenge.params['realm']);
    if (challenge.params['service']) realm.searchParams.set('service', challenge.params['service']);
    if (scope) realm.searchParams.set('scope', scope);
    const headers: Record<string, string> = { 'user-agent': 'signet', accept: 'application/json' };
    if (this.#config.credentials) headers['authorization'] = this.#basic();
    const server = `token server ${realm.origin} of upstream ${this.name}`;
    let res: Dispatcher.ResponseData;
    try {
      res = await request(realm, { method: 'GET', headers, dispatcher: this.#dispatcher });
    } catch (err) {
      const refused = this.#follow.connectRefusal('realm', err, realm, '');
      if (refused) throw refused;
      const timeout = TIMEOUT_CODES.has((err as { code?: string }).code ?? '');
      throw new SignetError(
        timeout ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_UNAVAILABLE',
        `${server} ${timeout ? 'timed out' : 'is unreachable'}: ${errorMessage(err)}`,
        { cause: err },
      );
    }
    if (res.statusCode !== 200) {
      // Nothing of a refusal's body is used: it is not read at all.
      destroyBody(res.body);
      if (res.statusCode === 401 || res.statusCode === 403) {
        throw new SignetError('UPSTREAM_ERROR', `${server} refused Signet's credentials (HTTP ${res.statusCode}): check ${this.#configPath}.credentials`);
      }
      throw new SignetError('UPSTREAM_ERROR', `${server} answered HTTP ${res.statusCode}`);
    }
    const read = await readSmallBody(res.body, { maxBytes: DEFAULTS.errorBodyMaxBytes, timeoutMs: DEFAULTS.upstreamBodyTimeoutMs });
    if (!read.complete) {
      const why =
        read.stopped === 'size'
          ? `is over ${DEFAULTS.errorBodyMaxBytes} bytes`
          : read.stopped === 'time'
            ? `took over ${DEFAULTS.upstreamBodyTimeoutMs} ms`
            : `broke off (${read.error ?? 'aborted'})`;
      throw new SignetError(read.stopped === 'time' ? 'UPSTREAM_TIMEOUT' : 'UPSTREAM_ERROR', `the token response of ${server} ${why}`);
    }
    let body: unknown;
    try {
      body = JSON.parse(read.bytes.toString('utf8'));
    } catch {
      throw new SignetError('UPSTREAM_ERROR', `${server} sent a response that is not JSON`);
    }
    const obj = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const token = typeof obj['token'] === 'string' ? obj['token'] : typeof obj['access_token'] === 'string' ? obj['access_token'] : undefined;
    if (!token) throw new SignetError('UPSTREAM_ERROR', `${server} sent no token`);
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
