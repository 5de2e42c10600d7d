import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MANIFEST_ACCEPT, pushImage, readLayout, type PushedImage } from '../harness/images.js';
import { startRegistry, type Registry } from '../harness/registry.js';
import { startSignet, type Signet } from '../harness/signet.js';
import { skopeoCopy } from '../harness/skopeo.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

// The cache survives a restart: once pulled, an image is served with the upstream gone.

async function pullToLayout(ref: string): Promise<Awaited<ReturnType<typeof readLayout>>> {
  const dir = await makeTempDir('pulled');
  try {
    await skopeoCopy(ref, `oci:${dir}:pulled`, ['--src-tls-verify=false']);
    return await readLayout(dir);
  } finally {
    await removeDir(dir);
  }
}

describe('restart with a warm cache', () => {
  let upstream: Registry;
  let signet: Signet;
  let image: PushedImage;

  before(async () => {
    upstream = await startRegistry();
    image = await pushImage(upstream, 'library/hello', '1.0');
    signet = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
  });
  after(async () => {
    await signet?.stop();
    await upstream?.stop(); // idempotent
  });

  test('serves by tag and by digest after a restart with the upstream stopped', async () => {
    const first = await pullToLayout(`docker://${signet.host}/library/hello:1.0`);
    assert.equal(first.top.digest, image.digest);

    await upstream.stop();
    const pidBefore = signet.pid;
    await signet.restart();
    assert.notEqual(signet.pid, pidBefore);

    const byTag = await pullToLayout(`docker://${signet.host}/library/hello:1.0`);
    assert.equal(byTag.top.digest, image.digest);
    for (const blob of image.blobs) assert.ok(byTag.blobs.includes(blob.digest));

    const byDigest = await pullToLayout(`docker://${signet.host}/library/hello@${image.digest}`);
    assert.equal(byDigest.top.digest, image.digest);

    const head = await fetch(`${signet.url}/v2/library/hello/manifests/1.0`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), image.digest);
    for (const blob of image.blobs) {
      const res = await fetch(`${signet.url}/v2/library/hello/blobs/${blob.digest}`);
      assert.equal(res.status, 200);
      assert.equal(Buffer.from(await res.arrayBuffer()).length, blob.size);
    }
  });
});
