import type { Logger } from 'pino';
import type { Config, UpstreamConfig } from '../config/load.js';
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

/**
 * Every configured upstream: the offline ones answered from `content` (offlineUpstreams), the
 * others by `live` (the registry client). The server and the CLI's checks see the same site.
 */
export function siteUpstreams(
  config: Config,
  content: ImportedContent,
  live: (upstream: UpstreamConfig) => Upstream,
  logger?: Logger,
): { upstreams: Map<string, Upstream>; notary: (registry: string) => MetadataFetcher | undefined } {
  const offline = offlineUpstreams(config, content, logger);
  const upstreams = new Map<string, Upstream>();
  for (const u of config.upstreams.values()) upstreams.set(u.name, offline.upstreams.get(u.name) ?? live(u));
  return { upstreams, notary: offline.notary };
}
