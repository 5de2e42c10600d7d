/**
 * User metadata Signet writes on every content object (`x-amz-meta-*`; the SDK hands names back
 * lower-case). An object without them, or whose values do not match its key and length, was not
 * written by Signet and is treated as corrupted.
 */
export const META_DIGEST = 'signet-digest';
export const META_SIZE = 'signet-size';
/** Percent-encoded: metadata travels in HTTP headers, which take ASCII only. */
export const META_MEDIA_TYPE = 'signet-media-type';

export function contentMetadata(digest: string, size: number, mediaType?: string): Record<string, string> {
  const meta: Record<string, string> = { [META_DIGEST]: digest, [META_SIZE]: String(size) };
  if (mediaType !== undefined) meta[META_MEDIA_TYPE] = encodeURIComponent(mediaType);
  return meta;
}

/** Why an object's metadata does not vouch for `digest` of `length` bytes, or undefined when it does. */
export function metadataProblem(meta: Record<string, string> | undefined, digest: string, length: number | undefined): string | undefined {
  if (meta?.[META_DIGEST] !== digest) return 'digest metadata missing or different';
  const size = Number(meta[META_SIZE]);
  if (!Number.isSafeInteger(size) || size < 0) return 'size metadata missing or invalid';
  if (length !== size) return `object holds ${String(length)} bytes, metadata says ${size}`;
  return undefined;
}

export function mediaTypeOf(meta: Record<string, string> | undefined): string | undefined {
  const raw = meta?.[META_MEDIA_TYPE];
  if (raw === undefined || raw === '') return undefined;
  try {
    return decodeURIComponent(raw);
  } catch {
    return undefined;
  }
}
