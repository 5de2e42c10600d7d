/**
 * Every limit and fixed constant of the Notary v1 verification modules, in one place, each with
 * its unit. Values that Notary itself fixes cite the Go source they come from; the others are
 * Signet's own guards against hostile input and are far above what real metadata needs.
 */
export const NOTARY_LIMITS = {
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
} as const;
