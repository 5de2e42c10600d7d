import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { cosignKeyPair, signLegacy } from '../../harness/cosign.js';
import { pushImage, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { poll } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// tags/list through the policy, with a real distribution 2.8 (which ignores n and last), the real
// notary CLI and notary-server, and cosign signatures as cosign pushes them. One repository, four
// tags — 1.0 signed with Notary, 2.0 unsigned, 3.0 signed with cosign, 4.0 with both — seen
// through four upstream names pointing at the same registry, one rule each: Notary only (the
// signed names from the trust data, no registry call), anyOf (union), allOf (intersection), and
// audit (everything listed, the hidden ones audited).

const REPO = 'acme/app';
const GUN = `docker.io/${REPO}`;

interface Listed {
  status: number;
  tags: string[];
  link: string | null;
}

async function list(signet: InProcessSignet, name: string, query = ''): Promise<Listed> {
  const res = await fetch(`${signet.url}/v2/${name}/tags/list${query}`);
  const body = await res.text();
  return { status: res.status, tags: res.status === 200 ? (JSON.parse(body) as { tags: string[] }).tags : [body], link: res.headers.get('link') };
}

describe('tags/list lists what the policy admits (real registry, notary-server, cosign signatures)', () => {
  let registry: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: InProcessSignet;
  let dir: string;
  const images: Record<string, PushedImage> = {};

  before(async () => {
    dir = await makeTempDir('taglist');
    [registry, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
    cli = await createNotaryCli({ server: notary });
    const key = cosignKeyPair('ecdsa-p256');
    const keyPath = await key.writePublicKey(dir);
    for (const tag of ['1.0', '2.0', '3.0', '4.0']) images[tag] = await pushImage(registry, REPO, tag, { files: { 'hello.txt': `${tag}\n` } });
    const image = (tag: string): PushedImage => images[tag] ?? assert.fail(tag);
    await cli.init(GUN);
    await cli.addHash(GUN, '1.0', image('1.0').size, image('1.0').digest.slice('sha256:'.length), { publish: false });
    await cli.addHash(GUN, '4.0', image('4.0').size, image('4.0').digest.slice('sha256:'.length));
    await signLegacy(registry, REPO, image('3.0'), key);
    await signLegacy(registry, REPO, image('4.0'), key);

    const notaryReq = { notary: { roots: { tofu: true } } };
    const cosignReq = { cosign: { keys: [keyPath], tlog: false } };
    const trust = { notary: { url: notary.url, gun: 'docker.io/{repository}' } };
    const upstreams = Object.fromEntries(['docker.io', 'notary.test', 'both.test', 'audit.test'].map((name) => [name, { url: registry.url }]));
    signet = await startInProcessSignet({
      upstreams,
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: Object.fromEntries(Object.keys(upstreams).map((name) => [name, { trust }])),
        policy: {
          default: 'enforce',
          rules: [
            { match: 'docker.io/**', require: { anyOf: [notaryReq, cosignReq] } },
            { match: 'notary.test/**', require: notaryReq },
            { match: 'both.test/**', require: { allOf: [notaryReq, cosignReq] } },
            { match: 'audit.test/**', mode: 'audit', require: notaryReq },
          ],
        },
      },
    });
  });
  after(async () => {
    await stopAll(signet, cli, registry, notary);
    await removeDir(dir);
  });

  test('Notary only: the signed tags, from the verified trust data alone', async () => {
    const upstreamRequests = (): Promise<number> => signet.metric('signet_upstream_requests_total', { upstream: 'notary.test' });
    const before = await upstreamRequests();
    const listed = await list(signet, `notary.test/${REPO}`);
    assert.equal(listed.status, 200, listed.tags.join());
    assert.deepEqual(listed.tags, ['1.0', '4.0']);
    assert.equal(listed.link, null);
    assert.equal(await upstreamRequests(), before, 'the registry was not asked');
  });

  test('anyOf: Notary-signed and cosign-verified tags (not the unsigned one, not the .sig tags), paginated through Link', async () => {
    assert.deepEqual((await list(signet, REPO)).tags, ['1.0', '3.0', '4.0']);
    const seen: string[] = [];
    let query = '?n=1';
    for (let page = 0; page < 20 && query; page++) {
      const listed = await list(signet, REPO, query);
      assert.equal(listed.status, 200);
      assert.ok(listed.tags.length <= 1, `page ${page}: ${listed.tags.join()}`);
      seen.push(...listed.tags);
      const next = listed.link ? /^<(\/v2\/acme\/app\/tags\/list\?[^>]+)>; rel="next"$/.exec(listed.link)?.[1] : undefined;
      if (listed.link) assert.ok(next, `a Link to the client's repository path: ${listed.link}`);
      query = next ? next.slice(next.indexOf('?')) : '';
    }
    assert.deepEqual(seen, ['1.0', '3.0', '4.0'], 'every admitted tag once, in order');
    const head = await fetch(`${signet.url}/v2/${REPO}/tags/list`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(Number(head.headers.get('content-length')), Buffer.byteLength(JSON.stringify({ name: REPO, tags: ['1.0', '3.0', '4.0'] })));
  });

  test('allOf: only the tag both formats sign', async () => {
    assert.deepEqual((await list(signet, `both.test/${REPO}`)).tags, ['4.0']);
  });

  test('audit: every tag listed, the ones enforce would hide audited', async () => {
    const listed = await list(signet, `audit.test/${REPO}`);
    assert.equal(listed.status, 200);
    for (const tag of ['1.0', '2.0', '3.0', '4.0']) assert.ok(listed.tags.includes(tag), tag);
    assert.ok(
      listed.tags.some((t) => t.endsWith('.sig')),
      "cosign's signature tags too",
    );
    const audited = await poll('the audited listing in the audit log', async () =>
      (await readFile(signet.auditLogPath, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .find((l) => l['kind'] === 'tags' && l['upstream'] === 'audit.test' && l['verdict'] === 'audited'),
    );
    assert.match(String(audited['message']), /enforce would hide \d+ \("2\.0", "3\.0", "sha256-/);
  });

  test("referrers of an unsigned digest are refused under enforce; a signed digest's are listed", async () => {
    const unsigned = await fetch(`${signet.url}/v2/${REPO}/referrers/${images['2.0']?.digest}`);
    assert.equal(unsigned.status, 403);
    assert.match(await unsigned.text(), /digest_not_authorised/);
    const signed = await fetch(`${signet.url}/v2/${REPO}/referrers/${images['3.0']?.digest}`);
    assert.equal(signed.status, 200, await signed.text());
  });
});
