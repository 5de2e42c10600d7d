/**
 * Every limit and default in one place, each with its unit. Config values override these;
 * nothing else in the code base hard-codes a limit.
 */
export const DEFAULTS = {
  listenHost: '0.0.0.0',
  listenPort: 5000, // TCP port
  storagePath: './data',
  storageMaxBytes: 20 * 1024 ** 3, // bytes of blobs and manifests on disk before LRU eviction
  manifestMemoryBytes: 64 * 1024 ** 2, // bytes of verified manifests held in memory
  manifestMaxBytes: 4 * 1024 ** 2, // bytes; OCI distribution-spec suggests registries accept at least 4 MiB manifests
  tagCheckSeconds: 0, // seconds a tag→digest answer is reused without asking the upstream again
  upstreamConnectTimeoutMs: 10_000, // ms to establish a TCP/TLS connection to an upstream
  upstreamResponseTimeoutMs: 30_000, // ms to wait for an upstream's response headers
  upstreamIdleTimeoutMs: 60_000, // ms without a body byte before an upstream transfer is abandoned
  upstreamRetries: 3, // extra attempts after a 5xx/429/network error, before any byte was sent on
  upstreamRetryBaseDelayMs: 200, // ms, doubled per attempt (with jitter)
  upstreamRetryMaxDelayMs: 10_000, // ms; a longer Retry-After is not waited for: the error is returned
  upstreamMaxRedirects: 5, // redirects followed server-side for one blob request
  tokenExpiryMarginSeconds: 15, // seconds before a bearer token's expiry it is considered stale
  tokenDefaultLifetimeSeconds: 60, // seconds; Docker token spec: expires_in defaults to 60
  errorBodyMaxBytes: 64 * 1024, // bytes of an upstream error body read for the message
  maxHeaderBytes: 16 * 1024, // bytes of request headers accepted from clients (Node's default)
  shutdownGraceMs: 30_000, // ms given to in-flight streams to finish on SIGTERM
  trustFreshnessSeconds: 60, // seconds a verified trust state is reused before the timestamp is re-fetched
  trustMissingCacheSeconds: 30, // seconds a "no trust data" answer is remembered
  blobReadChunkBytes: 256 * 1024, // bytes per read of a blob from disk (64 KiB, Node's default, halves warm throughput; 1 MiB buffers swell RSS under herds)
  blobWriteBufferBytes: 4 * 1024 * 1024, // bytes of upstream data queued while a blob write to disk is in flight
  auditMaxWriteBytes: 1024 * 1024, // bytes per write of the audit log when it has a backlog (pino/SonicBoom default: 16 KiB)
  verdictMemoEntries: 4096, // tag verdicts remembered per verified trust state (entries)
  accessTouchIntervalMs: 60_000, // ms between persisted last-access updates of one cache entry
} as const;

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
