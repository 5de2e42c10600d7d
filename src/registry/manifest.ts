import { SignetError } from '../errors.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES, MEDIA_TYPES } from './media-types.js';
import { parseDigest } from './names.js';
import { classifySignatureArtifact } from './signature-artifacts.js';

/** What a manifest's bytes say about its children: the lineage of what it authorises. */
export interface ManifestReferences {
  mediaType: string;
  /** Child manifests of an index / manifest list. */
  manifests: string[];
  /** Config and layers of an image manifest. */
  blobs: string[];
  /** The subject of an artifact manifest (OCI 1.1), if any. */
  subject: string | undefined;
  /** OCI 1.1 `artifactType`, if any. */
  artifactType: string | undefined;
  /** Media type of the config descriptor of an image manifest. */
  configMediaType: string | undefined;
  /** Media types of the layer descriptors of an image manifest, in order. */
  layerMediaTypes: string[];
  /** Whether it is a signature artifact that no runtime could run (signature-artifacts.ts); never an index. */
  signatureArtifact: boolean;
}

/** Docker image manifest v2 schema 1 (unsigned and signed): named so the refusal says what it is. */
const SCHEMA1_TYPES = {
  unsigned: 'application/vnd.docker.distribution.manifest.v1+json',
  signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
} as const;

/**
 * Parses manifest bytes (unknown until validated) far enough to know their children.
 *
 * The media type comes from the bytes, which were hashed against their digest, so a digest
 * always means the same kind of manifest whoever fetched it first, from whichever upstream:
 * - a `mediaType` field wins (OCI image-spec: it SHOULD be present; Docker schema 2 always has it);
 * - otherwise the structure decides (image-spec image-index.md / manifest.md): a `manifests`
 *   array is an OCI index, `config` and `layers` an OCI image manifest; `schemaVersion: 1` is a
 *   Docker schema 1 manifest (refused: Signet serves schema 2 and OCI).
 * `announced` (the upstream's Content-Type, or the type a store kept) is a hint only: a body
 * that says nothing about its kind is refused rather than typed by a header, since a header
 * typing it would be remembered under the digest for every client.
 */
export function parseManifestReferences(bytes: Buffer, announced: string | undefined): ManifestReferences {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SignetError('MANIFEST_INVALID', 'upstream manifest is not valid JSON', { cause: err });
  }
  if (!isObject(doc)) throw new SignetError('MANIFEST_INVALID', 'upstream manifest is not a JSON object');
  const mediaType = mediaTypeOf(doc, announced);
  if (!MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw new SignetError('UNSUPPORTED', `manifest media type "${mediaType}" is not supported: Signet serves Docker schema 2 and OCI manifests and indexes`);
  }
  const refs: ManifestReferences = {
    mediaType,
    manifests: [],
    blobs: [],
    subject: undefined,
    artifactType: typeof doc['artifactType'] === 'string' ? doc['artifactType'] : undefined,
    configMediaType: undefined,
    layerMediaTypes: [],
    signatureArtifact: false,
  };
  if (INDEX_MEDIA_TYPES.includes(mediaType)) {
    refs.manifests = descriptorDigests(doc['manifests'], 'manifests');
  } else {
    const config = doc['config'] === undefined ? [] : [doc['config']];
    const layers = doc['layers'] ?? [];
    refs.blobs = [...descriptorDigests(config, 'config'), ...descriptorDigests(layers, 'layers')];
    refs.configMediaType = descriptorMediaTypes(config)[0];
    refs.layerMediaTypes = descriptorMediaTypes(layers);
    // Classified from the document parsed here, so the bytes are parsed once.
    refs.signatureArtifact = classifySignatureArtifact(doc, mediaType).servable;
  }
  if (doc['subject'] !== undefined) refs.subject = descriptorDigests([doc['subject']], 'subject')[0];
  return refs;
}

/** The media type the bytes give themselves (see parseManifestReferences). */
function mediaTypeOf(doc: Record<string, unknown>, announced: string | undefined): string {
  if (typeof doc['mediaType'] === 'string') return doc['mediaType'];
  if (doc['schemaVersion'] === 1) return Array.isArray(doc['signatures']) ? SCHEMA1_TYPES.signed : SCHEMA1_TYPES.unsigned;
  if (Array.isArray(doc['manifests'])) return MEDIA_TYPES.ociIndex;
  if (doc['config'] !== undefined && Array.isArray(doc['layers'])) return MEDIA_TYPES.ociManifest;
  const hint = announced?.split(';')[0]?.trim();
  throw new SignetError(
    'MANIFEST_INVALID',
    `manifest has no mediaType and neither a "manifests" list nor "config" and "layers"${hint ? ` (announced as "${hint.slice(0, 100)}")` : ''}: its kind cannot be told from its bytes`,
  );
}

function descriptorDigests(list: unknown, field: string): string[] {
  if (!Array.isArray(list)) throw new SignetError('MANIFEST_INVALID', `manifest field "${field}" is not a list of descriptors`);
  return list.map((d) => {
    if (!isObject(d) || typeof d['digest'] !== 'string') {
      throw new SignetError('MANIFEST_INVALID', `manifest field "${field}" has a descriptor without a digest`);
    }
    return parseDigest(d['digest']).value;
  });
}

/** Media types of descriptors already checked by descriptorDigests (a missing one reads as ""). */
function descriptorMediaTypes(list: unknown): string[] {
  return (list as unknown[]).map((d) => {
    const type = (d as Record<string, unknown>)['mediaType'];
    return typeof type === 'string' ? type : '';
  });
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
