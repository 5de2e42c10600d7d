import { SignetError } from '../errors.js';
import { INDEX_MEDIA_TYPES, MANIFEST_MEDIA_TYPES } from './media-types.js';
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

/**
 * Parses manifest bytes (unknown until validated) far enough to know their children.
 * OCI image-spec: the `mediaType` property SHOULD be present; Docker schema 2 always has it.
 * The Content-Type header of the upstream is used when the body has none.
 */
export function parseManifestReferences(bytes: Buffer, contentType: string | undefined): ManifestReferences {
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw new SignetError('MANIFEST_INVALID', 'upstream manifest is not valid JSON', { cause: err });
  }
  if (!isObject(doc)) throw new SignetError('MANIFEST_INVALID', 'upstream manifest is not a JSON object');
  const bodyType = typeof doc['mediaType'] === 'string' ? doc['mediaType'] : undefined;
  const headerType = contentType?.split(';')[0]?.trim();
  const mediaType = bodyType ?? (headerType && MANIFEST_MEDIA_TYPES.includes(headerType) ? headerType : undefined);
  if (!mediaType || !MANIFEST_MEDIA_TYPES.includes(mediaType)) {
    throw new SignetError(
      'UNSUPPORTED',
      `manifest media type "${mediaType ?? headerType ?? 'unknown'}" is not supported: Signet serves Docker schema 2 and OCI manifests and indexes`,
    );
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
