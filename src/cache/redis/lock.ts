import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Logger } from 'pino';
import { SignetError, errorMessage } from '../../errors.js';
import { keyPart, storageError, type RedisScript, type RedisState } from './client.js';

/**
 * Locks shared by the replicas: one upstream fetch per blob across all of them (the holder
 * downloads, the others wait for the blob to appear).
 *
 * The lock is `<prefix>lock:<name>` holding a random token, set with `SET NX PX <ttl>`:
 * - TTL: a holder that crashes, hangs or loses its network stops refreshing, and the key expires
 *   after at most `ttlMs`; another replica then takes over. A live holder refreshes well inside
 *   the TTL (`keepAlive`).
 * - Token: refresh and release compare the token and act in the same Lua script, so a holder
 *   whose lock already expired (and was taken by another replica) cannot extend or delete the
 *   new holder's lock; it learns that it lost it instead.
 * - What the lock does not promise: mutual exclusion at every instant. A holder paused for longer
 *   than the TTL (a long GC, a frozen VM) may still be writing when another replica has taken
 *   over, and nothing fences its writes. That is acceptable because the lock only saves work: a
 *   blob is content-addressed, both writers commit only bytes whose digest they checked, and
 *   committing the same digest twice stores the same bytes. Correctness never rests on it.
 * - `keepAlive` reports the loss as soon as it is known (a refresh that finds another token or
 *   none), and also when no refresh succeeded for a whole TTL (Redis unreachable): past that
 *   point the key may have expired, so the holder must assume it lost the lock.
 */

/** Extends the lock if the caller still holds it: KEYS[1] lock, ARGV[1] token, ARGV[2] ttl ms. */
const REFRESH = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
`;

/** Deletes the lock if the caller still holds it: KEYS[1] lock, ARGV[1] token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`;

export interface LockHandle {
  readonly name: string;
  /** The random token that identifies this holder. */
  readonly token: string;
  /** Extends the lock to a full TTL from now; false when it is no longer held (expired or taken). */
  refresh(): Promise<boolean>;
  /** Deletes the lock if still held (stopping `keepAlive`); false when it was not held any more. Never deletes another holder's lock. */
  release(): Promise<boolean>;
  /**
   * Refreshes every `intervalMs` (well under the TTL: a third of it is usual) until the returned
   * function is called or the lock is released. `onLost` is called once when the lock is lost,
   * after which refreshing stops.
   */
  keepAlive(intervalMs: number, onLost: (reason: Error) => void): () => void;
}

export interface RedisLocksOptions {
  state: RedisState;
  logger?: Logger;
  /** Monotonic ms, to tell how long ago a refresh last succeeded. */
  clock?: () => number;
}

export interface WaitOptions {
  /** ms between checks of the lock. */
  pollMs: number;
  /** ms after which the wait ends unsuccessfully (resolves false). */
  timeoutMs: number;
  /** Ends the wait by rejecting with the signal's reason. */
  signal?: AbortSignal;
}

export class RedisLocks {
  readonly #state: RedisState;
  readonly #logger: Logger | undefined;
  readonly #clock: () => number;
  readonly #refresh: RedisScript;
  readonly #release: RedisScript;

  constructor(options: RedisLocksOptions) {
    this.#state = options.state;
    this.#logger = options.logger;
    this.#clock = options.clock ?? (() => performance.now());
    this.#refresh = options.state.script(REFRESH);
    this.#release = options.state.script(RELEASE);
  }

  #key(name: string): string {
    return this.#state.key('lock', keyPart(name));
  }

  /** Takes the lock if nobody holds it; undefined when somebody does. */
  async acquire(name: string, options: { ttlMs: number }): Promise<LockHandle | undefined> {
    const ttlMs = options.ttlMs;
    if (!Number.isSafeInteger(ttlMs) || ttlMs <= 0) throw new SignetError('INTERNAL', `lock TTL ${String(ttlMs)} is not a positive number of ms`);
    const key = this.#key(name);
    const token = randomBytes(16).toString('hex');
    let reply: string | null;
    try {
      reply = await this.#state.client.set(key, token, { condition: 'NX', expiration: { type: 'PX', value: ttlMs } });
    } catch (err) {
      throw storageError(`cannot take lock ${name}`, err);
    }
    if (reply !== 'OK') return undefined;
    return new Handle(name, token, key, ttlMs, this.#refresh, this.#release, this.#clock, this.#logger);
  }

  /**
   * Waits until nobody holds `name` (released, or expired after its holder stopped refreshing);
   * resolves true then, false after `timeoutMs`. A follower then looks for what the holder
   * produced, and takes the lock itself if it is not there (the holder failed).
   */
  async waitUntilFree(name: string, options: WaitOptions): Promise<boolean> {
    const key = this.#key(name);
    const deadline = this.#clock() + options.timeoutMs;
    for (;;) {
      options.signal?.throwIfAborted();
      let held: number;
      try {
        held = await this.#state.client.exists(key);
      } catch (err) {
        throw storageError(`cannot check lock ${name}`, err);
      }
      if (held === 0) return true;
      const left = deadline - this.#clock();
      if (left <= 0) return false;
      await delay(Math.min(options.pollMs, left), undefined, options.signal ? { signal: options.signal } : {}).catch((err: unknown) => {
        throw options.signal?.aborted === true ? (options.signal.reason as Error) : err;
      });
    }
  }
}

class Handle implements LockHandle {
  readonly name: string;
  readonly token: string;
  readonly #key: string;
  readonly #ttlMs: number;
  readonly #refresh: RedisScript;
  readonly #release: RedisScript;
  readonly #clock: () => number;
  readonly #logger: Logger | undefined;
  #stopKeepAlive: (() => void) | undefined;

  constructor(
    name: string,
    token: string,
    key: string,
    ttlMs: number,
    refresh: RedisScript,
    release: RedisScript,
    clock: () => number,
    logger: Logger | undefined,
  ) {
    this.name = name;
    this.token = token;
    this.#key = key;
    this.#ttlMs = ttlMs;
    this.#refresh = refresh;
    this.#release = release;
    this.#clock = clock;
    this.#logger = logger;
  }

  async refresh(): Promise<boolean> {
    try {
      return (await this.#refresh.run([this.#key], [this.token, String(this.#ttlMs)])) === 1;
    } catch (err) {
      throw storageError(`cannot refresh lock ${this.name}`, err);
    }
  }

  async release(): Promise<boolean> {
    this.#stopKeepAlive?.();
    try {
      return (await this.#release.run([this.#key], [this.token])) === 1;
    } catch (err) {
      throw storageError(`cannot release lock ${this.name}`, err);
    }
  }

  keepAlive(intervalMs: number, onLost: (reason: Error) => void): () => void {
    this.#stopKeepAlive?.();
    // An object, not a local boolean: it changes while a refresh is awaited.
    const state = { stopped: false, lastSuccess: this.#clock() };
    let timer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      state.stopped = true;
      clearTimeout(timer);
      if (this.#stopKeepAlive === stop) this.#stopKeepAlive = undefined;
    };
    const lose = (reason: Error): void => {
      stop();
      this.#logger?.warn({ lock: this.name, err: reason.message }, 'lost a lock');
      onLost(reason);
    };
    const tick = async (): Promise<void> => {
      let lost: Error | undefined;
      try {
        if (await this.refresh()) state.lastSuccess = this.#clock();
        else lost = new Error(`lock ${this.name} expired or was taken by another holder`);
      } catch (err) {
        // Redis unreachable: the key may still be there; keep trying until a TTL has passed.
        if (this.#clock() - state.lastSuccess >= this.#ttlMs)
          lost = new Error(`lock ${this.name} could not be refreshed for ${this.#ttlMs} ms: ${errorMessage(err)}`);
      }
      if (isStopped(state)) return;
      if (lost) lose(lost);
      else schedule();
    };
    const schedule = (): void => {
      timer = setTimeout(() => void tick(), intervalMs);
      // A refresher alone does not keep the process running.
      timer.unref();
    };
    this.#stopKeepAlive = stop;
    schedule();
    return stop;
  }
}

/** Read through a call, so the type checker does not assume it unchanged across an await. */
function isStopped(state: { stopped: boolean }): boolean {
  return state.stopped;
}
