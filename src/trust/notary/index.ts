/**
 * Public surface of the Notary v1 (Docker Content Trust) verification building blocks: pure,
 * synchronous functions the updater composes. See each module for the Notary source it follows.
 */
export { TrustError, isTrustError, type TrustErrorCode } from './errors.js';
export { NOTARY_LIMITS } from './limits.js';
export { parseJson, isJsonObject, type JsonValue, type JsonObject, type ParseJsonOptions } from './json-parse.js';
export { canonicalize } from './canonical-json.js';
export {
  keyId,
  parsePublicKey,
  publicKeyRecordSchema,
  KEY_TYPES,
  type KnownKeyType,
  type PublicKeyRecord,
  type ParsedPublicKey,
} from './keys.js';
export {
  verifySignature,
  isValidSignature,
  verifySignatures,
  SIGNATURE_METHODS,
  type SignatureMethod,
  type SignatureEntry,
  type SignedWrapperView,
  type RoleThreshold,
} from './verify-signature.js';
export { parseCertificate, parseCertificateBundle, type CertificateInfo } from './x509.js';
export {
  matchCommonNameToGun,
  validateCertificate,
  checkRootCertificate,
  rootCertificateKeys,
  certBundleKey,
  canonicalKeyId,
  type CertificateCheckOptions,
  type RootCertificate,
  type RootCertificateKeys,
  type RootKeysView,
} from './certificates.js';
export { verifyCertificateChain, EKU_ANY, EKU_CODE_SIGNING, EKU_SERVER_AUTH, type ChainOptions } from './certificate-chain.js';
export {
  parseSigned,
  hashStructureProblem,
  signatureSchema,
  fileMetaSchema,
  type Signature,
  type FileMeta,
  type SignedCommon,
  type RoleKeys,
  type Root,
  type DelegationRole,
  type Targets,
  type Snapshot,
  type Timestamp,
  type SignedMetadata,
  type MetadataFor,
} from './metadata.js';
export { checkNotExpired, checkVersion, checkHashes, checkLength } from './metadata-checks.js';
export { BASE_ROLES, isDelegationName, isValidRoleName, isTargetsRole, delegationNameProblem, type BaseRoleName } from './role-names.js';
export { parseRfc3339 } from './rfc3339.js';
