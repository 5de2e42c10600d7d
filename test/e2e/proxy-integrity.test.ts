import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { MANIFEST_ACCEPT, pushBlob, pushImage, pushImageWithLayer, type BlobRef } from '../harness/images.js';
import { waitFor } from '../harness/process.js';
import { startRegistry, type AccessLogEntry, type Registry } from '../harness/registry.js';
import { startSignet, type Signet } from '../harness/signet.js';
import { skopeoCopy } from '../harness/skopeo.js';
import { deterministicStream, hashStream } from '../harness/streams.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

// What Signet hands out is what the digest promises: a corrupted upstream blob never reaches a
// client or the cache, concurrent cold requests share one upstream download, and a huge blob
// streams through in bounded memory.

const MiB = 1024 * 1024;
const PEAK_RSS_LIMIT = 200 * MiB;

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await filesUnder(path)));
    else out.push(path);
  }
  return out;
}

async function getManifest(signet: Signet, repo: string, ref: string): Promise<void> {
  const res = await fetch(`${signet.url}/v2/${repo}/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT } });
  const body = await res.text();
  assert.equal(res.status, 200, body);
}

describe('blob integrity and streaming', () => {
  let upstream: Registry;
  let signet: Signet;

  before(async () => {
    upstream = await startRegistry();
    signet = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
  });
  after(async () => {
    await signet?.stop();
    await upstream?.stop();
  });

  test('a corrupted upstream blob fails the pull, is not cached, and is counted', async () => {
    const image = await pushImage(upstream, 'library/corrupt', '1.0', { files: { 'data.txt': 'x'.repeat(64 * 1024) } });
    const layer = image.blobs[1];
    assert.ok(layer, 'image has a layer');
    const path = upstream.blobDataPath(layer.digest);
    const original = await readFile(path);
    const corrupted = Buffer.from(original.map((b) => b ^ 0xff));
    await writeFile(path, corrupted);
    assert.equal((await stat(path)).size, layer.size);
    const mismatchesBefore = await signet.metric('signet_digest_mismatches_total');

    const dir = await makeTempDir('pulled');
    try {
      await assert.rejects(
        skopeoCopy(`docker://${signet.host}/library/corrupt:1.0`, `oci:${dir}:pulled`, ['--src-tls-verify=false']),
      );
    } finally {
      await removeDir(dir);
    }

    // A plain client gets an error status or a cut connection, never the whole body.
    const res = await fetch(`${signet.url}/v2/library/corrupt/blobs/${layer.digest}`);
    if (res.status === 200) {
      await assert.rejects(res.arrayBuffer(), 'the client received the complete corrupted body');
    } else {
      await res.arrayBuffer();
      assert.ok(res.status >= 400, `status ${res.status}`);
    }

    assert.ok((await signet.metric('signet_digest_mismatches_total')) > mismatchesBefore, 'mismatch not counted');
    const hex = layer.digest.slice('sha256:'.length);
    // Signet removes the temp file after the failed download; wait (bounded) until it has.
    await waitFor('no trace of the corrupted blob in Signet storage', async () => {
      for (const file of await filesUnder(signet.dataDir)) {
        if (file.includes(hex)) return undefined;
        const info = await stat(file).catch(() => undefined);
        if (info?.size === corrupted.length && (await readFile(file).catch(() => Buffer.alloc(0))).equals(corrupted)) {
          return undefined;
        }
      }
      return true;
    });
  });

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
    const upstreamGets = (await upstream.accessLog({ until: (log) => log.slice(logBefore).some(isBlobGet) }))
      .slice(logBefore)
      .filter(isBlobGet);
    assert.equal(upstreamGets.length, 1, JSON.stringify(upstreamGets));
    assert.equal((await signet.metric('signet_upstream_blob_fetches_total', { upstream: 'docker.io' })) - fetchesBefore, 1);
    t.diagnostic(`Signet peak RSS after 20 parallel clients: ${((await signet.peakRssBytes()) / MiB).toFixed(1)} MiB`);
  });

  test('a 256 MiB blob streams through (cold and from cache) with peak RSS under 200 MiB', async (t) => {
    // VmHWM is a high-water mark over the process's whole life: measure in a Signet of its own,
    // not in the shared one that has just served 20 parallel clients.
    const size = 256 * MiB;
    const layer: BlobRef = await pushBlob(upstream, 'library/big', () => deterministicStream(size, 'big'));
    assert.equal(layer.size, size);
    await pushImageWithLayer(upstream, 'library/big', '1.0', layer);
    const fresh = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
    try {
      t.diagnostic(`after start: Signet peak RSS ${((await fresh.peakRssBytes()) / MiB).toFixed(1)} MiB`);
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
        assert.ok(peak < PEAK_RSS_LIMIT, `${pass}: Signet peak RSS ${(peak / MiB).toFixed(1)} MiB`);
      }
    } finally {
      await fresh.stop();
    }
  });
});
