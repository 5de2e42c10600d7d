import { Agent, request } from 'undici';
import { MANIFEST_ACCEPT } from '../test/harness/images.js';

/**
 * The benchmark's registry clients: undici reading and discarding bodies (counting bytes and
 * checking the total, never holding a blob in memory), and a whole-image pull as a registry
 * client does it (manifest by tag, then config and layers, a few at a time).
 */

export interface Transfer {
  bytes: number;
  ms: number;
  /** ms from the request to the first body byte */
  firstByteMs: number;
}

export interface ImageBlob {
  digest: string;
  size: number;
}

/** One keep-alive connection pool per figure, so no figure reuses another's sockets. */
export function newAgent(): Agent {
  return new Agent({ keepAliveTimeout: 10_000, connections: null, pipelining: 1, bodyTimeout: 5 * 60_000, headersTimeout: 5 * 60_000 });
}

/** Bytes of `body`, and when the first one arrived (performance.now()). */
async function drain(body: AsyncIterable<unknown>): Promise<{ bytes: number; firstAt: number | undefined }> {
  let bytes = 0;
  let firstAt: number | undefined;
  for await (const chunk of body) {
    firstAt ??= performance.now();
    bytes += (chunk as Uint8Array).byteLength;
  }
  return { bytes, firstAt };
}

async function errorText(body: { text(): Promise<string> }): Promise<string> {
  return (await body.text().catch(() => '')).slice(0, 500);
}

/** GETs `url`, counts the body's bytes and checks them against `expected` (when given). */
export async function download(agent: Agent, url: string, expected?: number, headers: Record<string, string> = {}): Promise<Transfer> {
  const started = performance.now();
  const res = await request(url, { dispatcher: agent, headers });
  if (res.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${res.statusCode}: ${await errorText(res.body)}`);
  const { bytes, firstAt } = await drain(res.body);
  const ms = performance.now() - started;
  if (expected !== undefined && bytes !== expected) throw new Error(`GET ${url}: ${bytes} bytes, expected ${expected}`);
  return { bytes, ms, firstByteMs: (firstAt ?? performance.now()) - started };
}

export interface ManifestReply {
  bytes: Buffer;
  digest: string | undefined;
  mediaType: string | undefined;
}

/** GETs a manifest (any of the four manifest media types). */
export async function getManifest(agent: Agent, base: string, repo: string, reference: string): Promise<ManifestReply> {
  const url = `${base}/v2/${repo}/manifests/${reference}`;
  const res = await request(url, { dispatcher: agent, headers: { accept: MANIFEST_ACCEPT } });
  if (res.statusCode !== 200) throw new Error(`GET ${url}: HTTP ${res.statusCode}: ${await errorText(res.body)}`);
  const bytes = Buffer.from(await res.body.arrayBuffer());
  const digest = res.headers['docker-content-digest'];
  const type = res.headers['content-type'];
  return {
    bytes,
    digest: typeof digest === 'string' ? digest : undefined,
    mediaType: typeof type === 'string' ? type : undefined,
  };
}

/** Config and layers of a single-platform image manifest. */
export function manifestBlobs(bytes: Buffer): ImageBlob[] {
  const parsed = JSON.parse(bytes.toString('utf8')) as { config?: ImageBlob; layers?: ImageBlob[] };
  if (!parsed.config || !parsed.layers) throw new Error('not a single-platform image manifest');
  return [parsed.config, ...parsed.layers].map((b) => ({ digest: b.digest, size: b.size }));
}

/** Runs `tasks` with at most `limit` at a time. */
export async function withConcurrency<T>(limit: number, tasks: ReadonlyArray<() => Promise<T>>): Promise<T[]> {
  const results: T[] = new Array<T>(tasks.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const task = tasks[i];
      if (task === undefined) return;
      results[i] = await task();
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, tasks.length) }, worker));
  return results;
}

/**
 * Pulls a whole image as a registry client does: the manifest by tag, then the config and the
 * layers (`parallel` at a time, as dockerd's max-concurrent-downloads = 3). Returns bytes moved.
 */
export async function pullImage(agent: Agent, base: string, repo: string, tag: string, parallel = 3): Promise<Transfer> {
  const started = performance.now();
  const manifest = await getManifest(agent, base, repo, tag);
  const blobs = manifestBlobs(manifest.bytes);
  const transfers = await withConcurrency(
    parallel,
    blobs.map((b) => () => download(agent, `${base}/v2/${repo}/blobs/${b.digest}`, b.size)),
  );
  const bytes = manifest.bytes.length + transfers.reduce((sum, t) => sum + t.bytes, 0);
  // The first byte of the image: the soonest first byte of its blobs, each from its own request.
  return { bytes, ms: performance.now() - started, firstByteMs: Math.min(...transfers.map((t) => t.firstByteMs)) };
}
