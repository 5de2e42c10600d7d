/**
 * Root validation (Notary: trustpinning/certs.go ValidateRoot, trustpinning/trustpin.go).
 * A root is trusted when its own root-role certificates (valid, CN = GUN) reach its threshold;
 * at first bootstrap at least one of those certificates must also pass the trust pinning (key
 * IDs, else a CA, else trust-on-first-use if allowed); on a rotation the new root must also
 * carry the previous root's threshold of signatures by the previous root's certificates,
 * whose expiry is not enforced (a previously trusted root may have expired certificates).
 */
import { TrustError } from './errors.js';
import { canonicalKeyId, certBundleKey, parseCertificateBundle, rootCertificateKeys, type CertificateInfo } from './certificates.js';
import { verifyCertificateChain } from './certificate-chain.js';
import { keyId, type PublicKeyRecord } from './keys.js';
import { parseSigned, type Root, type SignedMetadata } from './metadata.js';
import { verifySignatures } from './verify-signature.js';

export interface RootPinning {
  /** Root key IDs: the certificate-bundle ID of root.json, or the canonical ID `notary key list` shows. */
  keyIds: readonly string[];
  /** PEM CA bundles. */
  caPems: ReadonlyArray<{ path: string; pem: string }>;
  tofu: boolean;
}

export interface TrustedRoot {
  bytes: Buffer;
  metadata: SignedMetadata<Root>;
}

/** Thrown when no pinning rule accepts a first root: the policy has to say which root to trust. */
export class RootNotPinnedError extends TrustError {
  constructor(message: string) {
    super('not_pinned', message);
    this.name = 'RootNotPinnedError';
  }
}

/**
 * Validates `bytes` as the root of `gun`. `previous` is the currently trusted root (undefined at
 * first bootstrap, when `pinning` applies). Does not check expiry or version: the caller does,
 * because a cached root is loaded even when expired (client.go bootstrapClient).
 */
export function validateRoot(bytes: Buffer, gun: string, previous: TrustedRoot | undefined, pinning: RootPinning | undefined, now: Date): TrustedRoot {
  const metadata = parseSigned(bytes, 'root');
  const root = metadata.signed;
  const threshold = root.roles.get('root')?.threshold ?? 0;
  const current = rootCertificateKeys(root, gun, { now, checkExpiry: true, filterIntermediates: true });

  if (previous) {
    const prev = previous.metadata.signed;
    let trusted: ReturnType<typeof rootCertificateKeys>;
    try {
      trusted = rootCertificateKeys(prev, gun, { now, checkExpiry: false, filterIntermediates: false });
    } catch (err) {
      throw new TrustError('threshold', `root rotation for ${gun}: the trusted root has no usable certificates`, { cause: err });
    }
    try {
      verifySignatures(metadata, { keyids: [...trusted.keys.keys()], threshold: prev.roles.get('root')?.threshold ?? 1 }, trusted.keys);
    } catch (err) {
      throw new TrustError('threshold', `root version ${root.version} of ${gun} is not signed by the trusted root's keys (rotation refused)`, { cause: err });
    }
  }

  let keys: ReadonlyMap<string, PublicKeyRecord> = current.keys;
  if (!previous) {
    keys = pinnedKeys(current, gun, pinning, now);
  }
  verifySignatures(metadata, { keyids: [...keys.keys()], threshold }, keys);
  return { bytes, metadata };
}

/** trustpin.go NewTrustPinChecker at first bootstrap: certs, else CA, else TOFU if allowed. */
function pinnedKeys(current: ReturnType<typeof rootCertificateKeys>, gun: string, pinning: RootPinning | undefined, now: Date): Map<string, PublicKeyRecord> {
  const accepted = new Map<string, PublicKeyRecord>();
  const keyFor = (cert: { leaf: CertificateInfo; intermediates: readonly CertificateInfo[] }): PublicKeyRecord | null =>
    certBundleKey(cert.leaf, cert.intermediates);
  if (pinning && pinning.keyIds.length > 0) {
    for (const cert of current.certificates.values()) {
      const key = keyFor(cert);
      if (key && (pinning.keyIds.includes(keyId(key)) || pinning.keyIds.includes(canonicalKeyId(key)))) accepted.set(keyId(key), key);
    }
    if (accepted.size === 0) {
      throw new RootNotPinnedError(`the root keys of ${gun} (${[...current.certificates.keys()].join(', ')}) are not among the pinned root key IDs`);
    }
    return accepted;
  }
  if (pinning && pinning.caPems.length > 0) {
    const roots = pinning.caPems.flatMap((ca) => parseCertificateBundle(Buffer.from(ca.pem)));
    const failures: string[] = [];
    for (const [id, cert] of current.certificates) {
      try {
        verifyCertificateChain(cert.leaf, cert.intermediates, roots, { now });
        const key = keyFor(cert);
        if (key) accepted.set(keyId(key), key);
      } catch (err) {
        failures.push(`${id}: ${(err as Error).message}`);
      }
    }
    if (accepted.size === 0) {
      throw new RootNotPinnedError(
        `no root certificate of ${gun} chains to the pinned CA (${pinning.caPems.map((c) => c.path).join(', ')}): ${failures.join('; ')}`,
      );
    }
    return accepted;
  }
  if (pinning?.tofu) return new Map(current.keys);
  throw new RootNotPinnedError(`the root of ${gun} is not pinned and trust on first use is off`);
}
