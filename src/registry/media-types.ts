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
export const UPSTREAM_MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifestList,
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.dockerManifest,
].join(', ');

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
