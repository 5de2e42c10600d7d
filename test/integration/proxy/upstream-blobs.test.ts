import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { join } from 'node:path';
import { startFakeRegistry, type FakeHandler, type FakeRegistry, type FakeRegistryOptions } from '../../harness/fake-registry.js';
import { assertOciError, cutAwareRequest, type CutAwareReply } from '../../harness/http.js';
import { eventually, gate, poll } from '../../harness/poll.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest as sha256 } from '../../harness/streams.js';

// Blobs from an upstream that misbehaves, through a real Signet (policy "off", in the test
// process, so its storage can be inspected): bodies cut mid-stream, bytes that do not match
// their digest, chunked bodies, clients that leave, many clients sharing one download, ranges
// of a blob not yet verified, and redirects to another origin. Where a test needs the upstream
// to be "slow", the fake holds the rest of the body until the test releases it.

const REPO = 'team/app';
const USER = 'signet-bot';
const PASSWORD = 'fake-registry-Pa55word';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;
const MiB = 1024 * 1024;

async function fake(t: TestContext, options: FakeRegistryOptions | FakeHandler): Promise<FakeRegistry> {
  const registry = await startFakeRegistry(options);
  t.after(() => registry.stop());
  return registry;
}

async function signetFor(t: TestContext, upstream: FakeRegistry, options: { credentials?: boolean; allowedHosts?: string[] } = {}): Promise<InProcessSignet> {
  // Hosts other than the upstream are on loopback here: allowing them means allowing private addresses.
  const allowed = options.allowedHosts ? { allowedHosts: options.allowedHosts, allowPrivateAddresses: true } : {};
  const signet = await startInProcessSignet({
    upstreams: { 'fake.test': { url: upstream.url, ...(options.credentials ? { credentials: { username: USER, password: PASSWORD } } : {}) } },
    extra: {
      upstreams: {
        'fake.test': { retries: { max: 1, baseDelayMs: 1, maxDelayMs: 50 }, timeouts: { connectMs: 2000, responseMs: 5000, idleMs: 5000 }, ...allowed },
      },
    },
  });
  t.after(() => signet.stop());
  return signet;
}

function blobPath(digest: string): string {
  return `/v2/${REPO}/blobs/${digest}`;
}

function isCached(s: InProcessSignet, digest: string): boolean {
  return existsSync(join(s.dataDir, 'blobs', 'sha256', digest.slice('sha256:'.length)));
}

async function files(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The client must not have received the complete blob: an error status, or a cut body. */
async function assertNotDelivered(pending: Promise<CutAwareReply>, size: number): Promise<void> {
  let res: CutAwareReply;
  try {
    res = await pending;
  } catch {
    return; // the connection failed before a response: nothing delivered
  }
  if (res.status >= 400) return;
  assert.equal(res.complete, false, `status ${res.status}: the client received a complete body`);
  assert.ok(res.body.length < size, `the client received all ${res.body.length} bytes`);
}

async function assertNothingStored(s: InProcessSignet, digest: string): Promise<void> {
  // Signet removes the temp file once the failed download has unwound.
  await eventually('no temp file left behind', async () => {
    assert.deepEqual(await files(join(s.dataDir, 'tmp')), [], 'temp files left behind');
  });
  assert.ok(!isCached(s, digest), 'the bad blob was cached');
}

describe('blob integrity', () => {
  test('an upstream body reset mid-stream fails the client, leaves nothing behind, and a retry later succeeds', async (t) => {
    const blob = randomBytes(256 * 1024);
    const digest = sha256(blob);
    let broken = true;
    const upstream = await fake(t, {
      blobs: [blob],
      handler: (req, res, next) => {
        if (!broken || req.url !== blobPath(digest)) {
          next();
          return;
        }
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
        res.write(blob.subarray(0, blob.length / 2), () => res.socket?.destroy());
      },
    });
    const s = await signetFor(t, upstream);

    await assertNotDelivered(cutAwareRequest(`${s.url}${blobPath(digest)}`), blob.length);
    await assertNothingStored(s, digest);

    broken = false;
    const ok = await cutAwareRequest(`${s.url}${blobPath(digest)}`);
    assert.equal(ok.status, 200);
    assert.ok(ok.complete);
    assert.ok(ok.body.equals(blob));
    assert.equal(ok.headers['docker-content-digest'], digest);
    await eventually('the blob is cached', () => assert.ok(isCached(s, digest)));
    const gets = upstream.requests().filter((r) => r.method === 'GET').length;

    const cached = await cutAwareRequest(`${s.url}${blobPath(digest)}`);
    assert.equal(cached.status, 200);
    assert.ok(cached.body.equals(blob));
    assert.equal(upstream.requests().filter((r) => r.method === 'GET').length, gets, 'served from the cache');
  });

  test('blob bytes that do not match the digest (same length) never complete at the client', async (t) => {
    const good = randomBytes(64 * 1024);
    const digest = sha256(good);
    const bad = Buffer.from(good);
    bad[bad.length - 1] = (bad.at(-1) ?? 0) ^ 0xff; // differs in the very last byte
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bad.length) });
      res.end(bad);
    });
    const s = await signetFor(t, upstream);

    await assertNotDelivered(cutAwareRequest(`${s.url}${blobPath(digest)}`), good.length);
    await eventually('the mismatch is counted', async () => {
      assert.equal(await s.metric('signet_digest_mismatches_total', { kind: 'blob' }), 1);
    });
    await assertNothingStored(s, digest);
  });

  test('a Range request on a corrupt uncached blob hands out no byte', async (t) => {
    const good = randomBytes(32 * 1024);
    const digest = sha256(good);
    const bad = Buffer.from(good.map((b) => b ^ 0x55));
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-length': String(bad.length) });
      res.end(bad);
    });
    const s = await signetFor(t, upstream);
    let res: CutAwareReply | undefined;
    try {
      res = await cutAwareRequest(`${s.url}${blobPath(digest)}`, { headers: { range: 'bytes=0-9' } });
    } catch {
      // connection cut before a response: fine
    }
    if (res) {
      assert.ok(res.status >= 400 || !res.complete, `status ${res.status}, complete body`);
      // An error answer carries its OCI error body, never blob bytes.
      if (res.status < 400) assert.equal(res.body.length, 0, 'unverified bytes reached the client');
      else assert.ok(!res.body.includes(bad.subarray(0, 10)), 'unverified bytes reached the client');
    }
    await assertNothingStored(s, digest);
  });

  test('a chunked upstream blob (no Content-Length): good bytes are served and cached, corrupt ones never complete', async (t) => {
    const good = randomBytes(96 * 1024);
    const digest = sha256(good);
    let corrupt = true;
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' }); // chunked
      const bytes = corrupt ? Buffer.from(good.map((b) => b ^ 1)) : good;
      for (let offset = 0; offset < bytes.length; offset += 16 * 1024) res.write(bytes.subarray(offset, offset + 16 * 1024));
      res.end();
    });
    const s = await signetFor(t, upstream);
    await assertNotDelivered(cutAwareRequest(`${s.url}${blobPath(digest)}`), good.length);
    await assertNothingStored(s, digest);
    corrupt = false;
    const ok = await cutAwareRequest(`${s.url}${blobPath(digest)}`);
    assert.equal(ok.status, 200);
    assert.ok(ok.complete);
    assert.ok(ok.body.equals(good));
    await eventually('the blob is cached', () => assert.ok(isCached(s, digest)));
  });

  test('a client leaving mid-download does not disturb the others sharing the download', async (t) => {
    const blob = randomBytes(512 * 1024);
    const digest = sha256(blob);
    const rest = gate();
    const upstream = await fake(t, async (_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, blob.length / 2));
      await rest.opened;
      res.end(blob.subarray(blob.length / 2));
    });
    const s = await signetFor(t, upstream);
    let quitterReceived = 0;
    const quitterReq = httpRequest(`${s.url}${blobPath(digest)}`, { agent: false }, (res) => {
      res.on('data', (chunk: Buffer) => (quitterReceived += chunk.length));
      res.on('error', () => undefined);
    });
    quitterReq.on('error', () => undefined);
    quitterReq.end();
    const received = [0, 0, 0];
    const stayers = received.map((_, i) => cutAwareRequest(`${s.url}${blobPath(digest)}`, { onData: (n) => (received[i] = n) }));
    // Everyone is sharing the download (bytes arrived at every client); the upstream is mid-body.
    await poll('every client to receive the first bytes', () => (quitterReceived > 0 && received.every((n) => n > 0) ? true : undefined));
    quitterReq.destroy();
    rest.open();
    for (const res of await Promise.all(stayers)) {
      assert.equal(res.status, 200);
      assert.ok(res.complete);
      assert.ok(res.body.equals(blob));
    }
    await eventually('the blob is cached', () => assert.ok(isCached(s, digest)));
    assert.equal(upstream.requests().length, 1);
  });
});

describe('blob streaming', () => {
  test('20 concurrent cold GETs of one blob held open upstream: one upstream GET, identical correct bytes for all', async (t) => {
    const blob = randomBytes(1 * MiB + 123);
    const digest = sha256(blob);
    const tail = 64 * 1024;
    const rest = gate();
    const upstream = await fake(t, async (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
      res.write(blob.subarray(0, blob.length - tail));
      await rest.opened;
      res.end(blob.subarray(blob.length - tail));
    });
    const s = await signetFor(t, upstream);
    const received = Array.from({ length: 20 }, () => 0);
    const pending = received.map((_, i) => cutAwareRequest(`${s.url}${blobPath(digest)}`, { onData: (n) => (received[i] = n) }));
    // Every client has joined the one download still in flight before it may finish.
    await poll('all 20 clients to receive the first bytes', () => (received.every((n) => n > 0) ? true : undefined));
    rest.open();
    const results = await Promise.all(pending);
    for (const [i, res] of results.entries()) {
      assert.equal(res.status, 200, `client ${i}`);
      assert.ok(res.complete, `client ${i} got a cut body`);
      assert.equal(sha256(res.body), digest, `client ${i} got different bytes`);
    }
    assert.equal(upstream.requests().filter((r) => r.method === 'GET').length, 1, 'the upstream saw one GET');
    assert.equal(await s.metric('signet_upstream_blob_fetches_total'), 1);
  });

  test('Range bytes=0-9 on an uncached blob: 206 with exactly those bytes, only after the whole blob was verified', async (t) => {
    const blob = randomBytes(200 * 1024);
    const digest = sha256(blob);
    const half = blob.length / 2;
    const rest = gate();
    let halfSent!: () => void;
    const firstHalfSent = new Promise<void>((resolve) => (halfSent = resolve));
    const upstream = await fake(t, async (_req, res) => {
      res.writeHead(200, { 'content-length': String(blob.length) });
      res.write(blob.subarray(0, half), () => halfSent());
      await rest.opened;
      res.end(blob.subarray(half));
    });
    const s = await signetFor(t, upstream);
    let rangeReceived = 0;
    const ranged = cutAwareRequest(`${s.url}${blobPath(digest)}`, { headers: { range: 'bytes=0-9' }, onData: (n) => (rangeReceived = n) });
    await firstHalfSent;
    // Signet has the first half in its temp file (bytes 0-9 included) but has not verified it.
    await eventually('the first half in the temp file', async () => {
      const [temp, ...others] = await files(join(s.dataDir, 'tmp'));
      assert.ok(temp !== undefined && others.length === 0, 'one temp file');
      assert.ok((await stat(join(s.dataDir, 'tmp', temp))).size >= half);
    });
    // A plain GET joins the same download and is handed the unverified first half (all but the
    // held-back byte): by then a range reader that did not wait for verification would have
    // had bytes 0-9 for longer still.
    let plainReceived = 0;
    const plain = cutAwareRequest(`${s.url}${blobPath(digest)}`, { onData: (n) => (plainReceived = n) });
    await poll('the plain client to receive the first half', () => (plainReceived >= half - 1 ? true : undefined));
    const receivedBeforeVerification = rangeReceived;
    rest.open();
    const res = await ranged;
    assert.equal(receivedBeforeVerification, 0, 'range bytes were handed out before the blob was verified');
    assert.equal(res.status, 206);
    assert.ok(res.complete);
    assert.ok(res.body.equals(blob.subarray(0, 10)));
    assert.equal(res.headers['content-range'], `bytes 0-9/${blob.length}`);
    assert.equal(res.headers['content-length'], '10');
    const whole = await plain;
    assert.ok(whole.complete && whole.body.equals(blob), 'the plain client got the whole blob');
    await eventually('the blob is cached', () => assert.ok(isCached(s, digest)));
  });

  test('Range bytes=1000- beyond the size is a 416 with an OCI JSON body', async (t) => {
    const blob = randomBytes(100);
    const digest = sha256(blob);
    const upstream = await fake(t, { blobs: [blob] });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(`${s.url}${blobPath(digest)}`, { headers: { range: 'bytes=1000-' } });
    assertOciError(res, 416, ['RANGE_INVALID']);
    assert.equal(res.headers['content-range'], 'bytes */100');

    // Once cached, the same answer.
    await eventually('the blob is cached', () => assert.ok(isCached(s, digest)));
    const again = await cutAwareRequest(`${s.url}${blobPath(digest)}`, { headers: { range: 'bytes=1000-' } });
    assertOciError(again, 416, ['RANGE_INVALID']);
    const part = await cutAwareRequest(`${s.url}${blobPath(digest)}`, { headers: { range: 'bytes=90-' } });
    assert.equal(part.status, 206);
    assert.ok(part.body.equals(blob.subarray(90)));
  });

  test('a blob redirected to another origin is followed server-side, without the upstream credentials', async (t) => {
    const blob = randomBytes(48 * 1024);
    const digest = sha256(blob);
    const storage = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(blob.length) });
      res.end(blob);
    });
    const registry = await fake(t, {
      basicAuth: { username: USER, password: PASSWORD },
      handler: (_req, res) => {
        res.writeHead(307, { location: `${storage.url}/objects/${digest.slice(7)}?signature=xyz` });
        res.end();
      },
    });
    const s = await signetFor(t, registry, { credentials: true, allowedHosts: [storage.host] });
    const res = await cutAwareRequest(`${s.url}${blobPath(digest)}`);
    assert.equal(res.status, 200, res.body.toString());
    assert.ok(res.complete);
    assert.ok(res.body.equals(blob));
    const [stored, ...more] = storage.requests();
    assert.ok(stored && more.length === 0, 'one request to the storage origin');
    assert.equal(stored.url, `/objects/${digest.slice(7)}?signature=xyz`);
    assert.equal(stored.headers['authorization'], undefined, 'the upstream credentials went to another origin');
    assert.equal(registry.requests().at(-1)?.headers['authorization'], BASIC);
    // The client never sees where the bytes came from.
    assert.equal(res.headers['location'], undefined);
  });
});
