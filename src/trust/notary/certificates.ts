/**
 * Root-certificate rules of Notary (Notary: trustpinning/certs.go ValidateRoot, parseAllCerts,
 * validRootLeafCerts, validRootIntCerts, MatchCNToGun; tuf/utils/x509.go ValidateCertificate,
 * CertBundleToKey, X509PublicKeyID; trustpinning/trustpin.go caCheck). Pure and synchronous:
 * the clock is always injected.
 */
import { parseCertificate as parseX509Certificate, parseCertificateBundle as parseX509CertificateBundle, type CertificateInfo } from '../x509/certificate.js';
import { isX509Error } from '../x509/errors.js';
import { decodePemBlocks, encodePem } from '../x509/pem.js';
import { keyId, type PublicKeyRecord } from './keys.js';
import { TrustError } from './errors.js';
import { DEFAULTS } from '../../config/defaults.js';

export type { CertificateInfo } from '../x509/certificate.js';

/**
 * One DER certificate (shared parser: ../x509/certificate.ts, which refuses what Go's
 * crypto/x509 refuses). Throws TrustError('bad_certificate').
 */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  try {
    return parseX509Certificate(der);
  } catch (err) {
    throw toTrustError(err);
  }
}

/**
 * Go's tuf/utils/x509.go LoadCertBundleFromPEM: every PEM block must be a CERTIFICATE that
 * parses; at least one is required; at most DEFAULTS.notary.maxCertificatesPerBundle.
 * Throws TrustError('bad_certificate' | 'too_large').
 */
export function parseCertificateBundle(pem: Uint8Array | string): CertificateInfo[] {
  try {
    return parseX509CertificateBundle(pem, { maxCertificates: DEFAULTS.notary.maxCertificatesPerBundle });
  } catch (err) {
    throw toTrustError(err);
  }
}

function toTrustError(err: unknown): TrustError {
  if (err instanceof TrustError) return err;
  const code = isX509Error(err, 'too_large') ? 'too_large' : 'bad_certificate';
  return new TrustError(code, err instanceof Error ? err.message : String(err), { cause: err });
}

export interface CertificateCheckOptions {
  /** the injected clock */
  readonly now: Date;
  /** false for certificates of a previously trusted root (certs.go passes checkExpiry=false) */
  readonly checkExpiry: boolean;
}

/**
 * trustpinning/certs.go MatchCNToGun: CN equals the GUN, or CN ends with `*` and the GUN starts
 * with CN minus all trailing `*` (Go strings.TrimRight(cn, "*")).
 */
export function matchCommonNameToGun(commonName: string, gun: string): boolean {
  if (commonName.endsWith('*')) return gun.startsWith(commonName.replace(/\*+$/, ''));
  return commonName === gun;
}

/**
 * tuf/utils/x509.go ValidateCertificate: NotBefore ≤ NotAfter; no SHA-1 signature algorithm;
 * RSA keys ≥ 2048 bits; with checkExpiry, NotBefore ≤ now + 24 h and now ≤ NotAfter.
 * Throws TrustError('bad_certificate') or, for the time window, TrustError('expired').
 */
export function validateCertificate(cert: CertificateInfo, options: CertificateCheckOptions): void {
  const cn = JSON.stringify(cert.subject.commonName);
  if (cert.notBefore.getTime() > cert.notAfter.getTime()) {
    throw new TrustError('bad_certificate', `certificate ${cn} has an invalid validity window`);
  }
  // Go x509.SHA1WithRSA (both OIDs Go maps to it), DSAWithSHA1, ECDSAWithSHA1.
  if (cert.signatureAlgorithm.sha1) {
    throw new TrustError('bad_certificate', `certificate ${cn} uses a SHA-1 signature algorithm`);
  }
  if (cert.publicKey.algorithm === 'rsa' && (cert.publicKey.bits ?? 0) < DEFAULTS.notary.minRsaBits) {
    throw new TrustError('bad_certificate', `certificate ${cn} has an RSA key shorter than 2048 bits`);
  }
  if (options.checkExpiry) {
    const now = options.now.getTime();
    if (cert.notBefore.getTime() > now + DEFAULTS.notary.certificateNotBeforeLeewayMs || now > cert.notAfter.getTime()) {
      throw new TrustError('expired', `certificate ${cn} is expired or not yet valid`);
    }
  }
}

/** A root key whose PEM bundle passed the rules: the leaf and the CA certificates after it. */
export interface RootCertificate {
  readonly keyId: string;
  readonly leaf: CertificateInfo;
  readonly intermediates: readonly CertificateInfo[];
}

/**
 * The checks certs.go applies to one root-role key: the key's bytes are a PEM bundle of
 * certificates (LoadCertBundleFromPEM), with exactly one non-CA certificate, which comes first;
 * its CN matches the GUN; it passes validateCertificate. `id` is the key's ID in root.json.
 * Throws TrustError('bad_certificate' | 'expired' | 'too_large').
 */
export function checkRootCertificate(id: string, key: PublicKeyRecord, gun: string, options: CertificateCheckOptions): RootCertificate {
  const certs = parseCertificateBundle(key.public);
  const leaves = certs.filter((c) => !c.isCA);
  const first = certs[0];
  if (leaves.length !== 1 || first === undefined || first.isCA) {
    throw new TrustError('bad_certificate', `root key ${id}: need exactly one non-CA certificate, first`);
  }
  if (!matchCommonNameToGun(first.subject.commonName, gun)) {
    throw new TrustError(
      'bad_certificate',
      `root key ${id}: certificate CN ${JSON.stringify(first.subject.commonName)} does not match GUN ${JSON.stringify(gun)}`,
    );
  }
  validateCertificate(first, options);
  return { keyId: id, leaf: first, intermediates: certs.filter((c) => c.isCA) };
}

/** The parts of root.json the certificate rules need (metadata.ts Root satisfies it). */
export interface RootKeysView {
  readonly keys: ReadonlyMap<string, PublicKeyRecord>;
  readonly roles: ReadonlyMap<string, { readonly keyids: readonly string[] }>;
}

export interface RootCertificateKeys {
  /** certificates that passed, by root.json key ID */
  readonly certificates: ReadonlyMap<string, RootCertificate>;
  /** keys rebuilt from leaf + usable intermediates, by their own ID (utils.CertsToKeys) */
  readonly keys: ReadonlyMap<string, PublicKeyRecord>;
  /** why the other root-role keys were skipped, by key ID */
  readonly rejected: ReadonlyMap<string, TrustError>;
}

/**
 * certs.go parseAllCerts + validRootLeafCerts + validRootIntCerts + utils.CertsToKeys: for each
 * key ID of the root role, check its certificate bundle; keep the valid ones; drop intermediates
 * that fail validateCertificate with expiry (only when `filterIntermediates`, as for a new root);
 * rebuild each key as PEM(leaf + intermediates) — the keys Notary verifies root signatures with.
 * Throws TrustError('bad_certificate') when no root key is valid ("no valid leaf certificates").
 */
export function rootCertificateKeys(
  root: RootKeysView,
  gun: string,
  options: CertificateCheckOptions & { readonly filterIntermediates: boolean },
): RootCertificateKeys {
  const certificates = new Map<string, RootCertificate>();
  const keys = new Map<string, PublicKeyRecord>();
  const rejected = new Map<string, TrustError>();
  for (const id of root.roles.get('root')?.keyids ?? []) {
    const key = root.keys.get(id);
    if (key === undefined || certificates.has(id)) continue;
    try {
      const found = checkRootCertificate(id, key, gun, options);
      const intermediates = options.filterIntermediates
        ? found.intermediates.filter((c) => passes(c, { now: options.now, checkExpiry: true }))
        : found.intermediates;
      const rebuilt = certBundleKey(found.leaf, intermediates);
      certificates.set(id, { ...found, intermediates });
      if (rebuilt !== null) keys.set(keyId(rebuilt), rebuilt);
    } catch (err) {
      rejected.set(id, err instanceof TrustError ? err : new TrustError('bad_certificate', String(err), { cause: err }));
    }
  }
  if (certificates.size === 0) {
    throw new TrustError('bad_certificate', `no valid root certificate for ${JSON.stringify(gun)}`);
  }
  return { certificates, keys, rejected };
}

function passes(cert: CertificateInfo, options: CertificateCheckOptions): boolean {
  try {
    validateCertificate(cert, options);
    return true;
  } catch {
    return false;
  }
}

/**
 * tuf/utils/x509.go CertBundleToKey: an `ecdsa-x509`/`rsa-x509` key whose public bytes are the
 * PEM encoding of leaf then intermediates. Its keyId() is what `certs` trust pinning compares
 * (trustpin.go certsCheck). Null for other key algorithms (Go returns an error).
 */
export function certBundleKey(leaf: CertificateInfo, intermediates: readonly CertificateInfo[]): PublicKeyRecord | null {
  const algorithm = leaf.publicKey.algorithm;
  const keytype = algorithm === 'rsa' ? 'rsa-x509' : algorithm === 'ecdsa' ? 'ecdsa-x509' : null;
  if (keytype === null) return null;
  const pem = [leaf, ...intermediates].map((c) => encodePem('CERTIFICATE', c.der)).join('');
  return { keytype, public: Buffer.from(pem, 'latin1') };
}

/**
 * tuf/utils/x509.go X509PublicKeyID (the "canonical" key ID): for an x509 key, the ID of the
 * bare public key of its first parsable CERTIFICATE block, typed `ecdsa` or `rsa`; for any other
 * key, keyId(key). Notary's keystore names x509 root keys by this ID.
 */
export function canonicalKeyId(key: PublicKeyRecord): string {
  if (key.keytype !== 'ecdsa-x509' && key.keytype !== 'rsa-x509') return keyId(key);
  const { blocks } = decodePemBlocks(key.public, DEFAULTS.notary.maxCertificatesPerBundle);
  for (const block of blocks) {
    if (block.type !== 'CERTIFICATE' || block.headers.size !== 0) continue;
    let cert: CertificateInfo;
    try {
      cert = parseX509Certificate(block.bytes);
    } catch {
      continue; // LoadCertFromPEM skips certificates that do not parse
    }
    // Go x509.MarshalPKIXPublicKey re-encodes the key: export it rather than reuse the cert's bytes.
    const spki = cert.publicKey.key.export({ format: 'der', type: 'spki' });
    return keyId({ keytype: key.keytype === 'ecdsa-x509' ? 'ecdsa' : 'rsa', public: spki });
  }
  throw new TrustError('bad_certificate', 'no certificates found in PEM data');
}
