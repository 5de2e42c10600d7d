import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { pushBlob, pushImageWithLayer, pushManifest, type BlobRef } from '../test/harness/images.js';
import type { NotaryCli } from '../test/harness/notary-cli.js';
import { runOk } from '../test/harness/process.js';
import type { Registry } from '../test/harness/registry.js';
import { deterministicStream, hashStream, sha256Digest } from '../test/harness/streams.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { withConcurrency } from './http-clients.js';

/**
 * The benchmark's images, built once per run and pushed to the upstream, each tag signed in
 * the notary-server with the real notary CLI (init + addhash of the manifest's size and sha256):
 *
 * - library/blob:1   one layer of N MiB of incompressible bytes (streamed, never in memory);
 * - library/small:1  a tiny image (the signed-tag request-rate figure);
 * - library/big:1    a Docker image of 5 real gzip tar layers of random-content files, which
 *                    dockerd can extract (herd and docker pull figures).
 */

export const DOCKER_MEDIA_TYPES = {
  manifest: 'application/vnd.docker.distribution.manifest.v2+json',
  config: 'application/vnd.docker.container.image.v1+json',
  layer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
} as const;

export interface BenchImage {
  repo: string;
  tag: string;
  /** Manifest digest and size (what was signed). */
  digest: string;
  size: number;
  /** Config and layers. */
  blobs: BlobRef[];
  /** Sum of config and layer sizes. */
  blobBytes: number;
}

const GUN = (repo: string): string => `docker.io/${repo}`;

/** notary init + addhash + publish: the tag is signed with the manifest's digest and size. */
export async function signImage(cli: NotaryCli, image: BenchImage): Promise<void> {
  await cli.init(GUN(image.repo));
  await cli.addHash(GUN(image.repo), image.tag, image.size, image.digest.slice('sha256:'.length));
}

async function readBack(registry: Registry, repo: string, tag: string, expected: { digest: string; size: number }): Promise<void> {
  const res = await fetch(`${registry.url}/v2/${repo}/manifests/${tag}`, {
    headers: { accept: `${DOCKER_MEDIA_TYPES.manifest}, application/vnd.oci.image.manifest.v1+json` },
  });
  const bytes = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200 || sha256Digest(bytes) !== expected.digest || bytes.length !== expected.size) {
    throw new Error(
      `${repo}:${tag} reads back as HTTP ${res.status}, ${bytes.length} bytes, ${sha256Digest(bytes)}; pushed ${expected.size} bytes, ${expected.digest}`,
    );
  }
}

/** One layer of `bytes` incompressible bytes (not a tar: for HTTP figures only). */
export async function pushBlobImage(registry: Registry, repo: string, tag: string, bytes: number): Promise<BenchImage> {
  const layer = await pushBlob(registry, repo, () => deterministicStream(bytes, `bench:${repo}:${tag}`));
  if (layer.size !== bytes) throw new Error(`pushed ${layer.size} bytes, meant ${bytes}`);
  const image = await pushImageWithLayer(registry, repo, tag, layer);
  return {
    repo,
    tag,
    digest: image.digest,
    size: image.size,
    blobs: image.blobs,
    blobBytes: image.blobs.reduce((s, b) => s + b.size, 0),
  };
}

/**
 * A Docker (schema 2) image of `layers` gzip tar layers holding `filesPerLayer` files of
 * random content each, `totalBytes` of file content in all (gzip -1: random data does not
 * compress, and level 1 is quick). Built in a temp dir with the system tar and gzip, streamed
 * to the registry.
 */
export async function pushLayeredImage(
  registry: Registry,
  repo: string,
  tag: string,
  opts: { layers: number; totalBytes: number; filesPerLayer: number },
): Promise<BenchImage> {
  const dir = await makeTempDir('benchimg');
  try {
    const perFile = Math.floor(opts.totalBytes / opts.layers / opts.filesPerLayer);
    const build = async (i: number): Promise<{ blob: BlobRef; diffId: string }> => {
      const root = join(dir, `l${i}`);
      const top = `layer${i}`;
      await mkdir(join(root, top), { recursive: true });
      const names: string[] = [];
      for (let f = 0; f < opts.filesPerLayer; f++) {
        const name = `${top}/file-${f}.bin`;
        names.push(name);
        await pipeline(deterministicStream(perFile, `bench:${repo}:${tag}:${i}:${f}`), createWriteStream(join(root, name)));
      }
      const tarPath = join(dir, `l${i}.tar`);
      await runOk('tar', ['--sort=name', '--owner=0', '--group=0', '--numeric-owner', '--mtime=@0', '--format=gnu', '-C', root, '-cf', tarPath, top], {
        timeoutMs: 10 * 60_000,
      });
      const diffId = (await hashStream(createReadStream(tarPath))).digest;
      await runOk('gzip', ['-1', '-n', tarPath], { timeoutMs: 10 * 60_000 });
      const blob = await pushBlob(registry, repo, () => createReadStream(`${tarPath}.gz`));
      await removeDir(root);
      return { blob, diffId };
    };
    // two at a time: the machine has two cores
    const layers = await withConcurrency(
      2,
      Array.from({ length: opts.layers }, (_v, i) => () => build(i)),
    );
    const config = {
      architecture: 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: { Cmd: ['/layer0/file-0.bin'] },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
      history: layers.map((_l, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `signet bench layer ${i}` })),
    };
    const configRef = await pushBlob(registry, repo, Buffer.from(JSON.stringify(config)));
    const manifest = {
      schemaVersion: 2,
      mediaType: DOCKER_MEDIA_TYPES.manifest,
      config: { mediaType: DOCKER_MEDIA_TYPES.config, ...configRef },
      layers: layers.map((l) => ({ mediaType: DOCKER_MEDIA_TYPES.layer, ...l.blob })),
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    const ref = await pushManifest(registry, repo, tag, bytes, DOCKER_MEDIA_TYPES.manifest);
    await readBack(registry, repo, tag, ref);
    const blobs = [configRef, ...layers.map((l) => l.blob)];
    return { repo, tag, digest: ref.digest, size: ref.size, blobs, blobBytes: blobs.reduce((s, b) => s + b.size, 0) };
  } finally {
    await removeDir(dir);
  }
}
