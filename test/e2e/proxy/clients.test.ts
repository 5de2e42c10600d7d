import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { startContainerd } from '../../harness/containerd.js';
import { startDockerd } from '../../harness/dockerd.js';
import { allBlobs, MEDIA_TYPES, pushImage, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { skopeoPull } from '../../harness/skopeo.js';

// Real clients pulling through Signet: skopeo, containerd (hosts.toml mirror, ?ns=), dockerd
// (registry-mirrors). Each client gets a fresh Signet so every pull starts with a cold cache;
// the upstream registries are shared by the whole file.

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('pulls through Signet with real clients', () => {
  let hub: Registry; // plays docker.io
  let corp: Registry; // plays registry.test
  let hello: PushedImage;
  let multi: PushedImage;
  let app: PushedImage;

  const startProxy = (): Promise<Signet> =>
    startSignet({
      upstreams: { 'docker.io': { url: hub.url }, 'registry.test': { url: corp.url } },
      defaultUpstream: 'docker.io',
    });

  before(async () => {
    [hub, corp] = await Promise.all([startRegistry(), startRegistry()]);
    hello = await pushImage(hub, 'library/hello', '1.0');
    multi = await pushImage(hub, 'library/multi', '1.0', { platforms: TWO_PLATFORMS });
    app = await pushImage(corp, 'team/app', 'v1');
  });
  after(() => stopAll(hub, corp));

  describe('skopeo', () => {
    let signet: Signet;
    before(async () => {
      signet = await startProxy();
    });
    after(() => stopAll(signet));

    test('copies a single-platform image: manifest and blob digests equal the upstream ones', async () => {
      const pulled = await skopeoPull(`docker://${signet.host}/library/hello:1.0`);
      assert.equal(pulled.top.digest, hello.digest);
      assert.equal(pulled.top.mediaType, MEDIA_TYPES.ociManifest);
      for (const blob of hello.blobs) assert.ok(pulled.blobs.includes(blob.digest), `missing ${blob.digest}`);
    });

    test('copies a two-platform index with --all', async () => {
      const pulled = await skopeoPull(`docker://${signet.host}/library/multi:1.0`, ['--all']);
      assert.equal(pulled.top.digest, multi.digest);
      assert.equal(pulled.top.mediaType, MEDIA_TYPES.ociIndex);
      for (const child of multi.children ?? []) assert.ok(pulled.blobs.includes(child.digest), `missing child ${child.digest}`);
      for (const blob of allBlobs(multi)) assert.ok(pulled.blobs.includes(blob.digest), `missing ${blob.digest}`);
    });

    test('addresses a non-default upstream by the first path segment', async () => {
      const pulled = await skopeoPull(`docker://${signet.host}/registry.test/team/app:v1`);
      assert.equal(pulled.top.digest, app.digest);
    });
  });

  test('containerd pulls through a hosts.toml mirror (?ns=docker.io and ?ns=registry.test)', async () => {
    const signet = await startProxy();
    const containerd = await startContainerd().catch(async (err: unknown) => {
      await signet.stop();
      throw err;
    });
    try {
      await containerd.writeHosts('docker.io', signet.url);
      await containerd.writeHosts('registry.test', signet.url);
      for (const [ref, image] of [
        ['docker.io/library/hello:1.0', hello],
        ['registry.test/team/app:v1', app],
      ] as const) {
        const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, ref]);
        assert.equal(pull.code, 0, `ctr pull ${ref}: ${pull.stderr}`);
        const check = await containerd.ctr(['images', 'check']);
        assert.match(check.stdout, new RegExp(`${escapeRegExp(ref)}\\s+\\S+\\s+${image.digest}\\s+complete`), check.stdout);
      }
      const served = (await signet.logLines()).filter((l) => typeof l.path === 'string' && l.path.startsWith('/v2/') && l.path !== '/v2/');
      assert.ok(
        served.some((l) => l.upstream === 'docker.io' && l.repository === 'library/hello'),
        JSON.stringify(served),
      );
      assert.ok(
        served.some((l) => l.upstream === 'registry.test' && l.repository === 'team/app'),
        JSON.stringify(served),
      );
      // containerd went nowhere but Signet, and Signet fetched from the right upstreams
      await corp.accessLog({ until: (log) => log.some((e) => e.method === 'GET' && e.path === `/v2/team/app/manifests/${app.digest}`) });
    } finally {
      await containerd.stop();
      await signet.stop();
    }
  });

  test('dockerd with registry-mirrors pulls hello:1.0 through Signet', async () => {
    const signet = await startProxy();
    const dockerd = await startDockerd({ registryMirrors: [signet.url] }).catch(async (err: unknown) => {
      await signet.stop();
      throw err;
    });
    try {
      const pull = await dockerd.docker(['pull', 'hello:1.0']);
      assert.equal(pull.code, 0, `docker pull: ${pull.stdout}\n${pull.stderr}`);
      assert.match(pull.stdout, new RegExp(`Digest: ${hello.digest}`));
      const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', 'hello:1.0']);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.deepEqual(JSON.parse(inspect.stdout), [`hello@${hello.digest}`]);
      const served = (await signet.logLines()).filter((l) => l.repository === 'library/hello');
      assert.ok(
        served.some((l) => l.path === '/v2/library/hello/manifests/1.0' && l.status === 200),
        JSON.stringify(served),
      );
      for (const blob of hello.blobs) {
        assert.ok(
          served.some((l) => l.path === `/v2/library/hello/blobs/${blob.digest}` && l.status === 200),
          `blob ${blob.digest} not served by Signet`,
        );
      }
    } finally {
      await dockerd.stop();
      await signet.stop();
    }
  });
});
