import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { poll } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';

// Revocation with the real notary CLI and notary-server: a tag signed, pulled through Signet
// (manifest and layers cached and authorised), then removed from the trust data with
// `notary remove` and published. Once the trust freshness interval (1 s here) has passed, its
// manifest and layers are refused by digest; another tag of the repository, still signed, is not.

const GUN = 'docker.io/library/app';
const FRESHNESS_S = 1;

interface Reply {
  status: number;
  body: Buffer;
}

async function get(signet: InProcessSignet, path: string): Promise<Reply> {
  const res = await fetch(`${signet.url}${path}`, { headers: { accept: MANIFEST_ACCEPT } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()) };
}

function denial(reply: Reply): { reason: string | undefined; message: string } {
  const first = (JSON.parse(reply.body.toString('utf8')) as { errors: Array<{ message: string; detail?: { reason?: string } }> }).errors[0];
  assert.ok(first, reply.body.toString());
  return { reason: first.detail?.reason, message: first.message };
}

describe('revocation: notary remove takes what the signature authorised with it (real notary-server)', () => {
  let registry: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: InProcessSignet;
  let revoked: PushedImage;
  let kept: PushedImage;

  before(async () => {
    [registry, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
    cli = await createNotaryCli({ server: notary });
    revoked = await pushImage(registry, 'library/app', '1.0', { files: { 'hello.txt': 'one\n' } });
    kept = await pushImage(registry, 'library/app', '2.0', { files: { 'hello.txt': 'two\n' } });
    await cli.init(GUN);
    await cli.addHash(GUN, '1.0', revoked.size, revoked.digest.slice('sha256:'.length), { publish: false });
    await cli.addHash(GUN, '2.0', kept.size, kept.digest.slice('sha256:'.length));
    signet = await startInProcessSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: { default: 'enforce', rules: [{ match: 'docker.io/library/**', require: { notary: { roots: { tofu: true } } } }] },
        trust: { freshnessSeconds: FRESHNESS_S },
      },
    });
  });
  after(() => stopAll(signet, cli, registry, notary));

  test('after notary remove + publish, the manifest and layers of the removed tag are refused by digest; the other tag is untouched', async () => {
    for (const image of [revoked, kept]) {
      assert.equal((await get(signet, `/v2/library/app/manifests/${image.tag}`)).status, 200, `${image.tag} is signed`);
      for (const blob of image.blobs) assert.equal((await get(signet, `/v2/library/app/blobs/${blob.digest}`)).status, 200);
    }
    assert.equal((await get(signet, `/v2/library/app/manifests/${revoked.digest}`)).status, 200, 'by digest, while signed');

    await cli.remove(GUN, '1.0');

    // Served until the freshness interval has passed since it was last verified; then re-checked.
    const refused = await poll('the removed tag to be refused by digest', async () => {
      const reply = await get(signet, `/v2/library/app/manifests/${revoked.digest}`);
      return reply.status === 200 ? undefined : reply;
    });
    assert.equal(refused.status, 403, refused.body.toString());
    const first = denial(refused);
    assert.equal(first.reason, 'digest_not_authorised');
    assert.match(first.message, /the signature that vouched for it is gone/);
    assert.match(first.message, /no longer admitted: .*is not the signed target of any tag/);

    const layer = revoked.blobs.at(-1);
    assert.ok(layer);
    const blob = await get(signet, `/v2/library/app/blobs/${layer.digest}`);
    assert.equal(blob.status, 403, 'its layer goes with it');
    assert.equal(denial(blob).reason, 'digest_not_authorised');
    assert.equal((await get(signet, '/v2/library/app/manifests/1.0')).status, 403, 'and the tag itself');

    // The tag still signed keeps its manifest and layers (re-checked too: its signature holds).
    assert.equal((await get(signet, `/v2/library/app/manifests/${kept.digest}`)).status, 200);
    for (const b of kept.blobs) assert.equal((await get(signet, `/v2/library/app/blobs/${b.digest}`)).status, 200);

    const line = await poll('the revocation in the audit log', async () =>
      (await readFile(signet.auditLogPath, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => /signature that vouched for it is gone/.test(String(l['message']))),
    );
    assert.equal(line['verdict'], 'denied');
    assert.equal(line['digest'], revoked.digest);
  });
});
