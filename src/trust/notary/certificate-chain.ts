/**
 * Chain verification for `ca` trust pinning (Notary: trustpinning/trustpin.go caCheck, which
 * calls Go's `leafCert.Verify(x509.VerifyOptions{Roots, Intermediates})`). Reproduces the parts of
 * Go's crypto/x509 Verify that matter for Notary root certificates:
 * - every certificate of the chain must be valid at `now` (no leeway, unlike ValidateCertificate);
 * - a parent must be a CA (basicConstraints cA; a v3 certificate without basicConstraints may not
 *   sign), must allow keyCertSign when it has a keyUsage extension, and must have signed the child
 *   (CheckSignatureFrom); SHA-1 and MD5/MD2 signatures are refused (Go: InsecureAlgorithmError);
 * - pathLenConstraint of each CA is honoured;
 * - extended key usage: Go's default request is serverAuth when VerifyOptions.KeyUsages is empty —
 *   and Notary leaves it empty, so a leaf whose EKU lists only codeSigning fails Go's check. The
 *   default here is the same; pass `[EKU_ANY]` to accept every usage.
 * Name constraints and policy checks are not implemented (Notary CA bundles rarely use them).
 */
import { TrustError } from './errors.js';
import { NOTARY_LIMITS } from './limits.js';
import type { CertificateInfo } from './x509.js';

export const EKU_SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
export const EKU_CODE_SIGNING = '1.3.6.1.5.5.7.3.3';
export const EKU_ANY = '2.5.29.37.0';

/** Signature algorithms Go's CheckSignature refuses: MD2, MD5 and the SHA-1 family. */
const INSECURE_SIGNATURE_OIDS: ReadonlySet<string> = new Set([
  '1.2.840.113549.1.1.2',
  '1.2.840.113549.1.1.4',
  '1.2.840.113549.1.1.5',
  '1.3.14.3.2.29',
  '1.2.840.10040.4.3',
  '1.2.840.10045.4.1',
]);

export interface ChainOptions {
  /** the injected clock */
  readonly now: Date;
  /** requested extended key usages (OIDs); defaults to [EKU_SERVER_AUTH], Go's default */
  readonly keyUsages?: readonly string[];
}

/**
 * Finds a chain leaf → … → one of `roots`, using `intermediates` as needed, and returns it
 * (leaf first). Throws TrustError('bad_certificate') when no acceptable chain exists, or
 * TrustError('expired') when the only obstacle is the leaf's validity period.
 */
export function verifyCertificateChain(
  leaf: CertificateInfo,
  intermediates: readonly CertificateInfo[],
  roots: readonly CertificateInfo[],
  options: ChainOptions,
): CertificateInfo[] {
  const now = options.now.getTime();
  if (!validAt(leaf, now)) throw new TrustError('expired', 'leaf certificate is not valid at this time');
  const keyUsages = options.keyUsages ?? [EKU_SERVER_AUTH];
  const maxDepth = NOTARY_LIMITS.maxCertificatesPerBundle;

  const search = (chain: CertificateInfo[]): CertificateInfo[] | null => {
    const child = chain[chain.length - 1] as CertificateInfo;
    if (roots.some((r) => r.der.equals(child.der))) {
      return keyUsageAllowed(chain, keyUsages) ? chain : null;
    }
    if (chain.length > maxDepth) return null;
    const candidates = [...roots, ...intermediates];
    for (const parent of candidates) {
      if (chain.some((c) => c.der.equals(parent.der))) continue;
      if (!canSign(parent, child, chain.length - 1, now)) continue;
      const found = search([...chain, parent]);
      if (found !== null) return found;
    }
    return null;
  };
  const chain = search([leaf]);
  if (chain === null) {
    throw new TrustError('bad_certificate', 'no valid certificate chain from the leaf to a pinned CA');
  }
  return chain;
}

function validAt(cert: CertificateInfo, now: number): boolean {
  return cert.notBefore.getTime() <= now && now <= cert.notAfter.getTime();
}

/** Go CheckSignatureFrom + isValid for a candidate parent with `intermediatesBelow` CAs under it. */
function canSign(parent: CertificateInfo, child: CertificateInfo, intermediatesBelow: number, now: number): boolean {
  if ((parent.version === 3 && !parent.basicConstraintsValid) || (parent.basicConstraintsValid && !parent.isCA)) {
    return false;
  }
  if (parent.keyUsagePresent && !parent.keyUsageCertSign) return false;
  if (parent.basicConstraintsValid && parent.maxPathLen >= 0 && intermediatesBelow > parent.maxPathLen) return false;
  if (!validAt(parent, now)) return false;
  if (INSECURE_SIGNATURE_OIDS.has(child.signatureAlgorithmOid)) return false;
  try {
    return child.x509.checkIssued(parent.x509) && child.x509.verify(parent.x509.publicKey);
  } catch {
    return false;
  }
}

/** Go checkChainForKeyUsage. */
function keyUsageAllowed(chain: readonly CertificateInfo[], requested: readonly string[]): boolean {
  if (requested.length === 1 && requested[0] === EKU_ANY) return true;
  const remaining = new Set(requested);
  for (let i = chain.length - 1; i >= 0; i--) {
    const usages = (chain[i] as CertificateInfo).extKeyUsageOids;
    if (usages.length === 0 || usages.includes(EKU_ANY)) continue;
    for (const wanted of [...remaining]) {
      if (!usages.includes(wanted)) remaining.delete(wanted);
    }
    if (remaining.size === 0) return false;
  }
  return true;
}
