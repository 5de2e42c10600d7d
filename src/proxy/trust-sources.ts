import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { Config } from '../config/load.js';
import type { TrustStateStore, VerdictStore } from '../cache/ports.js';
import { RegistrySignatureFetcher, type SignatureFetcher } from '../registry/referrers.js';
import type { Upstream, UpstreamObserver } from '../registry/upstream-client.js';
import { CosignTrustSource } from '../trust/cosign/cosign-source.js';
import { createSigstoreVerifier } from '../trust/cosign/sigstore-verifier.js';
import { NotaryTrustSource } from '../trust/notary/notary-source.js';
import { NotationTrustSource } from '../trust/notation/notation-source.js';
import { createRevocationChecker, httpRevocationFetch } from '../trust/notation/revocation/index.js';
import type { MetadataFetcher } from '../trust/notary/remote.js';
import type { TrustHealthItem } from '../trust/health.js';
import { cosignHealth } from '../trust/cosign/health.js';
import { notationHealth } from '../trust/notation/health.js';

export interface TrustSourcesOptions {
  config: Pick<Config, 'upstreams' | 'trust'>;
  upstreams: ReadonlyMap<string, Upstream>;
  trustState: TrustStateStore;
  logger: Logger;
  /** Seconds a verified trust state or verdict is reused (0: always checked again, as `signet check` does). */
  freshnessSeconds: number;
  /** Seconds an absence of trust data, or a cosign denial, is reused. */
  missingCacheSeconds: number;
  clock?: () => number;
  observer?: UpstreamObserver;
  /** Replicas: verified cosign and Notation verdicts shared with the others. */
  verdicts?: VerdictStore;
  /** Offline upstreams: the imported Notary trust data of a registry (undefined when it is online). */
  offlineNotary?: (registry: string) => MetadataFetcher | undefined;
}

export interface TrustSources {
  notary: NotaryTrustSource;
  cosign: CosignTrustSource;
  notation: NotationTrustSource;
  /** The signature-fetching port of each configured upstream. */
  fetcherFor(registry: string): SignatureFetcher | undefined;
}

/** The trust sources of every format, wired the same way for the server and the CLI. */
export function createTrustSources(o: TrustSourcesOptions): TrustSources {
  const fetchers = new Map([...o.upstreams.values()].map((u) => [u.name, new RegistrySignatureFetcher({ upstream: u, logger: o.logger })]));
  const fetcherFor = (registry: string): SignatureFetcher | undefined => fetchers.get(registry);
  const clock = o.clock === undefined ? {} : { clock: o.clock };
  return {
    notary: new NotaryTrustSource({
      store: o.trustState,
      logger: o.logger,
      freshnessSeconds: o.freshnessSeconds,
      missingCacheSeconds: o.missingCacheSeconds,
      servers: new Map([...o.config.upstreams.values()].map((u) => [u.name, u.trust.notary])),
      ...clock,
      ...(o.observer ? { observer: o.observer } : {}),
      ...(o.offlineNotary ? { offline: o.offlineNotary } : {}),
    }),
    cosign: new CosignTrustSource({
      fetcherFor,
      verifier: createSigstoreVerifier(),
      logger: o.logger,
      freshnessSeconds: o.freshnessSeconds,
      deniedCacheSeconds: o.missingCacheSeconds,
      ...clock,
      ...(o.verdicts ? { verdicts: o.verdicts } : {}),
    }),
    notation: new NotationTrustSource({
      fetcherFor,
      revocation: createRevocationChecker({
        fetch: httpRevocationFetch,
        allowedHosts: o.config.trust.revocation.allowedHosts,
        timeoutMs: o.config.trust.revocation.timeoutMs,
        maxResponseBytes: o.config.trust.revocation.maxResponseBytes,
        cacheEntries: DEFAULTS.revocationCacheEntries,
        clock: o.clock ?? Date.now,
        logger: o.logger,
      }),
      logger: o.logger,
      freshnessSeconds: o.freshnessSeconds,
      deniedCacheSeconds: o.missingCacheSeconds,
      ...clock,
      ...(o.verdicts ? { verdicts: o.verdicts } : {}),
    }),
    fetcherFor,
  };
}

/** Builds the trust material of every rule now (cosign keys and roots, Notation policies and stores): what cannot be used stops the start. */
export function prepareTrustMaterial(config: Pick<Config, 'policy'>, trust: Pick<TrustSources, 'cosign' | 'notation'>): void {
  for (const rule of config.policy.rules) {
    for (const entry of rule.require.entries) {
      if (entry.format === 'cosign') trust.cosign.prepare(entry.requirement);
      if (entry.format === 'notation') trust.notation.prepare(entry.requirement);
    }
  }
}

/**
 * What the trust material says of its own health, for the console: the Notary repositories
 * verified since start (and those saved before, by this Signet or another replica), and the
 * cosign and Notation material of every rule. The console asks on every page it draws; a rule's
 * material does not change while Signet runs, so its report is made once per requirement.
 */
export function trustHealthReporter(
  config: Pick<Config, 'policy'>,
  trust: Pick<TrustSources, 'notary' | 'cosign' | 'notation'>,
): () => Promise<TrustHealthItem[]> {
  const ofRules = new WeakMap<object, TrustHealthItem[]>();
  const ofRule = (requirement: object, report: () => TrustHealthItem[]): TrustHealthItem[] => {
    let items = ofRules.get(requirement);
    if (!items) ofRules.set(requirement, (items = report()));
    return items;
  };
  return async () => {
    const items = [...trust.notary.health(), ...(await trust.notary.savedHealth()), ...trust.notation.signingChains()];
    for (const rule of config.policy.rules) {
      for (const { format, requirement } of rule.require.entries) {
        if (format === 'cosign') items.push(...ofRule(requirement, () => cosignHealth(trust.cosign.prepare(requirement), requirement.path)));
        if (format === 'notation') items.push(...ofRule(requirement, () => notationHealth(trust.notation.prepare(requirement), requirement.path)));
      }
    }
    return items;
  };
}
