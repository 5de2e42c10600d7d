import { DEFAULTS } from '../../config/defaults.js';
import { checkDescriptor, isObject, type Descriptor } from '../../registry/descriptors.js';
import { SIGNATURE_MEDIA_TYPES } from '../../registry/media-types.js';
import type { ReferrerDescriptor, SignatureFetcher } from '../../registry/referrers.js';
import { SignatureFetchError } from '../../registry/signature-fetch-error.js';
import type { LegacySignatureLayer } from './verifier-port.js';

/** A signature read from a registry, not yet verified. */
export type FoundSignature = { kind: 'bundle'; bundle: unknown } | { kind: 'legacy'; layer: LegacySignatureLayer };

const BUNDLE_LAYER_TYPES: ReadonlySet<string> = new Set([
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV01Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV02Legacy,
  SIGNATURE_MEDIA_TYPES.sigstoreBundleV03Legacy,
]);

/**
 * Reads the signatures one artifact holds: the bundle layer of a cosign 3 referrer, or every
 * simple-signing layer of a legacy `.sig` manifest (cosign appends one layer per signature).
 * Manifests and blobs come by digest through the port (hashed, size-limited); a manifest with
 * more layers than Signet reads is refused before any of them is fetched.
 */
export async function readSignatureArtifact(fetcher: SignatureFetcher, repository: string, descriptor: ReferrerDescriptor): Promise<FoundSignature[]> {
  const manifest = await fetcher.manifest(repository, descriptor.digest);
  const layers = layersOf(manifest.json, descriptor.digest);
  const legacy = descriptor.source === 'tag';
  const wanted = layers.filter((l) => (legacy ? l.mediaType === SIGNATURE_MEDIA_TYPES.cosignSimpleSigning : BUNDLE_LAYER_TYPES.has(l.mediaType)));
  const found: FoundSignature[] = [];
  for (const layer of wanted) {
    if (layer.size > DEFAULTS.signatureBlobMaxBytes) {
      throw new SignatureFetchError(
        'too_large',
        `signature layer ${layer.digest} of ${descriptor.digest} is ${layer.size} bytes, over the ${DEFAULTS.signatureBlobMaxBytes}-byte limit`,
      );
    }
    const blob = await fetcher.blob(repository, layer.digest, DEFAULTS.signatureBlobMaxBytes);
    if (legacy) {
      found.push({ kind: 'legacy', layer: { payload: blob.bytes, annotations: layer.annotations } });
    } else {
      let bundle: unknown;
      try {
        bundle = JSON.parse(blob.bytes.toString('utf8'));
      } catch (err) {
        throw new SignatureFetchError('malformed', `the bundle ${layer.digest} of ${descriptor.digest} is not JSON`, { cause: err });
      }
      found.push({ kind: 'bundle', bundle });
    }
  }
  return found;
}

/** The layer descriptors of a signature manifest (unknown until checked), bounded in count. */
function layersOf(json: unknown, digest: string): Descriptor[] {
  if (!isObject(json) || !Array.isArray(json['layers'])) throw new SignatureFetchError('malformed', `signature manifest ${digest} has no layers`);
  const raw: unknown[] = json['layers'];
  if (raw.length > DEFAULTS.signatureArtifactsMax) {
    throw new SignatureFetchError(
      'too_large',
      `signature manifest ${digest} has ${raw.length} layers, more than the ${DEFAULTS.signatureArtifactsMax} signatures Signet reads per artifact`,
    );
  }
  return raw.map((layer, i) => {
    const checked = checkDescriptor(layer);
    if (!checked.ok) throw new SignatureFetchError('malformed', `layer ${i} of signature manifest ${digest} ${checked.problem}`);
    return checked.descriptor;
  });
}
