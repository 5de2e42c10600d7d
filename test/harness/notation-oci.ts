import { createHash } from 'node:crypto';
import { decode as cborDecode, type TagDecoder } from 'cborg';
import { addToReferrersTag, goJson, goMap, type GoDescriptor } from './cosign-oci.js';
import { MEDIA_TYPES, pushBlob, pushManifest, type BlobRef } from './images.js';
import type { RegistryTarget } from './registry-client.js';
import { sha256Digest } from './streams.js';

/**
 * The registry side of `notation sign`: notation-go registry.PushSignature over oras-go v2.
 * The envelope blob goes up first (oras.PushBytes), then oras.PackManifest with
 * PackManifestVersion1_1: the empty config `{}` (application/vnd.oci.empty.v1+json, its
 * descriptor carrying `data: "e30="` as image-spec's DescriptorEmptyJSON does), an OCI image
 * manifest in Go struct order (schemaVersion, mediaType, artifactType, config, layers, subject,
 * annotations) with exactly one layer, the envelope. Annotations (notation.go
 * generateAnnotations): `io.cncf.notary.x509chain.thumbprint#S256`, a JSON array of the hex
 * SHA-256 of each chain certificate, leaf first; `org.opencontainers.image.created`, the signing
 * time in UTC, RFC 3339 seconds. Registries without the referrers API (distribution 2.8) then
 * get the referrers tag schema index `sha256-<hex>` updated.
 *
 * The older form (`legacy`, notation-go 1.0 with oras.Pack PackImageManifest) has no
 * artifactType: the config is the `{}` blob typed application/vnd.cncf.notary.signature.
 *
 * The referrers tag index is written by cosign-oci.ts addToReferrersTag (go-containerregistry's
 * way). oras-go's differs in three details a verifier must not care about: it appends without
 * sorting by digest, writes descriptor fields in image-spec order (mediaType, digest, size,
 * annotations, artifactType), and DELETEs the index it replaced.
 */

export const NOTATION_ARTIFACT_TYPE = 'application/vnd.cncf.notary.signature';
export const OCI_EMPTY_MEDIA_TYPE = 'application/vnd.oci.empty.v1+json';
export const NOTATION_ANNOTATIONS = {
  thumbprints: 'io.cncf.notary.x509chain.thumbprint#S256',
  created: 'org.opencontainers.image.created',
} as const;

const EMPTY_CONFIG = Buffer.from('{}');

/** The manifest a signature is attached to (what notation resolves: mediaType, digest, size). */
export interface NotationSubject {
  mediaType: string;
  digest: string;
  size: number;
}

/** What pushNotationSignature needs of an envelope; signNotation's result has all of it. */
export interface EnvelopeToPush {
  bytes: Buffer;
  mediaType: string;
  /** For the thumbprint annotation; read from the envelope when absent. */
  certChain?: readonly Buffer[];
  /** For the created annotation; read from the envelope when absent. */
  signingTime?: Date;
}

export interface PushNotationOptions {
  /** The older form: no artifactType, config.mediaType = application/vnd.cncf.notary.signature. */
  legacy?: boolean;
  /** Merged over the annotations notation writes (a value of null removes one). */
  annotations?: Record<string, string | null>;
  /** Update the referrers tag schema index. Default true (skipped by the helper when the registry answers the referrers API). */
  referrersTag?: boolean;
}

export interface PushedNotationSignature {
  manifest: Buffer;
  digest: string;
  size: number;
  mediaType: string;
  /** What a referrers list reports: the artifactType, or the config mediaType in the legacy form. */
  artifactType: string;
  annotations: Record<string, string>;
  envelopeBlob: BlobRef & { mediaType: string };
  /** The descriptor the referrers tag index lists. */
  descriptor: GoDescriptor;
  referrersTag: string | undefined;
  /** The index pushed under referrersTag; undefined when not updated (or the registry has the API). */
  index: Buffer | undefined;
}

/** Hex SHA-256 of each DER certificate (notation.go generateAnnotations). */
export function x509ChainThumbprints(chain: readonly Buffer[]): string[] {
  return chain.map((der) => createHash('sha256').update(der).digest('hex'));
}

/** Go's time.RFC3339 of the UTC time: seconds, no fraction. */
function rfc3339Seconds(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

/** The annotations notation puts on a signature manifest. */
export function notationAnnotations(certChain: readonly Buffer[], signingTime: Date): Record<string, string> {
  return {
    [NOTATION_ANNOTATIONS.thumbprints]: JSON.stringify(x509ChainThumbprints(certChain)),
    [NOTATION_ANNOTATIONS.created]: rfc3339Seconds(signingTime),
  };
}

/** The signature manifest bytes (pure: for fake registries and layout tests too). */
export function buildNotationManifest(
  subject: NotationSubject,
  envelopeBlob: BlobRef & { mediaType: string },
  annotations: Record<string, string>,
  options: { legacy?: boolean } = {},
): Buffer {
  const layer = { mediaType: envelopeBlob.mediaType, digest: envelopeBlob.digest, size: envelopeBlob.size };
  const subjectDescriptor = { mediaType: subject.mediaType, digest: subject.digest, size: subject.size };
  const emptyDigest = sha256Digest(EMPTY_CONFIG);
  const manifest = options.legacy
    ? {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        config: { mediaType: NOTATION_ARTIFACT_TYPE, digest: emptyDigest, size: EMPTY_CONFIG.length },
        layers: [layer],
        subject: subjectDescriptor,
        ...(Object.keys(annotations).length > 0 ? { annotations: goMap(annotations) } : {}),
      }
    : {
        schemaVersion: 2,
        mediaType: MEDIA_TYPES.ociManifest,
        artifactType: NOTATION_ARTIFACT_TYPE,
        config: { mediaType: OCI_EMPTY_MEDIA_TYPE, digest: emptyDigest, size: EMPTY_CONFIG.length, data: EMPTY_CONFIG.toString('base64') },
        layers: [layer],
        subject: subjectDescriptor,
        ...(Object.keys(annotations).length > 0 ? { annotations: goMap(annotations) } : {}),
      };
  return goJson(manifest);
}

/** The chain and signing time an envelope carries (for envelopes not made by signNotation). */
export function envelopeFacts(envelope: { bytes: Buffer; mediaType: string }): { certChain: Buffer[]; signingTime: Date | undefined } {
  if (envelope.mediaType === 'application/jose+json') {
    const parsed = JSON.parse(envelope.bytes.toString('utf8')) as { protected?: string; header?: { x5c?: string[] } };
    const header = JSON.parse(Buffer.from(parsed.protected ?? '', 'base64url').toString('utf8') || '{}') as Record<string, unknown>;
    const time = header['io.cncf.notary.signingTime'] ?? header['io.cncf.notary.authenticSigningTime'];
    return {
      certChain: (parsed.header?.x5c ?? []).map((c) => Buffer.from(c, 'base64')),
      signingTime: typeof time === 'string' ? new Date(time) : undefined,
    };
  }
  if (envelope.mediaType === 'application/cose') {
    const epochTime: TagDecoder = (control) => new Date(Number(control()) * 1000);
    const sign1: TagDecoder = (control) => control();
    const options = { useMaps: true, tags: { 1: epochTime, 18: sign1 } };
    const message = cborDecode(envelope.bytes, options) as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
    const protectedMap = cborDecode(message[0], options) as Map<unknown, unknown>;
    const chain = message[1].get(33);
    const time1 = protectedMap.get('io.cncf.notary.signingTime') ?? protectedMap.get('io.cncf.notary.authenticSigningTime');
    return {
      certChain: Array.isArray(chain) ? chain.map((c: Uint8Array) => Buffer.from(c)) : [],
      signingTime: time1 instanceof Date ? time1 : undefined,
    };
  }
  throw new Error(`not a Notation envelope media type: ${envelope.mediaType}`);
}

/**
 * Pushes a Notation signature of `subject` to `repo` as notation does: the envelope blob, the
 * empty config, the signature manifest (by digest), then the referrers tag schema index.
 */
export async function pushNotationSignature(
  registry: RegistryTarget,
  repo: string,
  subject: NotationSubject,
  envelope: EnvelopeToPush,
  options: PushNotationOptions = {},
): Promise<PushedNotationSignature> {
  const facts = envelope.certChain && envelope.signingTime ? undefined : envelopeFacts(envelope);
  const certChain = envelope.certChain ?? facts?.certChain ?? [];
  const signingTime = envelope.signingTime ?? facts?.signingTime ?? new Date();
  const merged = { ...notationAnnotations(certChain, signingTime), ...options.annotations };
  const annotations = Object.fromEntries(Object.entries(merged).filter((e): e is [string, string] => e[1] !== null));

  const blob = await pushBlob(registry, repo, envelope.bytes);
  const envelopeBlob = { mediaType: envelope.mediaType, ...blob };
  await pushBlob(registry, repo, EMPTY_CONFIG);
  const manifest = buildNotationManifest(subject, envelopeBlob, annotations, { legacy: options.legacy === true });
  const { digest, size } = await pushManifest(registry, repo, sha256Digest(manifest), manifest, MEDIA_TYPES.ociManifest);
  const artifactType = NOTATION_ARTIFACT_TYPE; // the legacy form's config.mediaType is the same value
  const descriptor: GoDescriptor = { mediaType: MEDIA_TYPES.ociManifest, size, digest, annotations, artifactType };
  let referrersTag: string | undefined;
  let index: Buffer | undefined;
  if (options.referrersTag !== false) {
    ({ tag: referrersTag, index } = await addToReferrersTag(registry, repo, subject.digest, descriptor));
  }
  return { manifest, digest, size, mediaType: MEDIA_TYPES.ociManifest, artifactType, annotations, envelopeBlob, descriptor, referrersTag, index };
}
