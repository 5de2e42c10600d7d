/**
 * Images signed the way cosign signs them, without a cosign binary: what tests of Signet's cosign
 * support push to a real registry and pull through Signet.
 *
 *   const key = cosignKeyPair('ecdsa-p256');              // cosign.pub: await key.writePublicKey(dir)
 *   const sigstore = await startMockSigstore();           // once per file; stop() in after()
 *   await signLegacy(registry, repo, image, key);         // `sha256-<hex>.sig`, cosign < 3 / --new-bundle-format=false
 *   await signBundleWithKey(registry, repo, image, key, { tlog: sigstore.rekor });      // cosign 3 referrer
 *   await signBundleKeyless(registry, repo, image, { issuer, subject }, { sigstore });   // Fulcio certificate
 *   await writeTrustedRoot(sigstore, dir);                // trusted_root.json for keyless and log checks
 *
 * `image` is any `{ digest, mediaType, size }` (a PushedImage from images.ts). Signing the same
 * image from two places at once races on the `.sig` tag and the referrers tag schema index, as
 * cosign itself does: sign one image at a time.
 *
 * Where cosign and @sigstore/verify 3.1 disagree, cosign wins here: Ed25519 keys sign Ed25519ph
 * (cosign's default) and P-384 keys sign with SHA-384, which @sigstore/verify's DSSE check (pure
 * Ed25519, SHA-256 for every EC key) does not accept; `signWithKey`/`verifyWithKey` and
 * cosign-ed25519ph.ts check them.
 */
export {
  cosignKeyPair,
  opensslKeyPair,
  signWithKey,
  verifyWithKey,
  type CosignKey,
  type CosignKeyKind,
  type CosignKeyOptions,
  type SigningAlgorithm,
} from './cosign-keys.js';
export { signEd25519ph, verifyEd25519ph } from './cosign-ed25519ph.js';
export {
  startMockSigstore,
  mockTrustedRoot,
  writeTrustedRoot,
  type MockRekor,
  type MockSigstore,
  type MockTsa,
  type RekorLogEntry,
  type TrustedRootOptions,
  type TrustedRootPart,
} from './cosign-sigstore.js';
export type { ValidityWindow } from './cosign-fulcio.js';
export { referrersTag, type GoDescriptor, type SignedImage } from './cosign-oci.js';
export {
  LEGACY_ANNOTATIONS,
  legacySignatureTag,
  readLegacySignatures,
  signLegacy,
  simpleSigningPayload,
  type LegacyOptions,
  type LegacySignature,
  type RekorBundleAnnotation,
} from './cosign-legacy.js';
export {
  BUNDLE_ANNOTATIONS,
  COSIGN_SIGN_PREDICATE,
  PREDICATE_TYPES,
  inTotoStatement,
  signBundleKeyless,
  signBundleWithKey,
  type BundleOptions,
  type KeyBundleOptions,
  type KeylessBundleOptions,
  type KeylessIdentity,
  type PushedBundle,
  type StatementOptions,
} from './cosign-bundle.js';
