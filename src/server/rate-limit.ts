import { isIPv6 } from 'node:net';
import type { Context, Next } from 'koa';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../config/defaults.js';
import type { Config } from '../config/load.js';
import { SignetError } from '../errors.js';
import type { RequestState } from './middleware.js';

/** How a limited client was told apart: by its authenticated user, or by its address. */
export type RateLimitedBy = 'user' | 'address';

/** Counts refused requests (Prometheus `signet_rate_limited_total{by}`). */
export interface RateLimitObserver {
  rateLimited(by: RateLimitedBy): void;
}

export interface RateLimitOptions {
  observer?: RateLimitObserver;
  /**
   * What the buckets are keyed by: `client` (the authenticated user, else the address),
   * `address` only (in front of authentication, so failed logins are limited too), or `user`
   * only (behind authentication; anonymous requests pass, the address limiter counted them).
   */
  by?: 'client' | 'address' | 'user';
  /** Clients whose budget is tracked (entries); default DEFAULTS.rateLimitClients. */
  maxClients?: number;
  clock?: () => number;
}

/** The answer for one request: go ahead, or wait this many seconds (`Retry-After`). */
export type Take = { allowed: true } | { allowed: false; retryAfterSeconds: number };

interface Bucket {
  tokens: number;
  /** Clock time (ms) `tokens` was computed at. */
  at: number;
}

/**
 * A token bucket per client: `burst` requests at once, refilled at `requestsPerSecond`. Clients
 * are tracked in a bounded LRU, since their keys come from the network; a client forgotten
 * there comes back with a full bucket, the lenient direction, which only a flood of more than
 * `maxClients` other clients can cause.
 */
export class TokenBuckets {
  readonly #rate: number;
  readonly #burst: number;
  readonly #clock: () => number;
  readonly #buckets: LRUCache<string, Bucket>;

  constructor(limits: { requestsPerSecond: number; burst: number }, options: Pick<RateLimitOptions, 'maxClients' | 'clock'> = {}) {
    if (!(limits.requestsPerSecond > 0) || !Number.isFinite(limits.requestsPerSecond)) {
      throw new SignetError('CONFIG_INVALID', `requests per second must be a positive number, got ${limits.requestsPerSecond}`);
    }
    if (!Number.isSafeInteger(limits.burst) || limits.burst < 1)
      throw new SignetError('CONFIG_INVALID', `burst must be a positive integer, got ${limits.burst}`);
    this.#rate = limits.requestsPerSecond;
    this.#burst = limits.burst;
    this.#clock = options.clock ?? Date.now;
    this.#buckets = new LRUCache({ max: Math.max(1, options.maxClients ?? DEFAULTS.rateLimitClients) });
  }

  /** Takes one request from `client`'s bucket, if it holds one. */
  take(client: string): Take {
    const now = this.#clock();
    const bucket = this.#buckets.get(client) ?? { tokens: this.#burst, at: now };
    // A clock that went back refills nothing.
    bucket.tokens = Math.min(this.#burst, bucket.tokens + (Math.max(0, now - bucket.at) / 1000) * this.#rate);
    bucket.at = now;
    this.#buckets.set(client, bucket);
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { allowed: true };
    }
    // RFC 9110 §10.2.3: Retry-After in whole seconds; the time until one request is available.
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / this.#rate)) };
  }

  /** Clients tracked now. */
  get size(): number {
    return this.#buckets.size;
  }
}

/** Probes answer whatever a client sends: a liveness probe refused would restart a healthy Signet. */
const EXEMPT_PATHS = new Set(['/healthz', '/readyz']);

/**
 * Who a request counts against: the authenticated user if there is one, else the client
 * address. IPv6 clients count by their /64 network: one host commonly holds all of it (RFC 4291
 * §2.5.4 interface identifiers, SLAAC), so per-address buckets would be free to multiply.
 */
export function clientKey(ctx: Context): { key: string; by: RateLimitedBy } {
  const user = (ctx.state as RequestState).user;
  if (user !== undefined) return { key: `user ${user}`, by: 'user' };
  return { key: `address ${addressKey(ctx.request.ip)}`, by: 'address' };
}

/** IPv4 as is (also when mapped into IPv6), IPv6 as its /64 prefix. */
export function addressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped?.[1] !== undefined) return mapped[1];
  if (!isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]?.split('::') ?? [];
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  // An embedded IPv4 tail (::a.b.c.d) counts as two groups; it lies past the first four anyway.
  const groups = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}

/**
 * Per-client request limits (`limits.clientRequestsPerSecond`, `limits.clientBurst`; 0 requests
 * per second turns them off). Goes after the auth middleware, so an authenticated user is one
 * client wherever it connects from. Over the limit: 429 TOOMANYREQUESTS (OCI distribution-spec
 * error code) with `Retry-After`, thrown to the outermost error middleware, and counted.
 */
export function rateLimitMiddleware(limits: Config['limits'], options: RateLimitOptions = {}) {
  if (limits.clientRequestsPerSecond === 0) {
    return async (_ctx: Context, next: Next): Promise<void> => {
      await next();
    };
  }
  const buckets = new TokenBuckets({ requestsPerSecond: limits.clientRequestsPerSecond, burst: limits.clientBurst }, options);
  return async (ctx: Context, next: Next): Promise<void> => {
    if (EXEMPT_PATHS.has(ctx.path)) {
      await next();
      return;
    }
    const keyed = options.by ?? 'client';
    const user = (ctx.state as RequestState).user;
    if (keyed === 'user' && user === undefined) {
      await next();
      return;
    }
    const { key, by } = keyed === 'address' ? { key: `address ${addressKey(ctx.request.ip)}`, by: 'address' as const } : clientKey(ctx);
    const taken = buckets.take(key);
    if (!taken.allowed) {
      options.observer?.rateLimited(by);
      ctx.set('Retry-After', String(taken.retryAfterSeconds));
      throw new SignetError(
        'TOOMANYREQUESTS',
        `too many requests from this client: the limit is ${limits.clientRequestsPerSecond} per second (bursts of ${limits.clientBurst}); retry after ${taken.retryAfterSeconds} s`,
        { status: 429 },
      );
    }
    await next();
  };
}
