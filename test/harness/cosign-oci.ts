import { MEDIA_TYPES, pushBlob, pushManifest } from './images.js';
import { expectStatus, registryRequest, type RegistryTarget } from './registry-client.js';
import { sha256Digest } from './streams.js';

/**
 * The registry side of cosign as go-containerregistry writes it: manifests serialised the way Go's
 * encoding/json does (struct field order, sorted map keys, `<>&` escaped), pushed through the
 * distribution API, and the referrers tag schema index that ggcr's remote.Put maintains when the
 * registry has no referrers API (pkg/v1/remote/write.go commitSubjectReferrers).
 */

/** The image a signature is attached to. */
export interface SignedImage {
  digest: string;
  mediaType: string;
  size: number;
}

/** go-containerregistry v1.Descriptor, in its JSON field order. */
export interface GoDescriptor {
  mediaType: string;
  size: number;
  digest: string;
  annotations?: Record<string, string>;
  artifactType?: string;
}

/** Go encoding/json escapes these even inside strings (HTML safety); JSON.stringify does not. */
export function goJson(value: unknown): Buffer {
  return Buffer.from(
    JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
    'utf8',
  );
}

/** A Go map as encoding/json writes it: keys sorted. */
export function goMap(map: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** A descriptor object with ggcr's field order and omitempty rules. */
export function goDescriptor(d: GoDescriptor): GoDescriptor {
  return {
    mediaType: d.mediaType,
    size: d.size,
    digest: d.digest,
    ...(d.annotations && Object.keys(d.annotations).length > 0 ? { annotations: goMap(d.annotations) } : {}),
    ...(d.artifactType ? { artifactType: d.artifactType } : {}),
  };
}

/** The registry host a reference names (what cosign writes as `docker-reference` and statement subject names). */
export function registryHost(registry: RegistryTarget): string {
  return new URL(registry.url).host;
}

/** The manifest a tag holds, or undefined when the tag does not exist. */
export async function manifestIfTagged(registry: RegistryTarget, repo: string, tag: string, accept: string): Promise<Buffer | undefined> {
  const reply = await registryRequest(registry, 'GET', `/v2/${repo}/manifests/${tag}`, { headers: { accept } });
  if (reply.status === 404) return undefined;
  return expectStatus(reply, `GET manifest ${repo}:${tag}`, 200).body;
}

/** Pushes blobs, then the manifest by `reference` (a tag, or its digest). */
export async function pushWithBlobs(registry: RegistryTarget, repo: string, reference: string | undefined, manifest: Buffer, blobs: Buffer[]): Promise<string> {
  for (const blob of blobs) await pushBlob(registry, repo, blob);
  const digest = sha256Digest(manifest);
  await pushManifest(registry, repo, reference ?? digest, manifest, MEDIA_TYPES.ociManifest);
  return digest;
}

/** The referrers tag schema tag of a digest (distribution-spec 1.1): `sha256-<hex>`. */
export function referrersTag(digest: string): string {
  return digest.replace(':', '-');
}

/**
 * Lists `descriptor` in the referrers tag schema index of `subjectDigest`, as ggcr does after
 * pushing a manifest with a subject: nothing when the registry answers the referrers API;
 * otherwise the existing index (if any) gets the descriptor appended unless already listed, the
 * list is sorted by digest, and the index is pushed back under the tag. Read-modify-write, as in
 * ggcr: sign one image from one place at a time.
 */
export async function addToReferrersTag(
  registry: RegistryTarget,
  repo: string,
  subjectDigest: string,
  descriptor: GoDescriptor,
): Promise<{ tag: string; index: Buffer | undefined }> {
  const tag = referrersTag(subjectDigest);
  const api = await registryRequest(registry, 'GET', `/v2/${repo}/referrers/${subjectDigest}`, { headers: { accept: MEDIA_TYPES.ociIndex } });
  if (api.status === 200) return { tag, index: undefined };
  expectStatus(api, `GET referrers of ${subjectDigest}`, 404, 400);
  const existing = await manifestIfTagged(registry, repo, tag, MEDIA_TYPES.ociIndex);
  let manifests: GoDescriptor[] = [];
  if (existing) {
    const parsed = JSON.parse(existing.toString('utf8')) as { schemaVersion?: unknown; mediaType?: unknown; manifests?: GoDescriptor[] };
    if (parsed.schemaVersion !== 2 || parsed.mediaType !== MEDIA_TYPES.ociIndex) throw new Error(`${repo}:${tag} is not an OCI image index`);
    manifests = parsed.manifests ?? [];
    if (manifests.some((m) => m.digest === descriptor.digest)) return { tag, index: existing };
  }
  manifests = [...manifests, descriptor].map(goDescriptor).sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
  const index = goJson({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests });
  await pushManifest(registry, repo, tag, index, MEDIA_TYPES.ociIndex);
  return { tag, index };
}
