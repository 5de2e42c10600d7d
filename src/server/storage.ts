import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { BlobStore, DecisionLogStore, FillLocks, ManifestStore, ProvenanceStore, TagStore, TrustStateStore, VerdictStore } from '../cache/ports.js';
import { DiskDecisionLog } from '../cache/disk/decision-log.js';
import { DiskContent } from '../cache/disk/content.js';
import { DiskProvenanceStore } from '../cache/disk/provenance.js';
import { DiskTagStore } from '../cache/disk/tags.js';
import { siteTrustState } from '../cache/disk/trust-state.js';
import { MemoizedManifests } from '../cache/memoized-manifests.js';
import { BufferPool } from '../cache/buffer-pool.js';
import type { RedisState } from '../cache/redis/client.js';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';

/** Every storage port Signet uses, built from the config; a backend is chosen here and nowhere else. */
export interface Storage {
  blobs: BlobStore;
  manifests: ManifestStore;
  tags: TagStore;
  provenance: ProvenanceStore;
  trustState: TrustStateStore;
  /** Read buffers of blobs, given back by the response writer once sent. */
  buffers: BufferPool;
  /** The console's recent decisions (`console.enabled`), on the state backend. */
  decisions?: DecisionLogStore;
  /** With state shared by replicas: who downloads a blob that several want at once. */
  fillLocks?: FillLocks;
  /** With state shared by replicas: verified cosign and Notation verdicts. */
  verdicts?: VerdictStore;
  /** Prepares the backends (layout, leftovers of a crash, indexes). */
  init(): Promise<void>;
  /** Writes what is still pending (last-use times), on shutdown, and lets go of connections. */
  close(): Promise<void>;
  /** Whether each shared backend answers now (`/readyz`); absent for local disks. */
  health?(): Promise<BackendHealth[]>;
}

export interface BackendHealth {
  backend: 'redis' | 's3';
  ok: boolean;
  /** Why not, without secrets. */
  error?: string;
}

/**
 * The storage the config asks for: the disk backends, or content in S3 (`storage.s3`) and state
 * in Redis (`state.redis`) shared by replicas. Shared backends are reached now: Signet does not
 * start when they cannot be (and Redis must persist with its append-only file, or the rollback
 * floors kept there would not survive its restart).
 *
 * The S3 and Redis backends are loaded only when configured: the AWS SDK and the Redis client
 * weigh some 35 MB of resident memory each, which a Signet on its disks does not carry.
 */
export async function openStorage(
  config: Pick<Config, 'storage' | 'cache' | 'state' | 'console'>,
  logger: Logger,
  onEvict: (namespace: string) => void,
): Promise<Storage> {
  const disk = diskStorage(config, logger, onEvict);
  const { s3 } = config.storage;
  const { redis } = config.state;
  if (!s3 && !redis) return disk;
  const [redisModules, s3Modules] = await Promise.all([redis ? loadRedis() : undefined, s3 ? loadS3() : undefined]);
  let state: RedisState | undefined;
  if (redis && redisModules) {
    const { connectRedis } = redisModules;
    state = await connectRedis({
      url: redis.url,
      ...(redis.username === undefined ? {} : { username: redis.username }),
      ...(redis.password === undefined ? {} : { password: redis.password.reveal() }),
      ...(redis.caPem === undefined ? {} : { tls: { caPem: redis.caPem } }),
      keyPrefix: redis.keyPrefix,
      logger,
      connectTimeoutMs: redis.connectTimeoutMs,
    });
    try {
      await state.requireAppendOnly();
    } catch (err) {
      await state.close();
      throw err;
    }
  }
  const content =
    s3 && s3Modules
      ? new s3Modules.S3Content({
          client: s3Modules.createS3Client({
            endpoint: s3.endpoint,
            region: s3.region,
            credentials: s3.credentials && { accessKeyId: s3.credentials.accessKeyId.reveal(), secretAccessKey: s3.credentials.secretAccessKey.reveal() },
            forcePathStyle: s3.forcePathStyle,
          }),
          bucket: s3.bucket,
          prefix: s3.prefix,
          maxBytes: config.storage.maxBytes,
          // Blobs being downloaded stay on this replica's disk until they are verified and uploaded.
          tempDir: join(config.storage.path, 's3-pending'),
          logger,
          onEvict: (namespace) => onEvict(namespace),
        })
      : undefined;
  const shared = state && redisModules ? { state, ...redisModules } : undefined;
  return {
    buffers: disk.buffers,
    blobs: content ? content.blobs : disk.blobs,
    manifests: content ? new MemoizedManifests(content.manifests, { maxBytes: config.cache.manifestMemoryBytes, logger }) : disk.manifests,
    tags: shared ? new shared.RedisTagStore({ state: shared.state, logger }) : disk.tags,
    provenance: shared ? new shared.RedisProvenanceStore({ state: shared.state, logger }) : disk.provenance,
    trustState: shared ? new shared.RedisTrustStateStore({ state: shared.state }) : disk.trustState,
    ...(config.console.enabled
      ? { decisions: shared ? new shared.RedisDecisionLog({ state: shared.state, keep: config.console.decisionsKept }) : disk.decisions }
      : {}),
    ...(shared
      ? {
          fillLocks: new shared.RedisFillLocks({ state: shared.state, logger, ...(redis ? { ttlMs: redis.downloadLockTtlMs } : {}) }),
          verdicts: new shared.RedisVerdictStore({ state: shared.state, logger }),
        }
      : {}),
    init: async () => {
      await (content ? content.init() : disk.init());
    },
    close: async () => {
      await (content ? content.flush() : disk.close());
      await shared?.state.close();
    },
    health: async () => {
      const out: BackendHealth[] = [];
      if (shared) out.push(await probe('redis', () => shared.state.ping()));
      if (content) out.push(await probe('s3', () => content.ping()));
      return out;
    },
  };
}

async function loadRedis() {
  const [client, fillLocks, provenance, tags, trustState, verdicts, decisionLog] = await Promise.all([
    import('../cache/redis/client.js'),
    import('../cache/redis/fill-locks.js'),
    import('../cache/redis/provenance.js'),
    import('../cache/redis/tags.js'),
    import('../cache/redis/trust-state.js'),
    import('../cache/redis/verdicts.js'),
    import('../cache/redis/decision-log.js'),
  ]);
  return {
    connectRedis: client.connectRedis,
    RedisFillLocks: fillLocks.RedisFillLocks,
    RedisProvenanceStore: provenance.RedisProvenanceStore,
    RedisTagStore: tags.RedisTagStore,
    RedisTrustStateStore: trustState.RedisTrustStateStore,
    RedisVerdictStore: verdicts.RedisVerdictStore,
    RedisDecisionLog: decisionLog.RedisDecisionLog,
  };
}

async function loadS3() {
  const [client, content] = await Promise.all([import('../cache/s3/client.js'), import('../cache/s3/content.js')]);
  return { createS3Client: client.createS3Client, S3Content: content.S3Content };
}

async function probe(backend: BackendHealth['backend'], check: () => Promise<void>): Promise<BackendHealth> {
  try {
    await check();
    return { backend, ok: true };
  } catch (err) {
    return { backend, ok: false, error: errorMessage(err) };
  }
}

/**
 * The disk backends under `storage.path`: content (blobs and manifests, one LRU limit) at the
 * root, state (tags, provenance, trust metadata and rollback floors) under `state/`.
 */
export function diskStorage(config: Pick<Config, 'storage' | 'cache' | 'console'>, logger: Logger, onEvict: (namespace: string) => void): Storage {
  const buffers = new BufferPool(DEFAULTS.blobReadChunkBytes, DEFAULTS.blobBufferPoolBytes);
  const content = new DiskContent({
    root: config.storage.path,
    maxBytes: config.storage.maxBytes,
    logger,
    onEvict: (namespace) => onEvict(namespace),
    buffers,
  });
  const state = join(config.storage.path, 'state');
  return {
    buffers,
    blobs: content.blobs,
    manifests: new MemoizedManifests(content.manifests, { maxBytes: config.cache.manifestMemoryBytes, logger }),
    tags: new DiskTagStore({ root: state, logger }),
    provenance: new DiskProvenanceStore({ root: state }),
    trustState: siteTrustState(config.storage.path),
    ...(config.console.enabled
      ? {
          decisions: new DiskDecisionLog({
            root: state,
            keep: config.console.decisionsKept,
            maxLineBytes: DEFAULTS.consoleDecisionLineMaxBytes,
            logger,
          }),
        }
      : {}),
    init: () => content.init(),
    close: () => content.flush(),
  };
}
