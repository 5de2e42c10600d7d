import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../../harness/cleanup.js';
import { cosignKeyPair, signBundleWithKey, startMockSigstore, writeTrustedRoot, type MockSigstore } from '../../../harness/cosign.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../../harness/images.js';
import { startRegistry, type Registry } from '../../../harness/registry.js';
import { startSignet, type Signet } from '../../../harness/signet.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

// With the registry gone, a digest cosign verified before keeps being served from the cache
// (its verdict is re-checked after trust.freshnessSeconds, here 0, and the last verified one
// stands in while the signatures cannot be fetched); one never verified is refused.

describe('cosign with the registry unreachable', () => {
  let registry: Registry;
  let sigstore: MockSigstore;
  let dir: string;
  let signet: Signet;
  let signed: PushedImage;

  before(async () => {
    dir = await makeTempDir('cosign-offline');
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    const key = cosignKeyPair('ecdsa-p256');
    signed = await pushImage(registry, 'acme/app', '1.0');
    await pushImage(registry, 'acme/app', '2.0', { files: { 'b.txt': 'never pulled\n' } });
    await signBundleWithKey(registry, 'acme/app', signed, key, { tlog: sigstore.rekor });
    signet = await startSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        policy: {
          rules: [
            { match: 'docker.io/acme/**', require: { cosign: { keys: [await key.writePublicKey(dir)], trustedRoot: await writeTrustedRoot(sigstore, dir) } } },
          ],
        },
        trust: { freshnessSeconds: 0 },
      },
    });
  });
  after(async () => {
    await stopAll(signet, registry, sigstore);
    await removeDir(dir);
  });

  test('the verified digest is served again after the registry stopped; an unverified tag is refused', async () => {
    const get = (ref: string) => fetch(`${signet.url}/v2/acme/app/manifests/${ref}`, { headers: { accept: MANIFEST_ACCEPT } });
    const first = await get('1.0');
    assert.equal(first.status, 200, await first.text());
    await registry.stop();
    const again = await get('1.0');
    assert.equal(again.status, 200, await again.text());
    assert.equal(again.headers.get('docker-content-digest'), signed.digest);
    assert.ok((await signet.metric('signet_stale_tag_serves_total')) >= 1, 'the tag came from the last known digest');
    const byDigest = await get(signed.digest);
    assert.equal(byDigest.status, 200);
    const never = await get('2.0');
    assert.notEqual(never.status, 200);
  });
});
