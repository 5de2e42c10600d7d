import { MEDIA_TYPES, pushBlob, pushManifest, type BlobRef } from './images.js';
import type { RegistryTarget } from './registry-client.js';
import { sha256Digest } from './streams.js';

/**
 * Signature and attestation artifacts the way their producers lay them out, built by hand (no
 * cosign or notation binary): OCI 1.1 artifact manifests with a `subject`, the referrers tag
 * schema index that clients push where a registry has no referrers API, and cosign's legacy
 * `sha256-<hex>.sig` manifest. The signatures inside are placeholders: these artifacts exercise
 * discovery and transport, not verification.
 */

export const ARTIFACT_TYPES = {
  sigstoreBundle: 'application/vnd.dev.sigstore.bundle.v0.3+json',
  notation: 'application/vnd.cncf.notary.signature',
  inToto: 'application/vnd.in-toto+json',
  ociEmpty: 'application/vnd.oci.empty.v1+json',
  simpleSigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsse: 'application/vnd.dsse.envelope.v1+json',
  jose: 'application/jose+json',
} as const;

export interface Subject {
  mediaType: string;
  digest: string;
  size: number;
}

export interface BlobSpec {
  mediaType: string;
  data: Buffer;
  annotations?: Record<string, string>;
}

export interface ArtifactSpec {
  artifactType?: string;
  subject?: Subject;
  /** Default: the OCI empty descriptor `{}`. */
  config?: BlobSpec;
  layers: BlobSpec[];
  annotations?: Record<string, string>;
}

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}

export interface BuiltArtifact {
  manifest: Buffer;
  digest: string;
  size: number;
  mediaType: string;
  /** Config first, then layers, with their bytes. */
  blobs: Array<BlobRef & { mediaType: string; data: Buffer }>;
  /** The descriptor a referrers list holds for it (distribution-spec 1.1 "Listing Referrers"). */
  descriptor: Descriptor;
}

const EMPTY_CONFIG: BlobSpec = { mediaType: ARTIFACT_TYPES.ociEmpty, data: Buffer.from('{}') };

function describe(blob: BlobSpec): BlobRef & { mediaType: string; data: Buffer; annotations?: Record<string, string> } {
  return {
    mediaType: blob.mediaType,
    digest: sha256Digest(blob.data),
    size: blob.data.length,
    data: blob.data,
    ...(blob.annotations ? { annotations: blob.annotations } : {}),
  };
}

/** The bytes of an OCI image manifest for `spec`, and the descriptor that points at it. */
export function buildArtifact(spec: ArtifactSpec): BuiltArtifact {
  const config = describe(spec.config ?? EMPTY_CONFIG);
  const layers = spec.layers.map(describe);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    ...(spec.artifactType ? { artifactType: spec.artifactType } : {}),
    config: { mediaType: config.mediaType, digest: config.digest, size: config.size },
    layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size, ...(l.annotations ? { annotations: l.annotations } : {}) })),
    ...(spec.subject ? { subject: spec.subject } : {}),
    ...(spec.annotations ? { annotations: spec.annotations } : {}),
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const digest = sha256Digest(bytes);
  return {
    manifest: bytes,
    digest,
    size: bytes.length,
    mediaType: MEDIA_TYPES.ociManifest,
    blobs: [config, ...layers].map((b) => ({ mediaType: b.mediaType, digest: b.digest, size: b.size, data: b.data })),
    descriptor: {
      mediaType: MEDIA_TYPES.ociManifest,
      digest,
      size: bytes.length,
      artifactType: spec.artifactType ?? config.mediaType,
      ...(spec.annotations ? { annotations: spec.annotations } : {}),
    },
  };
}

/** An OCI image index listing `descriptors`: a referrers API answer, or a referrers tag schema index. */
export function referrersIndex(descriptors: Descriptor[], extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: descriptors, ...extra }));
}

/** A Notary Project signature referrer: artifactType notary.signature over the empty config, one JWS envelope. */
export function notationSignature(subject: Subject): ArtifactSpec {
  const envelope = { payload: Buffer.from(JSON.stringify({ targetArtifact: subject })).toString('base64url'), protected: 'e30', header: {}, signature: 'AA' };
  return {
    artifactType: ARTIFACT_TYPES.notation,
    subject,
    layers: [{ mediaType: ARTIFACT_TYPES.jose, data: Buffer.from(JSON.stringify(envelope)) }],
    annotations: { 'io.cncf.notary.x509chain.thumbprint#S256': '["0000"]', 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  };
}

/** A cosign v3 signature referrer: a Sigstore bundle v0.3 layer over the empty config. */
export function sigstoreBundleSignature(subject: Subject): ArtifactSpec {
  const bundle = {
    mediaType: ARTIFACT_TYPES.sigstoreBundle,
    verificationMaterial: { publicKey: { hint: 'placeholder' }, tlogEntries: [] },
    messageSignature: { messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(subject.digest.slice(7), 'hex').toString('base64') }, signature: 'AA==' },
  };
  return {
    artifactType: ARTIFACT_TYPES.sigstoreBundle,
    subject,
    layers: [{ mediaType: ARTIFACT_TYPES.sigstoreBundle, data: Buffer.from(JSON.stringify(bundle)) }],
    annotations: { 'dev.sigstore.bundle.content': 'message-signature', 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
  };
}

/**
 * cosign's legacy signature manifest (tag `sha256-<hex>.sig`): no subject, an OCI image config
 * over one simple-signing payload layer whose annotation carries the signature.
 */
export function cosignLegacySignature(subject: Subject, dockerReference: string): ArtifactSpec {
  const payload = Buffer.from(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': dockerReference },
        image: { 'docker-manifest-digest': subject.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const config = {
    architecture: '',
    os: '',
    created: '0001-01-01T00:00:00Z',
    config: {},
    rootfs: { type: 'layers', diff_ids: [sha256Digest(payload)] },
  };
  return {
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', data: Buffer.from(JSON.stringify(config)) },
    layers: [{ mediaType: ARTIFACT_TYPES.simpleSigning, data: payload, annotations: { 'dev.cosignproject.cosign/signature': 'MEUCIQ==' } }],
  };
}

/** Pushes an artifact's blobs, then its manifest (by digest unless a tag is given). */
export async function pushArtifact(registry: RegistryTarget, repo: string, artifact: BuiltArtifact, tag?: string): Promise<BuiltArtifact> {
  for (const blob of artifact.blobs) await pushBlob(registry, repo, blob.data);
  await pushManifest(registry, repo, tag ?? artifact.digest, artifact.manifest, artifact.mediaType);
  return artifact;
}

/**
 * Pushes the referrers tag schema index of `subjectDigest` (distribution-spec 1.1: tag
 * `sha256-<hex>`), what a client does after pushing a referrer to a registry without the API.
 */
export async function pushReferrersTag(registry: RegistryTarget, repo: string, subjectDigest: string, descriptors: Descriptor[]): Promise<BlobRef> {
  const tag = subjectDigest.replace(':', '-');
  return pushManifest(registry, repo, tag, referrersIndex(descriptors), MEDIA_TYPES.ociIndex);
}
