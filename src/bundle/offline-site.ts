import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { Upstream } from '../registry/upstream-client.js';
import type { MetadataFetcher } from '../trust/notary/remote.js';
import type { ImportedContent } from './imported.js';
import { ImportedNotaryFetcher } from './offline-notary.js';
import { OfflineRegistry } from './offline-registry.js';

/** The names of the upstreams marked `offline: true`. */
export function offlineNames(config: Config): Set<string> {
  return new Set([...config.upstreams.values()].filter((u) => u.offline === true).map((u) => u.name));
}

/**
 * The offline side of a config: an OfflineRegistry per offline upstream, and the imported
 * Notary trust data for those upstreams' GUNs, both answered from `content` (the serving store,
 * or an import's staged view of it).
 */
export function offlineUpstreams(
  config: Config,
  content: ImportedContent,
  logger?: Logger,
): { upstreams: Map<string, Upstream>; notary: (registry: string) => MetadataFetcher | undefined } {
  const names = offlineNames(config);
  const upstreams = new Map<string, Upstream>();
  for (const name of names) upstreams.set(name, new OfflineRegistry({ name, content, ...(logger ? { logger } : {}) }));
  const fetcher = new ImportedNotaryFetcher({ content });
  return { upstreams, notary: (registry) => (names.has(registry) ? fetcher : undefined) };
}
