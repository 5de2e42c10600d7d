import type { DecisionLogStore } from '../ports.js';
import { storageError, type RedisState } from './client.js';

export interface RedisDecisionLogOptions {
  state: RedisState;
  /** Lines kept (entries). */
  keep: number;
}

/**
 * The recent decisions of every replica in one Redis list (`<prefix>decisions`): RPUSH, then
 * LTRIM to the newest `keep`, in one MULTI so the list never holds more.
 */
export class RedisDecisionLog implements DecisionLogStore {
  readonly #state: RedisState;
  readonly #keep: number;

  constructor(options: RedisDecisionLogOptions) {
    this.#state = options.state;
    this.#keep = Math.max(1, options.keep);
  }

  async append(lines: readonly string[]): Promise<void> {
    if (lines.length === 0) return;
    const key = this.#state.key('decisions');
    try {
      await this.#state.client
        .multi()
        .rPush(key, [...lines])
        .lTrim(key, -this.#keep, -1)
        .exec();
    } catch (err) {
      throw storageError('cannot append to the recent decisions', err);
    }
  }

  async recent(limit: number): Promise<string[]> {
    if (limit <= 0) return [];
    try {
      return await this.#state.client.lRange(this.#state.key('decisions'), -Math.min(limit, this.#keep), -1);
    } catch (err) {
      throw storageError('cannot read the recent decisions', err);
    }
  }
}
