import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { bundleKeys, importedState, signetCli, signetCliOk, writeIsolatedConfig } from '../../harness/air-gap.js';
import { stopAll } from '../../harness/cleanup.js';
import { cosignKeyPair, signBundleWithKey, startMockSigstore, writeTrustedRoot, type MockSigstore } from '../../harness/cosign.js';
import { MANIFEST_ACCEPT, allBlobs, pushImage, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { freePort } from '../../harness/ports.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// An air-gapped site end to end at the API level: a connected Signet (real distribution, real
// notary-server with trust data from the real notary CLI, cosign signatures with a mock Sigstore)
// exports a signed bundle; an isolated Signet with no upstream reachable imports it, re-deciding
// every image with its own policy, and serves it.

describe('air-gapped bundles: export, import, serve', () => {
  let registry: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let sigstore: MockSigstore;
  let dir: string;
  let connectedConfig: string;
  let keys: { privatePath: string; publicPath: string };
  let cosignKeyPath: string;
  let rootPath: string;
  let dct: PushedImage;
  let cosigned: PushedImage;

  const policy = (): Record<string, unknown> => ({
    policy: {
      default: 'enforce',
      rules: [
        {
          match: 'docker.io/team/**',
          require: { anyOf: [{ notary: { roots: { tofu: true } } }, { cosign: { keys: [cosignKeyPath], trustedRoot: rootPath } }] },
        },
      ],
    },
  });

  before(async () => {
    dir = await makeTempDir('air-gap');
    [registry, notary, sigstore] = await Promise.all([startRegistry(), startNotaryServer({ tls: false }), startMockSigstore()]);
    cli = await createNotaryCli({ server: notary });
    const key = cosignKeyPair('ecdsa-p256');
    cosignKeyPath = await key.writePublicKey(dir);
    rootPath = await writeTrustedRoot(sigstore, dir);
    dct = await pushImage(registry, 'team/app', 'dct', { platforms: TWO_PLATFORMS, files: { 'a.txt': 'dct\n' } });
    cosigned = await pushImage(registry, 'team/app', 'cosign', { files: { 'a.txt': 'cosign\n' } });
    await pushImage(registry, 'team/app', 'none', { files: { 'a.txt': 'none\n' } });
    await cli.init('docker.io/team/app');
    await cli.addHash('docker.io/team/app', 'dct', dct.size, dct.digest.slice('sha256:'.length));
    await signBundleWithKey(registry, 'team/app', cosigned, key, { tlog: sigstore.rekor });
    keys = await bundleKeys(dir, 'site');
    connectedConfig = join(dir, 'connected.yaml');
    await writeFile(
      connectedConfig,
      stringify({
        listen: { host: '127.0.0.1', port: await freePort() },
        storage: { path: join(dir, 'connected-data') },
        defaultUpstream: 'docker.io',
        upstreams: { 'docker.io': { url: registry.url, trust: { notary: { url: notary.url } } } },
        ...policy(),
      }),
    );
  });
  after(async () => {
    await stopAll(cli, registry, notary, sigstore);
    await removeDir(dir);
  });

  test('export, import and serve: the isolated site pulls the admitted images with their digests', async () => {
    const bundle = join(dir, 'b1.tar');
    const exported = await signetCliOk([
      'bundle',
      'export',
      '--config',
      connectedConfig,
      '--key',
      keys.privatePath,
      '--output',
      bundle,
      'docker.io/team/app:dct',
      'docker.io/team/app:cosign',
    ]);
    assert.match(exported.stdout, /wrote .*b1\.tar: 2 image\(s\)/);
    const data = join(dir, 'isolated-data');
    const config = await writeIsolatedConfig(join(dir, 'isolated.yaml'), { upstream: 'docker.io', dataDir: data, keys: [keys.publicPath], extra: policy() });
    const verified = await signetCliOk(['bundle', 'verify', bundle, '--config', config]);
    assert.match(verified.stdout, /every image is admitted/);
    const imported = await signetCliOk(['bundle', 'import', bundle, '--config', config]);
    assert.match(imported.stdout, /imported into/);
    let signet: Signet | undefined;
    try {
      signet = await startSignet({
        upstreams: { 'docker.io': { url: `http://127.0.0.1:${await freePort()}` } },
        defaultUpstream: 'docker.io',
        dataDir: data,
        extra: { upstreams: { 'docker.io': { offline: true } }, bundles: { keys: [keys.publicPath] }, ...policy() },
      });
      for (const [tag, image] of [
        ['dct', dct],
        ['cosign', cosigned],
      ] as const) {
        const res = await fetch(`${signet.url}/v2/team/app/manifests/${tag}`, { headers: { accept: MANIFEST_ACCEPT } });
        await res.arrayBuffer();
        assert.equal(res.status, 200, tag);
        assert.equal(res.headers.get('docker-content-digest'), image.digest, tag);
        // A client pulls an index's platform manifests before their blobs.
        for (const child of image.children ?? []) {
          const c = await fetch(`${signet.url}/v2/team/app/manifests/${child.digest}`, { headers: { accept: MANIFEST_ACCEPT } });
          await c.arrayBuffer();
          assert.equal(c.status, 200, `${tag} ${child.digest}`);
        }
        for (const blob of allBlobs(image)) {
          const b = await fetch(`${signet.url}/v2/team/app/blobs/${blob.digest}`);
          assert.equal(Buffer.from(await b.arrayBuffer()).length, blob.size, `${tag} ${blob.digest}`);
        }
      }
      const none = await fetch(`${signet.url}/v2/team/app/manifests/none`, { headers: { accept: MANIFEST_ACCEPT } });
      await none.arrayBuffer();
      assert.notEqual(none.status, 200);
    } finally {
      await stopAll(signet);
    }
  });

  test('an image the policy denies stops the export with the reason and writes no bundle', async () => {
    const bundle = join(dir, 'denied.tar');
    const result = await signetCli(['bundle', 'export', '--config', connectedConfig, '--key', keys.privatePath, '--output', bundle, 'docker.io/team/app:none']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /docker\.io\/team\/app:none.*not signed/);
    assert.equal(existsSync(bundle), false);
    assert.equal(existsSync(`${bundle}.partial`), false);
  });

  test('an isolated policy that does not admit an image refuses the whole import', async () => {
    const bundle = join(dir, 'b2.tar');
    await signetCliOk([
      'bundle',
      'export',
      '--config',
      connectedConfig,
      '--key',
      keys.privatePath,
      '--output',
      bundle,
      'docker.io/team/app:dct',
      'docker.io/team/app:cosign',
    ]);
    const data = join(dir, 'strict-data');
    const config = await writeIsolatedConfig(join(dir, 'strict.yaml'), {
      upstream: 'docker.io',
      dataDir: data,
      keys: [keys.publicPath],
      extra: { policy: { default: 'enforce', rules: [{ match: 'docker.io/team/**', require: { cosign: { keys: [cosignKeyPath], trustedRoot: rootPath } } }] } },
    });
    const result = await signetCli(['bundle', 'import', bundle, '--config', config]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /docker\.io\/team\/app:dct is refused by this site's policy/);
    assert.equal(await importedState(join(data, 'imports')), undefined);
  });
});
