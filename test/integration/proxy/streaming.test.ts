import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, pushBlob, pushImageWithLayer, type BlobRef } from '../../harness/images.js';
import { startRegistry, type AccessLogEntry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { deterministicStream, hashStream } from '../../harness/streams.js';

// Blobs from a real distribution registry through Signet (a child process): concurrent cold
// requests share one upstream download, and a huge blob streams through in bounded memory.
// (Memory targets are measured by `npm run bench`; this only proves that no blob is held.)

const MiB = 1024 * 1024;

async function getManifest(signet: Signet, repo: string, ref: string): Promise<void> {
  const res = await fetch(`${signet.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT } });
  const body = await res.text();
  assert.equal(res.status, 200, body);
}

describe('blob streaming from a real registry', () => {
  let upstream: Registry;
  let signet: Signet;

  before(async () => {
    upstream = await startRegistry();
    signet = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
  });
  after(() => stopAll(signet, upstream));

  test('20 parallel cold GETs of one blob make one upstream GET', async (t) => {
    const layer = await pushBlob(upstream, 'library/parallel', () => deterministicStream(16 * MiB, 'parallel'));
    await pushImageWithLayer(upstream, 'library/parallel', '1.0', layer);
    await getManifest(signet, 'library/parallel', '1.0');
    const fetchesBefore = await signet.metric('signet_upstream_blob_fetches_total', { upstream: 'docker.io' });
    const logBefore = (await upstream.accessLog()).length;

    const results = await Promise.all(
      Array.from({ length: 20 }, async () => {
        const res = await fetch(`${signet.url}/v2/library/parallel/blobs/${layer.digest}`);
        assert.ok(res.body, 'no body');
        const hashed = await hashStream(res.body);
        return { status: res.status, ...hashed };
      }),
    );
    for (const r of results) {
      assert.equal(r.status, 200);
      assert.equal(r.digest, layer.digest);
      assert.equal(r.size, layer.size);
    }
    const isBlobGet = (e: AccessLogEntry): boolean => e.method === 'GET' && e.path === `/v2/library/parallel/blobs/${layer.digest}`;
    // At least one upstream GET must have happened: wait for its log line, then count.
    const upstreamGets = (await upstream.accessLog({ until: (log) => log.slice(logBefore).some(isBlobGet) })).slice(logBefore).filter(isBlobGet);
    assert.equal(upstreamGets.length, 1, JSON.stringify(upstreamGets));
    assert.equal((await signet.metric('signet_upstream_blob_fetches_total', { upstream: 'docker.io' })) - fetchesBefore, 1);
    t.diagnostic(`Signet peak RSS after 20 parallel clients: ${((await signet.peakRssBytes()) / MiB).toFixed(1)} MiB`);
  });

  test('a 256 MiB blob streams through (cold and from cache) without being held in memory', async (t) => {
    // VmHWM is a high-water mark over the process's whole life: measure in a Signet of its own,
    // not in the shared one that may have served 20 parallel clients, and without coverage counters.
    const size = 256 * MiB;
    const layer: BlobRef = await pushBlob(upstream, 'library/big', () => deterministicStream(size, 'big'));
    assert.equal(layer.size, size);
    await pushImageWithLayer(upstream, 'library/big', '1.0', layer);
    const fresh = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io', uninstrumented: true });
    try {
      const baseline = await fresh.peakRssBytes();
      t.diagnostic(`after start: Signet peak RSS ${(baseline / MiB).toFixed(1)} MiB`);
      await getManifest(fresh, 'library/big', '1.0');
      for (const pass of ['cold', 'cached']) {
        const res = await fetch(`${fresh.url}/v2/library/big/blobs/${layer.digest}`);
        assert.equal(res.status, 200, `${pass} GET`);
        assert.ok(res.body);
        const hashed = await hashStream(res.body);
        assert.equal(hashed.digest, layer.digest, `${pass} digest`);
        assert.equal(hashed.size, size, `${pass} size`);
        const peak = await fresh.peakRssBytes();
        t.diagnostic(`${pass}: Signet peak RSS ${(peak / MiB).toFixed(1)} MiB`);
        // A process that buffered the blob would grow by its whole size; streaming grows by buffers.
        assert.ok(peak - baseline < size / 2, `${pass}: Signet peak RSS grew by ${((peak - baseline) / MiB).toFixed(1)} MiB for a ${size / MiB} MiB blob`);
      }
    } finally {
      await fresh.stop();
    }
  });
});
