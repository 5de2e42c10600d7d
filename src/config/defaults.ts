/**
 * Every limit and default in one place, each with its unit. Config values override these;
 * nothing else in the code base hard-codes a limit.
 */
export const DEFAULTS = {
  listenHost: '127.0.0.1', // loopback: without an auth section only local clients can pull (docs/SECURITY.md)
  listenPort: 5000, // TCP port
  maxConnections: 1024, // client connections open at once per listener; more are refused at accept
  clientHeadersTimeoutMs: 10_000, // ms a client has to send the request headers (slower: 408)
  clientRequestTimeoutMs: 60_000, // ms a client has to send a whole request (slower: 408)
  clientKeepAliveTimeoutMs: 5_000, // ms an idle keep-alive connection stays open
  clientSendTimeoutMs: 60_000, // ms a response may wait for a client that reads nothing before the connection is closed
  clientTimeoutCheckMs: 1_000, // ms between checks of the header and request timeouts of open connections (Node checks every 30 s by default)
  clientRequestsPerSecond: 100, // requests per second per client (user, else IP) sustained; 0 turns the limit off
  clientBurst: 1000, // requests a client may send at once above the sustained rate (token bucket size)
  rateLimitClients: 100_000, // clients whose request budget is tracked (entries); the least recent are dropped
  tokenLifetimeSeconds: 300, // seconds a bearer token issued by Signet's /token is valid
  tokenLeewaySeconds: 10, // seconds of clock skew allowed on a presented token's exp and nbf
  credentialCacheSeconds: 60, // seconds a verified Basic password is remembered (bcrypt costs ~100 ms per check)
  credentialCacheEntries: 10_000, // verified credentials remembered (entries)
  htpasswdMaxBytes: 16 * 1024 ** 2, // bytes of an htpasswd file
  tokenRequestMaxBytes: 64 * 1024, // bytes of a POST /token form body
  auditLogMaxBytes: 100 * 1024 ** 2, // bytes of the audit log file before it is rotated
  auditLogFiles: 5, // rotated audit log files kept besides the current one
  auditRepeatSeconds: 60, // seconds in which repeated identical denials of one client are summarised in one line
  auditRepeatWindows: 10_000, // open summary windows of repeated denials (entries); beyond it the oldest is closed early, its summary written
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
  upstreamBodyTimeoutMs: 30_000, // ms to read a whole small upstream body (error, token, manifest) before giving up
  tokenExpiryMarginSeconds: 15, // seconds before a bearer token's expiry it is considered stale
  tokenDefaultLifetimeSeconds: 60, // seconds; Docker token spec: expires_in defaults to 60
  errorBodyMaxBytes: 64 * 1024, // bytes of an upstream error body read for the message
  maxHeaderBytes: 16 * 1024, // bytes of request headers accepted from clients (Node's default)
  shutdownGraceMs: 30_000, // ms given to in-flight streams to finish on SIGTERM
  trustFreshnessSeconds: 60, // seconds a verified trust state is reused before the timestamp is re-fetched
  trustMissingCacheSeconds: 30, // seconds a "no trust data" answer is remembered
  blobReadChunkBytes: 256 * 1024, // bytes per read of a blob from disk (64 KiB, Node's default, halves warm throughput; 1 MiB buffers swell RSS under herds)
  blobWriteBufferBytes: 4 * 1024 * 1024, // bytes of upstream data queued while a blob write to disk is in flight
  blobBufferPoolBytes: 16 * 1024 * 1024, // bytes of sent read buffers kept for the next reads of blobs (each blobReadChunkBytes)
  blobMemoryWindowBytes: 8 * 1024 * 1024, // bytes of a download kept in memory behind its newest byte, for the clients that follow it closely (per running download)
  blobPaceStallMs: 1_000, // ms a download waits for its leading client to take more bytes before it runs on at full speed for the cache
  auditMaxWriteBytes: 1024 * 1024, // bytes per write of the audit log when it has a backlog (pino/SonicBoom default: 16 KiB)
  accessTouchIntervalMs: 60_000, // ms between persisted last-access updates of one cache entry

  // Bounds of in-memory maps that requests for arbitrary names could otherwise grow.
  tagMemoryEntries: 10_000, // tag answers held in memory (entries); the rest are read from the tag store
  provenanceMemoryRepositories: 1_000, // repositories whose provenance is held in memory (entries)
  trustStateMemoryEntries: 1_000, // verified trust states (one per trust server and name) held in memory (entries)
  tokenCacheEntries: 10_000, // bearer tokens held per upstream (entries), one per repository scope
  notaryClientsMax: 64, // trust server clients kept open (entries), one per server URL and credentials
  verdictMemoEntries: 4096, // tag verdicts of verified trust states remembered, across all of them (entries)
  provenanceRootsPerDigest: 32, // roots (admitted digests vouching for it) kept per digest; the least recently verified are dropped
  provenanceRecheckEntries: 10_000, // provenance roots whose re-check is remembered for the trust freshness interval (entries)
  trustDenialMemoryEntries: 10_000, // denials remembered per trust source for trust.missingCacheSeconds (entries), apart from verified states

  // tags/list of repositories under a policy (enforce, audit): the listing is filtered.
  tagListPageMax: 100, // tags judged per tags/list request (a smaller n lowers it); more are listed through Link pagination
  tagListResolveConcurrency: 4, // HEAD-by-tag resolutions (and their signature checks) in flight for one tags/list request
  tagListMaxBytes: 4 * 1024 ** 2, // bytes of an upstream tags/list answer read to filter it

  // Signature artifacts fetched from registries (referrers API, tag schema, format tags).
  referrersMaxEntries: 1_000, // descriptors in one referrers index; a larger index is refused unread
  referrersIndexMaxBytes: 4 * 1024 ** 2, // bytes of one referrers index (API answer or tag-schema index)
  signatureManifestMaxBytes: 256 * 1024, // bytes of one signature artifact manifest
  signatureBlobMaxBytes: 1024 ** 2, // bytes of one signature artifact blob (payload, bundle, envelope)
  s3PartBytes: 8 * 1024 ** 2, // bytes per part of a multipart upload (S3 wants at least 5 MiB); each upload buffers part × concurrency
  s3UploadConcurrency: 2, // parts of one blob uploaded at once
  s3ListIntervalMs: 60_000, // ms between listings of the bucket that update the shared size and LRU order
  s3StaleUploadMs: 24 * 3_600_000, // ms after which an open multipart upload is a crashed replica's leftover, aborted at start
  blobLockTtlMs: 30_000, // ms a replica's download lock of a blob lives without a refresh (it refreshes every third of it)
  blobLockPollMs: 200, // ms between checks of another replica's download lock
  blobLockWaitMs: 600_000, // ms a replica waits on another's download before trying to take it over
  consoleDecisionsKept: 5_000, // recent decisions kept for the console (entries), newest last
  consoleDecisionLineMaxBytes: 64 * 1024, // bytes of one kept decision; a larger one stays in the audit log only
  consoleApiMaxLimit: 1_000, // decisions one GET /api/v1/decisions may return (entries)
  consoleSampleMs: 10_000, // ms between the console's samples of the cache and upstream counters
  consoleSamplesKept: 360, // samples kept (entries): an hour at the default interval
  consoleExpiryWarnDays: 30, // days before trust material expires that the console warns
  consoleExpiryCriticalDays: 7, // days before trust material expires that the warning turns critical
  consoleShortLivedDays: 31, // days of validity or less that make trust material short-lived (a Notary timestamp: 14)
  consoleShortLivedWarnHours: 72, // hours before short-lived trust material expires that the console warns
  consoleShortLivedCriticalHours: 24, // hours before short-lived trust material expires that the warning turns critical
  consoleKeyAgeDays: 365, // days after which a key or certificate is shown as due for rotation
  consoleLiveSeconds: 5, // seconds between the console page's live refreshes (with JavaScript)
  storageRetryAfterSeconds: 5, // s a client is told to wait (Retry-After) when Signet's storage cannot be used
  redisConnectTimeoutMs: 5_000, // ms to reach Redis at start before Signet refuses to start
  redisCommandTimeoutMs: 10_000, // ms for one Redis command; past it the read fails (closed)
  redisReconnectMaxDelayMs: 2_000, // ms between reconnection attempts once Redis was reached
  redisProvenanceCasAttempts: 100, // compare-and-set rounds of one provenance change before it fails
  revocationTimeoutMs: 5_000, // ms for one OCSP or CRL request, connection to last byte
  revocationResponseMaxBytes: 10 * 1024 ** 2, // bytes of one OCSP response or CRL (CRLs of large CAs reach megabytes)
  revocationCacheEntries: 10_000, // OCSP and CRL answers kept until their nextUpdate (entries)
  notationTrustStoreFileMaxBytes: 1024 ** 2, // bytes of one certificate file of a Notation trust store
  notationTrustStoreMaxCertificates: 1_000, // certificates in one Notation trust store
  notationTrustPolicyMaxBytes: 1024 ** 2, // bytes of a trustpolicy.oci.json file
  trustHealthSavedSeconds: 60, // seconds the console reuses its report on saved Notary trust states not held in memory
  notationChainsRemembered: 200, // signing chains of verified Notation signatures kept for the console's trust health (entries, one per leaf certificate)
  timestampTokenMaxCertificates: 32, // certificates an RFC 3161 token may carry (a TSA sends its chain, a handful at most)
  timestampChainMaxDepth: 8, // certificates in a timestamp authority's chain, root included
  revocationClockSkewMs: 5 * 60 * 1000, // ms an RFC 3161 genTime, OCSP answer or CRL may be ahead of Signet's clock
  signatureArtifactsMax: 64, // signature artifacts of one digest whose contents are fetched (entries)

  // Notary v1 trust server client (Notary's own client: notary/client, tuf/client).
  notary: {
    connectTimeoutMs: 10_000, // ms to establish a TCP/TLS connection to a trust server
    responseTimeoutMs: 30_000, // ms to wait for a trust server's response headers
    idleTimeoutMs: 60_000, // ms without a body byte before a metadata download is abandoned
    retries: 1, // extra attempts after a 5xx/429/network error
    retryBaseDelayMs: 200, // ms, doubled per attempt (with jitter)
    retryMaxDelayMs: 2_000, // ms; a longer Retry-After is not waited for
    rootMaxBytes: 100 * 1024 ** 2, // bytes; root.json when no checksum is known (notary.MaxDownloadSize)
    timestampMaxBytes: 1024 ** 2, // bytes; timestamp.json (notary.MaxTimestampSize)
    maxRootRotations: 100, // root versions walked in one update (N.root.json), against endless chains
    maxDelegations: 1_000, // delegation files loaded per repository, against endless trees
    // Verification limits: values Notary itself fixes cite the Go source they come from; the
    // others are guards against hostile input, far above what real metadata needs.
    /** bytes; a metadata file larger than this is refused before parsing. Notary's client caps
     *  root.json at 100 MiB (notary.MaxDownloadSize, client/tufclient.go); we apply it to every file. */
    maxMetadataBytes: 100 * 1024 * 1024,
    /** nesting levels of JSON arrays/objects; real metadata nests at most 6 deep. */
    maxJsonDepth: 64,
    /** signatures in one wrapper; each costs a public-key operation, so a flood is refused. */
    maxSignatures: 256,
    /** keys in root.json `keys` or a delegation's `keys`. */
    maxKeys: 1024,
    /** key IDs listed by one role. */
    maxKeyIdsPerRole: 1024,
    /** delegation roles declared by one targets file. */
    maxDelegationRoles: 1024,
    /** certificates in one PEM bundle (ecdsa-x509 / rsa-x509 key, CA bundle). */
    maxCertificatesPerBundle: 16,
    /** characters; tuf/data/roles.go IsDelegation: `len(role) < 256` (bytes; the name is ASCII). */
    maxRoleNameLength: 255,
    /** bits; tuf/signed/verifiers.go minRSAKeySizeBit and notary.MinRSABitSize. */
    minRsaBits: 2048,
    /** ms; tuf/utils/x509.go ValidateCertificate accepts NotBefore up to one day in the future. */
    certificateNotBeforeLeewayMs: 24 * 60 * 60 * 1000,
    /** bytes; ed25519 public key and signature sizes (golang.org/x/crypto/ed25519). */
    ed25519PublicKeyBytes: 32,
    ed25519SignatureBytes: 64,
  },

  // Air-gapped bundles (src/bundle/).
  bundle: {
    /** bytes; the signed bundle manifest (signet-bundle.json), read whole before anything else. */
    manifestMaxBytes: 64 * 1024 * 1024,
    /** bytes; the bundle signature file (signet-bundle.sig). */
    signatureMaxBytes: 16 * 1024,
    /** bytes; a public or private key file. */
    keyMaxBytes: 16 * 1024,
    /** files listed by one bundle manifest. */
    maxFiles: 1_000_000,
    /** bytes; the imported index (state.json): a million files (maxFiles) of ~100 bytes each, with room to spare. */
    stateMaxBytes: 256 * 1024 * 1024,
    /** bytes; an `--images` list file. */
    imageListMaxBytes: 4 * 1024 * 1024,
    /** images listed by one bundle manifest. */
    maxImages: 100_000,
    /** bytes; total of the small files (manifests, signature layers, trust metadata) held in memory while a bundle is decided. */
    smallFilesMaxBytes: 128 * 1024 * 1024,
    /** bytes; a file up to this size that the bundle marks as a manifest or trust metadata is held in memory for the decision. */
    smallFileMaxBytes: 4 * 1024 * 1024,
    /** ms; minimum interval between two JSON progress lines (a terminal bar redraws at most this often too). */
    progressIntervalMs: 1000,
    /** ms; a serving Signet re-reads the imported index at most this often (a new import becomes visible within it). */
    stateRecheckMs: 1000,
  },
  bundleExpiryGraceDaysMax: 365, // days an imported Notary timestamp/snapshot may be accepted past expiry, at most (policy.rules[].require.notary.offlineExpiryGraceDays)

  // X.509 chains (every trust format).
  x509MaxChainSignatureChecks: 100, // signature checks while building one chain (Go crypto/x509 maxChainSignatureChecks)
} as const;

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;
