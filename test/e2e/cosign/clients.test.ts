import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { containerdPulls, containerdRefused, dockerdPulls, dockerdRefused, skopeoRefused } from '../../harness/client-pulls.js';
import { startContainerd } from '../../harness/containerd.js';
import {
  cosignKeyPair,
  signBundleKeyless,
  signBundleWithKey,
  signLegacy,
  opensslKeyPair,
  startMockSigstore,
  writeTrustedRoot,
  type MockSigstore,
} from '../../harness/cosign.js';
import { startDockerd } from '../../harness/dockerd.js';
import { pushImage, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { skopeoPull } from '../../harness/skopeo.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Real clients pull cosign-signed images through Signet: skopeo, containerd (hosts.toml) and
// dockerd (registry-mirrors) get the signed digest of images signed three ways (a legacy .sig
// made with openssl, a key-based cosign 3 bundle, a keyless bundle from mock Fulcio and Rekor);
// an unsigned image and one signed with another key are refused to each of them.

const ISSUER = 'https://accounts.example';
const SIGNER = 'release@acme.example';

describe('cosign-signed images pulled by skopeo, containerd and dockerd', () => {
  let registry: Registry;
  let sigstore: MockSigstore;
  let dir: string;
  let signet: Signet;
  let legacy: PushedImage;
  let bundle: PushedImage;
  let keyless: PushedImage;
  let wrongKey: PushedImage;

  before(async () => {
    dir = await makeTempDir('cosign-e2e');
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    const key = cosignKeyPair('ecdsa-p256');
    const other = cosignKeyPair('ecdsa-p256');
    const keyPath = await key.writePublicKey(dir);
    const rootPath = await writeTrustedRoot(sigstore, dir);
    // The legacy signature is made with the openssl CLI, as an operator without cosign would.
    const openssl = await opensslKeyPair(dir);
    const opensslKeyPath = await openssl.key.writePublicKey(dir, 'openssl.pub');
    legacy = await pushImage(registry, 'library/legacy', '1.0');
    await signLegacy(registry, 'library/legacy', legacy, openssl.key, { sign: openssl.sign });
    bundle = await pushImage(registry, 'library/bundle', '1.0', { platforms: TWO_PLATFORMS });
    await signBundleWithKey(registry, 'library/bundle', bundle, key, { tlog: sigstore.rekor });
    keyless = await pushImage(registry, 'library/keyless', '1.0');
    await signBundleKeyless(registry, 'library/keyless', keyless, { issuer: ISSUER, subject: SIGNER }, { sigstore });
    await pushImage(registry, 'library/unsigned', '1.0');
    wrongKey = await pushImage(registry, 'library/wrongkey', '1.0');
    await signBundleWithKey(registry, 'library/wrongkey', wrongKey, other, { tlog: sigstore.rekor });
    signet = await startSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        policy: {
          default: 'enforce',
          rules: [
            {
              match: 'docker.io/library/**',
              require: {
                anyOf: [
                  { cosign: { keys: [keyPath], trustedRoot: rootPath } },
                  { cosign: { keys: [opensslKeyPath], tlog: false } },
                  { cosign: { trustedRoot: rootPath, identities: [{ issuer: ISSUER, subject: SIGNER }] } },
                ],
              },
            },
          ],
        },
      },
    });
  });
  after(async () => {
    await stopAll(signet, registry, sigstore);
    await removeDir(dir);
  });

  test('skopeo copies the signed images with their signed digests and refuses the others', async () => {
    for (const [repo, image] of [
      ['legacy', legacy],
      ['keyless', keyless],
    ] as const) {
      const pulled = await skopeoPull(`docker://${signet.host}/library/${repo}:1.0`);
      assert.equal(pulled.top.digest, image.digest, repo);
    }
    const all = await skopeoPull(`docker://${signet.host}/library/bundle:1.0`, ['--all']);
    assert.equal(all.top.digest, bundle.digest);
    for (const child of bundle.children ?? []) assert.ok(all.blobs.includes(child.digest), `platform ${child.digest}`);
    await skopeoRefused(['unsigned', 'wrongkey'].map((repo) => `docker://${signet.host}/library/${repo}:1.0`));
  });

  test('containerd pulls the signed images and is refused the others', async () => {
    const containerd = await startContainerd();
    try {
      await containerd.writeHosts('docker.io', signet.url);
      await containerdPulls(containerd, [
        ['docker.io/library/legacy:1.0', legacy.digest],
        ['docker.io/library/bundle:1.0', bundle.digest],
        ['docker.io/library/keyless:1.0', keyless.digest],
      ]);
      await containerdRefused(containerd, ['docker.io/library/unsigned:1.0', 'docker.io/library/wrongkey:1.0']);
    } finally {
      await containerd.stop();
    }
  });

  test('dockerd pulls the signed images through registry-mirrors and is refused the others', async () => {
    const dockerd = await startDockerd({ registryMirrors: [signet.url] });
    try {
      await dockerdPulls(dockerd, [
        ['legacy:1.0', legacy.digest],
        ['keyless:1.0', keyless.digest],
      ]);
      await dockerdRefused(dockerd, ['unsigned:1.0', 'wrongkey:1.0']);
    } finally {
      await dockerd.stop();
    }
  });
});
