import { DEFAULTS } from '../../config/defaults.js';
import { checkDescriptor, isObject } from '../../registry/descriptors.js';
import type { ReferrerDescriptor, SignatureFetcher } from '../../registry/referrers.js';
import { SignatureFetchError } from '../../registry/signature-fetch-error.js';
import { ENVELOPE_MEDIA_TYPES } from './envelope.js';

/** A Notation signature envelope read from the registry, not yet verified. */
export interface FoundEnvelope {
  bytes: Buffer;
  mediaType: string;
}

const ENVELOPE_TYPES: ReadonlySet<string> = new Set(Object.values(ENVELOPE_MEDIA_TYPES));

/**
 * Reads the envelope a Notation signature artifact holds (signature-specification.md "OCI
 * Signatures"; notation-go registry/repository.go FetchSignatureBlob): an image manifest whose
 * `subject` is the signed manifest and which has exactly one layer, the envelope, of a
 * supported envelope type. The manifest and the blob come by digest through the port (hashed,
 * size-limited); the registry's claim that the artifact refers to `subjectDigest` is checked
 * against the manifest itself.
 */
export async function readNotationEnvelope(
  fetcher: SignatureFetcher,
  repository: string,
  descriptor: ReferrerDescriptor,
  subjectDigest: string,
): Promise<FoundEnvelope> {
  const manifest = await fetcher.manifest(repository, descriptor.digest);
  const json = manifest.json;
  if (!isObject(json)) throw new SignatureFetchError('malformed', `signature manifest ${descriptor.digest} is not a JSON object`);
  const subject = checkDescriptor(json['subject']);
  if (!subject.ok || subject.descriptor.digest !== subjectDigest) {
    throw new SignatureFetchError('malformed', `signature manifest ${descriptor.digest} does not name ${subjectDigest} as its subject`);
  }
  const layers = json['layers'];
  if (!Array.isArray(layers) || layers.length !== 1) {
    throw new SignatureFetchError('malformed', `signature manifest ${descriptor.digest} must have exactly one layer (the signature envelope)`);
  }
  const layer = checkDescriptor(layers[0]);
  if (!layer.ok) throw new SignatureFetchError('malformed', `the layer of signature manifest ${descriptor.digest} ${layer.problem}`);
  const { mediaType, digest, size } = layer.descriptor;
  if (!ENVELOPE_TYPES.has(mediaType)) {
    throw new SignatureFetchError(
      'malformed',
      `signature manifest ${descriptor.digest} holds a ${mediaType} layer, not a Notation envelope (${[...ENVELOPE_TYPES].join(' or ')})`,
    );
  }
  if (size > DEFAULTS.signatureBlobMaxBytes) {
    throw new SignatureFetchError('too_large', `signature envelope ${digest} is ${size} bytes, over the ${DEFAULTS.signatureBlobMaxBytes}-byte limit`);
  }
  const blob = await fetcher.blob(repository, digest, DEFAULTS.signatureBlobMaxBytes);
  return { bytes: blob.bytes, mediaType };
}
