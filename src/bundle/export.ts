import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Config } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import type { AuditLog } from '../policy/audit-log.js';
import { MEDIA_TYPES } from '../registry/media-types.js';
import { UpstreamClient, type Upstream } from '../registry/upstream-client.js';
import {
  BUNDLE_MANIFEST_FILE,
  BUNDLE_MEDIA_TYPE,
  BUNDLE_SIGNATURE_FILE,
  BundleError,
  serializeBundleManifest,
  type BundleFile,
  type BundleImage,
  type BundleManifest,
} from './bundle-manifest.js';
import { collectImage, refName, type ImageRequest } from './collect.js';
import { decisionTools } from './decision-tools.js';
import { readBaseManifest, sha256Digest } from './base-manifest.js';
import { rootHistory } from './root-history.js';
import { Progress, type ProgressStream } from './progress.js';
import { signBundleManifest, type BundlePrivateKey } from './signing.js';
import { BundleTarWriter } from './tar-io.js';
import { RecordingTrustState } from './trust-state-views.js';

export interface ExportOptions {
  config: Config;
  key: BundlePrivateKey;
  /** The bundle file to write (written as `<output>.partial`, renamed when complete). */
  output: string;
  images: readonly ImageRequest[];
  /** Compress the whole tar with zstd. */
  zstd?: boolean | undefined;
  /** An older bundle (or its signet-bundle.json): blobs its images carried are left out. */
  since?: string | undefined;
  logger: Logger;
  progress?: ProgressStream | undefined;
  /** Where the decisions are audited besides the bundle (the site's audit log). */
  audit?: AuditLog | undefined;
  /** Injected for tests: the upstreams to export from (default: a client per configured upstream). */
  upstreams?: ReadonlyMap<string, Upstream> | undefined;
  clock?: () => number;
}

export interface ExportResult {
  path: string;
  /** sha256 of the signed bundle manifest: what an incremental bundle names as its base. */
  digest: string;
  images: BundleImage[];
  files: number;
  /** Bytes of the files (before tar framing and compression). */
  bytes: number;
  /** Blobs left out because the base bundle carried them. */
  leftToBase: number;
}

/** What is written for one file of the OCI layout. */
type Source = { kind: 'bytes'; bytes: Buffer } | { kind: 'blob'; upstream: string; repository: string };

/** OCI image-layout spec: the `oci-layout` file. */
const OCI_LAYOUT = Buffer.from('{"imageLayoutVersion":"1.0.0"}');
/** OCI image-spec annotations.md: the name of a manifest in an image layout's index. */
const REF_NAME = 'org.opencontainers.image.ref.name';

/**
 * `signet bundle export`: decides every image with this Signet's policy, exactly as a pull
 * would, and writes the admitted images with their signature artifacts and the Notary trust
 * data their verdicts used as an OCI image layout in a tar, led by a signed bundle manifest.
 * Blobs stream from the upstream through a hash into the tar, one at a time; a blob whose bytes
 * do not match its digest stops the export, and an export that stops leaves no bundle behind.
 */
export async function exportBundle(o: ExportOptions): Promise<ExportResult> {
  const clock = o.clock ?? Date.now;
  const ownUpstreams = o.upstreams ? undefined : liveUpstreams(o.config, o.logger);
  const upstreams = o.upstreams ?? ownUpstreams ?? new Map<string, Upstream>();
  const recording = new RecordingTrustState();
  const tools = decisionTools({ config: o.config, upstreams, trustState: recording, logger: o.logger, clock, ...(o.audit ? { audit: o.audit } : {}) });
  try {
    const collected = [];
    const seen = new Set<string>();
    for (const request of o.images) {
      const upstream = o.config.upstreams.get(request.upstream);
      if (!upstream) throw new BundleError(`${request.upstream}/${request.repository}: ${request.upstream} is not an upstream of this config`);
      if (upstream.offline) throw new BundleError(`${request.upstream} is an offline upstream here: export on a Signet that reaches it`);
      let image;
      try {
        image = await collectImage(tools, request);
      } catch (err) {
        const message = `${refName(request)}: ${errorMessage(err)}: only images the policy admits are exported; the bundle was not written`;
        // The code is kept: a denial is a refusal, an unreachable upstream a failure to run.
        throw err instanceof SignetError ? new SignetError(err.code, message, { cause: err }) : new BundleError(message, { cause: err });
      }
      if (seen.has(image.image.ref)) continue;
      seen.add(image.image.ref);
      collected.push(image);
      o.logger.info({ image: image.image.ref, digest: image.image.digest, rule: image.image.verdict.rule }, 'admitted for export');
    }
    if (collected.length === 0) throw new BundleError('no images to export: name at least one image');

    const base = o.since === undefined ? undefined : await readBaseManifest(o.since);
    const carried = new Set(base ? base.manifest.images.flatMap((i) => i.blobs.map((b) => b.digest)) : []);

    /** Path in the tar → where its bytes come from; files in tar order. */
    const sources = new Map<string, Source>();
    const files: BundleFile[] = [];
    const addFile = (path: string, digest: string, size: number, source: Source): void => {
      files.push({ path, digest, size });
      sources.set(path, source);
    };
    const addBytes = (bytes: Buffer, path?: string): string => {
      const digest = sha256Digest(bytes);
      const at = path ?? blobPath(digest);
      if (!sources.has(at)) addFile(at, digest, bytes.length, { kind: 'bytes', bytes });
      return digest;
    };
    addBytes(OCI_LAYOUT, 'oci-layout');
    addBytes(ociIndex(collected.map((c) => c.image)), 'index.json');
    for (const { manifests } of collected) for (const bytes of manifests.values()) addBytes(bytes);

    const notary: Record<string, Record<string, string>> = {};
    const recorded = new Map([...recording.guns].map(([gun, files]) => [gun, { scope: recording.scopes.get(gun) ?? '', root: files.get('root.json') }]));
    const earlierRoots = await rootHistory(o.config, recorded, o.logger);
    for (const [gun, roleFiles] of [...recording.guns].sort(([a], [b]) => (a < b ? -1 : 1))) {
      const entry: Record<string, string> = {};
      const all = [...roleFiles, ...(earlierRoots.get(gun) ?? [])];
      for (const [file, bytes] of all.sort(([a], [b]) => (a < b ? -1 : 1))) entry[file] = addBytes(bytes);
      if (Object.keys(entry).length > 0) notary[gun] = entry;
    }

    const leftToBase = new Set<string>();
    for (const { image } of collected) {
      for (const blob of image.blobs) {
        await tools.policy.blob({ upstream: image.upstream, repository: image.repository, digest: blob.digest, client: undefined });
        if (sources.has(blobPath(blob.digest))) continue;
        if (carried.has(blob.digest)) {
          leftToBase.add(blob.digest);
          continue;
        }
        addFile(blobPath(blob.digest), blob.digest, blob.size, { kind: 'blob', upstream: image.upstream, repository: image.repository });
      }
    }

    const manifest: BundleManifest = {
      schemaVersion: 1,
      mediaType: BUNDLE_MEDIA_TYPE,
      created: new Date(clock()).toISOString(),
      ...(base ? { base: base.digest } : {}),
      images: collected.map((c) => c.image),
      notary,
      files,
    };
    const manifestBytes = serializeBundleManifest(manifest);
    const signature = await signBundleManifest(manifestBytes, o.key);
    const bytes = files.reduce((n, f) => n + f.size, 0);
    const progress = new Progress({ phase: 'export', total: bytes, stream: o.progress });

    const writer = await BundleTarWriter.open(o.output, { zstd: o.zstd === true });
    try {
      await writer.addBuffer(BUNDLE_MANIFEST_FILE, manifestBytes);
      await writer.addBuffer(BUNDLE_SIGNATURE_FILE, signature);
      for (const file of files) {
        const planned = sources.get(file.path);
        if (planned?.kind === 'bytes') await writer.addBuffer(file.path, planned.bytes);
        else if (planned?.kind === 'blob') {
          const target = upstreams.get(planned.upstream);
          if (!target) throw new SignetError('INTERNAL', `no client for upstream ${planned.upstream}`);
          const body = await fetchBlob(target, planned.repository, file.digest, o.logger);
          await writer.addStream(file.path, file.size, Readable.from(verified(body, file, (n) => progress.advance(n, file.path))));
          continue;
        } else throw new SignetError('INTERNAL', `nothing to write for ${file.path}`);
        progress.advance(file.size, file.path);
      }
      await writer.finish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    progress.done();
    return { path: o.output, digest: sha256Digest(manifestBytes), images: manifest.images, files: files.length, bytes, leftToBase: leftToBase.size };
  } finally {
    await tools.close();
    if (ownUpstreams) await Promise.all([...ownUpstreams.values()].map((u) => u.close()));
  }
}

function liveUpstreams(config: Config, logger: Logger): Map<string, Upstream> {
  const out = new Map<string, Upstream>();
  for (const u of config.upstreams.values()) if (!u.offline) out.set(u.name, new UpstreamClient(u, { logger }));
  return out;
}

/**
 * The OCI image layout's index: each image under its `org.opencontainers.image.ref.name`
 * (`skopeo copy oci-archive:bundle.tar:<ref>` finds it by that), and each signature tag
 * (cosign's `sha256-<hex>.sig`, the referrers tag schema) under its own name, so that the
 * signatures travel with their subjects for tools that read the layout.
 */
function ociIndex(images: readonly BundleImage[]): Buffer {
  const manifests: unknown[] = [];
  const named = new Set<string>();
  const add = (name: string, digest: string, image: BundleImage): void => {
    if (named.has(name)) return;
    named.add(name);
    const entry = image.manifests.find((m) => m.digest === digest);
    if (!entry) throw new SignetError('INTERNAL', `${name}: ${digest} is not among the image's manifests`);
    manifests.push({ mediaType: entry.mediaType, digest: entry.digest, size: entry.size, annotations: { [REF_NAME]: name } });
  };
  for (const image of images) {
    add(image.ref, image.digest, image);
    for (const [tag, digest] of Object.entries(image.tags)) add(`${image.upstream}/${image.repository}:${tag}`, digest, image);
  }
  return Buffer.from(`${JSON.stringify({ schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests }, null, 2)}\n`);
}

async function fetchBlob(upstream: Upstream, repository: string, digest: string, logger: Logger): Promise<Readable> {
  let response;
  try {
    response = await upstream.request({ method: 'GET', path: `/v2/${repository}/blobs/${digest}`, repository, followRedirects: true });
  } catch (err) {
    throw new BundleError(`cannot fetch ${repository}@${digest} from ${upstream.name}: ${errorMessage(err)}: the bundle was not written`, { cause: err });
  }
  if (response.status !== 200) {
    response.body.resume();
    logger.warn({ upstream: upstream.name, repository, digest, status: response.status }, 'blob fetch failed');
    throw new BundleError(`${upstream.name} answered ${response.status} for blob ${repository}@${digest}: the bundle was not written`);
  }
  return response.body;
}

/** Passes `body` through while hashing it; throws at its end, before the tar entry is closed, if the bytes are not `file.digest`. */
async function* verified(body: Readable, file: BundleFile, onBytes: (n: number) => void): AsyncGenerator<Buffer> {
  const hash = createHash('sha256');
  for await (const chunk of body as AsyncIterable<Buffer>) {
    hash.update(chunk);
    onBytes(chunk.length);
    yield chunk;
  }
  const got = `sha256:${hash.digest('hex')}`;
  if (got !== file.digest) throw new BundleError(`the upstream sent bytes for ${file.digest} that hash to ${got}: the bundle was not written; export again`);
}

function blobPath(digest: string): string {
  return `blobs/sha256/${digest.slice('sha256:'.length)}`;
}
