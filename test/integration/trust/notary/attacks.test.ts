import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../../harness/cleanup.js';
import { captureRepo, repoFiles, sha256Hex, startEvilNotary, type CapturedRepo, type EvilNotary, type TufFiles } from '../../../harness/evil-notary.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../../harness/notary-server.js';
import { eventually } from '../../../harness/poll.js';
import { startRegistry, type Registry } from '../../../harness/registry.js';
import { startSignet, type Signet, type SignetOptions } from '../../../harness/signet.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

// A real Signet (child process) whose trust server is an evil one: test/harness/evil-notary.ts
// replays and mixes metadata that the real notary CLI and notary-server wrote, file by file.
// The upstream registry is real and holds the images, so allowed pulls really succeed.

const MiB = 1024 * 1024;

async function get(signet: Signet, path: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${signet.url}${path}`, { headers: { accept: MANIFEST_ACCEPT } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

function denial(body: Buffer): { code: string; message: string; reason: string | undefined } {
  const parsed = JSON.parse(body.toString('utf8')) as { errors: Array<{ code: string; message: string; detail?: { reason?: string } }> };
  const first = parsed.errors[0];
  assert.ok(first, 'an OCI error body');
  return { code: first.code, message: first.message, reason: first.detail?.reason };
}

async function assertAllowed(signet: Signet, image: PushedImage): Promise<void> {
  const res = await get(signet, `/v2/${image.repo}/manifests/${image.tag}`);
  assert.equal(res.status, 200, res.body.toString());
  assert.equal(res.headers.get('docker-content-digest'), image.digest);
  assert.ok(res.body.equals(image.manifest));
}

/** Asserts a 403 DENIED with `reason` (and `message`), counted under that reason. */
async function assertDenied(signet: Signet, image: PushedImage, reason: string, message?: RegExp): Promise<void> {
  const counted = (): Promise<number> => signet.metric('signet_policy_decisions_total', { verdict: 'denied', reason });
  const before = await counted();
  const res = await get(signet, `/v2/${image.repo}/manifests/${image.tag}`);
  assert.equal(res.status, 403, res.body.toString());
  const d = denial(res.body);
  assert.equal(d.code, 'DENIED');
  assert.equal(d.reason, reason, d.message);
  if (message) assert.match(d.message, message);
  await eventually(`the ${reason} denial counted`, async () => assert.ok((await counted()) > before));
}

describe('trust attacks against a running Signet (evil notary server, real metadata)', () => {
  let upstream: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let evil: EvilNotary;
  let signet: Signet;
  let signetOptions: SignetOptions;
  const images: Record<string, PushedImage> = {};
  const gun = (repo: string): string => `docker.io/${repo}`;

  /** Signs `image` (tag → digest, size) in a fresh repository of the real notary server. */
  async function sign(image: PushedImage): Promise<void> {
    await cli.init(gun(image.repo), { serverManagedSnapshot: true });
    await cli.addHash(gun(image.repo), image.tag, image.size, image.digest.slice('sha256:'.length));
  }

  before(async () => {
    [upstream, notary, evil] = await Promise.all([startRegistry(), startNotaryServer({ tls: false }), startEvilNotary()]);
    cli = await createNotaryCli({ server: notary });
    for (const repo of ['attack/rollback', 'attack/freeze', 'attack/big', 'attack/endless', 'attack/mix']) {
      images[repo] = await pushImage(upstream, repo, '1.0');
    }
    signetOptions = {
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: evil.url } } } },
        policy: { default: 'enforce', rules: [{ match: 'docker.io/attack/**', mode: 'enforce', require: { notary: { roots: { tofu: true } } } }] },
        // Every pull re-checks the trust server, so each test sees what the evil server serves now.
        trust: { freshnessSeconds: 0 },
      },
    };
    signet = await startSignet(signetOptions);
  });
  after(() => stopAll(signet, cli, upstream, notary, evil));

  test('rollback across a Signet restart: v2 seen, Signet restarted, v1 served → 403 rollback', async () => {
    const image = images['attack/rollback'] as PushedImage;
    const g = gun(image.repo);
    await sign(image);
    const v1 = await captureRepo(notary, g);
    await cli.witness(g, ['targets']); // `notary witness`: re-signs targets as version N+1
    const v2 = await captureRepo(notary, g);
    assert.ok((v2.versions['targets'] ?? 0) > (v1.versions['targets'] ?? 0));
    assert.ok((v2.versions['timestamp'] ?? 0) > (v1.versions['timestamp'] ?? 0));

    evil.serve(g, v2.files);
    await assertAllowed(signet, image);
    await signet.restart();
    evil.clearRequests();
    evil.serve(g, v1.files);
    await assertDenied(signet, image, 'rollback', /rollback detected: timestamp version \d+ is lower than the trusted \d+/);
    // The anchor came from Signet's disk: the restarted Signet asked for the timestamp first, not the root.
    assert.equal(evil.requests(g)[0]?.file, 'timestamp.json');
    // The genuine current state is still accepted.
    evil.serve(g, v2.files);
    await assertAllowed(signet, image);
  });

  test('freeze: the same real timestamp replayed to a Signet restarted 15 days later (faketime) → 403 expired', async () => {
    const image = images['attack/freeze'] as PushedImage;
    const g = gun(image.repo);
    await sign(image);
    const state = await captureRepo(notary, g);
    const dataDir = await makeTempDir('freeze-data');
    let now: Signet | undefined;
    let later: Signet | undefined;
    try {
      evil.serve(g, state.files);
      now = await startSignet({ ...signetOptions, dataDir });
      await assertAllowed(now, image);
      await now.stop();
      now = undefined;
      // The attacker keeps serving what it had: a timestamp notary-server signed for 14 days.
      later = await startSignet({ ...signetOptions, dataDir, wrap: ['faketime', '+15 days'] });
      await assertDenied(later, image, 'expired', /timestamp metadata expired at \d{4}-\d\d-\d\dT/);
    } finally {
      await now?.stop();
      await later?.stop();
      await removeDir(dataDir);
    }
  });

  test('endless data: a timestamp over 1 MiB (announced) → 403 too_large', async () => {
    const image = images['attack/big'] as PushedImage;
    const g = gun(image.repo);
    await sign(image);
    const state = await captureRepo(notary, g);
    evil.serve(g, state.files);
    await assertAllowed(signet, image);
    const oversized: TufFiles = new Map(state.files);
    oversized.set('timestamp.json', { oversize: MiB + 1, announce: true });
    evil.serve(g, oversized);
    await assertDenied(signet, image, 'too_large', /timestamp\.json of docker\.io\/attack\/big is 1048577 bytes, over the 1048576-byte limit/);
  });

  test('endless data: a chunked timestamp that never ends → 403 too_large, and Signet hangs up early', async () => {
    const image = images['attack/endless'] as PushedImage;
    const g = gun(image.repo);
    await sign(image);
    const state = await captureRepo(notary, g);
    const endless: TufFiles = new Map(state.files);
    endless.set('timestamp.json', { oversize: 256 * MiB, announce: false });
    evil.clearRequests();
    evil.serve(g, endless);
    await assertDenied(signet, image, 'too_large', /timestamp\.json of docker\.io\/attack\/endless is more than 1048576 bytes/);
    const streams = evil.oversizeResponses().filter((r) => r.gun === g);
    assert.ok(streams.length >= 1);
    for (const s of streams) assert.ok(!s.complete && s.written < 256 * MiB, `the download was abandoned (${s.written} bytes written)`);
  });

  test('mix-and-match: snapshot N with targets N+1 → 403 hash_mismatch; the genuine N+1 is then accepted', async () => {
    const image = images['attack/mix'] as PushedImage;
    const g = gun(image.repo);
    await sign(image);
    await cli.addHash(g, 'old', 10, sha256Hex(Buffer.from('old manifest')));
    const n: CapturedRepo = await captureRepo(notary, g);
    await cli.remove(g, 'old'); // N+1: a shorter targets file, so it fits the length N's snapshot lists
    const n1 = await captureRepo(notary, g);
    const targetsN = n.parts['targets'] as Buffer;
    const targetsN1 = n1.parts['targets'] as Buffer;
    assert.ok(targetsN1.length <= targetsN.length);
    const mixed = repoFiles({ ...n.parts, targets: targetsN1 });
    mixed.set(`targets.${sha256Hex(targetsN)}.json`, targetsN1);
    evil.serve(g, mixed);
    await assertDenied(signet, image, 'hash_mismatch', /targets: sha256 checksum mismatch/);
    evil.serve(g, n1.files);
    await assertAllowed(signet, image);
  });
});
