import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { startContainerd } from '../../harness/containerd.js';
import { startDockerd } from '../../harness/dockerd.js';
import { allBlobs, MEDIA_TYPES, pushImage, TWO_PLATFORMS } from '../../harness/images.js';
import { registryRequest } from '../../harness/registry-client.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { skopeoInspectRaw, skopeoPull } from '../../harness/skopeo.js';
import { startTokenIssuer } from '../../harness/token-issuer.js';

// Self-test of the harness: every real component starts, and pushes and pulls work directly
// against distribution (no Signet involved).

describe('harness components', () => {
  let registry: Registry;

  before(async () => {
    registry = await startRegistry();
  });
  after(() => stopAll(registry));

  test('registry: push a single-platform image and read it back; access log is parsed', async () => {
    const image = await pushImage(registry, 'library/hello', '1.0');
    assert.equal(image.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(image.blobs.length, 2);
    const head = await registryRequest(registry, 'HEAD', `/v2/library/hello/manifests/1.0`, {
      headers: { accept: MEDIA_TYPES.ociManifest },
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], image.digest);
    const log = await registry.accessLog({
      until: (entries) => entries.some((e) => e.method === 'HEAD' && e.path === '/v2/library/hello/manifests/1.0' && e.status === 200),
    });
    assert.ok(!log.some((e) => e.uri.includes('harness-sentinel')));
    const raw = await skopeoInspectRaw(`docker://${registry.host}/library/hello:1.0`, ['--tls-verify=false']);
    assert.ok(raw.equals(image.manifest), 'skopeo inspect --raw returns the exact manifest bytes');
  });

  test('registry in pull-through mode (the benchmark peer) serves the upstream image', async () => {
    const image = await pushImage(registry, 'library/cached', '1.0');
    const mirror = await startRegistry({ proxy: { remoteurl: registry.url } });
    try {
      const raw = await skopeoInspectRaw(`docker://${mirror.host}/library/cached:1.0`, ['--tls-verify=false']);
      assert.ok(raw.equals(image.manifest));
    } finally {
      await mirror.stop();
    }
  });

  test('registry: push a two-platform index', async () => {
    const image = await pushImage(registry, 'library/multi', '1.0', { platforms: TWO_PLATFORMS });
    assert.equal(image.mediaType, MEDIA_TYPES.ociIndex);
    assert.deepEqual(
      image.children?.map((c) => c.platform?.architecture),
      ['amd64', 'arm64'],
    );
    assert.equal(allBlobs(image).length, 4);
  });

  test('basic-auth registry: pushes with credentials, skopeo pulls with them, not without', async () => {
    const basic = await startRegistry({ auth: { basic: { username: 'alice', password: 's3cret' } } });
    try {
      const image = await pushImage(basic, 'team/app', 'v1');
      const anonymous = await registryRequest({ url: basic.url }, 'GET', `/v2/team/app/manifests/v1`);
      assert.equal(anonymous.status, 401);
      const pulled = await skopeoPull(`docker://${basic.host}/team/app:v1`, ['--src-creds', 'alice:s3cret']);
      assert.equal(pulled.top.digest, image.digest);
      for (const blob of image.blobs) assert.ok(pulled.blobs.includes(blob.digest));
    } finally {
      await basic.stop();
    }
  });

  test('token-auth registry: pushes and skopeo pulls through the token flow', async () => {
    const issuer = await startTokenIssuer({ username: 'bob', password: 'hunter2' });
    const tokenRegistry = await startRegistry({ auth: { token: issuer } });
    try {
      const image = await pushImage(tokenRegistry, 'team/app', 'v1');
      const anonymous = await registryRequest({ url: tokenRegistry.url }, 'GET', `/v2/team/app/manifests/v1`);
      assert.equal(anonymous.status, 401);
      // The realm is another origin, over HTTPS (as auth.docker.io is for Docker Hub).
      assert.match(String(anonymous.headers['www-authenticate']), /^Bearer realm="https:\/\/127\.0\.0\.1:\d+\/token"/);
      const pulled = await skopeoPull(`docker://${tokenRegistry.host}/team/app:v1`, ['--src-creds', 'bob:hunter2']);
      assert.equal(pulled.top.digest, image.digest);
      assert.ok(issuer.requests() > 0);
      await assert.rejects(skopeoPull(`docker://${tokenRegistry.host}/team/app:v1`, ['--src-creds', 'bob:wrong']), /401|unauthorized|authentication required/i);
    } finally {
      await tokenRegistry.stop();
      await issuer.stop();
    }
  });

  test('dockerd pulls from the plain registry by host name', async () => {
    const image = await pushImage(registry, 'library/dockerd', '1.0');
    const dockerd = await startDockerd();
    try {
      const ref = `${registry.host}/library/dockerd:1.0`;
      const pull = await dockerd.docker(['pull', ref]);
      assert.equal(pull.code, 0, pull.stderr);
      const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', ref]);
      assert.equal(inspect.code, 0, inspect.stderr);
      assert.deepEqual(JSON.parse(inspect.stdout), [`${registry.host}/library/dockerd@${image.digest}`]);
    } finally {
      await dockerd.stop();
    }
  });

  test('containerd pulls through hosts.toml and sends ?ns=docker.io', async () => {
    const image = await pushImage(registry, 'library/ctrd', '1.0');
    const containerd = await startContainerd();
    try {
      const seen = (await registry.accessLog()).length;
      await containerd.writeHosts('docker.io', registry.url);
      const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, 'docker.io/library/ctrd:1.0']);
      assert.equal(pull.code, 0, pull.stderr);
      const list = await containerd.ctr(['images', 'list', '--quiet']);
      assert.match(list.stdout, /docker\.io\/library\/ctrd:1\.0/);
      const check = await containerd.ctr(['images', 'check']);
      assert.match(
        check.stdout,
        new RegExp(`docker\\.io/library/ctrd:1\\.0\\s+${MEDIA_TYPES.ociManifest.replace(/[.+]/g, '\\$&')}\\s+${image.digest}\\s+complete`),
      );
      const viaMirror = (await registry.accessLog()).slice(seen);
      assert.ok(viaMirror.length > 0);
      assert.ok(
        viaMirror.every((e) => e.uri.includes('ns=docker.io')),
        JSON.stringify(viaMirror),
      );
    } finally {
      await containerd.stop();
    }
  });
});
