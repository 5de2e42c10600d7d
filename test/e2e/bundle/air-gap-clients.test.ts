import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { importedState, signetCli, signetCliOk, startConnectedSite, type ConnectedSite, type IsolatedSite, type SiteTrust } from '../../harness/air-gap.js';
import { stopAll } from '../../harness/cleanup.js';
import { startContainerd } from '../../harness/containerd.js';
import { startDockerd } from '../../harness/dockerd.js';
import { allBlobs, MEDIA_TYPES, readLayout, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import type { Signet } from '../../harness/signet.js';
import { skopeoCopy, skopeoInspectRaw, skopeoPull } from '../../harness/skopeo.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// An air-gapped site as its users see it: a connected site (real distribution, real
// notary-server with trust data from the notary CLI, a cosign signature with a mock Sigstore)
// exports one signed bundle holding a Notary-signed two-platform index and a cosign-signed image
// under names `docker pull` uses; an isolated Signet imports it and serves it to dockerd
// (registry-mirrors), containerd (hosts.toml) and skopeo, with no upstream reachable. skopeo also
// reads the bundle itself as an OCI archive. An image the connected policy admits but the
// isolated one does not is refused at import and at pull.

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('an air-gapped bundle pulled by skopeo, containerd and dockerd', () => {
  let connected: ConnectedSite;
  let isolatedSite: IsolatedSite;
  let bundle: string;
  let signet: Signet | undefined;
  let dctapp: PushedImage;
  let cosignapp: PushedImage;

  // The connected site takes either signature for every library image; the isolated site does
  // too, except for library/dctonly, which it admits only with a cosign signature (the most
  // specific rule wins), and that image has none.
  const connectedPolicy = (trust: SiteTrust): Record<string, unknown> => ({
    policy: { default: 'enforce', rules: [{ match: 'docker.io/library/**', require: trust.notaryOrCosignRequirement() }] },
  });
  const isolatedPolicy = (trust: SiteTrust): Record<string, unknown> => ({
    policy: {
      default: 'enforce',
      rules: [
        { match: 'docker.io/library/**', require: trust.notaryOrCosignRequirement() },
        { match: 'docker.io/library/dctonly', require: trust.cosignRequirement() },
      ],
    },
  });

  before(async () => {
    connected = await startConnectedSite({ name: 'air-gap-e2e', policy: connectedPolicy });
    dctapp = await connected.pushSigned('notary', 'library/dctapp', '1.0', { platforms: TWO_PLATFORMS, files: { 'a.txt': 'dctapp\n' } });
    cosignapp = await connected.pushSigned('cosign', 'library/cosignapp', '1.0', { files: { 'a.txt': 'cosignapp\n' } });
    await connected.pushSigned('notary', 'library/dctonly', '1.0', { files: { 'a.txt': 'dctonly\n' } });
    bundle = (await connected.exportBundle('site.tar', ['docker.io/library/dctapp:1.0', 'docker.io/library/cosignapp:1.0'])).path;

    isolatedSite = await connected.isolatedSite(isolatedPolicy(connected));
    await signetCliOk(['bundle', 'import', bundle, '--config', isolatedSite.config]);
    signet = await isolatedSite.serve();
  });
  after(async () => {
    await stopAll(signet, connected);
  });

  const isolated = (): Signet => {
    if (!signet) throw new Error('the isolated Signet did not start');
    return signet;
  };

  test('skopeo reads the images out of the bundle as an OCI archive with their digests unchanged', async () => {
    const raw = await skopeoInspectRaw(`oci-archive:${bundle}:docker.io/library/cosignapp:1.0`);
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, cosignapp.digest);
    assert.deepEqual(raw, cosignapp.manifest);

    for (const [image, extra] of [
      [cosignapp, []],
      [dctapp, ['--all']],
    ] as const) {
      const out = await makeTempDir('from-bundle');
      try {
        await skopeoCopy(`oci-archive:${bundle}:docker.io/${image.repo}:1.0`, `oci:${out}:x`, extra);
        const copied = await readLayout(out);
        assert.equal(copied.top.digest, image.digest, image.repo);
        for (const child of image.children ?? []) assert.ok(copied.blobs.includes(child.digest), `${image.repo}: platform ${child.digest}`);
        for (const blob of allBlobs(image)) assert.ok(copied.blobs.includes(blob.digest), `${image.repo}: blob ${blob.digest}`);
      } finally {
        await removeDir(out);
      }
    }
  });

  test('dockerd pulls both admitted images through the isolated Signet with their signed digests', async () => {
    const dockerd = await startDockerd({ registryMirrors: [isolated().url] });
    try {
      for (const image of [dctapp, cosignapp]) {
        const name = image.repo.slice('library/'.length);
        const pull = await dockerd.docker(['pull', `${name}:1.0`]);
        assert.equal(pull.code, 0, `docker pull ${name}: ${pull.stdout}\n${pull.stderr}`);
        assert.match(pull.stdout, new RegExp(`Digest: ${escapeRegExp(image.digest)}`), pull.stdout);
      }
    } finally {
      await dockerd.stop();
    }
  });

  test('containerd pulls both admitted images through the isolated Signet and has them complete', async () => {
    const containerd = await startContainerd();
    try {
      await containerd.writeHosts('docker.io', isolated().url);
      for (const image of [dctapp, cosignapp]) {
        const ref = `docker.io/${image.repo}:1.0`;
        const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, ref]);
        assert.equal(pull.code, 0, `ctr pull ${ref}: ${pull.stderr}`);
        const check = await containerd.ctr(['images', 'check']);
        assert.match(check.stdout, new RegExp(`${escapeRegExp(ref)}\\s+\\S+\\s+${escapeRegExp(image.digest)}\\s+complete`), check.stdout);
      }
    } finally {
      await containerd.stop();
    }
  });

  test('skopeo pulls both admitted images from the isolated Signet with their signed digests', async () => {
    const single = await skopeoPull(`docker://${isolated().host}/library/cosignapp:1.0`);
    assert.equal(single.top.digest, cosignapp.digest);
    assert.equal(single.top.mediaType, MEDIA_TYPES.ociManifest);
    const all = await skopeoPull(`docker://${isolated().host}/library/dctapp:1.0`, ['--all']);
    assert.equal(all.top.digest, dctapp.digest);
    assert.equal(all.top.mediaType, MEDIA_TYPES.ociIndex);
    for (const child of dctapp.children ?? []) assert.ok(all.blobs.includes(child.digest), `platform ${child.digest}`);
  });

  test('an image the isolated policy does not admit: the import is refused and a pull of it fails', async () => {
    // The connected site admits it (Notary-signed): the export succeeds.
    const refused = await connected.exportBundle('with-dctonly.tar', ['docker.io/library/cosignapp:1.0', 'docker.io/library/dctonly:1.0']);
    const before = await importedState(isolatedSite.store);
    assert.notEqual(before, undefined, 'the first bundle is imported');

    const result = await signetCli(['bundle', 'import', refused.path, '--config', isolatedSite.config]);
    assert.equal(result.code, 1, `${result.stdout}\n${result.stderr}`);
    assert.match(result.stderr, /docker\.io\/library\/dctonly:1\.0 is refused by this site's policy: .*has no cosign signature.*nothing was imported/);
    assert.deepEqual(await importedState(isolatedSite.store), before);

    // Never imported, so the offline upstream has nothing to serve for it.
    await assert.rejects(skopeoPull(`docker://${isolated().host}/library/dctonly:1.0`), (err: unknown) => {
      assert.match(String(err), /MANIFEST_UNKNOWN.*docker\.io\/library\/dctonly:1\.0 is not in the bundles imported/);
      return true;
    });
    // What was imported before is still served.
    const still = await skopeoPull(`docker://${isolated().host}/library/cosignapp:1.0`);
    assert.equal(still.top.digest, cosignapp.digest);
  });
});
