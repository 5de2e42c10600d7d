import { baseMediaType, checkAnnotations, checkDescriptor, isObject, type Descriptor } from './descriptors.js';
import { IMAGE_PART_MEDIA_TYPES, MEDIA_TYPES, SIGNATURE_MEDIA_TYPES } from './media-types.js';
import { parseDigest } from './names.js';

/**
 * What a signature or attestation artifact is, and whether Signet may serve it as one: pure
 * functions over a manifest already fetched by digest and hashed. The policy serves an artifact
 * of an admitted subject only when it cannot be run as an image, so that "this is a signature"
 * never becomes a way to pull an unsigned image.
 */

/** The formats Signet recognises, by what their manifests carry. */
export type SignatureFormat =
  /** Sigstore bundle layers (cosign v3, and cosign v2 with --new-bundle-format). */
  | 'sigstore-bundle'
  /** cosign's legacy simple-signing layers (the `.sig` tag, or cosign's OCI 1.1 referrer). */
  | 'cosign-simplesigning'
  /** DSSE envelope layers (cosign's legacy `.att` attestations, in-toto statements inside). */
  | 'dsse'
  /** A Notary Project signature (notation-go registry/repository.go signatureReferrers). */
  | 'notation';

export interface ArtifactClassification {
  /** True only when the manifest cannot be run as an image (see classifySignatureArtifact). */
  servable: boolean;
  /** Why it is or is not servable, for logs and denial messages. */
  reason: string;
  /** The recognised format, or undefined for any other artifact. */
  format: SignatureFormat | undefined;
  /** distribution-spec 1.1 "Listing Referrers": `artifactType`, else the config's mediaType. */
  artifactType: string | undefined;
  /** The digest of the manifest's `subject`, when it has a valid one. */
  subject: string | undefined;
  annotations: Record<string, string>;
}

const SIGSTORE_BUNDLE_TYPES: ReadonlySet<string> = new Set([
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV01Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV02Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03Legacy,
]);

/**
 * Layer media types whose bytes are signatures, envelopes or bundles: JSON or CBOR documents
 * that no container runtime unpacks as a filesystem.
 */
const SIGNATURE_LAYER_TYPES: ReadonlySet<string> = new Set([
  ...SIGSTORE_BUNDLE_TYPES,
  SIGNATURE_MEDIA_TYPES.cosignSimpleSigning,
  SIGNATURE_MEDIA_TYPES.dsseEnvelope,
  SIGNATURE_MEDIA_TYPES.joseEnvelope,
  SIGNATURE_MEDIA_TYPES.coseEnvelope,
]);

/** artifactType values that name a signature or attestation (what a trust source asks the referrers API for). */
export const SIGNATURE_ARTIFACT_TYPES: readonly string[] = [
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03,
  SIGNATURE_MEDIA_TYPES.cosignSignatureArtifact,
  SIGNATURE_MEDIA_TYPES.inToto,
  SIGNATURE_MEDIA_TYPES.notationSignature,
];

const IMAGE_CONFIG_TYPES: ReadonlySet<string> = new Set([
  IMAGE_PART_MEDIA_TYPES.ociImageConfig,
  IMAGE_PART_MEDIA_TYPES.dockerImageConfig,
  IMAGE_PART_MEDIA_TYPES.dockerPluginConfig,
  IMAGE_PART_MEDIA_TYPES.wasmConfig,
]);

/** A layer a runtime would unpack or execute. Compared without parameters and case (moby lowercases). */
export function isRunnableLayerType(mediaType: string): boolean {
  const base = baseMediaType(mediaType);
  return (
    base.startsWith(IMAGE_PART_MEDIA_TYPES.ociLayerPrefix) ||
    base.startsWith(IMAGE_PART_MEDIA_TYPES.dockerLayerPrefix) ||
    base === IMAGE_PART_MEDIA_TYPES.wasmLayer
  );
}

/** A config that makes a manifest an image (or a plugin, or a WebAssembly module) to a runtime. */
export function isImageConfigType(mediaType: string): boolean {
  return IMAGE_CONFIG_TYPES.has(baseMediaType(mediaType));
}

/** A layer of a known signature format. Exact match: the producers write these strings as they are. */
export function isSignatureLayerType(mediaType: string): boolean {
  return SIGNATURE_LAYER_TYPES.has(mediaType);
}

/**
 * Classifies a parsed manifest (`unknown`, as JSON.parse made it). `contentType` is the
 * upstream's Content-Type, used when the body has no mediaType (image-spec: it SHOULD be there).
 *
 * Servable means it cannot be run as an image:
 * 1. it is an image manifest (OCI or Docker schema 2), not an index, which could list images;
 * 2. its config and layers are valid descriptors;
 * 3. no layer has an image-layer media type (application/vnd.oci.image.layer.*,
 *    application/vnd.docker.image.rootfs.*, WebAssembly content);
 * 4. the config is not an image config, unless there is at least one layer and every layer is
 *    of a known signature type: cosign's legacy `.sig` and `.att` manifests carry an OCI image
 *    config over simple-signing or DSSE layers (sigstore/cosign pkg/oci/empty, static), which no
 *    runtime can unpack.
 */
export function classifySignatureArtifact(manifest: unknown, contentType?: string): ArtifactClassification {
  const refuse = (reason: string, partial: Partial<ArtifactClassification> = {}): ArtifactClassification => ({
    servable: false,
    reason,
    format: undefined,
    artifactType: undefined,
    subject: undefined,
    annotations: {},
    ...partial,
  });
  if (!isObject(manifest)) return refuse('the manifest is not a JSON object');
  const bodyType = typeof manifest['mediaType'] === 'string' ? manifest['mediaType'] : undefined;
  const mediaType = bodyType ?? (contentType === undefined ? undefined : baseMediaType(contentType));
  if (mediaType === MEDIA_TYPES.ociIndex || mediaType === MEDIA_TYPES.dockerManifestList || Array.isArray(manifest['manifests'])) {
    return refuse('an index is never served as a signature artifact: it can list runnable images');
  }
  if (mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest) {
    return refuse(`manifest media type "${mediaType ?? 'none'}" is not an OCI or Docker schema 2 image manifest`);
  }
  const annotations = checkAnnotations(manifest['annotations']);
  if (!annotations.ok) return refuse(`the manifest ${annotations.problem}`);
  let subject: string | undefined;
  if (manifest['subject'] !== undefined) {
    const checked = checkDescriptor(manifest['subject']);
    if (!checked.ok) return refuse(`the subject descriptor ${checked.problem}`);
    subject = checked.descriptor.digest;
  }
  const config = checkDescriptor(manifest['config']);
  if (!config.ok) return refuse(`the config descriptor ${config.problem}`);
  const rawLayers = manifest['layers'];
  if (!Array.isArray(rawLayers)) return refuse('the manifest has no layers array');
  const layers: Descriptor[] = [];
  for (const [i, raw] of rawLayers.entries()) {
    const checked = checkDescriptor(raw);
    if (!checked.ok) return refuse(`layer ${i} ${checked.problem}`);
    layers.push(checked.descriptor);
  }
  const rawArtifactType = manifest['artifactType'];
  if (rawArtifactType !== undefined && typeof rawArtifactType !== 'string') return refuse('the artifactType is not a string');
  const artifactType = rawArtifactType || config.descriptor.mediaType;
  const known = { artifactType, subject, annotations: annotations.annotations, format: formatOf(artifactType, config.descriptor, layers) };

  const runnable = layers.find((l) => isRunnableLayerType(l.mediaType));
  if (runnable) return refuse(`layer ${runnable.digest} has the image-layer media type ${runnable.mediaType}`, known);
  if (isImageConfigType(config.descriptor.mediaType)) {
    if (layers.length === 0 || !layers.every((l) => isSignatureLayerType(l.mediaType))) {
      return refuse(`the config has the image media type ${config.descriptor.mediaType} and not every layer is a signature`, known);
    }
    return { servable: true, reason: 'an image config over signature layers only, which no runtime can unpack', ...known };
  }
  return { servable: true, reason: `an artifact of type ${artifactType} without image layers`, ...known };
}

function formatOf(artifactType: string, config: Descriptor, layers: Descriptor[]): SignatureFormat | undefined {
  // notation-go signatureReferrers: artifactType notary.signature over the empty config, or
  // (before OCI 1.1 manifests had artifactType) the notary.signature config media type.
  if (
    artifactType === SIGNATURE_MEDIA_TYPES.notationSignature &&
    (config.mediaType === SIGNATURE_MEDIA_TYPES.ociEmpty || config.mediaType === SIGNATURE_MEDIA_TYPES.notationSignature)
  ) {
    return 'notation';
  }
  if (layers.length === 0) return undefined;
  if (layers.every((l) => SIGSTORE_BUNDLE_TYPES.has(l.mediaType))) return 'sigstore-bundle';
  if (layers.every((l) => l.mediaType === SIGNATURE_MEDIA_TYPES.cosignSimpleSigning)) return 'cosign-simplesigning';
  if (layers.every((l) => l.mediaType === SIGNATURE_MEDIA_TYPES.dsseEnvelope)) return 'dsse';
  return undefined;
}

/** The kinds of tags that stand for a digest: the OCI referrers tag, and cosign's attachment tags. */
export type SignatureTagKind = 'referrers' | 'signature' | 'attestation' | 'sbom';

const COSIGN_SUFFIXES = { sig: 'signature', att: 'attestation', sbom: 'sbom' } as const;
export type CosignTagSuffix = keyof typeof COSIGN_SUFFIXES;

const SIGNATURE_TAG = /^sha256-([a-f0-9]{64})(?:\.(sig|att|sbom))?$/;

/**
 * Recognises `sha256-<64 hex>` (distribution-spec 1.1 "Referrers Tag Schema") and
 * `sha256-<64 hex>.sig|.att|.sbom` (sigstore/cosign pkg/oci/remote: normalizeWithSeparator with
 * the default suffixes of options.go) and returns the subject digest the tag stands for.
 * sha512 referrers tags are truncated to 64 characters by the schema, so they name no digest.
 */
export function parseSignatureTag(tag: string): { kind: SignatureTagKind; subject: string } | undefined {
  const m = SIGNATURE_TAG.exec(tag);
  if (!m) return undefined;
  const suffix = m[2] as CosignTagSuffix | undefined;
  return { kind: suffix ? COSIGN_SUFFIXES[suffix] : 'referrers', subject: `sha256:${m[1] ?? ''}` };
}

/**
 * The referrers tag of a digest (distribution-spec 1.1 "Referrers Tag Schema"): the algorithm
 * truncated to 32 characters, "-", the encoded part truncated to 64, characters a tag may not
 * hold replaced with "-".
 */
export function referrersTag(digest: string): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm.slice(0, 32)}-${hex.slice(0, 64)}`.replace(/[^a-zA-Z0-9_.-]/g, '-');
}

/** cosign's tag for an attachment of `digest` (sigstore/cosign pkg/oci/remote/remote.go suffixTag). */
export function cosignTag(digest: string, suffix: CosignTagSuffix): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${algorithm}-${hex}.${suffix}`;
}
