import { LRUCache } from 'lru-cache';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { errorMessage } from '../errors.js';
import { parseManifestReferences, type ManifestReferences } from '../registry/manifest.js';
import type { ManifestStore, StoredManifest } from './ports.js';

/** A stored manifest with what its bytes say, parsed once. */
export interface ParsedManifest extends StoredManifest {
  readonly references: ManifestReferences;
  /** Digests it authorises: index children, or config and layers. */
  readonly children: readonly string[];
}

export interface MemoizedManifestsOptions {
  /** Bytes of manifests held in memory (`cache.manifestMemoryBytes`). */
  maxBytes?: number;
  logger?: Logger;
}

/**
 * Verified manifests held parsed in a byte-bounded LRU in memory, in front of any
 * ManifestStore: a hot manifest costs neither a read nor a JSON parse per request. A hit is
 * reported to the store behind (`touch`), so the backend does not evict what
 * is served most. Objects handed out are shared between callers: read-only.
 */
export class MemoizedManifests implements ManifestStore {
  readonly #store: ManifestStore;
  readonly #memory: LRUCache<string, ParsedManifest>;
  readonly #logger: Logger | undefined;

  constructor(store: ManifestStore, options: MemoizedManifestsOptions = {}) {
    this.#store = store;
    this.#logger = options.logger;
    this.#memory = new LRUCache<string, ParsedManifest>({
      maxSize: Math.max(1, options.maxBytes ?? DEFAULTS.manifestMemoryBytes),
      sizeCalculation: (m) => Math.max(1, m.bytes.length),
    });
  }

  touch(digest: string): void {
    this.#store.touch(digest);
  }

  async get(digest: string): Promise<ParsedManifest | undefined> {
    const hit = this.#memory.get(digest);
    if (hit) {
      this.#store.touch(digest);
      return hit;
    }
    const stored = await this.#store.get(digest);
    if (!stored) return undefined;
    let parsed: ParsedManifest;
    try {
      parsed = parse(stored);
    } catch (err) {
      // Bytes this version cannot serve (damaged, or a type no longer supported): a miss, so the
      // manifest is fetched again by digest and checked like any other.
      this.#logger?.warn({ digest, err: errorMessage(err) }, 'cached manifest cannot be parsed; treated as absent');
      return undefined;
    }
    this.#memory.set(digest, parsed);
    return parsed;
  }

  /** Stores verified bytes; a manifest that does not parse is refused (MANIFEST_INVALID / UNSUPPORTED). */
  async put(manifest: StoredManifest | ParsedManifest): Promise<void> {
    // A copy: the caller may reuse its buffer, and what is held here is served to everyone.
    const stored = { digest: manifest.digest, mediaType: manifest.mediaType, bytes: Buffer.from(manifest.bytes) };
    const parsed = 'references' in manifest ? { ...stored, references: manifest.references, children: manifest.children } : parse(stored);
    await this.#store.put(stored);
    this.#memory.set(parsed.digest, parsed);
  }

  async delete(digest: string): Promise<void> {
    this.#memory.delete(digest);
    await this.#store.delete(digest);
  }
}

function parse(stored: StoredManifest): ParsedManifest {
  const references = parseManifestReferences(stored.bytes, stored.mediaType);
  return { digest: stored.digest, mediaType: stored.mediaType, bytes: stored.bytes, references, children: [...references.manifests, ...references.blobs] };
}
