/**
 * The offline upstream against the registry it stands in for. The same content is pushed to a
 * real distribution 2.8 and imported into a DiskImportedStore; then the same requests go to both
 * `Upstream`s (distribution through Signet's UpstreamClient, as Signet reaches a live upstream)
 * and their answers are compared: statuses, headers, bodies, error codes and details. Then
 * Signet's own consumers of an upstream (the manifest, blob and tag-list services of the proxy
 * and the signature-fetching port) run over both and must come to the same results. Where the
 * offline upstream answers more than distribution 2.8 (the referrers API, tag-list paging, HEAD
 * of a tag list, a manifest as a blob), that is asserted on its own.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { DiskImportedStore } from '../../../src/bundle/imported-store.js';
import type { ImportedContent, ImportedRepository, ImportedState } from '../../../src/bundle/imported.js';
import { OfflineRegistry } from '../../../src/bundle/offline-registry.js';
import { MemoryContent } from '../../../src/cache/memory/content.js';
import { MemoryTagStore } from '../../../src/cache/memory/tags.js';
import { parseConfig } from '../../../src/config/load.js';
import { SignetError } from '../../../src/errors.js';
import type { TagLister } from '../../../src/policy/requests.js';
import { BlobService } from '../../../src/proxy/blobs.js';
import { ManifestService } from '../../../src/proxy/manifests.js';
import type { ProxyMetrics } from '../../../src/proxy/observer.js';
import type { Target } from '../../../src/proxy/router.js';
import { TagListService } from '../../../src/proxy/tag-list.js';
import { UPSTREAM_MANIFEST_ACCEPT } from '../../../src/registry/media-types.js';
import { parseDigest } from '../../../src/registry/names.js';
import { RegistrySignatureFetcher } from '../../../src/registry/referrers.js';
import { isSignatureFetchError } from '../../../src/registry/signature-fetch-error.js';
import { cosignTag } from '../../../src/registry/signature-artifacts.js';
import { UpstreamClient, type Upstream, type UpstreamRequest } from '../../../src/registry/upstream-client.js';
import {
  ARTIFACT_TYPES,
  buildArtifact,
  cosignLegacySignature,
  notationSignature,
  pushArtifact,
  sigstoreBundleSignature,
  type BuiltArtifact,
} from '../../harness/artifacts.js';
import { stopAll } from '../../harness/cleanup.js';
import { MEDIA_TYPES, TWO_PLATFORMS, allBlobs, pushImage, pushManifest, type PushedImage } from '../../harness/images.js';
import { expectStatus, registryRequest } from '../../harness/registry-client.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

const logger = pino({ level: 'silent' });
const NAME = 'registry.test';
const ONE = 'app/one';
const MULTI = 'app/multi';
const ZERO = `sha256:${'0'.repeat(64)}`;
const metrics = new Proxy({}, { get: () => ({ inc: () => undefined }) }) as ProxyMetrics;

let registry: Registry | undefined;
let client: UpstreamClient | undefined;
let dir: string | undefined;
let store: DiskImportedStore;
let offline: OfflineRegistry;
let live: UpstreamClient;
let one: PushedImage;
let multi: PushedImage;
let sigstore: BuiltArtifact;
let notation: BuiltArtifact;
let legacy: BuiltArtifact;
let layer: string;
let layerSize: number;

const sha256 = (bytes: Buffer): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Everything a repository holds in the registry, imported into the store as an import would. */
async function importRepository(repo: string, tags: Record<string, string>, manifests: Buffer[], blobs: string[]): Promise<ImportedRepository> {
  const types: Record<string, string> = {};
  for (const bytes of manifests) {
    const digest = sha256(bytes);
    await store.put({ digest, size: bytes.length }, Readable.from([bytes]));
    types[digest] = (JSON.parse(bytes.toString('utf8')) as { mediaType: string }).mediaType;
  }
  for (const digest of blobs) {
    const reply = expectStatus(await registryRequest({ url: registry?.url ?? '' }, 'GET', `/v2/${repo}/blobs/${digest}`), `blob ${digest}`, 200);
    await store.put({ digest, size: reply.body.length }, Readable.from([reply.body]));
  }
  return { tags, manifests: types, blobs: [...new Set(blobs)].sort() };
}

before(async () => {
  registry = await startRegistry();
  const target = { url: registry.url };
  one = await pushImage(target, ONE, 'v1');
  for (const tag of ['latest', 'a0']) await pushManifest(target, ONE, tag, one.manifest, one.mediaType);
  multi = await pushImage(target, MULTI, 'v2', { platforms: TWO_PLATFORMS });
  const subject = { mediaType: one.mediaType, digest: one.digest, size: one.size };
  sigstore = await pushArtifact(target, ONE, buildArtifact(sigstoreBundleSignature(subject)));
  notation = await pushArtifact(target, ONE, buildArtifact(notationSignature(subject)));
  legacy = await pushArtifact(target, ONE, buildArtifact(cosignLegacySignature(subject, `${registry.host}/${ONE}`)), cosignTag(one.digest, 'sig'));
  const first = one.blobs.at(-1);
  assert.ok(first);
  layer = first.digest;
  layerSize = first.size;

  dir = await makeTempDir('offline-reg');
  store = new DiskImportedStore({ root: dir, logger });
  await store.init();
  const artifacts = [sigstore, notation, legacy];
  const state: ImportedState = {
    version: 1,
    bundles: [sha256(Buffer.from('the bundle'))],
    repositories: {
      [`${NAME}/${ONE}`]: await importRepository(
        ONE,
        { v1: one.digest, latest: one.digest, a0: one.digest, [cosignTag(one.digest, 'sig')]: legacy.digest },
        [one.manifest, ...artifacts.map((a) => a.manifest)],
        [...allBlobs(one).map((b) => b.digest), ...artifacts.flatMap((a) => a.blobs.map((b) => b.digest))],
      ),
      [`${NAME}/${MULTI}`]: await importRepository(
        MULTI,
        { v2: multi.digest },
        [multi.manifest, ...(multi.children ?? []).map((c) => c.manifest)],
        allBlobs(multi).map((b) => b.digest),
      ),
    },
    notary: {},
  };
  await store.commit(state);
  offline = new OfflineRegistry({ name: NAME, content: store, logger });

  const config = parseConfig(`upstreams:\n  ${NAME}:\n    url: ${registry.url}\n`, 'offline registry test');
  const upstream = config.upstreams.get(NAME);
  assert.ok(upstream);
  client = new UpstreamClient(upstream, { logger, delay: async () => {} });
  live = client;
});

after(async () => {
  await stopAll(client, registry);
  if (dir) await removeDir(dir);
});

interface Observed {
  status: number;
  headers: Record<string, string | undefined>;
  body: Buffer;
}

const COMPARED_HEADERS = [
  'content-type',
  'content-length',
  'docker-content-digest',
  'etag',
  'content-range',
  'accept-ranges',
  'cache-control',
  'docker-distribution-api-version',
];

async function observe(upstream: Upstream, req: UpstreamRequest): Promise<Observed> {
  const res = await upstream.request(req);
  const headers: Record<string, string | undefined> = {};
  for (const name of COMPARED_HEADERS) {
    const v = res.headers[name];
    headers[name] = Array.isArray(v) ? v.join(', ') : v;
  }
  return { status: res.status, headers, body: await readAll(res.body) };
}

function firstError(body: Buffer): { code: unknown; detail: unknown } | undefined {
  try {
    const doc = JSON.parse(body.toString('utf8')) as { errors?: Array<{ code?: unknown; detail?: unknown }> };
    const first = doc.errors?.[0];
    return first ? { code: first.code, detail: first.detail } : undefined;
  } catch {
    return undefined;
  }
}

/** `accept` null: no Accept header at all. */
const manifestReq = (method: 'GET' | 'HEAD', repo: string, reference: string, accept: string | null = UPSTREAM_MANIFEST_ACCEPT): UpstreamRequest => ({
  method,
  path: `/v2/${repo}/manifests/${reference}`,
  repository: repo,
  ...(accept === null ? {} : { headers: { accept } }),
});
const blobReq = (method: 'GET' | 'HEAD', repo: string, digest: string, range?: string): UpstreamRequest => ({
  method,
  path: `/v2/${repo}/blobs/${digest}`,
  repository: repo,
  followRedirects: true,
  ...(range === undefined ? {} : { headers: { range } }),
});

describe('offline upstream and distribution 2.8 answer alike', () => {
  const cases: Array<[string, () => UpstreamRequest]> = [
    ['GET /v2/', () => ({ method: 'GET', path: '/v2/', repository: undefined })],
    ['HEAD /v2/', () => ({ method: 'HEAD', path: '/v2/', repository: undefined })],
    ['GET a manifest by tag', () => manifestReq('GET', ONE, 'v1')],
    ['HEAD a manifest by tag', () => manifestReq('HEAD', ONE, 'latest')],
    ['GET a manifest by digest', () => manifestReq('GET', ONE, one.digest)],
    ['HEAD a manifest by digest', () => manifestReq('HEAD', ONE, one.digest)],
    ['GET an index by tag', () => manifestReq('GET', MULTI, 'v2')],
    ['GET an index child by digest', () => manifestReq('GET', MULTI, multi.children?.[1]?.digest ?? '')],
    ['GET a signature artifact by digest', () => manifestReq('GET', ONE, sigstore.digest)],
    ['GET a cosign signature tag', () => manifestReq('GET', ONE, cosignTag(one.digest, 'sig'))],
    ['GET an OCI manifest without Accept', () => manifestReq('GET', ONE, 'v1', null)],
    ['GET an OCI manifest accepting Docker types only', () => manifestReq('GET', ONE, 'v1', MEDIA_TYPES.dockerManifest)],
    ['GET an OCI index accepting manifests only', () => manifestReq('GET', MULTI, 'v2', MEDIA_TYPES.ociManifest)],
    ['GET an unknown tag', () => manifestReq('GET', ONE, 'nope')],
    ['HEAD an unknown tag', () => manifestReq('HEAD', ONE, 'nope')],
    ['GET an unknown digest', () => manifestReq('GET', ONE, ZERO)],
    ['GET a manifest of another repository', () => manifestReq('GET', ONE, multi.digest)],
    ['GET a manifest of an unknown repository', () => manifestReq('GET', 'no/such', 'v1')],
    ['GET a blob', () => blobReq('GET', ONE, layer)],
    ['HEAD a blob', () => blobReq('HEAD', ONE, layer)],
    ['GET bytes=0-9 of a blob', () => blobReq('GET', ONE, layer, 'bytes=0-9')],
    ['GET bytes=5- of a blob', () => blobReq('GET', ONE, layer, 'bytes=5-')],
    ['GET bytes=-5 of a blob', () => blobReq('GET', ONE, layer, 'bytes=-5')],
    ['GET bytes=3-999999999 of a blob', () => blobReq('GET', ONE, layer, 'bytes=3-999999999')],
    ['HEAD bytes=0-9 of a blob', () => blobReq('HEAD', ONE, layer, 'bytes=0-9')],
    ['GET an unknown blob', () => blobReq('GET', ONE, ZERO)],
    ['HEAD an unknown blob', () => blobReq('HEAD', ONE, ZERO)],
    ['GET a blob of another repository', () => blobReq('GET', ONE, allBlobs(multi)[0]?.digest ?? '')],
    ['GET a blob of an unknown repository', () => blobReq('GET', 'no/such', layer)],
    ['GET a blob by a malformed digest', () => blobReq('GET', ONE, 'sha256:abc')],
    ['GET the tag list of an unknown repository', () => ({ method: 'GET', path: '/v2/no/such/tags/list', repository: 'no/such' })],
  ];
  for (const [what, req] of cases) {
    it(what, async () => {
      const [a, b] = [await observe(live, req()), await observe(offline, req())];
      assert.equal(b.status, a.status, `status (distribution: ${a.body.toString().slice(0, 200)})`);
      if (a.status < 400) {
        assert.deepEqual(b.headers, a.headers, 'headers');
        assert.deepEqual(b.body, a.body, 'body');
      } else {
        // Messages differ on purpose (the offline one says what to import); codes and details do not.
        assert.equal(b.headers['content-type'], a.headers['content-type']);
        if (req().method === 'GET') assert.deepEqual(firstError(b.body), firstError(a.body), `${a.body.toString()} / ${b.body.toString()}`);
        else assert.equal(b.body.length, 0);
      }
    });
  }

  it('GET the tag list: the same tags (distribution 2.8 lists them unsorted; the offline upstream in lexical order)', async () => {
    const req: UpstreamRequest = { method: 'GET', path: `/v2/${ONE}/tags/list`, repository: ONE };
    const [a, b] = [await observe(live, req), await observe(offline, req)];
    assert.equal(b.status, a.status);
    assert.equal(b.headers['content-type'], a.headers['content-type']);
    const listed = (o: Observed): { name: string; tags: string[] } => JSON.parse(o.body.toString()) as { name: string; tags: string[] };
    assert.equal(listed(b).name, listed(a).name);
    assert.deepEqual(listed(b).tags, [...listed(a).tags].sort());
  });
});

describe('offline upstream: beyond distribution 2.8', () => {
  it('pages tag lists with n and last and a Link to the next page (distribution-spec end-8b)', async () => {
    const all = ['a0', 'latest', cosignTag(one.digest, 'sig'), 'v1'].sort();
    const page = async (query: string): Promise<{ tags: string[]; link: unknown }> => {
      const res = await offline.request({ method: 'GET', path: `/v2/${ONE}/tags/list${query}`, repository: ONE });
      assert.equal(res.status, 200);
      return { tags: (JSON.parse((await readAll(res.body)).toString()) as { tags: string[] }).tags, link: res.headers['link'] };
    };
    assert.deepEqual(await page('?n=2'), { tags: all.slice(0, 2), link: `</v2/${ONE}/tags/list?n=2&last=${all[1]}>; rel="next"` });
    assert.deepEqual(await page(`?n=2&last=${all[1]}`), { tags: all.slice(2), link: undefined });
    assert.deepEqual(await page(`?last=${all[0]}`), { tags: all.slice(1), link: undefined });
    assert.deepEqual(await page('?n=0'), { tags: [], link: undefined });
    const bad = await offline.request({ method: 'GET', path: `/v2/${ONE}/tags/list?n=many`, repository: ONE });
    assert.equal(bad.status, 400);
    assert.equal(firstError(await readAll(bad.body))?.code, 'PAGINATION_NUMBER_INVALID');
  });

  it('answers HEAD of a tag list with its headers (distribution 2.8: 405)', async () => {
    const res = await offline.request({ method: 'HEAD', path: `/v2/${ONE}/tags/list`, repository: ONE });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^application\/json/);
    assert.ok(Number(res.headers['content-length']) > 0);
    assert.equal((await readAll(res.body)).length, 0);
  });

  it('serves a manifest of the repository as a blob too (distribution 2.8: 404 BLOB_UNKNOWN)', async () => {
    const res = await offline.request(blobReq('GET', ONE, one.digest));
    assert.equal(res.status, 200);
    assert.deepEqual(await readAll(res.body), one.manifest);
    const other = await offline.request(blobReq('GET', MULTI, one.digest));
    assert.equal(other.status, 404);
  });

  it('answers an unsatisfiable range 416 naming the length (distribution 2.8 drops the connection)', async () => {
    const res = await offline.request(blobReq('GET', ONE, layer, `bytes=${layerSize}-`));
    assert.equal(res.status, 416);
    assert.equal(res.headers['content-range'], `bytes */${layerSize}`);
    assert.equal(firstError(await readAll(res.body))?.code, 'RANGE_INVALID');
  });

  it('answers the referrers API (distribution-spec 1.1): descriptors of the manifests whose subject is the digest', async () => {
    const res = await offline.request({ method: 'GET', path: `/v2/${ONE}/referrers/${one.digest}`, repository: ONE });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-type'], MEDIA_TYPES.ociIndex);
    assert.equal(res.headers['oci-filters-applied'], undefined);
    const index = JSON.parse((await readAll(res.body)).toString()) as { schemaVersion: number; mediaType: string; manifests: unknown[] };
    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MEDIA_TYPES.ociIndex);
    const expected = [sigstore.descriptor, notation.descriptor].sort((x, y) => (x.digest < y.digest ? -1 : 1));
    assert.deepEqual(index.manifests, expected);

    const filtered = await offline.request({
      method: 'GET',
      path: `/v2/${ONE}/referrers/${one.digest}?artifactType=${encodeURIComponent(ARTIFACT_TYPES.notation)}`,
      repository: ONE,
    });
    assert.equal(filtered.headers['oci-filters-applied'], 'artifactType');
    assert.deepEqual((JSON.parse((await readAll(filtered.body)).toString()) as { manifests: unknown[] }).manifests, [notation.descriptor]);

    const none = await offline.request({ method: 'GET', path: `/v2/${ONE}/referrers/${ZERO}`, repository: ONE });
    assert.equal(none.status, 200);
    assert.deepEqual((JSON.parse((await readAll(none.body)).toString()) as { manifests: unknown[] }).manifests, []);

    const unknown = await offline.request({ method: 'GET', path: `/v2/no/such/referrers/${one.digest}`, repository: 'no/such' });
    assert.equal(unknown.status, 404);
    assert.equal(firstError(await readAll(unknown.body))?.code, 'NAME_UNKNOWN');
  });

  it('computes a repository’s referrers once per index, and again for a new import', async () => {
    let reads = 0;
    const counting: ImportedContent = {
      state: () => store.state(),
      stat: (d) => store.stat(d),
      open: (d, r) => store.open(d, r),
      read: (d, max) => {
        reads++;
        return store.read(d, max);
      },
    };
    const registryOver = new OfflineRegistry({ name: NAME, content: counting });
    const ask = async (): Promise<void> => {
      const res = await registryOver.request({ method: 'GET', path: `/v2/${ONE}/referrers/${one.digest}`, repository: ONE });
      await readAll(res.body);
    };
    await ask();
    const once = reads;
    assert.equal(once, 4, 'each manifest of the repository read once');
    await ask();
    assert.equal(reads, once, 'memoized for the same index');
    // An import replaces the index (here with the same content): a new object, computed again.
    await store.commit(await store.state());
    await ask();
    assert.equal(reads, 2 * once, 'computed again for a new index');
  });

  it('answers paths and methods outside the registry API 404 UNSUPPORTED, from offline:// and never foreign', async () => {
    for (const req of [
      { method: 'GET', path: `/v2/${ONE}/blobs/uploads/`, repository: ONE },
      { method: 'GET', path: '/v2/_catalog', repository: undefined },
      { method: 'GET', path: '/v2/UPPER/manifests/v1', repository: undefined },
      { method: 'POST', path: `/v2/${ONE}/blobs/uploads/`, repository: ONE },
    ] as UpstreamRequest[]) {
      const res = await offline.request(req);
      assert.equal(res.status, 404, req.path);
      assert.equal(firstError(await readAll(res.body))?.code, 'UNSUPPORTED', req.path);
    }
    const res = await offline.request(manifestReq('GET', ONE, 'v1'));
    await readAll(res.body);
    assert.equal(res.url.href, `offline://${NAME}/v2/${ONE}/manifests/v1`);
    assert.equal(res.foreign, undefined);
  });

  it('throws a store that cannot be read (STORAGE_ERROR) instead of answering', async () => {
    const state = await store.state();
    const repo = state.repositories[`${NAME}/${ONE}`];
    assert.ok(repo);
    const broken: ImportedContent = {
      state: () => Promise.resolve({ ...state, repositories: { [`${NAME}/${ONE}`]: { ...repo, blobs: [...repo.blobs, ZERO] } } }),
      stat: (d) => store.stat(d),
      open: (d, r) => store.open(d, r),
      read: (d, max) => store.read(d, max),
    };
    const over = new OfflineRegistry({ name: NAME, content: broken });
    await assert.rejects(over.request(blobReq('GET', ONE, ZERO)), (err: unknown) => err instanceof SignetError && err.code === 'STORAGE_ERROR');
    const failing = new OfflineRegistry({
      name: NAME,
      content: { ...broken, state: () => Promise.reject(new SignetError('STORAGE_ERROR', 'cannot read the imported index')) },
    });
    await assert.rejects(failing.request(manifestReq('GET', ONE, 'v1')), (err: unknown) => err instanceof SignetError && err.code === 'STORAGE_ERROR');
  });

  it('refuses a request whose signal already aborted, and stops a body whose signal aborts', async () => {
    const gone = AbortSignal.abort();
    await assert.rejects(offline.request({ ...blobReq('GET', ONE, layer), signal: gone }));
    const controller = new AbortController();
    const res = await offline.request({ ...blobReq('GET', ONE, layer), signal: controller.signal });
    controller.abort();
    await assert.rejects(readAll(res.body), { name: 'AbortError' });
  });
});

describe("Signet's consumers over both upstreams", () => {
  const targetOf = (upstream: Upstream, repository: string): Target => ({ upstream, repository, clientName: repository, client: undefined });

  function manifestService(): ManifestService {
    const memory = new MemoryContent({ maxBytes: 64 * 1024 * 1024 });
    return new ManifestService({
      manifests: memory.manifests,
      tags: new MemoryTagStore(),
      // The policy is not under test: it loads what it is asked for.
      policy: {
        manifestByTag: (request, loader) => loader.byTag(request.tag),
        manifestByDigest: async (request, loader) => {
          const m = await loader.byDigest(request.digest);
          if (!m) throw new SignetError('MANIFEST_UNKNOWN', `manifest ${request.digest} not found`);
          return m;
        },
      },
      metrics,
      logger,
      tagCheckSeconds: 0,
    });
  }

  async function outcome<T>(promise: Promise<T>): Promise<T | { error: string }> {
    try {
      return await promise;
    } catch (err) {
      return { error: err instanceof SignetError ? String(err.code) : String(err) };
    }
  }

  it('the manifest service resolves tags and digests to the same manifests, and fails alike', async () => {
    const facts = async (upstream: Upstream, repo: string, reference: string): Promise<unknown> =>
      outcome(
        manifestService()
          .get(targetOf(upstream, repo), reference.includes(':') ? { kind: 'digest', digest: parseDigest(reference) } : { kind: 'tag', tag: reference })
          .then(({ digest, mediaType, size, bytes, isIndex, children, subject, signatureArtifact }) => ({
            digest,
            mediaType,
            size,
            bytes,
            isIndex,
            children,
            subject,
            signatureArtifact,
          })),
      );
    const refs: Array<[string, string]> = [
      [ONE, 'v1'],
      [ONE, one.digest],
      [ONE, sigstore.digest],
      [ONE, cosignTag(one.digest, 'sig')],
      [MULTI, 'v2'],
      [MULTI, multi.children?.[0]?.digest ?? ''],
      [ONE, 'nope'],
      [ONE, ZERO],
      ['no/such', 'v1'],
    ];
    for (const [repo, reference] of refs) {
      assert.deepEqual(await facts(offline, repo, reference), await facts(live, repo, reference), `${repo} ${reference}`);
    }
  });

  it('the blob service serves the same bytes, whole, ranged and by HEAD', async () => {
    const serve = async (upstream: Upstream, method: 'GET' | 'HEAD', range?: { start: number; end: number }): Promise<unknown> => {
      const blobs = new BlobService({
        store: new MemoryContent({ maxBytes: 64 * 1024 * 1024 }).blobs,
        policy: { blob: () => Promise.resolve() },
        metrics,
        logger,
      });
      const served = await blobs.get(targetOf(upstream, ONE), parseDigest(layer), method, range);
      return { size: served.size, range: served.range, bytes: served.stream ? await readAll(served.stream) : undefined };
    };
    assert.deepEqual(await serve(offline, 'GET'), await serve(live, 'GET'));
    assert.deepEqual(await serve(offline, 'HEAD'), await serve(live, 'HEAD'));
    assert.deepEqual(await serve(offline, 'GET', { start: 2, end: 20 }), await serve(live, 'GET', { start: 2, end: 20 }));
    const unknown = async (upstream: Upstream): Promise<unknown> =>
      outcome(
        new BlobService({ store: new MemoryContent({ maxBytes: 1024 }).blobs, policy: { blob: () => Promise.resolve() }, metrics, logger }).get(
          targetOf(upstream, ONE),
          parseDigest(ZERO),
          'GET',
          undefined,
        ),
      );
    assert.deepEqual(await unknown(offline), await unknown(live));
  });

  it('the tag-list service lists, pages and resolves the same tags', async () => {
    let captured: TagLister | undefined;
    const listing = (passThrough: boolean): TagListService =>
      new TagListService({
        policy: {
          tagList: (_request, _query, lister) => {
            captured = lister;
            return Promise.resolve(passThrough ? undefined : { tags: [], next: undefined });
          },
        },
      });
    const listed = async (upstream: Upstream): Promise<string[]> => {
      const answer = await listing(true).list(targetOf(upstream, ONE), { n: undefined, last: undefined }, 'GET');
      assert.ok(answer.body);
      return (JSON.parse((await readAll(answer.body)).toString()) as { tags: string[] }).tags.sort();
    };
    assert.deepEqual(await listed(offline), await listed(live));

    const viaLister = async (upstream: Upstream): Promise<unknown> => {
      await listing(false).list(targetOf(upstream, ONE), { n: undefined, last: undefined }, 'GET');
      assert.ok(captured);
      const lister = captured;
      return {
        first: await lister.page(2, undefined),
        second: await lister.page(2, 'latest'),
        v1: await lister.resolve('v1'),
        nope: await lister.resolve('nope'),
      };
    };
    assert.deepEqual(await viaLister(offline), await viaLister(live));
    const unknown = async (upstream: Upstream): Promise<unknown> =>
      outcome(listing(true).list(targetOf(upstream, 'no/such'), { n: undefined, last: undefined }, 'GET'));
    assert.deepEqual(await unknown(offline), await unknown(live));
  });

  it('the signature fetcher finds referrers through the referrers API, tagged signatures, and fetches them by digest', async () => {
    const fetcher = new RegistrySignatureFetcher({ upstream: offline, logger });
    const listed = await fetcher.referrers(ONE, one.digest);
    assert.deepEqual(
      listed.map((d) => ({ ...d })),
      [sigstore, notation]
        .sort((x, y) => (x.digest < y.digest ? -1 : 1))
        .map((a) => ({ ...a.descriptor, annotations: a.descriptor.annotations ?? {}, source: 'referrers-api', tag: undefined })),
    );
    const filtered = await fetcher.referrers(ONE, one.digest, { artifactType: ARTIFACT_TYPES.sigstoreBundle });
    assert.deepEqual(
      filtered.map((d) => d.digest),
      [sigstore.digest],
    );

    // The cosign tag: the same descriptor as the live registry gives (it has no referrers API,
    // so only the tagged signature is found there).
    const tags = [cosignTag(one.digest, 'sig')];
    const offlineTagged = (await fetcher.referrers(ONE, one.digest, { tags })).filter((d) => d.source === 'tag');
    const liveTagged = await new RegistrySignatureFetcher({ upstream: live, logger }).referrers(ONE, one.digest, { tags });
    assert.deepEqual(offlineTagged, liveTagged);
    assert.equal(offlineTagged[0]?.digest, legacy.digest);

    const manifest = await fetcher.manifest(ONE, sigstore.digest);
    assert.deepEqual(manifest.bytes, sigstore.manifest);
    const payload = sigstore.blobs.at(-1);
    assert.ok(payload);
    assert.deepEqual((await fetcher.blob(ONE, payload.digest, 1024 * 1024)).bytes, payload.data);

    assert.deepEqual(await fetcher.referrers(MULTI, multi.digest), []);
    await assert.rejects(fetcher.referrers('no/such', one.digest), (err: unknown) => isSignatureFetchError(err) && err.code === 'not_found');
  });
});
