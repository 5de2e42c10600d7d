import type { Logger } from 'pino';
import type { TagRecord, TagStore } from '../ports.js';
import { copyTagRecord, parseTagRecord } from '../tag-record.js';
import { keyPart, storageError, type RedisState } from './client.js';

export interface RedisTagStoreOptions {
  state: RedisState;
  logger?: Logger;
  /**
   * Seconds a tag record lives after it was last set. Redis keeps its data in memory, so tags
   * that are never pulled again should not stay forever; a forgotten tag only costs a request
   * to the upstream (tags are not security state). Undefined: no expiry.
   */
  ttlSeconds?: number;
}

/**
 * The last digest seen for each upstream/repository:tag, shared by every replica: one JSON
 * string per tag (`<prefix>tag:<upstream>:<repository>:<tag>`), written with a plain SET (the
 * last answer of an upstream wins, as on disk). Not cached in the process: another replica's
 * newer answer must be seen.
 *
 * A record that does not parse is treated as absent and logged, as the disk store does; a Redis
 * that cannot be asked is a STORAGE_ERROR (the port's "could not read"), never "absent".
 */
export class RedisTagStore implements TagStore {
  readonly #state: RedisState;
  readonly #logger: Logger | undefined;
  readonly #ttlSeconds: number | undefined;

  constructor(options: RedisTagStoreOptions) {
    this.#state = options.state;
    this.#logger = options.logger;
    this.#ttlSeconds = options.ttlSeconds;
  }

  #key(upstream: string, repository: string, tag: string): string {
    return this.#state.key('tag', keyPart(upstream), keyPart(repository), keyPart(tag));
  }

  async get(upstream: string, repository: string, tag: string): Promise<TagRecord | undefined> {
    let text: string | null;
    try {
      text = await this.#state.client.get(this.#key(upstream, repository, tag));
    } catch (err) {
      throw storageError(`cannot read tag ${upstream}/${repository}:${tag}`, err);
    }
    if (text === null) return undefined;
    const record = parseTagRecord(text);
    if (!record) this.#logger?.warn({ upstream, repository, tag }, 'tag record in Redis is damaged; treated as absent');
    return record;
  }

  async set(upstream: string, repository: string, tag: string, record: TagRecord): Promise<void> {
    const text = JSON.stringify(copyTagRecord(record));
    try {
      await this.#state.client.set(
        this.#key(upstream, repository, tag),
        text,
        this.#ttlSeconds === undefined ? undefined : { expiration: { type: 'EX', value: this.#ttlSeconds } },
      );
    } catch (err) {
      throw storageError(`cannot save tag ${upstream}/${repository}:${tag}`, err);
    }
  }
}
