import { createHash } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { LRUCache } from 'lru-cache';
import { DEFAULTS } from '../../config/defaults.js';
import type { HtpasswdFile } from './htpasswd-file.js';

export interface PasswordVerifierOptions {
  file: HtpasswdFile;
  clock?: () => number;
  /** seconds a verified password is remembered; default DEFAULTS.credentialCacheSeconds. */
  cacheSeconds?: number;
  /** entries; default DEFAULTS.credentialCacheEntries. */
  cacheEntries?: number;
}

/**
 * Checks Basic credentials against the htpasswd file. bcrypt is slow on purpose (bcryptjs is
 * pure JavaScript: ~100 ms at cost 10), and a client that has no token issuer to use sends
 * Basic on every request of a pull, so verified pairs are remembered for a short while: keyed
 * by user and sha256(password) (the password itself is never kept), in a bounded LRU, and only
 * for the contents of the file they were verified against. Concurrent checks of one pair share
 * one bcrypt run. Failed checks are not remembered: a wrong password costs a bcrypt run every
 * time, which is what slows guessing down.
 *
 * A user removed from the file, or a changed password, takes effect for a remembered pair
 * within `cacheSeconds`; everything else sees the change at once.
 */
export class PasswordVerifier {
  readonly #file: HtpasswdFile;
  readonly #verified: LRUCache<string, true>;
  readonly #inflight = new Map<string, Promise<boolean>>();

  constructor(options: PasswordVerifierOptions) {
    this.#file = options.file;
    const clock = options.clock ?? Date.now;
    this.#verified = new LRUCache({
      max: Math.max(1, options.cacheEntries ?? DEFAULTS.credentialCacheEntries),
      ttl: Math.max(1, (options.cacheSeconds ?? DEFAULTS.credentialCacheSeconds) * 1000),
      // The injected clock decides expiry (tests move it); lru-cache reads it through `perf`.
      perf: { now: clock },
      ttlResolution: 0,
    });
  }

  async verify(user: string, password: string): Promise<boolean> {
    const digest = createHash('sha256').update(password, 'utf8').digest('hex');
    const cached = this.#key(user, digest);
    if (this.#verified.has(cached)) return true;
    let pending = this.#inflight.get(cached);
    if (!pending) {
      pending = this.#check(user, password, digest).finally(() => this.#inflight.delete(cached));
      this.#inflight.set(cached, pending);
    }
    return pending;
  }

  async #check(user: string, password: string, digest: string): Promise<boolean> {
    const hash = await this.#file.lookup(user);
    if (hash === undefined) {
      // An unknown user costs a bcrypt run like a known one, so the answer time does not tell
      // which user names exist. Any entry of the file has the cost its users have.
      const decoy = this.#file.anyHash();
      if (decoy !== undefined) await bcrypt.compare(`${password}\0decoy`, decoy);
      return false;
    }
    if (!(await bcrypt.compare(password, hash))) return false;
    // Keyed by the generation read now (after lookup refreshed it): a later re-read misses.
    this.#verified.set(this.#key(user, digest), true);
    return true;
  }

  #key(user: string, digest: string): string {
    return `${this.#file.generation}:${user.length}:${user}:${digest}`;
  }
}
