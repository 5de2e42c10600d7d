import { bundleToJSON, type Bundle } from '@sigstore/bundle';
import { DSSEBundleBuilder, FulcioSigner, RekorWitness, TSAWitness, type Signer, type Witness } from '@sigstore/sign';
import { ARTIFACT_TYPES } from './artifacts.js';
import { MEDIA_TYPES } from './images.js';
import type { ValidityWindow } from './cosign-fulcio.js';
import { signWithKey, type CosignKey } from './cosign-keys.js';
import { addToReferrersTag, goDescriptor, goJson, goMap, pushWithBlobs, registryHost, type GoDescriptor, type SignedImage } from './cosign-oci.js';
import type { MockRekor, MockSigstore, MockTsa } from './cosign-sigstore.js';
import type { RegistryTarget } from './registry-client.js';
import { sha256Digest } from './streams.js';

/**
 * cosign 3's default signatures and attestations: a Sigstore bundle v0.3 holding a DSSE envelope
 * of an in-toto statement, attached as an OCI 1.1 referrer (cosign pkg/oci/remote/write.go
 * WriteAttestationNewBundleFormat / WriteReferrer) and listed in the referrers tag schema index,
 * since distribution 2.8 has no referrers API. Bundles are made by @sigstore/sign (the client
 * sigstore-js ships), with a key or with the mock Fulcio, Rekor and TSA of cosign-sigstore.ts.
 */

/** cosign sign's predicate type (pkg/types/predicate.go CosignSignPredicateType). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** Predicate types of `cosign attest --type` (pkg/cosign/attestation): none of them is a signature. */
export const PREDICATE_TYPES = {
  slsaProvenance02: 'https://slsa.dev/provenance/v0.2',
  slsaProvenance1: 'https://slsa.dev/provenance/v1',
  spdx: 'https://spdx.dev/Document',
  cyclonedx: 'https://cyclonedx.org/bom',
  vuln: 'https://cosign.sigstore.dev/attestation/vuln/v1',
  openvex: 'https://openvex.dev/ns',
} as const;

/** The annotations of a bundle referrer manifest. */
export const BUNDLE_ANNOTATIONS = {
  content: 'dev.sigstore.bundle.content',
  predicateType: 'dev.sigstore.bundle.predicateType',
  created: 'org.opencontainers.image.created',
} as const;

export interface StatementOptions {
  /** Makes an attestation (`cosign attest`) of this type instead of a signature. */
  predicateType?: string;
  /** The attestation's predicate (default `{}`); a signature's is always `{}`. */
  predicate?: Record<string, unknown>;
  /** The digest the statement's subject names (default: the image's): a bundle about another image. */
  subjectDigest?: string;
  /** An attestation subject's `name` (default `<registry host>/<repo>`, as cosign attest writes it). */
  subjectName?: string;
}

export interface BundleOptions extends StatementOptions {
  /** `org.opencontainers.image.created` of the referrer manifest (default: now). */
  created?: Date;
}

export interface KeyBundleOptions extends BundleOptions {
  /** Log the envelope (a Rekor v1 `dsse` entry: SET and inclusion proof in the bundle). */
  tlog?: MockRekor;
  /** Add an RFC 3161 timestamp of the signature. */
  tsa?: MockTsa;
}

export interface KeylessIdentity {
  /** The OIDC issuer: the certificate's 1.3.6.1.4.1.57264.1.8 (and legacy .1.1). */
  issuer: string;
  /** The SAN: an email address, or a URI such as a GitHub workflow ref. */
  subject: string;
  /** More token claims, which Fulcio turns into extensions (repository, ref, sha, workflow_ref, ...). */
  claims?: Record<string, string>;
}

export interface KeylessBundleOptions extends BundleOptions {
  sigstore: MockSigstore;
  /** Default true: log the envelope in the mock Rekor (integrated time, SET, inclusion proof). */
  tlog?: boolean;
  /** Default false: add an RFC 3161 timestamp from the mock TSA. */
  tsa?: boolean;
  /**
   * The leaf certificate's validity (default: now, for 10 minutes). A window in the past with
   * `tlog: false, tsa: false` gives a bundle whose certificate has expired and no signed time.
   */
  certificateWindow?: ValidityWindow;
}

export interface PushedBundle {
  /** The bundle as pushed (Sigstore bundle JSON). */
  bundle: Record<string, unknown>;
  bundleBytes: Buffer;
  /** The DSSE payload: the in-toto statement. */
  statement: Buffer;
  predicateType: string;
  /** The referrer manifest and its digest. */
  manifest: Buffer;
  manifestDigest: string;
  /** Its entry in the referrers tag schema index. */
  descriptor: GoDescriptor;
  /** `sha256-<hex>` of the image, and the index pushed under it (undefined where the registry has the referrers API). */
  indexTag: string;
  index: Buffer | undefined;
}

/**
 * The in-toto statement cosign signs. `cosign sign` marshals an in-toto v1 Statement with protojson
 * (cmd/cosign/cli/sign/sign.go signDigestBundle): a subject with the digest and empty annotations,
 * no name, and an empty predicate. `cosign attest` builds a v0.1 Statement whose subject is named
 * after the repository (pkg/cosign/attestation GenerateStatement). Fields in protobuf field order.
 */
export function inTotoStatement(registry: RegistryTarget, repo: string, digest: string, opts: StatementOptions = {}): Buffer {
  const [algorithm = 'sha256', hex = ''] = digest.split(':');
  const predicateType = opts.predicateType ?? COSIGN_SIGN_PREDICATE;
  if (predicateType === COSIGN_SIGN_PREDICATE) {
    return goJson({ _type: 'https://in-toto.io/Statement/v1', subject: [{ digest: { [algorithm]: hex }, annotations: {} }], predicateType, predicate: {} });
  }
  return goJson({
    _type: 'https://in-toto.io/Statement/v0.1',
    subject: [{ name: opts.subjectName ?? `${registryHost(registry)}/${repo}`, digest: { [algorithm]: hex } }],
    predicateType,
    predicate: opts.predicate ?? {},
  });
}

/** sigstore-go writes no DSSE `keyid` and leaves empty lists out; sigstore-js writes both. */
function asCosignWrites(bundle: Bundle): Record<string, unknown> {
  const json = bundleToJSON(bundle) as unknown as Record<string, unknown> & {
    verificationMaterial: Record<string, unknown> & { tlogEntries?: unknown[]; timestampVerificationData?: { rfc3161Timestamps?: unknown[] } };
    dsseEnvelope?: { signatures: Array<{ keyid?: string; sig: string }> };
  };
  for (const sig of json.dsseEnvelope?.signatures ?? []) delete sig.keyid;
  const material = json.verificationMaterial;
  if (!material.tlogEntries?.length) delete material.tlogEntries;
  if (!material.timestampVerificationData?.rfc3161Timestamps?.length) delete material.timestampVerificationData;
  return json;
}

function rfc3339Seconds(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** Pushes `bundleBytes` as cosign's referrer of `image` and lists it in the referrers tag schema. */
async function attach(registry: RegistryTarget, repo: string, image: SignedImage, bundleBytes: Buffer, predicateType: string, created: Date) {
  const emptyConfig = Buffer.from('{}');
  const bundleType = ARTIFACT_TYPES.sigstoreBundle;
  // referrerManifest: ggcr v1.Manifest's fields, then cosign's own artifactType; the config
  // descriptor carries the artifactType too (cosign sets it there).
  const manifest = goJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: goDescriptor({ mediaType: ARTIFACT_TYPES.ociEmpty, size: emptyConfig.length, digest: sha256Digest(emptyConfig), artifactType: bundleType }),
    layers: [goDescriptor({ mediaType: bundleType, size: bundleBytes.length, digest: sha256Digest(bundleBytes) })],
    annotations: goMap({
      [BUNDLE_ANNOTATIONS.created]: rfc3339Seconds(created),
      [BUNDLE_ANNOTATIONS.content]: 'dsse-envelope',
      [BUNDLE_ANNOTATIONS.predicateType]: predicateType,
    }),
    subject: goDescriptor({ mediaType: image.mediaType, size: image.size, digest: image.digest }),
    artifactType: bundleType,
  });
  const manifestDigest = await pushWithBlobs(registry, repo, undefined, manifest, [emptyConfig, bundleBytes]);
  // ggcr's fallback-tag descriptor: media type, size, digest and artifactType; no annotations.
  const descriptor = goDescriptor({ mediaType: MEDIA_TYPES.ociManifest, size: manifest.length, digest: manifestDigest, artifactType: bundleType });
  const { tag, index } = await addToReferrersTag(registry, repo, image.digest, descriptor);
  return { manifest, manifestDigest, descriptor, indexTag: tag, index };
}

async function buildAndAttach(
  registry: RegistryTarget,
  repo: string,
  image: SignedImage,
  signer: Signer,
  witnesses: Witness[],
  opts: BundleOptions,
): Promise<PushedBundle> {
  const statement = inTotoStatement(registry, repo, opts.subjectDigest ?? image.digest, opts);
  const predicateType = opts.predicateType ?? COSIGN_SIGN_PREDICATE;
  const built = await new DSSEBundleBuilder({ signer, witnesses }).create({ data: statement, type: ARTIFACT_TYPES.inToto });
  const bundle = asCosignWrites(built);
  const bundleBytes = goJson(bundle);
  const attached = await attach(registry, repo, image, bundleBytes, predicateType, opts.created ?? new Date());
  return { bundle, bundleBytes, statement, predicateType, ...attached };
}

/** `cosign sign --key` (or `cosign attest --key` with `predicateType`), cosign 3's bundle format. */
export async function signBundleWithKey(
  registry: RegistryTarget,
  repo: string,
  image: SignedImage,
  key: CosignKey,
  opts: KeyBundleOptions = {},
): Promise<PushedBundle> {
  const signer: Signer = {
    sign: async (data) => ({ signature: signWithKey(key, data), key: { $case: 'publicKey', publicKey: key.publicKeyPem, hint: key.hint } }),
  };
  const witnesses: Witness[] = [];
  if (opts.tlog) witnesses.push(new RekorWitness({ rekorBaseURL: opts.tlog.url, entryType: 'dsse' }));
  if (opts.tsa) witnesses.push(new TSAWitness({ tsaBaseURL: opts.tsa.url }));
  return buildAndAttach(registry, repo, image, signer, witnesses, opts);
}

/** An unsigned OIDC token carrying `identity` (the mock Fulcio reads the claims, it checks no signature). */
function identityToken(identity: KeylessIdentity): string {
  const email = /^[^@\s:/]+@[^@\s:/]+$/.test(identity.subject);
  const claims = {
    ...identity.claims,
    iss: identity.issuer,
    sub: identity.subject,
    aud: 'sigstore',
    ...(email ? { email: identity.subject, email_verified: true } : {}),
  };
  const part = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/** `cosign sign` (or `cosign attest` with `predicateType`) with an ephemeral key and a Fulcio certificate for `identity`. */
export async function signBundleKeyless(
  registry: RegistryTarget,
  repo: string,
  image: SignedImage,
  identity: KeylessIdentity,
  opts: KeylessBundleOptions,
): Promise<PushedBundle> {
  const { sigstore } = opts;
  const token = identityToken(identity);
  const signer = new FulcioSigner({ fulcioBaseURL: sigstore.fulcio.url(opts.certificateWindow), identityProvider: { getToken: async () => token } });
  const witnesses: Witness[] = [];
  if (opts.tlog ?? true) witnesses.push(new RekorWitness({ rekorBaseURL: sigstore.rekor.url, entryType: 'dsse' }));
  if (opts.tsa ?? false) witnesses.push(new TSAWitness({ tsaBaseURL: sigstore.tsa.url }));
  return buildAndAttach(registry, repo, image, signer, witnesses, opts);
}
