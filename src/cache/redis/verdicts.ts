import type { Logger } from 'pino';
import { errorMessage } from '../../errors.js';
import type { VerdictStore } from '../ports.js';
import { keyPart, type RedisState } from './client.js';

/**
 * Verdicts in Redis with their lifetime (SET PX). A failed read is a miss and a failed write is
 * logged: the verdict is verified again, which costs time, never trust.
 */
export class RedisVerdictStore implements VerdictStore {
  readonly #state: RedisState;
  readonly #logger: Logger;

  constructor(options: { state: RedisState; logger: Logger }) {
    this.#state = options.state;
    this.#logger = options.logger;
  }

  async get(key: string): Promise<string | undefined> {
    try {
      return (await this.#state.client.get(this.#state.key('verdict', keyPart(key)))) ?? undefined;
    } catch (err) {
      this.#logger.debug({ key, err: errorMessage(err) }, 'cannot read a shared verdict; verifying again');
      return undefined;
    }
  }

  async set(key: string, value: string, ttlMs: number): Promise<void> {
    if (ttlMs <= 0) return;
    try {
      await this.#state.client.set(this.#state.key('verdict', keyPart(key)), value, { expiration: { type: 'PX', value: Math.ceil(ttlMs) } });
    } catch (err) {
      this.#logger.warn({ key, err: errorMessage(err) }, 'cannot share a verdict with the other replicas');
    }
  }
}
