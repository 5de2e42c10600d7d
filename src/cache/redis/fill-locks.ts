import type { Logger } from 'pino';
import { DEFAULTS } from '../../config/defaults.js';
import { errorMessage } from '../../errors.js';
import type { FillLock, FillLocks } from '../ports.js';
import type { RedisState } from './client.js';
import { RedisLocks } from './lock.js';

/**
 * FillLocks on Redis locks: a holder refreshes its lock every third of the TTL while it
 * downloads. Correctness does not depend on the lock: content is addressed and checked by
 * digest, so a replica that lost its lock (paused past the TTL) and still commits stores the
 * same verified bytes; the lock only saves the upstream a second download.
 */
export class RedisFillLocks implements FillLocks {
  readonly #locks: RedisLocks;
  readonly #logger: Logger;
  readonly #ttlMs: number;

  constructor(options: { state: RedisState; logger: Logger; ttlMs?: number }) {
    this.#locks = new RedisLocks({ state: options.state, logger: options.logger });
    this.#logger = options.logger;
    this.#ttlMs = options.ttlMs ?? DEFAULTS.blobLockTtlMs;
  }

  async acquire(key: string): Promise<FillLock | undefined> {
    const handle = await this.#locks.acquire(`fill:${key}`, { ttlMs: this.#ttlMs });
    if (!handle) return undefined;
    const stop = handle.keepAlive(Math.max(1, Math.floor(this.#ttlMs / 3)), (reason) =>
      this.#logger.warn({ key, err: errorMessage(reason) }, 'lost the download lock of a blob; another replica may download it too'),
    );
    let released = false;
    return {
      release: async () => {
        if (released) return;
        released = true;
        stop();
        try {
          await handle.release();
        } catch (err) {
          // The lock expires by itself after its TTL.
          this.#logger.warn({ key, err: errorMessage(err) }, 'cannot release the download lock of a blob');
        }
      },
    };
  }

  async waitUntilFree(key: string, signal: AbortSignal | undefined): Promise<void> {
    await this.#locks.waitUntilFree(`fill:${key}`, {
      pollMs: DEFAULTS.blobLockPollMs,
      timeoutMs: DEFAULTS.blobLockWaitMs,
      ...(signal ? { signal } : {}),
    });
  }
}
