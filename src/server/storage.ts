import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { BlobStore, ManifestStore, ProvenanceStore, TagStore, TrustStateStore } from '../cache/ports.js';
import { DiskContent } from '../cache/disk/content.js';
import { DiskProvenanceStore } from '../cache/disk/provenance.js';
import { DiskTagStore } from '../cache/disk/tags.js';
import { siteTrustState } from '../cache/disk/trust-state.js';
import { MemoizedManifests } from '../cache/memoized-manifests.js';

/** Every storage port Signet uses, built from the config; a backend is chosen here and nowhere else. */
export interface Storage {
  blobs: BlobStore;
  manifests: ManifestStore;
  tags: TagStore;
  provenance: ProvenanceStore;
  trustState: TrustStateStore;
  /** Prepares the backends (layout, leftovers of a crash, indexes). */
  init(): Promise<void>;
  /** Writes what is still pending (last-use times), on shutdown. */
  close(): Promise<void>;
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
