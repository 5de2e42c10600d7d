import { DEFAULTS } from '../../config/defaults.js';
/**
 * Certificate chain building with the parts of Go's crypto/x509 Certificate.Verify that trust
 * formats rely on (verify.go buildChains, isValid, checkChainForKeyUsage):
 * - every certificate of the chain must be valid at `now` (no leeway);
 * - a parent must be a CA (basicConstraints cA; a v3 certificate without basicConstraints may
 *   not sign), must allow keyCertSign when it has a keyUsage extension, must honour its
 *   pathLenConstraint, and must have issued the child (CertificateInfo.isIssuedBy);
 * - a child signed with MD2, MD5 or SHA-1 is refused (Go: InsecureAlgorithmError);
 * - the chain must allow every requested extended key usage (EKU.any requests none);
 * - at most `maxSignatureChecks` signature checks are spent (Go: maxChainSignatureChecks).
 * Name constraints and certificate policies are not checked.
 */
import { isInsecureSignature } from './algorithms.js';
import { EKU, KEY_USAGE, type CertificateInfo } from './certificate.js';
import { X509Error } from './errors.js';

export interface ChainBuildOptions {
  /** the injected clock */
  readonly now: Date;
  /**
   * extended key usages the chain must allow; [EKU.any] accepts any. Go's Verify requests
   * [EKU.serverAuth] when given none: callers that mirror Go pass that themselves.
   */
  readonly keyUsages: readonly string[];
  /** a chain is extended only while it holds at most this many certificates */
  readonly maxDepth: number;
  /** signature checks before giving up (default DEFAULTS.x509MaxChainSignatureChecks) */
  readonly maxSignatureChecks?: number;
}

/**
 * Finds a chain leaf → … → one of `roots` (a root is any certificate of `roots`, matched by
 * DER), using `intermediates` as needed, and returns it leaf first. Throws X509Error('expired')
 * when the leaf is outside its validity period, X509Error('no_chain') when no chain qualifies.
 */
export function buildChain(
  leaf: CertificateInfo,
  intermediates: readonly CertificateInfo[],
  roots: readonly CertificateInfo[],
  options: ChainBuildOptions,
): CertificateInfo[] {
  const now = options.now.getTime();
  if (!validAt(leaf, now)) throw new X509Error('expired', 'leaf certificate is not valid at this time');
  const budget = options.maxSignatureChecks ?? DEFAULTS.x509MaxChainSignatureChecks;
  let checks = 0;
  const issued = new Map<CertificateInfo, Map<CertificateInfo, boolean>>();
  // A parent/child signature is checked once, however many paths reach the pair.
  const isIssuedBy = (child: CertificateInfo, parent: CertificateInfo): boolean => {
    let byParent = issued.get(child);
    if (byParent === undefined) {
      byParent = new Map<CertificateInfo, boolean>();
      issued.set(child, byParent);
    }
    let result = byParent.get(parent);
    if (result === undefined) {
      if (++checks > budget) throw new X509Error('no_chain', 'signature check limit reached while building the chain');
      result = child.isIssuedBy(parent);
      byParent.set(parent, result);
    }
    return result;
  };
  const candidates = [...roots, ...intermediates];

  const search = (chain: CertificateInfo[]): CertificateInfo[] | null => {
    const child = chain[chain.length - 1] as CertificateInfo;
    if (roots.some((r) => r.der.equals(child.der))) {
      return keyUsageAllowed(chain, options.keyUsages) ? chain : null;
    }
    if (chain.length > options.maxDepth) return null;
    for (const parent of candidates) {
      if (chain.some((c) => c.der.equals(parent.der))) continue;
      if (!mayIssue(parent, child, chain.length - 1, now)) continue;
      if (!isIssuedBy(child, parent)) continue;
      const found = search([...chain, parent]);
      if (found !== null) return found;
    }
    return null;
  };
  const chain = search([leaf]);
  if (chain === null) throw new X509Error('no_chain', 'no valid certificate chain from the leaf to a trusted root');
  return chain;
}

function validAt(cert: CertificateInfo, now: number): boolean {
  return cert.notBefore.getTime() <= now && now <= cert.notAfter.getTime();
}

/** Go isValid for a candidate parent with `intermediatesBelow` CAs under it, and the child's algorithm. */
function mayIssue(parent: CertificateInfo, child: CertificateInfo, intermediatesBelow: number, now: number): boolean {
  const bc = parent.basicConstraints;
  if ((parent.version === 3 && bc === undefined) || (bc !== undefined && !bc.ca)) return false;
  // Go: KeyUsage != 0 && KeyUsage&KeyUsageCertSign == 0 (an all-zero keyUsage counts as absent).
  if (parent.keyUsage !== undefined && parent.keyUsage !== 0 && (parent.keyUsage & KEY_USAGE.keyCertSign) === 0) return false;
  if (bc?.pathLen !== undefined && bc.pathLen >= 0 && intermediatesBelow > bc.pathLen) return false;
  if (!validAt(parent, now)) return false;
  return !isInsecureSignature(child.signatureAlgorithm);
}

/** Go checkChainForKeyUsage. */
function keyUsageAllowed(chain: readonly CertificateInfo[], requested: readonly string[]): boolean {
  if (requested.length === 1 && requested[0] === EKU.any) return true;
  const remaining = new Set(requested);
  for (let i = chain.length - 1; i >= 0; i--) {
    const usages = (chain[i] as CertificateInfo).extKeyUsage;
    if (usages.length === 0 || usages.includes(EKU.any)) continue;
    for (const wanted of [...remaining]) {
      if (!usages.includes(wanted)) remaining.delete(wanted);
    }
    if (remaining.size === 0) return false;
  }
  return true;
}
