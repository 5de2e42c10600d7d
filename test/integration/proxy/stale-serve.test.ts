import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { ARTIFACT_TYPES } from '../../harness/artifacts.js';
import { stopAll } from '../../harness/cleanup.js';
import { cosignKeyPair, signWithKey, type CosignKey } from '../../harness/cosign.js';
import { LEGACY_ANNOTATIONS, legacySignatureManifest, legacySignatureTag, simpleSigningPayload } from '../../harness/cosign-legacy.js';
import { goDescriptor } from '../../harness/cosign-oci.js';
import { ociError, sendOciError, startFakeRegistry, type FakeManifest, type FakeRegistry } from '../../harness/fake-registry.js';
import { MEDIA_TYPES } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest } from '../../harness/streams.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Docker Hub answers 429 under its pull limits; registries fail. After a first good pull of a
// cosign-signed tag, the upstream answers 429, then 503: Signet serves the tag's last verified
// digest from its cache — decided and audited by the policy, logged and counted by reason — while
// that verification still holds: a digest whose signature was found removed is denied instead.

const REPO = 'team/app';
/** A repository whose signature is removed before the upstream fails. */
const REVOKED = 'team/revoked';

/** An OCI image of `repo` with cosign's legacy `.sig` signature, as cosign pushes it. */
function signedImage(repo: string, key: CosignKey): { digest: string; sigTag: string; manifests: FakeManifest[]; blobs: Buffer[] } {
  const config = Buffer.from(`{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},"repo":"${repo}"}`);
  const layer = Buffer.from(`the layer of ${repo}`);
  const image = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: sha256Digest(config), size: config.length },
      layers: [{ mediaType: MEDIA_TYPES.ociLayerGzip, digest: sha256Digest(layer), size: layer.length }],
    }),
  );
  const digest = sha256Digest(image);
  const payload = simpleSigningPayload(`fake.test/${repo}`, digest);
  const sigLayer = goDescriptor({
    mediaType: ARTIFACT_TYPES.simpleSigning,
    size: payload.length,
    digest: sha256Digest(payload),
    annotations: { [LEGACY_ANNOTATIONS.signature]: signWithKey(key, payload).toString('base64') },
  });
  const sig = legacySignatureManifest([sigLayer]);
  const sigTag = legacySignatureTag(digest);
  return {
    digest,
    sigTag,
    manifests: [
      { repo, tag: '1.0', bytes: image, mediaType: MEDIA_TYPES.ociManifest },
      { repo, tag: sigTag, bytes: sig.manifest, mediaType: MEDIA_TYPES.ociManifest },
    ],
    blobs: [config, layer, sig.config, payload],
  };
}

type Mode = 'up' | '429' | '503';

async function get(signet: InProcessSignet, path: string): Promise<{ status: number; digest: string | null; body: string }> {
  const res = await fetch(`${signet.url}${path}`, { headers: { accept: MEDIA_TYPES.ociManifest } });
  return { status: res.status, digest: res.headers.get('docker-content-digest'), body: await res.text() };
}

describe('stale serves when the upstream rate-limits or fails (fake registry, cosign)', () => {
  let dir: string;
  let upstream: FakeRegistry;
  let mode: Mode = 'up';
  const signets: InProcessSignet[] = [];

  const start = async (freshnessSeconds: number, keyPath: string): Promise<InProcessSignet> => {
    const signet = await startInProcessSignet({
      upstreams: { 'fake.test': { url: upstream.url } },
      extra: {
        upstreams: { 'fake.test': { retries: { max: 1, baseDelayMs: 1, maxDelayMs: 50 } } },
        policy: { default: 'enforce', rules: [{ match: 'fake.test/team/**', require: { cosign: { keys: [keyPath], tlog: false } } }] },
        trust: { freshnessSeconds },
      },
    });
    signets.push(signet);
    return signet;
  };
  let keyPath: string;
  let app: ReturnType<typeof signedImage>;
  let revoked: ReturnType<typeof signedImage>;

  before(async () => {
    dir = await makeTempDir('stale');
    const key = cosignKeyPair('ecdsa-p256');
    keyPath = await key.writePublicKey(dir);
    app = signedImage(REPO, key);
    revoked = signedImage(REVOKED, key);
    upstream = await startFakeRegistry({
      manifests: [...app.manifests, ...revoked.manifests],
      blobs: [...app.blobs, ...revoked.blobs],
      handler: (_req, res, next) => {
        if (mode === 'up') next();
        else if (mode === '429') sendOciError(res, 429, 'TOOMANYREQUESTS', 'You have reached your pull rate limit', { 'retry-after': '0' });
        else sendOciError(res, 503, 'UNAVAILABLE', 'service unavailable');
      },
    });
    // No referrers API, as distribution 2.8 answers: the signatures are found under their `.sig` tags.
    for (const [repo, d] of [
      [REPO, app.digest],
      [REVOKED, revoked.digest],
    ] as const) {
      upstream.route(`/v2/${repo}/referrers/${d}`, { status: 404, headers: { 'content-type': 'text/plain' }, body: '404 page not found\n' });
    }
  });
  after(async () => {
    await stopAll(...signets, upstream);
    await removeDir(dir);
  });

  test('429 then 503: the last verified digest is served from the cache, audited, logged and counted by reason', async () => {
    mode = 'up';
    const signet = await start(300, keyPath);
    const first = await get(signet, `/v2/${REPO}/manifests/1.0`);
    assert.equal(first.status, 200, first.body);
    assert.equal(first.digest, app.digest);

    mode = '429';
    const limited = await get(signet, `/v2/${REPO}/manifests/1.0`);
    assert.equal(limited.status, 200, limited.body);
    assert.equal(limited.digest, app.digest);
    assert.equal(await signet.metric('signet_stale_tag_serves_total', { reason: 'rate_limited' }), 1);

    mode = '503';
    const failing = await get(signet, `/v2/${REPO}/manifests/1.0`);
    assert.equal(failing.status, 200, failing.body);
    assert.equal(failing.digest, app.digest);
    assert.equal(await signet.metric('signet_stale_tag_serves_total', { reason: 'upstream_error' }), 1);

    const stale = await poll('both stale serves in the audit log', async () => {
      const lines = (await readFile(signet.auditLogPath, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((l) => l['reason'] === 'served_stale');
      return lines.length >= 2 ? lines : undefined;
    });
    for (const line of stale) {
      assert.equal(line['verdict'], 'allowed');
      assert.equal(line['digest'], app.digest);
      assert.equal(line['reference'], '1.0');
    }
    assert.match(String(stale[0]?.['message']), /rate-limiting Signet \(HTTP 429\)/);
    assert.match(String(stale[1]?.['message']), /is failing \(HTTP 5xx after retries\)/);

    // A tag never pulled has nothing to fall back on: the upstream's answer, as an OCI error.
    mode = '429';
    const unknown = await get(signet, `/v2/${REPO}/manifests/2.0`);
    assert.equal(unknown.status, 429, unknown.body);
  });

  test('a digest whose signature is gone is not served stale: denied, even while the upstream rate-limits', async () => {
    mode = 'up';
    const signet = await start(0, keyPath);
    assert.equal((await get(signet, `/v2/${REVOKED}/manifests/1.0`)).status, 200);
    // The signature is deleted at the registry; the next pull finds none.
    upstream.route(`/v2/${REVOKED}/manifests/${revoked.sigTag}`, ociError(404, 'MANIFEST_UNKNOWN', 'manifest unknown'));
    assert.equal((await get(signet, `/v2/${REVOKED}/manifests/1.0`)).status, 403);
    mode = '429';
    const limited = await get(signet, `/v2/${REVOKED}/manifests/1.0`);
    assert.equal(limited.status, 403, limited.body);
    assert.match(limited.body, /digest_not_authorised/);
    assert.match(limited.body, /the signature that vouched for it is gone/);
    assert.equal(await signet.metric('signet_stale_tag_serves_total'), 0);
  });
});
