import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { buildArtifact, cosignLegacySignature, pushArtifact, pushReferrersTag, sigstoreBundleSignature, type BuiltArtifact } from '../../harness/artifacts.js';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, pushImage, pushManifest, type BlobRef, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';

// Signature artifacts of admitted images pass through Signet, so verifiers downstream of it
// (cosign verify, policy controllers) keep working; nothing runnable passes that way. The
// registry is a real distribution 2.8, which has no referrers API: Signet answers referrers
// from the tag schema. The image's admission comes from real Notary trust data.

async function get(signet: Signet, path: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${signet.url}${path}`, { headers: { accept: `${MANIFEST_ACCEPT}, application/vnd.oci.image.index.v1+json` } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

function reason(body: Buffer): string | undefined {
  return (JSON.parse(body.toString('utf8')) as { errors: Array<{ detail?: { reason?: string } }> }).errors[0]?.detail?.reason;
}

describe('signature artifacts and referrers of admitted images (real registry and notary-server)', () => {
  let upstream: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: Signet;
  let signed: PushedImage;
  let unsigned: PushedImage;
  let bundle: BuiltArtifact;
  let legacy: BuiltArtifact;
  let runnable: BlobRef;
  let unsignedBundle: BuiltArtifact;

  before(async () => {
    [upstream, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
    cli = await createNotaryCli({ server: notary });
    signed = await pushImage(upstream, 'acme/app', '1.0');
    unsigned = await pushImage(upstream, 'acme/app', '2.0');
    await cli.init('docker.io/acme/app');
    await cli.addHash('docker.io/acme/app', '1.0', signed.size, signed.digest.slice('sha256:'.length));
    const subject = { mediaType: signed.mediaType, digest: signed.digest, size: signed.size };
    // A cosign v3 bundle referrer, listed in the referrers tag schema index; a legacy .sig.
    bundle = await pushArtifact(upstream, 'acme/app', buildArtifact(sigstoreBundleSignature(subject)));
    await pushReferrersTag(upstream, 'acme/app', signed.digest, [bundle.descriptor]);
    legacy = await pushArtifact(
      upstream,
      'acme/app',
      buildArtifact(cosignLegacySignature(subject, 'docker.io/acme/app')),
      `${signed.digest.replace(':', '-')}.sig`,
    );
    // The same kinds of artifact about the unsigned image.
    const unsignedSubject = { mediaType: unsigned.mediaType, digest: unsigned.digest, size: unsigned.size };
    unsignedBundle = await pushArtifact(upstream, 'acme/app', buildArtifact(sigstoreBundleSignature(unsignedSubject)));
    // A runnable image (the unsigned one's layers) that claims the signed image as its subject.
    const evil = { ...(JSON.parse(unsigned.manifest.toString('utf8')) as Record<string, unknown>), subject };
    runnable = await pushManifest(upstream, 'acme/app', 'evil', Buffer.from(JSON.stringify(evil)), unsigned.mediaType);
    signet = await startSignet({
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: { rules: [{ match: 'docker.io/acme/**', require: { notary: { roots: { tofu: true } } } }] },
      },
    });
    assert.equal((await get(signet, '/v2/acme/app/manifests/1.0')).status, 200, 'the signed image is admitted');
  });
  after(() => stopAll(signet, cli, upstream, notary));

  test("cosign's .sig tag of the signed digest is served, with its payload blob", async () => {
    const res = await get(signet, `/v2/acme/app/manifests/${signed.digest.replace(':', '-')}.sig`);
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers.get('docker-content-digest'), legacy.digest);
    for (const blob of legacy.blobs) assert.equal((await get(signet, `/v2/acme/app/blobs/${blob.digest}`)).status, 200);
  });

  test('the referrers of the signed digest are listed from the tag schema, and each referrer is served by digest', async () => {
    const res = await get(signet, `/v2/acme/app/referrers/${signed.digest}`);
    assert.equal(res.status, 200, res.body.toString());
    const index = JSON.parse(res.body.toString('utf8')) as { manifests: Array<{ digest: string; artifactType?: string }> };
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [bundle.digest],
    );
    const filtered = await get(signet, `/v2/acme/app/referrers/${signed.digest}?artifactType=application/vnd.cncf.notary.signature`);
    assert.equal(filtered.headers.get('oci-filters-applied'), 'artifactType');
    assert.deepEqual((JSON.parse(filtered.body.toString('utf8')) as { manifests: unknown[] }).manifests, []);
    const referrer = await get(signet, `/v2/acme/app/manifests/${bundle.digest}`);
    assert.equal(referrer.status, 200, referrer.body.toString());
    for (const blob of bundle.blobs) assert.equal((await get(signet, `/v2/acme/app/blobs/${blob.digest}`)).status, 200);
    // The tag schema index itself, as clients without the referrers API read it.
    assert.equal((await get(signet, `/v2/acme/app/manifests/${signed.digest.replace(':', '-')}`)).status, 200);
  });

  test('referrers and artifacts of an image that is not admitted are denied', async () => {
    const list = await get(signet, `/v2/acme/app/referrers/${unsigned.digest}`);
    assert.equal(list.status, 403);
    assert.equal(reason(list.body), 'digest_not_authorised');
    const artifact = await get(signet, `/v2/acme/app/manifests/${unsignedBundle.digest}`);
    assert.equal(artifact.status, 403);
    assert.equal(reason(artifact.body), 'digest_not_authorised');
  });

  test('a runnable image naming the signed image as its subject is denied, and so are its layers', async () => {
    const res = await get(signet, `/v2/acme/app/manifests/${runnable.digest}`);
    assert.equal(res.status, 403);
    assert.equal(reason(res.body), 'digest_not_authorised');
    const layer = unsigned.blobs.at(-1);
    assert.ok(layer);
    assert.equal((await get(signet, `/v2/acme/app/blobs/${layer.digest}`)).status, 403);
  });

  test('tags/list goes through the policy: answered and counted', async () => {
    const res = await get(signet, '/v2/acme/app/tags/list');
    assert.equal(res.status, 200);
    assert.ok((JSON.parse(res.body.toString('utf8')) as { tags: string[] }).tags.includes('1.0'));
    assert.ok((await signet.metric('signet_policy_decisions_total', { verdict: 'allowed', reason: 'listing' })) >= 1);
  });
});
