import assert from 'node:assert/strict';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { pushImage } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { skopeoPull } from '../../harness/skopeo.js';

// What Signet hands out is what the digest promises: a corrupted upstream blob fails a real
// client's pull, never reaches a plain client or the cache, and is counted.

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

describe('blob integrity with a real client', () => {
  let upstream: Registry;
  let signet: Signet;

  before(async () => {
    upstream = await startRegistry();
    signet = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
  });
  after(() => stopAll(signet, upstream));

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

    await assert.rejects(skopeoPull(`docker://${signet.host}/library/corrupt:1.0`));

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
    await poll('no trace of the corrupted blob in Signet storage', async () => {
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
});
