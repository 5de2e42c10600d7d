import { parseDigest } from '../../registry/names.js';
import type { ContentNamespace } from '../lru-index.js';

/**
 * The object keys of one S3 content backend, all under `prefix`:
 * - `blobs/<alg>/<hex>`, `manifests/<alg>/<hex>`: content, written only with verified bytes;
 * - `access/<namespace>/<alg>/<hex>`: an empty marker whose LastModified is the last use of
 *   that content by any replica (the LRU order they share).
 */
export class S3Keys {
  readonly prefix: string;

  constructor(prefix: string) {
    // `a/b`, `/a/b/` and `a/b/` are one prefix; '' is the bucket's root.
    const trimmed = prefix.replace(/^\/+|\/+$/g, '');
    this.prefix = trimmed === '' ? '' : `${trimmed}/`;
  }

  /** The digest is validated (DIGEST_INVALID), so a key never leaves its namespace. */
  content(namespace: ContentNamespace, digest: string): string {
    const d = parseDigest(digest);
    return `${this.prefix}${namespace}/${d.algorithm}/${d.hex}`;
  }

  marker(namespace: ContentNamespace, digest: string): string {
    const d = parseDigest(digest);
    return `${this.prefix}access/${namespace}/${d.algorithm}/${d.hex}`;
  }

  /** Where listing starts for content of `namespace`, or for the markers. */
  listPrefix(what: ContentNamespace | 'access'): string {
    return `${this.prefix}${what}/`;
  }

  /** The namespace and digest of a listed key, or undefined for keys that are not ours. */
  parse(key: string): { marker: boolean; namespace: ContentNamespace; digest: string } | undefined {
    if (!key.startsWith(this.prefix)) return undefined;
    const parts = key.slice(this.prefix.length).split('/');
    const marker = parts[0] === 'access';
    if (marker) parts.shift();
    if (parts.length !== 3) return undefined;
    const [namespace, algorithm, hex] = parts as [string, string, string];
    if (namespace !== 'blobs' && namespace !== 'manifests') return undefined;
    try {
      return { marker, namespace, digest: parseDigest(`${algorithm}:${hex}`).value };
    } catch {
      return undefined;
    }
  }
}
