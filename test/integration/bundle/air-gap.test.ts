import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importedState, signetCli, signetCliOk, startConnectedSite, type ConnectedSite, type SiteTrust } from '../../harness/air-gap.js';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, allBlobs, pushImage, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import type { Signet } from '../../harness/signet.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// An air-gapped site end to end at the API level: a connected Signet (real distribution, real
// notary-server with trust data from the real notary CLI, cosign signatures with a mock Sigstore)
// exports a signed bundle; an isolated Signet with no upstream reachable imports it, re-deciding
// every image with its own policy, and serves it.

describe('air-gapped bundles: export, import, serve', () => {
  let connected: ConnectedSite;
  let dct: PushedImage;
  let cosigned: PushedImage;

  /** Both sites audit to this file: the bundle commands' decisions are audited as pulls are. */
  let auditDir: string;
  const auditLog = (): string => join(auditDir, 'audit.jsonl');
  const policy = (trust: SiteTrust): Record<string, unknown> => ({
    policy: { default: 'enforce', auditLog: auditLog(), rules: [{ match: 'docker.io/team/**', require: trust.notaryOrCosignRequirement() }] },
  });
  const audited = async (): Promise<Array<Record<string, unknown>>> =>
    (await readFile(auditLog(), 'utf8'))
      .split('\n')
      .filter((l) => l !== '')
      .map((l) => JSON.parse(l) as Record<string, unknown>);

  before(async () => {
    auditDir = await makeTempDir('air-gap-audit');
    connected = await startConnectedSite({ name: 'air-gap', policy });
    dct = await connected.pushSigned('notary', 'team/app', 'dct', { platforms: TWO_PLATFORMS, files: { 'a.txt': 'dct\n' } });
    cosigned = await connected.pushSigned('cosign', 'team/app', 'cosign', { files: { 'a.txt': 'cosign\n' } });
    await pushImage(connected.registry, 'team/app', 'none', { files: { 'a.txt': 'none\n' } });
  });
  after(async () => {
    await stopAll(connected);
    await removeDir(auditDir);
  });

  test('export, import and serve: the isolated site pulls the admitted images with their digests', async () => {
    const exported = await connected.exportBundle('b1.tar', ['docker.io/team/app:dct', 'docker.io/team/app:cosign']);
    assert.match(exported.stdout, /wrote .*b1\.tar: 2 image\(s\)/);
    const exportDecisions = (await audited()).filter((r) => r['kind'] === 'manifest' && r['reference'] === 'dct' && r['verdict'] === 'allowed');
    assert.equal(exportDecisions.length, 1, 'the export decided docker.io/team/app:dct once, audited');
    const isolated = await connected.isolatedSite();
    const verified = await signetCliOk(['bundle', 'verify', exported.path, '--config', isolated.config]);
    assert.match(verified.stdout, /every image is admitted/);
    const imported = await signetCliOk(['bundle', 'import', exported.path, '--config', isolated.config]);
    assert.match(imported.stdout, /imported into/);
    const decisions = (await audited()).filter((r) => r['kind'] === 'manifest' && r['reference'] === 'dct' && r['verdict'] === 'allowed');
    assert.equal(decisions.length, 2, 'the import re-decided docker.io/team/app:dct, audited');
    let signet: Signet | undefined;
    try {
      signet = await isolated.serve();
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
    const { dir, connectedConfig, keys } = connected;
    const bundle = join(dir, 'denied.tar');
    const result = await signetCli(['bundle', 'export', '--config', connectedConfig, '--key', keys.privatePath, '--output', bundle, 'docker.io/team/app:none']);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /docker\.io\/team\/app:none.*not signed/);
    assert.equal(existsSync(bundle), false);
    assert.equal(existsSync(`${bundle}.partial`), false);
  });

  test('a bundle of an upstream the config does not serve offline is refused by verify and import', async () => {
    const { path } = await connected.exportBundle('live.tar', ['docker.io/team/app:cosign']);
    // The connected config has docker.io as a live upstream: imported content is never served for it.
    for (const command of ['verify', 'import']) {
      const result = await signetCli(['bundle', command, path, '--config', connected.connectedConfig, '--key', connected.keys.publicPath]);
      assert.equal(result.code, 1, `${command}: ${result.stderr}`);
      assert.match(result.stderr, /docker\.io\/team\/app:cosign: upstream docker\.io is not an offline upstream of this config/, command);
    }
  });

  test('an isolated policy that does not admit an image refuses the whole import', async () => {
    const { path } = await connected.exportBundle('b2.tar', ['docker.io/team/app:dct', 'docker.io/team/app:cosign']);
    const strict = await connected.isolatedSite({
      policy: { default: 'enforce', rules: [{ match: 'docker.io/team/**', require: connected.cosignRequirement() }] },
    });
    const result = await signetCli(['bundle', 'import', path, '--config', strict.config]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /docker\.io\/team\/app:dct is refused by this site's policy/);
    assert.equal(await importedState(strict.store), undefined);
  });
});
