import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
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
    for (const repo of ['unsigned', 'wrongkey']) {
      await assert.rejects(
        skopeoPull(`docker://${signet.host}/library/${repo}:1.0`),
        (err: unknown) => {
          assert.match(String(err), /denied|DENIED|403/);
          return true;
        },
        `${repo} must be refused`,
      );
    }
  });

  test('containerd pulls the signed images and is refused the others', async () => {
    const containerd = await startContainerd();
    try {
      await containerd.writeHosts('docker.io', signet.url);
      for (const [repo, image] of [
        ['legacy', legacy],
        ['bundle', bundle],
        ['keyless', keyless],
      ] as const) {
        const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, `docker.io/library/${repo}:1.0`]);
        assert.equal(pull.code, 0, `ctr pull ${repo}: ${pull.stderr}`);
        const check = await containerd.ctr(['images', 'check']);
        assert.match(check.stdout, new RegExp(`docker\\.io/library/${repo}:1\\.0\\s+\\S+\\s+${image.digest}\\s+complete`), check.stdout);
      }
      for (const repo of ['unsigned', 'wrongkey']) {
        const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, `docker.io/library/${repo}:1.0`]);
        assert.notEqual(pull.code, 0, `${repo} must be refused`);
        assert.match(pull.stderr, /403|denied|DENIED|forbidden/i, pull.stderr);
      }
    } finally {
      await containerd.stop();
    }
  });

  test('dockerd pulls the signed images through registry-mirrors and is refused the others', async () => {
    const dockerd = await startDockerd({ registryMirrors: [signet.url] });
    try {
      for (const [repo, image] of [
        ['legacy', legacy],
        ['keyless', keyless],
      ] as const) {
        const pull = await dockerd.docker(['pull', `${repo}:1.0`]);
        assert.equal(pull.code, 0, `docker pull ${repo}: ${pull.stdout}\n${pull.stderr}`);
        assert.match(pull.stdout, new RegExp(`Digest: ${image.digest}`));
      }
      for (const repo of ['unsigned', 'wrongkey']) {
        const pull = await dockerd.docker(['pull', `${repo}:1.0`]);
        assert.notEqual(pull.code, 0, `${repo} must be refused: ${pull.stdout}`);
      }
    } finally {
      await dockerd.stop();
    }
  });
});
