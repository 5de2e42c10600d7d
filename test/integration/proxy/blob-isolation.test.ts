import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sendOciError, startFakeRegistry, type FakeHandler, type FakeRegistry, type FakeRegistryOptions } from '../../harness/fake-registry.js';
import { cutAwareRequest, type CutAwareReply } from '../../harness/http.js';
import { gate, poll } from '../../harness/poll.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest as sha256 } from '../../harness/streams.js';

// One blob download is shared only by requests the same source could serve (the same upstream
// and repository). Attackers flood a path that names the victim's blob digest — in a
// repository of the same upstream that does not have it, or at a hostile upstream — while a
// victim pulls it: the victim gets its own bytes and size, whatever the attackers' download
// does. The order is forced, never timed: the attackers' upstream answer is held until every
// request, the victim's included, has reached Signet's blob service (its cache-miss counter).

const FLOOD = 4;

async function fake(t: TestContext, options: FakeRegistryOptions | FakeHandler): Promise<FakeRegistry> {
  const server = await startFakeRegistry(options);
  t.after(() => server.stop());
  return server;
}

async function signetFor(t: TestContext, upstreams: Record<string, FakeRegistry>): Promise<InProcessSignet> {
  const settings = { retries: { max: 0, baseDelayMs: 1, maxDelayMs: 1 }, timeouts: { connectMs: 2000, responseMs: 10_000, idleMs: 10_000 } };
  const signet = await startInProcessSignet({
    upstreams: Object.fromEntries(Object.entries(upstreams).map(([name, f]) => [name, { url: f.url }])),
    extra: { upstreams: Object.fromEntries(Object.keys(upstreams).map((name) => [name, settings])) },
  });
  t.after(() => signet.stop());
  return signet;
}

/** Waits until `n` blob requests have reached Signet's blob service past its cache. */
async function blobRequestsReached(s: InProcessSignet, n: number): Promise<void> {
  await poll(`${n} blob requests to reach Signet`, async () => ((await s.metric('signet_cache_misses_total', { kind: 'blob' })) >= n ? true : undefined));
}

function assertVictimGot(res: CutAwareReply, blob: Buffer): void {
  assert.equal(res.status, 200, `the victim got HTTP ${res.status}: ${res.body.toString('utf8', 0, 300)}`);
  assert.ok(res.complete, 'the victim got a cut body');
  assert.ok(res.body.equals(blob), 'the victim got other bytes');
  assert.equal(res.headers['content-length'], String(blob.length));
}

describe('blob downloads are shared per upstream and repository only', () => {
  test('a flood of a repository that lacks the blob does not fail the pull of a repository that has it', async (t) => {
    const blob = randomBytes(256 * 1024);
    const digest = sha256(blob);
    const release = gate();
    const upstream = await fake(t, {
      blobs: [blob],
      handler: async (req, res, next) => {
        if (!req.url?.startsWith('/v2/pub/not-here/')) {
          next();
          return;
        }
        // The policy-off repository that has no such blob: its answer is held, then a 404.
        await release.opened;
        sendOciError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
      },
    });
    const s = await signetFor(t, { 'reg.test': upstream });
    const attackers = Array.from({ length: FLOOD }, () => cutAwareRequest(`${s.url}/v2/reg.test/pub/not-here/blobs/${digest}`));
    await blobRequestsReached(s, FLOOD);
    await poll('the attackers’ request upstream', () => (upstream.requests().some((r) => r.path.startsWith('/v2/pub/not-here/')) ? true : undefined));
    const victim = cutAwareRequest(`${s.url}/v2/reg.test/team/app/blobs/${digest}`);
    await blobRequestsReached(s, FLOOD + 1);
    release.open();

    assertVictimGot(await victim, blob);
    for (const res of await Promise.all(attackers)) assert.equal(res.status, 404);
    const victimGets = upstream.requests().filter((r) => r.method === 'GET' && r.path === `/v2/team/app/blobs/${digest}`);
    assert.equal(victimGets.length, 1, 'the victim’s repository was asked once');
  });

  test('a hostile upstream announcing another size and sending other bytes for the digest does not reach a client of another upstream', async (t) => {
    const blob = randomBytes(256 * 1024);
    const digest = sha256(blob);
    const wrong = randomBytes(blob.length + 1000);
    const rest = gate();
    const hostile = await fake(t, async (_req, res) => {
      // Its headers (a wrong Content-Length) and a first part go out at once; the rest is held.
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(wrong.length) });
      res.write(wrong.subarray(0, 1024));
      await rest.opened;
      res.end(wrong.subarray(1024));
    });
    const good = await fake(t, { blobs: [blob] });
    const s = await signetFor(t, { 'evil.test': hostile, 'good.test': good });

    const received = Array.from({ length: FLOOD }, () => 0);
    const attackers = received.map((_, i) => cutAwareRequest(`${s.url}/v2/evil.test/team/app/blobs/${digest}`, { onData: (n) => (received[i] = n) }));
    // The hostile download is running (its readers have bytes) when the victim comes.
    await poll('the attackers to receive bytes', () => (received.some((n) => n > 0) ? true : undefined));

    const head = await cutAwareRequest(`${s.url}/v2/good.test/team/app/blobs/${digest}`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers['content-length'], String(blob.length), 'the victim’s HEAD got the hostile upstream’s size');

    const victim = cutAwareRequest(`${s.url}/v2/good.test/team/app/blobs/${digest}`);
    await blobRequestsReached(s, FLOOD + 2);
    rest.open();

    assertVictimGot(await victim, blob);
    for (const res of await Promise.all(attackers)) assert.ok(!res.complete || res.status !== 200, 'an attacker completed a wrong body');
    assert.equal(good.requests().filter((r) => r.method === 'GET').length, 1, 'the victim’s upstream was asked for the blob');
  });
});
