/**
 * Chain verification for `ca` trust pinning (Notary: trustpinning/trustpin.go caCheck, which
 * calls Go's `leafCert.Verify(x509.VerifyOptions{Roots, Intermediates})`). The chain rules of
 * Go's Verify (validity at `now` with no leeway, CA and keyCertSign parents, pathLenConstraint,
 * no SHA-1/MD5 signatures, extended key usage) are in the shared ../x509/chain.ts; what is
 * Notary's here is the request it makes:
 * - extended key usage: Go's default request is serverAuth when VerifyOptions.KeyUsages is empty —
 *   and Notary leaves it empty, so a leaf whose EKU lists only codeSigning fails Go's check. The
 *   default here is the same; pass `[EKU_ANY]` to accept every usage;
 * - a chain holds at most DEFAULTS.notary.maxCertificatesPerBundle certificates before its root.
 */
import { EKU, type CertificateInfo } from '../x509/certificate.js';
import { buildChain } from '../x509/chain.js';
import { isX509Error } from '../x509/errors.js';
import { TrustError } from './errors.js';
import { DEFAULTS } from '../../config/defaults.js';

export const EKU_SERVER_AUTH = EKU.serverAuth;
export const EKU_CODE_SIGNING = EKU.codeSigning;
export const EKU_ANY = EKU.any;

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
  try {
    return buildChain(leaf, intermediates, roots, {
      now: options.now,
      keyUsages: options.keyUsages ?? [EKU_SERVER_AUTH],
      maxDepth: DEFAULTS.notary.maxCertificatesPerBundle,
    });
  } catch (err) {
    if (isX509Error(err, 'expired')) throw new TrustError('expired', 'leaf certificate is not valid at this time', { cause: err });
    throw new TrustError('bad_certificate', 'no valid certificate chain from the leaf to a pinned CA', { cause: err });
  }
}
