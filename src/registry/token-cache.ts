import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../config/defaults.js';

export interface CachedToken {
  token: string;
  /** Epoch ms after which the token is not used any more (expiry minus a safety margin). */
  staleAt: number;
}

export type Clock = () => number;

/**
 * Bearer tokens per scope, reused until shortly before they expire, with concurrent fetches
 * for one scope merged into one request to the token server.
 */
export class TokenCache {
  /** Bounded: clients name arbitrary repositories, each a scope of its own. */
  readonly #tokens = new LRUCache<string, CachedToken>({ max: DEFAULTS.tokenCacheEntries });
  readonly #inflight = new Map<string, Promise<string>>();
  readonly #clock: Clock;

  constructor(clock: Clock = Date.now) {
    this.#clock = clock;
  }

  get(scope: string): string | undefined {
    const hit = this.#tokens.get(scope);
    if (!hit) return undefined;
    if (hit.staleAt <= this.#clock()) {
      this.#tokens.delete(scope);
      return undefined;
    }
    return hit.token;
  }

  invalidate(scope: string): void {
    this.#tokens.delete(scope);
  }

  /** Returns a cached token or runs `fetch` once for all concurrent callers of the same scope. */
  async obtain(scope: string, fetch: () => Promise<{ token: string; expiresInSeconds: number | undefined; issuedAt: number | undefined }>): Promise<string> {
    const cached = this.get(scope);
    if (cached) return cached;
    let pending = this.#inflight.get(scope);
    if (!pending) {
      pending = (async () => {
        try {
          const result = await fetch();
          // Docker token spec: expires_in defaults to 60 s; issued_at, when present, is the base.
          const lifetime = (result.expiresInSeconds ?? DEFAULTS.tokenDefaultLifetimeSeconds) * 1000;
          const base = Math.min(result.issuedAt ?? this.#clock(), this.#clock());
          const margin = Math.min(DEFAULTS.tokenExpiryMarginSeconds * 1000, lifetime / 2);
          this.#tokens.set(scope, { token: result.token, staleAt: base + lifetime - margin });
          return result.token;
        } finally {
          this.#inflight.delete(scope);
        }
      })();
      this.#inflight.set(scope, pending);
    }
    return pending;
  }
}
