/** Manifest media types Signet negotiates (OCI image-spec; Docker image manifest v2 schema 2). */
export const MEDIA_TYPES = {
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
} as const;

export const MANIFEST_MEDIA_TYPES: readonly string[] = Object.values(MEDIA_TYPES);

export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociIndex];

/** Sent upstream on every manifest request, so one cached answer serves every client. */
export const UPSTREAM_MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.dockerManifestList, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerManifest].join(', ');

export const HEADERS = {
  apiVersion: 'Docker-Distribution-API-Version',
  contentDigest: 'Docker-Content-Digest',
} as const;

export const API_VERSION = 'registry/2.0';

/**
 * Whether a client's Accept header admits `mediaType`. No Accept header, `*\/*` or
 * `application/*` admit everything (clients that send nothing get what the registry has).
 */
export function acceptsMediaType(accept: string | undefined, mediaType: string): boolean {
  if (!accept || accept.trim() === '') return true;
  const wanted = accept
    .split(',')
    .map((part) => (part.split(';')[0] ?? '').trim().toLowerCase())
    .filter((t) => t.length > 0);
  if (wanted.length === 0) return true;
  const type = mediaType.toLowerCase();
  return wanted.some((w) => w === '*/*' || w === type || (w.endsWith('/*') && type.startsWith(w.slice(0, -1))));
}

/**
 * Media types of the parts that make a manifest runnable as an image: image configs and
 * filesystem layers. OCI image-spec specs-go/v1/mediatype.go (`application/vnd.oci.image.layer.`
 * covers tar, +gzip, +zstd, the nondistributable forms and containerd's `+encrypted` suffixes);
 * Docker image manifest v2 schema 2 (`application/vnd.docker.image.rootfs.` covers diff and
 * foreign layers); the WebAssembly artifact types that runwasi shims run (as listed in
 * sigstore/cosign pkg/types/media.go).
 */
export const IMAGE_PART_MEDIA_TYPES = {
  ociImageConfig: 'application/vnd.oci.image.config.v1+json',
  dockerImageConfig: 'application/vnd.docker.container.image.v1+json',
  dockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
  wasmConfig: 'application/vnd.wasm.config.v1+json',
  wasmLayer: 'application/vnd.wasm.content.layer.v1+wasm',
  ociLayerPrefix: 'application/vnd.oci.image.layer.',
  dockerLayerPrefix: 'application/vnd.docker.image.rootfs.',
} as const;

/**
 * Media types of signature and attestation artifacts, as their producers write them:
 * - OCI image-spec manifest.md "Guidance for an Empty Descriptor": the empty config.
 * - sigstore/cosign pkg/cosign/bundle/constants.go (BundleV03MediaType) and
 *   cmd/cosign/cli/bundle/inspect.go (the older `+json;version=` forms of the bundle);
 *   pkg/types/media.go (SimpleSigningMediaType, the layer of a legacy `.sig` manifest);
 *   pkg/types/payload.go (DssePayloadType, the layer of a legacy `.att` manifest; and
 *   IntotoPayloadType, the artifactType cosign gives attestation referrers);
 *   internal/pkg/oci/remote/remote.go ArtifactType("sig"), the artifactType of cosign's
 *   OCI 1.1 referrer signatures.
 * - notaryproject/notation-go registry/mediatype.go (ArtifactTypeNotation);
 *   notation-core-go signature/jws and signature/cose (the envelope layer types).
 */
export const SIGNATURE_MEDIA_TYPES = {
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  sigstoreBundleV03: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  sigstoreBundleV01Legacy: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
  sigstoreBundleV02Legacy: 'application/vnd.dev.sigstore.bundle+json;version=0.2',
  sigstoreBundleV03Legacy: 'application/vnd.dev.sigstore.bundle+json;version=0.3',
  cosignSimpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  cosignSignatureArtifact: 'application/vnd.dev.cosign.artifact.sig.v1+json',
  dsseEnvelope: 'application/vnd.dsse.envelope.v1+json',
  inToto: 'application/vnd.in-toto+json',
  notationSignature: 'application/vnd.cncf.notary.signature',
  joseEnvelope: 'application/jose+json',
  coseEnvelope: 'application/cose',
} as const;

/** Headers of the OCI referrers API (distribution-spec 1.1, "Listing Referrers"). */
export const REFERRERS_HEADERS = {
  filtersApplied: 'OCI-Filters-Applied',
  link: 'Link',
} as const;
