import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { MemoryContent } from '../../../src/cache/memory/content.js';
import { BlobService } from '../../../src/proxy/blobs.js';
import type { ProxyMetrics } from '../../../src/proxy/observer.js';
import { parseDigest } from '../../../src/registry/names.js';
import { UpstreamClient } from '../../../src/registry/upstream-client.js';
import { toOciError } from '../../../src/server/oci-errors.js';
import {
  sendEndless,
  startFakeRegistry,
  type EndlessBody,
  type FakeHandler,
  type FakeRegistry,
  type FakeRegistryOptions,
} from '../../harness/fake-registry.js';
import { assertOciError, cutAwareRequest } from '../../harness/http.js';
import { poll } from '../../harness/poll.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest as sha256 } from '../../harness/streams.js';
import { createTestCa } from '../../harness/test-ca.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// An upstream that works against Signet, through a real Signet in the test process (policy
// "off"): error and token bodies that never end, redirects and token realms pointing at
// internal services (a loopback "metadata" server holding a secret), foreign bodies, malformed
// Locations, manifest bodies that break off or stall, and a plain-HTTP token realm on another
// origin. Every supply of bytes is bounded (sendEndless), so a Signet that reads on ends the
// test with a failed assertion instead of running forever.

const UPSTREAM = 'hostile.test';
const REPO = 'app';
const USER = 'signet-bot';
const PASSWORD = 'hostile-Pa55word-never-leaves';
const MiB = 1024 * 1024;
/** The most an endless body supplies: far above every limit of Signet's (64 KiB error bodies). */
const ENDLESS_SUPPLY = 64 * MiB;
const SECRET = 'AKIA-metadata-secret-0123456789';

async function fake(t: TestContext, options: FakeRegistryOptions | FakeHandler): Promise<FakeRegistry> {
  const server = await startFakeRegistry(options);
  t.after(() => server.stop());
  return server;
}

interface SignetOptions {
  credentials?: boolean;
  allowedHosts?: string[];
  allowPrivateAddresses?: boolean;
  /** PEM of the CA for upstreams.<name>.caFile. */
  caPem?: string;
  retries?: number;
  /** ms without a body byte before a transfer is abandoned. */
  idleMs?: number;
}

async function signetFor(t: TestContext, upstream: FakeRegistry, o: SignetOptions = {}): Promise<InProcessSignet> {
  const extra: Record<string, unknown> = {
    retries: { max: o.retries ?? 0, baseDelayMs: 1, maxDelayMs: 50 },
    timeouts: { connectMs: 2000, responseMs: 5000, idleMs: o.idleMs ?? 10_000 },
  };
  if (o.allowedHosts) extra['allowedHosts'] = o.allowedHosts;
  if (o.allowPrivateAddresses !== undefined) extra['allowPrivateAddresses'] = o.allowPrivateAddresses;
  if (o.caPem !== undefined) {
    const dir = await makeTempDir('hostile-ca');
    t.after(() => removeDir(dir));
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, o.caPem);
    extra['caFile'] = caFile;
  }
  const signet = await startInProcessSignet({
    upstreams: { [UPSTREAM]: { url: upstream.url, ...(o.credentials ? { credentials: { username: USER, password: PASSWORD } } : {}) } },
    extra: { upstreams: { [UPSTREAM]: extra } },
  });
  t.after(() => signet.stop());
  return signet;
}

/** The loopback "metadata service": anything it is asked for, it answers with the secret. */
async function metadataServer(t: TestContext): Promise<FakeRegistry> {
  return fake(t, (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(SECRET.length) });
    res.end(SECRET);
  });
}

/** A registry whose blob requests are all redirected to `location`. */
async function redirecting(t: TestContext, location: () => string): Promise<FakeRegistry> {
  return fake(t, (req, res, next) => {
    if (!req.url?.includes('/blobs/')) {
      next();
      return;
    }
    res.writeHead(307, { location: location() });
    res.end();
  });
}

function blobUrl(s: InProcessSignet, digest: string): string {
  return `${s.url}/v2/${REPO}/blobs/${digest}`;
}

/** A redirect or realm refusal: 502 UPSTREAM_ERROR naming the upstream and `key`, no foreign byte. */
function assertRefused(res: { status: number; headers: Record<string, unknown>; body: Buffer }, key: RegExp): void {
  const error = assertOciError({ status: res.status, headers: res.headers as Record<string, string>, body: res.body }, 502, ['UNAVAILABLE']);
  assert.match(error.message, new RegExp(`upstream ${UPSTREAM.replace('.', '\\.')}`));
  assert.match(error.message, key);
  assert.ok(!res.body.includes(SECRET), 'the secret reached the client');
}

describe('bodies that never end', () => {
  test('an endless 404 body of a blob: the client gets its 404 and Signet stops reading at its limit', async (t) => {
    const digest = sha256(randomBytes(64));
    let endless: EndlessBody | undefined;
    const upstream = await fake(t, (_req, res) => {
      endless = sendEndless(res, 404, { 'content-type': 'application/json' }, { maxBytes: ENDLESS_SUPPLY });
    });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(blobUrl(s, digest));
    assertOciError(res, 404, ['BLOB_UNKNOWN']);
    const body = await poll('the endless answer to be sent', () => endless);
    const { written, cut } = await body.done;
    assert.ok(cut, `Signet read all ${written} bytes of an endless error body`);
    assert.ok(written < ENDLESS_SUPPLY);
  });

  test('an endless 503 body before a retry is not read: the retry serves the blob', async (t) => {
    const blob = randomBytes(32 * 1024);
    let endless: EndlessBody | undefined;
    const upstream = await fake(t, {
      blobs: [blob],
      handler: (_req, res, next) => {
        if (endless) {
          next();
          return;
        }
        endless = sendEndless(res, 503, { 'content-type': 'text/plain' }, { maxBytes: ENDLESS_SUPPLY });
      },
    });
    const s = await signetFor(t, upstream, { retries: 1 });
    const res = await cutAwareRequest(blobUrl(s, sha256(blob)));
    assert.equal(res.status, 200);
    assert.ok(res.complete && res.body.equals(blob));
    const { written, cut } = await poll('the endless answer to be sent', () => endless).then((e) => e.done);
    assert.ok(cut, `Signet read all ${written} bytes of a 503 body it had no use for`);
  });

  test('an endless token response: 502 naming the upstream, and the token server is cut off', async (t) => {
    const ca = await createTestCa();
    let endless: EndlessBody | undefined;
    const tokens = await fake(t, {
      tls: await ca.server(),
      handler: (_req, res) => {
        endless = sendEndless(res, 200, { 'content-type': 'application/json' }, { maxBytes: ENDLESS_SUPPLY });
      },
    });
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.url}/token",service="reg"` });
      res.end();
    });
    const s = await signetFor(t, upstream, { caPem: ca.certPem, allowedHosts: [tokens.host], allowPrivateAddresses: true });
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${sha256('m')}`);
    const error = assertOciError(res, 502, ['UNAVAILABLE']);
    assert.match(error.message, /token response .* is over \d+ bytes/);
    const { written, cut } = await poll('the endless answer to be sent', () => endless).then((e) => e.done);
    assert.ok(cut, `Signet read all ${written} bytes of an endless token response`);
  });

  test('through the server: a client that leaves while the upstream stalls makes Signet close that upstream connection', async (t) => {
    const digest = sha256(randomBytes(64));
    const upstream = await fake(t, {});
    upstream.route(`/v2/${REPO}/blobs/${digest}`, {
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: '{"errors":[',
      stallAfter: 5,
      chunked: true,
    });
    const s = await signetFor(t, upstream, { idleMs: 600_000 });
    const req = request(blobUrl(s, digest));
    req.on('error', () => undefined);
    req.end();
    const [stall] = await poll('the 404 to stall', () => (upstream.stalls().length > 0 ? upstream.stalls() : undefined));
    assert.ok(stall);
    let closed = false;
    void stall.closed.then(() => (closed = true));
    req.destroy();
    // Without the client's signal the connection would close only at the error body's deadline
    // (DEFAULTS.upstreamBodyTimeoutMs; the idle timeout is longer still): the hang guard sits
    // well before it, so this cannot pass by waiting that out.
    await poll('Signet to close the stalled upstream connection', () => (closed ? true : undefined), {
      timeoutMs: DEFAULTS.upstreamBodyTimeoutMs / 2,
    });
  });

  test('a stalled 404 body is abandoned once the client has left (BlobService with the client signal)', async (t) => {
    const digest = parseDigest(sha256(randomBytes(64)));
    const upstream = await fake(t, {});
    upstream.route(`/v2/${REPO}/blobs/${digest.value}`, {
      status: 404,
      headers: { 'content-type': 'application/json' },
      body: '{"errors":[',
      stallAfter: 5,
      chunked: true,
    });
    const logger = pino({ level: 'silent' });
    const client = new UpstreamClient(
      {
        name: UPSTREAM,
        url: new URL(upstream.url),
        credentials: undefined,
        timeouts: { connectMs: 2000, responseMs: 5000, idleMs: 60_000 },
        retries: { max: 0, baseDelayMs: 1, maxDelayMs: 1 },
        maxRedirects: 3,
        ca: undefined,
        allowedHosts: [],
        allowPrivateAddresses: false,
        officialNamespace: undefined,
        trust: { notary: undefined },
      },
      { logger },
    );
    t.after(() => client.close());
    // Every counter of the proxy's metrics port counts nothing here.
    const metrics = new Proxy({}, { get: () => ({ inc: () => undefined }) }) as ProxyMetrics;
    const blobs = new BlobService({
      store: new MemoryContent({ maxBytes: MiB }).blobs,
      policy: { blob: () => Promise.resolve() },
      metrics,
      logger,
    });
    const target = { upstream: client, repository: REPO, clientName: REPO, client: undefined };
    // Two clients wait for the one download; both leave.
    const first = new AbortController();
    const second = new AbortController();
    const outcomes = [first, second].map((c) =>
      blobs.get(target, digest, 'GET', undefined, c.signal).then(
        () => undefined,
        (err: unknown) => err,
      ),
    );
    const [stall] = await poll('the 404 to stall', () => (upstream.stalls().length > 0 ? upstream.stalls() : undefined));
    assert.ok(stall);
    let closed = false;
    void stall.closed.then(() => (closed = true));
    first.abort();
    second.abort();
    // Signet closes the connection: it stops reading for nobody. (The idle timeout is 60 s: the
    // poll's deadline would end the wait of a Signet that read on.)
    await poll('Signet to close the stalled connection', () => (closed ? true : undefined));
    for (const outcome of await Promise.all(outcomes)) assert.ok(outcome instanceof Error, 'a client that left got a blob');
    assert.equal(upstream.requests().length, 1, 'one upstream request for both clients');
  });
});

describe('redirects to internal services', () => {
  test('a redirect to a loopback service on another port is refused; the service is never asked', async (t) => {
    const meta = await metadataServer(t);
    const upstream = await redirecting(t, () => `${meta.url}/latest/meta-data/iam/security-credentials/role`);
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(blobUrl(s, sha256('x')));
    assertRefused(res, new RegExp(`upstreams\\.${UPSTREAM.replace('.', '\\.')}\\.allowedHosts`));
    assert.equal(meta.requests().length, 0, 'Signet connected to the internal service');
    assert.equal(await s.metric('signet_upstream_refused_total', { upstream: UPSTREAM, reason: 'redirect_host_not_allowed' }), 1);
  });

  test('an allowed host NAME that resolves to loopback is refused at connect time', async (t) => {
    const meta = await metadataServer(t);
    const upstream = await redirecting(t, () => `http://localhost:${meta.port}/latest/meta-data/`);
    const s = await signetFor(t, upstream, { allowedHosts: [`localhost:${meta.port}`] });
    const res = await cutAwareRequest(blobUrl(s, sha256('x')));
    assertRefused(res, /loopback address.*allowPrivateAddresses/);
    assert.equal(meta.requests().length, 0, 'Signet connected to the internal service');
    assert.equal(await s.metric('signet_upstream_refused_total', { upstream: UPSTREAM, reason: 'redirect_private_address' }), 1);
  });

  test('the cloud metadata address is refused, allowed host or not, without allowPrivateAddresses', async (t) => {
    const upstream = await redirecting(t, () => 'http://169.254.169.254/latest/meta-data/');
    const s = await signetFor(t, upstream, { allowedHosts: ['169.254.169.254'] });
    const res = await cutAwareRequest(blobUrl(s, sha256('x')));
    assertRefused(res, /link-local address/);
  });

  test('a malformed Location is a 502 naming the upstream, not a 500', async (t) => {
    const upstream = await redirecting(t, () => 'http://[oops/blob');
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(blobUrl(s, sha256('x')));
    assertRefused(res, /Location that is not a URL/);
  });

  test("a redirect target's error answer is not relayed: 502 naming the upstream, without the foreign body", async (t) => {
    const storage = await fake(t, (_req, res) => {
      const body = JSON.stringify({ errors: [{ code: 'DENIED', message: `storage says ${SECRET}` }] });
      res.writeHead(403, { 'content-type': 'application/json', 'content-length': String(body.length) });
      res.end(body);
    });
    const upstream = await redirecting(t, () => `${storage.url}/object?sig=1`);
    const s = await signetFor(t, upstream, { allowedHosts: [storage.host], allowPrivateAddresses: true });
    const res = await cutAwareRequest(blobUrl(s, sha256('x')));
    assertRefused(res, /another host, which answered HTTP 403/);
    assert.equal(storage.requests().length, 1, 'the allowed storage host was asked');
  });
});

describe('token realms', () => {
  /** A registry that wants a Bearer token from `realm` and accepts any. */
  async function bearerRegistry(t: TestContext, realm: () => string, manifest: Buffer): Promise<FakeRegistry> {
    return fake(t, {
      manifests: [{ repo: REPO, bytes: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json' }],
      handler: (req, res, next) => {
        if (req.headers.authorization?.startsWith('Bearer ')) {
          next();
          return;
        }
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${realm()}",service="reg"` });
        res.end();
      },
    });
  }

  function tokenAnswer(): FakeHandler {
    return (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token: 'tok-1', expires_in: 300 }));
    };
  }

  const config = Buffer.from('{}');
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(config), size: config.length },
      layers: [],
    }),
  );

  test('a plain-HTTP realm on another origin never receives the credentials', async (t) => {
    const tokens = await fake(t, tokenAnswer());
    const upstream = await bearerRegistry(t, () => `${tokens.url}/token`, manifest);
    const s = await signetFor(t, upstream, { credentials: true, allowedHosts: [tokens.host], allowPrivateAddresses: true });
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${sha256(manifest)}`);
    assertRefused(res, new RegExp(`plain HTTP.*upstreams\\.${UPSTREAM.replace('.', '\\.')}\\.credentials only over HTTPS`));
    assert.equal(tokens.requests().length, 0, 'the plain-HTTP realm was asked (with the credentials)');
    assert.equal(await s.metric('signet_upstream_refused_total', { upstream: UPSTREAM, reason: 'realm_plain_http' }), 1);
  });

  test('a realm on a host not allowed is never asked; the error names allowedHosts', async (t) => {
    const ca = await createTestCa();
    const tokens = await fake(t, { tls: await ca.server(), handler: tokenAnswer() });
    const upstream = await bearerRegistry(t, () => `${tokens.url}/token`, manifest);
    const s = await signetFor(t, upstream, { credentials: true, caPem: ca.certPem });
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${sha256(manifest)}`);
    assertRefused(res, new RegExp(`token server at ${tokens.host.replace(/\./g, '\\.')}.*allowedHosts: add "${tokens.host.replace(/\./g, '\\.')}"`));
    assert.equal(tokens.requests().length, 0);
  });

  test('an HTTPS realm on an allowed host gets the credentials, verified against caFile', async (t) => {
    const ca = await createTestCa();
    const tokens = await fake(t, { tls: await ca.server(), handler: tokenAnswer() });
    const upstream = await bearerRegistry(t, () => `${tokens.url}/token`, manifest);
    const access = { credentials: true, allowedHosts: [tokens.host], allowPrivateAddresses: true };

    // Without the CA the realm's certificate is not trusted: no token, a 502.
    const untrusting = await signetFor(t, upstream, access);
    const refused = await cutAwareRequest(`${untrusting.url}/v2/${REPO}/manifests/${sha256(manifest)}`);
    assertOciError(refused, 502, ['UNAVAILABLE']);
    assert.equal(tokens.requests().length, 0, 'a request reached the realm over an unverified connection');

    const s = await signetFor(t, upstream, { ...access, caPem: ca.certPem });
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${sha256(manifest)}`);
    assert.equal(res.status, 200, res.body.toString());
    assert.ok(res.body.equals(manifest));
    assert.equal(tokens.requests()[0]?.headers.authorization, `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`);
  });
});

describe('manifest bodies and ranges', () => {
  const manifest = Buffer.from(
    JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json', config: {}, layers: [], pad: 'x'.repeat(4000) }),
  );

  test('a manifest body closed early is a 502 naming the upstream', async (t) => {
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/vnd.oci.image.manifest.v1+json', 'content-length': String(manifest.length) });
      res.write(manifest.subarray(0, 100), () => res.socket?.destroy());
    });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${sha256(manifest)}`);
    const error = assertOciError(res, 502, ['UNAVAILABLE']);
    assert.match(error.message, new RegExp(`upstream ${UPSTREAM.replace('.', '\\.')}`));
  });

  test('a manifest body that stalls is a 504 naming the upstream', async (t) => {
    const upstream = await fake(t, {});
    upstream.route(`/v2/${REPO}/manifests/${sha256(manifest)}`, {
      headers: { 'content-type': 'application/vnd.oci.image.manifest.v1+json' },
      body: manifest,
      stallAfter: 100,
    });
    // The idle timeout is the behaviour under test: it is what ends the wait.
    const s = await signetFor(t, upstream, { idleMs: 300 });
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${sha256(manifest)}`);
    const error = assertOciError(res, 504, ['UNAVAILABLE']);
    assert.match(error.message, new RegExp(`upstream ${UPSTREAM.replace('.', '\\.')}`));
  });

  test('a range of a cold blob whose download fails is an error answer, not a cut connection', async (t) => {
    const good = randomBytes(32 * 1024);
    const bad = Buffer.from(good.map((b) => b ^ 0x55));
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-length': String(bad.length) });
      res.end(bad);
    });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(blobUrl(s, sha256(good)), { headers: { range: 'bytes=0-9' } });
    assertOciError(res, 502, ['DIGEST_INVALID']);
    assert.ok(res.complete, 'the error answer was cut');
  });
});

describe('the error mapper', () => {
  test('an undici transfer error that escaped translation is a 502/504, never a 500', () => {
    const socket = toOciError(Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' }));
    assert.equal(socket.status, 502);
    assert.equal(socket.body.errors[0]?.code, 'UNAVAILABLE');
    const stalled = toOciError(Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' }));
    assert.equal(stalled.status, 504);
    assert.equal(toOciError(new Error('a bug')).status, 500);
  });
});
