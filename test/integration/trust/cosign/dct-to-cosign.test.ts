import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../../harness/cleanup.js';
import { cosignKeyPair, signBundleWithKey, startMockSigstore, writeTrustedRoot, type MockSigstore } from '../../../harness/cosign.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../../harness/notary-server.js';
import { startRegistry, type Registry } from '../../../harness/registry.js';
import { startSignet, type Signet } from '../../../harness/signet.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

// A site moving from Docker Content Trust to cosign without a flag day:
// `require: {anyOf: [{notary}, {cosign}]}` admits a tag signed either way (real notary-server
// and notary CLI, real registry, mock Sigstore), and the decision says which format admitted it.

describe('moving from DCT to cosign: anyOf [notary, cosign]', () => {
  let registry: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let sigstore: MockSigstore;
  let dir: string;
  let signet: Signet;
  let dct: PushedImage;
  let cosigned: PushedImage;
  let both: PushedImage;

  before(async () => {
    dir = await makeTempDir('dct-to-cosign');
    [registry, notary, sigstore] = await Promise.all([startRegistry(), startNotaryServer({ tls: false }), startMockSigstore()]);
    cli = await createNotaryCli({ server: notary });
    const key = cosignKeyPair('ecdsa-p256');
    const keyPath = await key.writePublicKey(dir);
    const rootPath = await writeTrustedRoot(sigstore, dir);
    dct = await pushImage(registry, 'team/app', 'dct', { files: { 'a.txt': 'dct\n' } });
    cosigned = await pushImage(registry, 'team/app', 'cosign', { files: { 'a.txt': 'cosign\n' } });
    both = await pushImage(registry, 'team/app', 'both', { files: { 'a.txt': 'both\n' } });
    await pushImage(registry, 'team/app', 'none', { files: { 'a.txt': 'none\n' } });
    await cli.init('docker.io/team/app');
    await cli.addHash('docker.io/team/app', 'dct', dct.size, dct.digest.slice('sha256:'.length));
    await cli.addHash('docker.io/team/app', 'both', both.size, both.digest.slice('sha256:'.length));
    await signBundleWithKey(registry, 'team/app', cosigned, key, { tlog: sigstore.rekor });
    await signBundleWithKey(registry, 'team/app', both, key, { tlog: sigstore.rekor });
    signet = await startSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: {
          default: 'enforce',
          rules: [
            { match: 'docker.io/team/**', require: { anyOf: [{ notary: { roots: { tofu: true } } }, { cosign: { keys: [keyPath], trustedRoot: rootPath } }] } },
          ],
        },
      },
    });
  });
  after(async () => {
    await stopAll(signet, cli, registry, notary, sigstore);
    await removeDir(dir);
  });

  const pull = async (tag: string): Promise<{ status: number; digest: string | null; reason: string | undefined }> => {
    const res = await fetch(`${signet.url}/v2/team/app/manifests/${tag}`, { headers: { accept: MANIFEST_ACCEPT } });
    const body = Buffer.from(await res.arrayBuffer());
    const reason =
      res.status === 403 ? (JSON.parse(body.toString('utf8')) as { errors: Array<{ detail?: { reason?: string } }> }).errors[0]?.detail?.reason : undefined;
    return { status: res.status, digest: res.headers.get('docker-content-digest'), reason };
  };

  test('a tag signed only with DCT is admitted by Notary', async () => {
    assert.deepEqual(await pull('dct'), { status: 200, digest: dct.digest, reason: undefined });
  });

  test('a tag signed only with cosign is admitted by cosign', async () => {
    assert.deepEqual(await pull('cosign'), { status: 200, digest: cosigned.digest, reason: undefined });
  });

  test('a tag signed both ways is admitted by the first alternative (Notary)', async () => {
    assert.deepEqual(await pull('both'), { status: 200, digest: both.digest, reason: undefined });
  });

  test("a tag signed neither way is denied with the first alternative's reason and every message", async () => {
    const res = await fetch(`${signet.url}/v2/team/app/manifests/none`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(res.status, 403);
    const first = (JSON.parse(Buffer.from(await res.arrayBuffer()).toString('utf8')) as { errors: Array<{ message: string; detail?: { reason?: string } }> })
      .errors[0];
    assert.ok(first);
    assert.equal(first.detail?.reason, 'tag_not_signed');
    assert.match(first.message, /not signed.*no cosign signature/);
  });

  test('the decisions say which format admitted each pull', async () => {
    const lines = (await signet.logLines()).filter((l) => l['audit'] === true && l['verdict'] === 'allowed' && l['kind'] === 'manifest');
    const formatOf = (tag: string): unknown => (lines.find((l) => l['reference'] === tag)?.['evidence'] as Array<{ format: string }> | undefined)?.[0]?.format;
    assert.equal(formatOf('dct'), 'notary');
    assert.equal(formatOf('cosign'), 'cosign');
    assert.equal(formatOf('both'), 'notary');
  });
});
