import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { runOk } from './process.js';
import { expectStatus, registryRequest, registryStream, type RegistryTarget } from './registry-client.js';
import { hashStream, sha256Digest } from './streams.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Images made without internet: an OCI image layout written by hand (gzip tar layers, config,
 * manifest, optionally a two-platform index), pushed through the distribution API (blobs, then
 * platform manifests by digest, then the top manifest by tag), then read back from the registry
 * (the registry's bytes are the truth). No container client is involved, so integration tests
 * can seed a registry too.
 */

export const MEDIA_TYPES = {
  ociManifest: 'application/vnd.oci.image.manifest.v1+json',
  ociIndex: 'application/vnd.oci.image.index.v1+json',
  ociConfig: 'application/vnd.oci.image.config.v1+json',
  ociLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerList: 'application/vnd.docker.distribution.manifest.list.v2+json',
} as const;

export const MANIFEST_ACCEPT = [MEDIA_TYPES.ociIndex, MEDIA_TYPES.ociManifest, MEDIA_TYPES.dockerList, MEDIA_TYPES.dockerManifest].join(', ');

export interface BlobRef {
  digest: string;
  size: number;
}

export interface PushedImage {
  repo: string;
  /** The tag it was pushed as (for an index's children: the parent's tag). */
  tag: string;
  digest: string;
  mediaType: string;
  size: number;
  manifest: Buffer;
  /** Config and layers of a single-platform manifest; empty for an index. */
  blobs: BlobRef[];
  /** The platform manifests of an index. */
  children?: Array<PushedImage & { platform?: Platform }>;
}

export interface Platform {
  os: string;
  architecture: string;
}

export interface ImageSpec {
  /** Files of the (single) layer; a default hello file naming repo:tag when omitted. */
  files?: Record<string, string | Buffer>;
  /** Use a layer of this many raw random bytes instead of a tar (not unpackable). */
  randomLayerBytes?: number;
  /** Two or more platforms make an OCI index; default: one manifest for linux/amd64. */
  platforms?: Platform[];
}

export const TWO_PLATFORMS: Platform[] = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64' },
];

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  platform?: Platform;
  annotations?: Record<string, string>;
}

class LayoutWriter {
  constructor(readonly dir: string) {}

  async blob(data: Buffer): Promise<BlobRef> {
    const digest = sha256Digest(data);
    const path = join(this.dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, data);
    return { digest, size: data.length };
  }

  async finish(top: Descriptor, tag: string): Promise<void> {
    await writeFile(join(this.dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociIndex,
      manifests: [{ ...top, annotations: { 'org.opencontainers.image.ref.name': tag } }],
    };
    await writeFile(join(this.dir, 'index.json'), JSON.stringify(index));
  }
}

/** A reproducible gzip tar of `files`, made with the system tar and gzip. */
export async function makeTarGz(files: Record<string, string | Buffer>): Promise<{ gz: Buffer; tar: Buffer }> {
  const root = await makeTempDir('layer');
  try {
    const names = Object.keys(files).sort();
    for (const name of names) {
      const path = join(root, 'files', name);
      await mkdir(dirname(path), { recursive: true });
      await writeFile(path, files[name] ?? '');
    }
    const tarFile = join(root, 'layer.tar');
    await runOk('tar', [
      '--sort=name',
      '--owner=0',
      '--group=0',
      '--numeric-owner',
      '--mtime=@0',
      '--format=gnu',
      '-C',
      join(root, 'files'),
      '-cf',
      tarFile,
      ...names,
    ]);
    const tar = await readFile(tarFile);
    await runOk('gzip', ['-n', '-6', tarFile]);
    const gz = await readFile(`${tarFile}.gz`);
    return { gz, tar };
  } finally {
    await removeDir(root);
  }
}

async function writePlatformImage(layout: LayoutWriter, platform: Platform, layer: { digest: string; size: number; diffId: string }): Promise<Descriptor> {
  const config = {
    architecture: platform.architecture,
    os: platform.os,
    created: '2026-01-01T00:00:00Z',
    config: { Cmd: ['/hello'] },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
    history: [{ created: '2026-01-01T00:00:00Z', created_by: 'signet test harness' }],
  };
  const configRef = await layout.blob(Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, ...configRef },
    layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: layer.digest, size: layer.size }],
  };
  const manifestRef = await layout.blob(Buffer.from(JSON.stringify(manifest)));
  return { mediaType: MEDIA_TYPES.ociManifest, ...manifestRef, platform };
}

/** Writes an OCI image layout for `spec` into `dir`, tagged `tag`. */
export async function writeLayout(dir: string, tag: string, spec: ImageSpec & { label?: string } = {}): Promise<void> {
  const layout = new LayoutWriter(dir);
  const platforms = spec.platforms ?? [{ os: 'linux', architecture: 'amd64' }];
  const descriptors: Descriptor[] = [];
  for (const platform of platforms) {
    let layer: { digest: string; size: number; diffId: string };
    if (spec.randomLayerBytes !== undefined) {
      const raw = randomBytes(spec.randomLayerBytes);
      layer = { ...(await layout.blob(raw)), diffId: sha256Digest(raw) };
    } else {
      const files: Record<string, string | Buffer> = {
        ...(spec.files ?? { 'hello.txt': `hello from ${spec.label ?? tag}\n` }),
      };
      if (platforms.length > 1) files['platform.txt'] = `${platform.os}/${platform.architecture}\n`;
      const { gz, tar } = await makeTarGz(files);
      layer = { ...(await layout.blob(gz)), diffId: sha256Digest(tar) };
    }
    descriptors.push(await writePlatformImage(layout, platform, layer));
  }
  const first = descriptors[0];
  if (!first) throw new Error('writeLayout: no platforms');
  if (descriptors.length === 1) {
    // A single manifest is the top of the layout; the platform belongs in an index only.
    await layout.finish({ mediaType: first.mediaType, digest: first.digest, size: first.size }, tag);
    return;
  }
  const index = { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: descriptors };
  const indexRef = await layout.blob(Buffer.from(JSON.stringify(index)));
  await layout.finish({ mediaType: MEDIA_TYPES.ociIndex, ...indexRef }, tag);
}

interface LayoutManifest {
  mediaType?: string;
  config?: Descriptor;
  layers?: Descriptor[];
  manifests?: Descriptor[];
}

/** Pushes the manifest `descriptor` of the layout in `dir` (its blobs or children first) as `reference`. */
async function pushFromLayout(registry: RegistryTarget, dir: string, repo: string, descriptor: Descriptor, reference: string): Promise<void> {
  const read = (digest: string): Promise<Buffer> => readFile(join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
  const bytes = await read(descriptor.digest);
  const parsed = JSON.parse(bytes.toString('utf8')) as LayoutManifest;
  // distribution refuses a manifest whose blobs or child manifests it does not have yet.
  for (const child of parsed.manifests ?? []) await pushFromLayout(registry, dir, repo, child, child.digest);
  for (const blob of [...(parsed.config ? [parsed.config] : []), ...(parsed.layers ?? [])]) {
    await pushBlob(registry, repo, await read(blob.digest));
  }
  await pushManifest(registry, repo, reference, bytes, descriptor.mediaType);
}

/** Builds an image for `spec`, pushes it to `registry` as `repo:tag`, and reads it back. */
export async function pushImage(registry: RegistryTarget, repo: string, tag: string, spec: ImageSpec = {}): Promise<PushedImage> {
  const dir = await makeTempDir('layout');
  try {
    await writeLayout(dir, tag, { ...spec, label: `${repo}:${tag}` });
    const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as { manifests?: Descriptor[] };
    const top = index.manifests?.[0];
    if (!top) throw new Error(`pushImage: no manifest in ${dir}/index.json`);
    await pushFromLayout(registry, dir, repo, top, tag);
  } finally {
    await removeDir(dir);
  }
  return readImage(registry, repo, tag);
}

/** Reads `repo:reference` (a tag or digest) from a registry, with its children for an index. */
export async function readImage(registry: RegistryTarget, repo: string, reference: string, tag = reference): Promise<PushedImage> {
  const reply = expectStatus(
    await registryRequest(registry, 'GET', `/v2/${repo}/manifests/${reference}`, { headers: { accept: MANIFEST_ACCEPT } }),
    `GET manifest ${repo}:${reference}`,
    200,
  );
  const manifest = reply.body;
  const parsed = JSON.parse(manifest.toString('utf8')) as {
    mediaType?: string;
    config?: BlobRef;
    layers?: BlobRef[];
    manifests?: Array<BlobRef & { platform?: Platform }>;
  };
  const mediaType = parsed.mediaType ?? reply.headers['content-type'] ?? '';
  const image: PushedImage = {
    repo,
    tag,
    digest: sha256Digest(manifest),
    mediaType,
    size: manifest.length,
    manifest,
    blobs: [],
  };
  if (parsed.manifests) {
    image.children = [];
    for (const child of parsed.manifests) {
      const read = await readImage(registry, repo, child.digest, tag);
      image.children.push(child.platform ? { ...read, platform: child.platform } : read);
    }
  } else {
    if (parsed.config) image.blobs.push({ digest: parsed.config.digest, size: parsed.config.size });
    for (const layer of parsed.layers ?? []) image.blobs.push({ digest: layer.digest, size: layer.size });
  }
  return image;
}

/** Every blob of an image, its children's included (config and layers). */
export function allBlobs(image: PushedImage): BlobRef[] {
  return [...image.blobs, ...(image.children ?? []).flatMap(allBlobs)];
}

/**
 * Pushes one blob. A Buffer goes up monolithically (POST, then PUT ?digest= with the bytes).
 * A stream factory is sent as one streamed PATCH while it is hashed, then closed with
 * PUT ?digest=, so a blob of any size never sits in memory.
 */
export async function pushBlob(registry: RegistryTarget, repo: string, data: Buffer | (() => Readable)): Promise<BlobRef> {
  const start = expectStatus(await registryRequest(registry, 'POST', `/v2/${repo}/blobs/uploads/`), `start upload to ${repo}`, 202);
  let location = start.headers.location ?? '';
  if (!location) throw new Error('upload start without Location');

  let ref: BlobRef;
  let body: Buffer | undefined;
  if (Buffer.isBuffer(data)) {
    ref = { digest: sha256Digest(data), size: data.length };
    body = data;
  } else {
    const hash = createHash('sha256');
    let size = 0;
    const source = (): Readable => {
      const stream = data();
      stream.on('data', (chunk: Buffer) => {
        hash.update(chunk);
        size += chunk.length;
      });
      return stream;
    };
    const patched = expectStatus(
      await registryRequest(registry, 'PATCH', location, {
        headers: { 'content-type': 'application/octet-stream' },
        body: source,
      }),
      `upload blob to ${repo}`,
      202,
    );
    location = patched.headers.location ?? location;
    ref = { digest: `sha256:${hash.digest('hex')}`, size };
  }
  const put = new URL(location, registry.url);
  put.searchParams.set('digest', ref.digest);
  expectStatus(
    await registryRequest(registry, 'PUT', put.pathname + put.search, {
      headers: { 'content-type': 'application/octet-stream' },
      ...(body ? { body } : {}),
    }),
    `finish upload of ${ref.digest} to ${repo}`,
    201,
  );
  return ref;
}

/** PUTs manifest bytes as `repo:reference` (a tag, or the bytes' digest); returns their digest. */
export async function pushManifest(registry: RegistryTarget, repo: string, reference: string, bytes: Buffer, mediaType: string): Promise<BlobRef> {
  expectStatus(
    await registryRequest(registry, 'PUT', `/v2/${repo}/manifests/${reference}`, {
      headers: { 'content-type': mediaType },
      body: bytes,
    }),
    `PUT manifest ${repo}:${reference}`,
    201,
  );
  return { digest: sha256Digest(bytes), size: bytes.length };
}

/**
 * A linux/amd64 image whose single layer is an already pushed blob (e.g. a huge one made
 * with pushBlob): pushes a config and an OCI manifest and reads the image back.
 */
export async function pushImageWithLayer(registry: RegistryTarget, repo: string, tag: string, layer: BlobRef): Promise<PushedImage> {
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: {},
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  };
  const configRef = await pushBlob(registry, repo, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, ...configRef },
    layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, ...layer }],
  };
  await pushManifest(registry, repo, tag, Buffer.from(JSON.stringify(manifest)), MEDIA_TYPES.ociManifest);
  return readImage(registry, repo, tag);
}

/** Fetches a blob and hashes it while streaming. */
export async function fetchBlobDigest(registry: RegistryTarget, repo: string, digest: string): Promise<BlobRef & { status: number }> {
  const res = await registryStream(registry, 'GET', `/v2/${repo}/blobs/${digest}`);
  if (res.statusCode === 307 || res.statusCode === 302) {
    res.resume();
    throw new Error(`blob ${digest} redirected; the harness does not follow redirects`);
  }
  const hashed = await hashStream(res);
  return { ...hashed, status: res.statusCode ?? 0 };
}

/** The top descriptor of an OCI layout's index.json and the digests of every blob file in it. */
export async function readLayout(dir: string): Promise<{ top: BlobRef & { mediaType: string }; blobs: string[] }> {
  const index = JSON.parse(await readFile(join(dir, 'index.json'), 'utf8')) as {
    manifests?: Array<BlobRef & { mediaType: string }>;
  };
  const top = index.manifests?.[0];
  if (!top) throw new Error(`no manifest in ${dir}/index.json`);
  const blobs = (await readdir(join(dir, 'blobs', 'sha256'))).map((hex) => `sha256:${hex}`);
  return { top, blobs };
}
