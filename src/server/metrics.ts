import { Counter, Registry, collectDefaultMetrics } from 'prom-client';
import type { UpstreamObserver } from '../registry/upstream-client.js';
import type { DecisionObserver } from '../policy/policy.js';
import type { AccessObserver, AuthFailureReason } from '../policy/access.js';
import type { ProxyMetrics } from '../proxy/observer.js';

/** Prometheus metrics, on a registry of their own (no process-global state). */
export class Metrics implements UpstreamObserver, DecisionObserver, AccessObserver, ProxyMetrics {
  readonly registry = new Registry();
  readonly httpRequests = new Counter({
    name: 'signet_http_requests_total',
    help: 'Client requests answered, by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  });
  readonly cacheHits = new Counter({
    name: 'signet_cache_hits_total',
    help: 'Requests served from the cache, by kind (blob, manifest)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly cacheMisses = new Counter({
    name: 'signet_cache_misses_total',
    help: 'Requests that needed the upstream, by kind (blob, manifest)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });
  readonly upstreamRequests = new Counter({
    name: 'signet_upstream_requests_total',
    help: 'Requests sent to upstream registries, by upstream, method and status ("error" for network failures)',
    labelNames: ['upstream', 'method', 'status'] as const,
    registers: [this.registry],
  });
  readonly upstreamBytes = new Counter({
    name: 'signet_upstream_bytes_total',
    help: 'Manifest and blob bytes received from upstream registries',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly upstreamBlobFetches = new Counter({
    name: 'signet_upstream_blob_fetches_total',
    help: 'Blob downloads started from upstream registries (concurrent requests share one)',
    labelNames: ['upstream'] as const,
    registers: [this.registry],
  });
  readonly upstreamRefused = new Counter({
    name: 'signet_upstream_refused_total',
    help: 'Redirects and token realms of upstreams that Signet refused to follow, by upstream and reason (e.g. redirect_host_not_allowed, realm_plain_http)',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });
  readonly digestMismatches = new Counter({
    name: 'signet_digest_mismatches_total',
    help: 'Upstream content whose bytes did not match the requested digest or size, by kind',
    labelNames: ['upstream', 'kind'] as const,
    registers: [this.registry],
  });
  readonly staleServes = new Counter({
    name: 'signet_stale_tag_serves_total',
    help: 'Tags answered from the cache with their last known (still verified) digest because the upstream could not answer, by reason (rate_limited, upstream_error, unreachable, timeout)',
    labelNames: ['upstream', 'reason'] as const,
    registers: [this.registry],
  });
  readonly evictions = new Counter({
    name: 'signet_cache_evictions_total',
    help: 'Cache entries removed to stay within storage.maxBytes, by namespace',
    labelNames: ['namespace'] as const,
    registers: [this.registry],
  });

  readonly decisions = new Counter({
    name: 'signet_policy_decisions_total',
    help: 'Policy decisions, by verdict (allowed, denied, audited) and reason',
    labelNames: ['verdict', 'reason'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new Counter({
    name: 'signet_auth_failures_total',
    help: 'Client credentials that proved no user (bad password, bad or expired token, bad certificate), by reason',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Requests refused over the per-client limit (rate-limit.ts); by how the client was told apart, never by client. */
  readonly rateLimits = new Counter({
    name: 'signet_rate_limited_total',
    help: 'Client requests refused with 429 over the per-client request limit, by what identified the client (user, address)',
    labelNames: ['by'] as const,
    registers: [this.registry],
  });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'signet_' });
  }

  rateLimited(by: 'user' | 'address'): void {
    this.rateLimits.inc({ by });
  }

  authFailure(reason: AuthFailureReason): void {
    this.authFailures.inc({ reason });
  }

  decision(verdict: string, reason: string): void {
    this.decisions.inc({ verdict, reason });
  }

  request(upstream: string, method: string, status: number | 'error'): void {
    this.upstreamRequests.inc({ upstream, method, status: String(status) });
  }

  refused(upstream: string, reason: string): void {
    this.upstreamRefused.inc({ upstream, reason });
  }
}
