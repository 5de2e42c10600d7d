import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { skopeoPull } from '../../harness/skopeo.js';

// The cache survives a restart: once pulled, an image is served with the upstream gone.

describe('restart with a warm cache', () => {
  let upstream: Registry;
  let signet: Signet;
  let image: PushedImage;

  before(async () => {
    upstream = await startRegistry();
    image = await pushImage(upstream, 'library/hello', '1.0');
    signet = await startSignet({ upstreams: { 'docker.io': { url: upstream.url } }, defaultUpstream: 'docker.io' });
  });
  after(() => stopAll(signet, upstream)); // the test stops the upstream itself: stop() is idempotent

  test('serves by tag and by digest after a restart with the upstream stopped', async () => {
    const first = await skopeoPull(`docker://${signet.host}/library/hello:1.0`);
    assert.equal(first.top.digest, image.digest);

    await upstream.stop();
    const pidBefore = signet.pid;
    await signet.restart();
    assert.notEqual(signet.pid, pidBefore);

    const byTag = await skopeoPull(`docker://${signet.host}/library/hello:1.0`);
    assert.equal(byTag.top.digest, image.digest);
    for (const blob of image.blobs) assert.ok(byTag.blobs.includes(blob.digest));

    const byDigest = await skopeoPull(`docker://${signet.host}/library/hello@${image.digest}`);
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
