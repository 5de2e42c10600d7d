import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import type { TrustStateStore } from '../cache/ports.js';
import { MemoryContent } from '../cache/memory/content.js';
import { MemoryProvenanceStore } from '../cache/memory/provenance.js';
import { MemoryTagStore } from '../cache/memory/tags.js';
import type { Upstream } from '../registry/upstream-client.js';
import type { SignatureFetcher } from '../registry/referrers.js';
import type { MetadataFetcher } from '../trust/notary/remote.js';
import { MemoryAuditLog, type AuditLog, type AuditRecord } from '../policy/audit-log.js';
import { Policy } from '../policy/policy.js';
import { ManifestService } from '../proxy/manifests.js';
import type { ProxyMetrics } from '../proxy/observer.js';
import { Router } from '../proxy/router.js';
import { createTrustSources } from '../proxy/trust-sources.js';
import type { CosignTrustSource } from '../trust/cosign/cosign-source.js';
import type { NotationTrustSource } from '../trust/notation/notation-source.js';
import type { NotaryTrustSource } from '../trust/notary/notary-source.js';

const NO_COUNT = { inc: () => undefined };
const NO_METRICS: ProxyMetrics = {
  cacheHits: NO_COUNT,
  cacheMisses: NO_COUNT,
  upstreamBytes: NO_COUNT,
  upstreamBlobFetches: NO_COUNT,
  digestMismatches: NO_COUNT,
  staleServes: NO_COUNT,
};

export interface DecisionToolsOptions {
  config: Config;
  /** Every configured upstream: live clients on the exporting side, offline registries on the importing one. */
  upstreams: ReadonlyMap<string, Upstream>;
  trustState: TrustStateStore;
  logger: Logger;
  /** Offline upstreams' Notary trust data. */
  offlineNotary?: (registry: string) => MetadataFetcher | undefined;
  /** Where decisions are written besides the in-memory record the bundle reads its verdicts from. */
  audit?: AuditLog;
  clock?: () => number;
}

/** The server's pull path on in-memory state: the same router, trust sources, policy and manifest service (for the CLI's commands). */
export interface DecisionTools {
  router: Router;
  policy: Policy;
  notary: NotaryTrustSource;
  cosign: CosignTrustSource;
  notation: NotationTrustSource;
  manifests: ManifestService;
  /** The decisions taken, in order. */
  decisions: MemoryAuditLog;
  signaturesOf(upstream: string): SignatureFetcher | undefined;
  close(): Promise<void>;
}

/**
 * Builds the decision path of a pull for the bundle commands. Each bundle command decides with
 * a fresh provenance and tag state (nothing a running server remembered counts); trust state
 * (pinned TOFU roots, rollback floors) is what the caller passes.
 */
export function decisionTools(o: DecisionToolsOptions): DecisionTools {
  const decisions = new MemoryAuditLog();
  const audit: AuditLog = o.audit
    ? {
        record: (entry: AuditRecord) => {
          decisions.record(entry);
          o.audit?.record(entry);
        },
        flush: async () => o.audit?.flush(),
      }
    : decisions;
  const clock = o.clock === undefined ? {} : { clock: o.clock };
  const trust = createTrustSources({
    config: o.config,
    upstreams: o.upstreams,
    trustState: o.trustState,
    logger: o.logger,
    // Every decision is taken on the trust data as it is now.
    freshnessSeconds: 0,
    missingCacheSeconds: 0,
    ...clock,
    ...(o.offlineNotary ? { offlineNotary: o.offlineNotary } : {}),
  });
  const policy = new Policy({
    config: o.config,
    sources: { notary: trust.notary, cosign: trust.cosign, notation: trust.notation },
    provenance: new MemoryProvenanceStore(),
    audit,
    ...clock,
  });
  const router = new Router({
    upstreams: o.upstreams,
    defaultUpstream: o.config.defaultUpstream,
    officialNamespaces: new Map([...o.config.upstreams.values()].map((u) => [u.name, u.officialNamespace])),
  });
  const content = new MemoryContent({ maxBytes: o.config.cache.manifestMemoryBytes });
  const manifests = new ManifestService({
    manifests: content.manifests,
    tags: new MemoryTagStore(),
    policy,
    metrics: NO_METRICS,
    logger: o.logger,
    tagCheckSeconds: 0,
    ...clock,
  });
  return {
    router,
    policy,
    notary: trust.notary,
    cosign: trust.cosign,
    notation: trust.notation,
    manifests,
    decisions,
    signaturesOf: (upstream) => trust.fetcherFor(upstream),
    close: async () => {
      await trust.notary.close();
      await audit.flush();
    },
  };
}
