import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { startFakeRegistry, type FakeRegistry } from '../../harness/fake-registry.js';
import { MEDIA_TYPES } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest } from '../../harness/streams.js';

// The media type of a manifest comes from its bytes, not from the Content-Type of whichever
// upstream answered first: an OCI index without a `mediaType` field, served by a registry that
// calls it an image manifest, is cached and served as an index, and its children are authorised
// through it (signed with real Notary trust data).

const REPO = 'library/multi';
const GUN = `docker.io/${REPO}`;

const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
const layer = Buffer.from('a layer of the only platform');
const child = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
    layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(layer), size: layer.length }],
  }),
);
// image-spec image-index.md: `mediaType` SHOULD be used — and may be missing.
const index = Buffer.from(
  JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: MEDIA_TYPES.ociManifest, digest: sha256Digest(child), size: child.length, platform: { architecture: 'amd64', os: 'linux' } }],
  }),
);

async function get(signet: InProcessSignet, path: string, accept: string): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(`${signet.url}${path}`, { headers: { accept } });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

describe('manifest media types from the verified bytes', () => {
  let upstream: FakeRegistry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: InProcessSignet;

  before(async () => {
    [notary, upstream] = await Promise.all([
      startNotaryServer({ tls: false }),
      startFakeRegistry({
        // The wrong Content-Type for the index, on every answer (by tag and by digest).
        manifests: [
          { repo: REPO, tag: '1.0', bytes: index, mediaType: MEDIA_TYPES.ociManifest },
          { repo: REPO, bytes: child, mediaType: MEDIA_TYPES.ociManifest },
        ],
        blobs: [config, layer],
      }),
    ]);
    cli = await createNotaryCli({ server: notary });
    await cli.init(GUN);
    await cli.addHash(GUN, '1.0', index.length, sha256Digest(index).slice('sha256:'.length));
    signet = await startInProcessSignet({
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: { default: 'enforce', rules: [{ match: 'docker.io/library/**', require: { notary: { roots: { tofu: true } } } }] },
      },
    });
  });
  after(() => stopAll(signet, cli, upstream, notary));

  test('a mediaType-less index fetched with a wrong Content-Type is served as an index, its children authorised', async () => {
    // The first fetch, by a client that takes anything: the upstream's Content-Type says "image manifest".
    const first = await get(signet, `/v2/${REPO}/manifests/1.0`, '*/*');
    assert.equal(first.status, 200, first.body);
    assert.equal(first.type, MEDIA_TYPES.ociIndex);
    // A client that accepts indexes only gets it, by tag and by digest.
    for (const ref of ['1.0', sha256Digest(index)]) {
      const indexOnly = await get(signet, `/v2/${REPO}/manifests/${ref}`, MEDIA_TYPES.ociIndex);
      assert.equal(indexOnly.status, 200, `${ref}: ${indexOnly.body}`);
      assert.equal(indexOnly.type, MEDIA_TYPES.ociIndex);
    }
    // The platform manifest and its blobs descend from the signed index.
    const platform = await get(signet, `/v2/${REPO}/manifests/${sha256Digest(child)}`, MEDIA_TYPES.ociManifest);
    assert.equal(platform.status, 200, platform.body);
    for (const blob of [config, layer]) assert.equal((await get(signet, `/v2/${REPO}/blobs/${sha256Digest(blob)}`, '*/*')).status, 200);
  });
});
