import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { BlobStore, FillLocks, ManifestStore, ProvenanceStore, TagStore, TrustStateStore, VerdictStore } from '../cache/ports.js';
import { DiskContent } from '../cache/disk/content.js';
import { DiskProvenanceStore } from '../cache/disk/provenance.js';
import { DiskTagStore } from '../cache/disk/tags.js';
import { siteTrustState } from '../cache/disk/trust-state.js';
import { MemoizedManifests } from '../cache/memoized-manifests.js';
import { connectRedis, type RedisState } from '../cache/redis/client.js';
import { RedisFillLocks } from '../cache/redis/fill-locks.js';
import { RedisProvenanceStore } from '../cache/redis/provenance.js';
import { RedisTagStore } from '../cache/redis/tags.js';
import { RedisTrustStateStore } from '../cache/redis/trust-state.js';
import { RedisVerdictStore } from '../cache/redis/verdicts.js';
import { createS3Client } from '../cache/s3/client.js';
import { S3Content } from '../cache/s3/content.js';
import { errorMessage } from '../errors.js';

/** Every storage port Signet uses, built from the config; a backend is chosen here and nowhere else. */
export interface Storage {
  blobs: BlobStore;
  manifests: ManifestStore;
  tags: TagStore;
  provenance: ProvenanceStore;
  trustState: TrustStateStore;
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
 */
export async function openStorage(config: Pick<Config, 'storage' | 'cache' | 'state'>, logger: Logger, onEvict: (namespace: string) => void): Promise<Storage> {
  const disk = diskStorage(config, logger, onEvict);
  const { s3 } = config.storage;
  const { redis } = config.state;
  if (!s3 && !redis) return disk;
  let state: RedisState | undefined;
  if (redis) {
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
  const content = s3
    ? new S3Content({
        client: createS3Client({
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
  const shared = state;
  return {
    blobs: content ? content.blobs : disk.blobs,
    manifests: content ? new MemoizedManifests(content.manifests, { maxBytes: config.cache.manifestMemoryBytes, logger }) : disk.manifests,
    tags: shared ? new RedisTagStore({ state: shared, logger }) : disk.tags,
    provenance: shared ? new RedisProvenanceStore({ state: shared, logger }) : disk.provenance,
    trustState: shared ? new RedisTrustStateStore({ state: shared }) : disk.trustState,
    ...(shared
      ? {
          fillLocks: new RedisFillLocks({ state: shared, logger, ...(redis ? { ttlMs: redis.downloadLockTtlMs } : {}) }),
          verdicts: new RedisVerdictStore({ state: shared, logger }),
        }
      : {}),
    init: async () => {
      await (content ? content.init() : disk.init());
    },
    close: async () => {
      await (content ? content.flush() : disk.close());
      await shared?.close();
    },
    health: async () => {
      const out: BackendHealth[] = [];
      if (shared) out.push(await probe('redis', () => shared.ping()));
      if (content) out.push(await probe('s3', () => content.ping()));
      return out;
    },
  };
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
export function diskStorage(config: Pick<Config, 'storage' | 'cache'>, logger: Logger, onEvict: (namespace: string) => void): Storage {
  const content = new DiskContent({ root: config.storage.path, maxBytes: config.storage.maxBytes, logger, onEvict: (namespace) => onEvict(namespace) });
  const state = join(config.storage.path, 'state');
  return {
    blobs: content.blobs,
    manifests: new MemoizedManifests(content.manifests, { maxBytes: config.cache.manifestMemoryBytes, logger }),
    tags: new DiskTagStore({ root: state, logger }),
    provenance: new DiskProvenanceStore({ root: state }),
    trustState: siteTrustState(config.storage.path),
    init: () => content.init(),
    close: () => content.flush(),
  };
}
