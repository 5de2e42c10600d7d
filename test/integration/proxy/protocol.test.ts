import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { rawSocketRequest } from '../../harness/http.js';
import { MANIFEST_ACCEPT, pushBlob, pushImage, pushImageWithLayer, pushManifest, type BlobRef, type PushedImage } from '../../harness/images.js';
import { registryRequest } from '../../harness/registry-client.js';
import { startRegistry, type AccessLogEntry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';

// The distribution API details clients rely on: the version check, HEAD semantics, ranges, and
// tag listing with pagination.

describe('registry protocol', () => {
  let upstream: Registry;
  let signet: Signet;
  let hello: PushedImage;
  let ranged: PushedImage;
  let layerBytes: Buffer;
  let layer: BlobRef;
  const TAGS = ['a1', 'b2', 'c3', 'd4', 'e5'];

  before(async () => {
    upstream = await startRegistry();
    hello = await pushImage(upstream, 'library/hello', '1.0');
    layerBytes = randomBytes(4096);
    layer = await pushBlob(upstream, 'library/ranged', layerBytes);
    ranged = await pushImageWithLayer(upstream, 'library/ranged', '1.0', layer);
    for (const tag of TAGS) await pushManifest(upstream, 'library/hello', tag, hello.manifest, hello.mediaType);
    signet = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
  });
  after(() => stopAll(signet, upstream));

  test('GET /v2/ answers 200 with Docker-Distribution-API-Version', async () => {
    const res = await fetch(`${signet.url}/v2/`);
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
  });

  test('GET manifest returns the upstream bytes; HEAD has the headers and no body', async () => {
    const res = await fetch(`${signet.url}/v2/library/hello/manifests/1.0`, { headers: { accept: MANIFEST_ACCEPT } });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.ok(body.equals(hello.manifest));
    assert.equal(res.headers.get('docker-content-digest'), hello.digest);

    for (const ref of ['1.0', hello.digest]) {
      const head = await rawSocketRequest(signet.url, `HEAD /v2/library/hello/manifests/${ref} HTTP/1.1\r\nHost: ${signet.host}\r\nAccept: ${MANIFEST_ACCEPT}`);
      assert.equal(head.status, 200, `HEAD ${ref}`);
      assert.equal(head.headers['docker-content-digest'], hello.digest);
      assert.equal(head.headers['content-type'], hello.mediaType);
      assert.equal(head.headers['content-length'], String(hello.size));
      assert.equal(head.body.length, 0, `HEAD ${ref} sent a body`);
    }
  });

  test('a Range request on a cached blob answers 206 with the right bytes and Content-Range', async () => {
    const manifest = await fetch(`${signet.url}/v2/library/ranged/manifests/1.0`, { headers: { accept: MANIFEST_ACCEPT } });
    await manifest.arrayBuffer();
    assert.equal(manifest.status, 200);
    assert.equal(manifest.headers.get('docker-content-digest'), ranged.digest);

    const full = await fetch(`${signet.url}/v2/library/ranged/blobs/${layer.digest}`);
    assert.equal(full.status, 200);
    assert.ok(Buffer.from(await full.arrayBuffer()).equals(layerBytes));
    const hitsBefore = await signet.metric('signet_cache_hits_total', { kind: 'blob' });

    const part = await fetch(`${signet.url}/v2/library/ranged/blobs/${layer.digest}`, { headers: { range: 'bytes=10-99' } });
    const bytes = Buffer.from(await part.arrayBuffer());
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 10-99/${layerBytes.length}`);
    assert.equal(part.headers.get('content-length'), '90');
    assert.ok(bytes.equals(layerBytes.subarray(10, 100)));
    assert.equal((await signet.metric('signet_cache_hits_total', { kind: 'blob' })) - hitsBefore, 1, 'served from the cache');
  });

  test('a Range request on a cold blob answers 206 with the right bytes', async () => {
    const coldBytes = randomBytes(2048);
    const cold = await pushBlob(upstream, 'library/cold', coldBytes);
    await pushImageWithLayer(upstream, 'library/cold', '1.0', cold);
    const manifest = await fetch(`${signet.url}/v2/library/cold/manifests/1.0`, { headers: { accept: MANIFEST_ACCEPT } });
    await manifest.arrayBuffer();
    const part = await fetch(`${signet.url}/v2/library/cold/blobs/${cold.digest}`, { headers: { range: 'bytes=100-199' } });
    const bytes = Buffer.from(await part.arrayBuffer());
    assert.equal(part.status, 206);
    assert.equal(part.headers.get('content-range'), `bytes 100-199/${coldBytes.length}`);
    assert.ok(bytes.equals(coldBytes.subarray(100, 200)));
  });

  test('tags/list passes n and last through', async () => {
    // distribution 2.8 itself ignores n/last on tags/list (pagination came with 3.0), so what
    // counts is that the query reaches the upstream unchanged and its answer comes back as is.
    for (const [prefix, query] of [
      ['', ''],
      ['', '?n=2'],
      ['', '?n=2&last=b2'],
      ['docker.io/', '?n=3&last=a1'],
    ] as const) {
      const logBefore = (await upstream.accessLog()).length;
      const res = await fetch(`${signet.url}/v2/${prefix}library/hello/tags/list${query}`);
      const body = await res.text();
      assert.equal(res.status, 200, body);
      const isTagsList = (e: AccessLogEntry): boolean => e.path === '/v2/library/hello/tags/list';
      const forwarded = (await upstream.accessLog({ until: (log) => log.slice(logBefore).some(isTagsList) })).slice(logBefore).filter(isTagsList);
      assert.equal(forwarded.length, 1, JSON.stringify(forwarded));
      const sent = new URL(forwarded[0]?.uri ?? '', upstream.url).searchParams;
      const asked = new URLSearchParams(query);
      assert.equal(sent.get('n'), asked.get('n'), `n for ${query}`);
      assert.equal(sent.get('last'), asked.get('last'), `last for ${query}`);
      const direct = await registryRequest(upstream, 'GET', `/v2/library/hello/tags/list${query}`);
      assert.deepEqual(JSON.parse(body), JSON.parse(direct.body.toString('utf8')), `tags/list${query}`);
      assert.equal(res.headers.get('link'), direct.headers.link === undefined ? null : String(direct.headers.link));
    }
    const all = (await (await fetch(`${signet.url}/v2/library/hello/tags/list`)).json()) as { name: string; tags: string[] };
    assert.equal(all.name, 'library/hello');
    assert.deepEqual([...all.tags].sort(), ['1.0', ...TAGS].sort());
  });
});
