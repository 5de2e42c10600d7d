import { createHash } from 'node:crypto';
import { DEFAULTS } from '../../config/defaults.js';
import type { Logger } from 'pino';
import { createClient, RESP_TYPES, type RedisClientType } from 'redis';
import { SignetError, errorMessage } from '../../errors.js';

/**
 * The connection the Redis state backends share (`state.redis`): one node-redis client per
 * process, multiplexing every command of every store over one connection. Nothing here keeps
 * connection state between commands (no WATCH, no SELECT after connect), so the stores may
 * interleave freely; what must be atomic runs as one Lua script (`RedisScript`).
 *
 * Key layout under `keyPrefix` (every variable part URI-encoded, so `:` separates parts
 * unambiguously):
 * - `tag:<upstream>:<repository>:<tag>`           string, JSON tag record
 * - `prov:<upstream>:<repository>`                hash, digest → JSON entry (+ `#v` version)
 * - `trust:file:<scope>:<name>:<file>`            string, raw metadata bytes
 * - `trust:floors:<scope>:<name>`                 hash, role → highest version seen
 * - `lock:<name>`                                 string, the holder's random token
 */

/** The client the stores use: RESP3, strings for blob replies unless `binary` is asked for. */
export type RedisClient = RedisClientType;

export interface RedisConnectOptions {
  /** `redis://host:port[/db]` or `rediss://` (TLS). Credentials in it are used but never logged. */
  url: string;
  /** ACL user; overrides one in the URL. */
  username?: string;
  /** Password (from env or a file, resolved by config); overrides one in the URL. */
  password?: string;
  /** TLS even for a `redis://` URL; `caPem`: the CA bundle to trust instead of the system's. */
  tls?: { caPem?: string };
  /** Put before every key, so several deployments (or tests) can share one Redis. */
  keyPrefix: string;
  logger: Logger;
  /** ms the first connection (TCP, TLS, AUTH, HELLO) may take before Signet gives up. */
  connectTimeoutMs: number;
  /**
   * ms a command may wait for its reply; past it the command fails with STORAGE_ERROR (a hung
   * Redis must not hang requests). Undefined: no limit. The command may still have run.
   */
  commandTimeoutMs?: number;
  /** Upper bound of the pause between reconnection attempts after the connection was lost, ms. */
  reconnectMaxDelayMs?: number;
}

/** The URL without user info: what messages and logs may show. */
export function redactRedisUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return '(unparseable Redis URL)';
  }
  parsed.username = '';
  parsed.password = '';
  return parsed.toString();
}

/**
 * A failed Redis command as the stores report it: STORAGE_ERROR naming what could not be done.
 * A SignetError (a damaged value the store itself refused) is kept as it is.
 */
export function storageError(what: string, err: unknown): SignetError {
  if (err instanceof SignetError) return err as SignetError;
  return new SignetError('STORAGE_ERROR', `${what}: Redis: ${errorMessage(err)}`, { cause: err });
}

/** One part of a key: URI-encoded, so it never holds the `:` that separates parts. */
export function keyPart(text: string): string {
  return encodeURIComponent(text);
}

/**
 * A Lua script run by its SHA1 (EVALSHA), loaded again with EVAL when Redis does not know it
 * (after a restart or SCRIPT FLUSH). Redis runs a script atomically: no other command of any
 * client runs in between, which is what makes a read-modify-write safe across replicas.
 */
export class RedisScript {
  readonly #client: RedisClient;
  readonly #lua: string;
  readonly #sha: string;

  constructor(client: RedisClient, lua: string) {
    this.#client = client;
    this.#lua = lua;
    this.#sha = createHash('sha1').update(lua).digest('hex');
  }

  async run(keys: readonly string[], args: readonly string[]): Promise<unknown> {
    const options = { keys: [...keys], arguments: [...args] };
    try {
      return await this.#client.evalSha(this.#sha, options);
    } catch (err) {
      if (!(err instanceof Error) || !err.message.startsWith('NOSCRIPT')) throw err;
      return this.#client.eval(this.#lua, options);
    }
  }
}

/** What `INFO persistence` says about durability. */
export interface RedisDurability {
  /** `appendonly yes`: every write is logged, so a restart keeps the rollback floors. */
  appendOnly: boolean;
}

/** A connected client with the deployment's key prefix. */
export class RedisState {
  readonly prefix: string;
  /** The raw client: strings for blob replies. */
  readonly client: RedisClient;
  readonly #logger: Logger;
  readonly #url: string;

  constructor(client: RedisClient, prefix: string, logger: Logger, redactedUrl: string) {
    this.client = client;
    this.prefix = prefix;
    this.#logger = logger;
    this.#url = redactedUrl;
  }

  /** The same connection answering blob replies as Buffers (raw trust metadata bytes). */
  get binary() {
    return this.client.withTypeMapping({ [RESP_TYPES.BLOB_STRING]: Buffer });
  }

  /**
   * The same connection answering maps (HGETALL) as a `Map`: the default plain object is built
   * by assignment, so a field named `__proto__` would vanish (a rollback floor lost silently).
   */
  get maps() {
    return this.client.withTypeMapping({ [RESP_TYPES.MAP]: Map });
  }

  /** `prefix` + the parts joined by `:`; callers pass parts through `keyPart` when they vary. */
  key(...parts: readonly string[]): string {
    return this.prefix + parts.join(':');
  }

  script(lua: string): RedisScript {
    return new RedisScript(this.client, lua);
  }

  async ping(): Promise<void> {
    try {
      await this.client.ping();
    } catch (err) {
      throw storageError(`Redis at ${this.#url} does not answer`, err);
    }
  }

  /**
   * Whether Redis logs every write (append-only file). Without it a Redis restart forgets the
   * rollback floors, so a server should refuse to keep trust state in it (`requireAppendOnly`).
   */
  async durability(): Promise<RedisDurability> {
    let info: string;
    try {
      info = await this.client.info('persistence');
    } catch (err) {
      throw storageError(`cannot ask Redis at ${this.#url} about its persistence`, err);
    }
    return { appendOnly: /^aof_enabled:1\s*$/m.test(info) };
  }

  /** Throws STORAGE_ERROR unless Redis runs with `appendonly yes`: rollback floors must survive its restart. */
  async requireAppendOnly(): Promise<void> {
    if ((await this.durability()).appendOnly) return;
    throw new SignetError(
      'STORAGE_ERROR',
      `Redis at ${this.#url} runs without append-only persistence: a restart of it would forget the rollback floors of every trust format. Configure it with "appendonly yes" (redis.conf or CONFIG SET appendonly yes)`,
    );
  }

  /** Closes the connection after the commands in flight; never throws. */
  async close(): Promise<void> {
    try {
      if (this.client.isOpen) await this.client.close();
      else this.client.destroy();
    } catch (err) {
      this.#logger.debug({ err: errorMessage(err) }, 'Redis connection closed uncleanly');
      this.client.destroy();
    }
  }
}

/**
 * Connects to Redis and waits until it answers. A first connection that fails (refused, TLS,
 * wrong credentials, timeout) is a STORAGE_ERROR naming the URL without credentials and what to
 * check. Once connected, a lost connection is retried with a growing pause while every command
 * fails at once (no offline queue): state reads fail closed instead of waiting.
 */
export async function connectRedis(options: RedisConnectOptions): Promise<RedisState> {
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    // The text itself is not repeated: it may hold a password.
    throw new SignetError('CONFIG_INVALID', 'state.redis.url is not a URL; expected redis://host:port or rediss://host:port');
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new SignetError('CONFIG_INVALID', `state.redis.url must start with redis:// or rediss://, not ${parsed.protocol}//`);
  }
  const username = options.username ?? (parsed.username === '' ? undefined : decodeURIComponent(parsed.username));
  const password = options.password ?? (parsed.password === '' ? undefined : decodeURIComponent(parsed.password));
  const shown = redactRedisUrl(options.url);
  const bare = new URL(shown);
  const useTls = parsed.protocol === 'rediss:' || options.tls !== undefined;
  if (useTls) bare.protocol = 'rediss:';

  const logger = options.logger.child({ redis: shown });
  const maxDelay = Math.max(1, options.reconnectMaxDelayMs ?? DEFAULTS.redisReconnectMaxDelayMs);
  let connected = false;
  let lost = false;

  const socket = {
    connectTimeout: options.connectTimeoutMs,
    // Before the first connection: give up (the caller reports it). After: keep trying with a
    // growing pause, so a Redis restart heals by itself.
    reconnectStrategy: (retries: number, cause: Error): number | Error => (connected ? Math.min(maxDelay, 50 * 2 ** Math.min(retries, 16)) : cause),
    ...(useTls ? { tls: true as const, ...(options.tls?.caPem === undefined ? {} : { ca: options.tls.caPem }) } : {}),
  };
  const client: RedisClient = createClient({
    url: bare.toString(),
    ...(username === undefined ? {} : { username }),
    ...(password === undefined ? {} : { password }),
    socket,
    disableOfflineQueue: true,
    commandOptions: { timeout: options.commandTimeoutMs ?? DEFAULTS.redisCommandTimeoutMs },
  });
  // An 'error' event without a listener would crash the process; log once per outage.
  client.on('error', (err: unknown) => {
    if (!connected || lost) return;
    lost = true;
    logger.warn({ err: errorMessage(err) }, 'Redis connection lost; state reads and writes fail until it is back');
  });
  client.on('ready', () => {
    if (!lost) return;
    lost = false;
    logger.info('Redis connection restored');
  });

  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${options.connectTimeoutMs} ms`)), options.connectTimeoutMs);
  });
  try {
    await Promise.race([client.connect(), timeout]);
    connected = true;
  } catch (err) {
    client.destroy();
    throw new SignetError(
      'STORAGE_ERROR',
      `cannot connect to Redis at ${shown} (state.redis.url): ${errorMessage(err)}. Check that Redis runs and is reachable from here, the credentials (state.redis username and password) and, for TLS (rediss://), the CA`,
      { cause: err },
    );
  } finally {
    clearTimeout(timer);
  }
  logger.debug('connected to Redis');
  return new RedisState(client, options.keyPrefix, logger, shown);
}
