/**
 * The counters the proxy reports to, as a port: the server's Prometheus metrics implement it,
 * tests may pass anything with the same shape.
 */
export interface LabelledCounter<L extends string> {
  inc(labels: Partial<Record<L, string>>, value?: number): void;
}

export interface ProxyMetrics {
  cacheHits: LabelledCounter<'kind'>;
  cacheMisses: LabelledCounter<'kind'>;
  upstreamBytes: LabelledCounter<'upstream'>;
  upstreamBlobFetches: LabelledCounter<'upstream'>;
  digestMismatches: LabelledCounter<'upstream' | 'kind'>;
  /** `reason`: why the upstream could not answer (StaleReason). */
  staleServes: LabelledCounter<'upstream' | 'reason'>;
}
