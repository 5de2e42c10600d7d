/**
 * Public surface of the X.509 building blocks shared by the trust formats (Notary v1 root
 * certificates, cosign, Notation): certificate parsing into immutable validated objects, Go's
 * PEM decoding, and chain building with Go's Verify rules. Pure and synchronous: the clock is
 * always injected.
 */
export { X509Error, isX509Error, type X509ErrorCode } from './errors.js';
export {
  CertificateInfo,
  parseCertificate,
  parseCertificatePem,
  parseCertificateBundle,
  EKU,
  KEY_USAGE,
  type BasicConstraints,
  type BundleOptions,
  type CertificateExtension,
  type SubjectAltName,
} from './certificate.js';
export type { DistinguishedName } from './names.js';
export {
  describeSignatureAlgorithm,
  isInsecureSignature,
  type CertificatePublicKey,
  type PublicKeyAlgorithm,
  type SignatureAlgorithm,
  type SignatureHash,
} from './algorithms.js';
export { buildChain, type ChainBuildOptions } from './chain.js';
export { decodePemBlocks, decodeFirstPemBlock, encodePem, type PemBlock } from './pem.js';
