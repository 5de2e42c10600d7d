import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeRegistry, type FakeHandler, type FakeRegistry, type FakeRegistryOptions } from '../../harness/fake-registry.js';
import { assertOciError, cutAwareRequest } from '../../harness/http.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest as sha256 } from '../../harness/streams.js';

// Manifests from an upstream that misbehaves or goes away, through a real Signet (policy
// "off", in the test process): bytes that do not match the digest asked for, no
// Docker-Content-Digest, manifests over the 4 MiB limit (announced or chunked), and tags served
// stale from the cache once the upstream is unreachable.

const REPO = 'team/app';
const MiB = 1024 * 1024;
const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const ACCEPT = { accept: OCI_MANIFEST };

async function fake(t: TestContext, options: FakeRegistryOptions | FakeHandler): Promise<FakeRegistry> {
  const registry = await startFakeRegistry(options);
  t.after(() => registry.stop());
  return registry;
}

async function signetFor(t: TestContext, upstream: FakeRegistry): Promise<InProcessSignet> {
  const signet = await startInProcessSignet({
    upstreams: { 'fake.test': { url: upstream.url } },
    extra: {
      upstreams: {
        'fake.test': { retries: { max: 1, baseDelayMs: 1, maxDelayMs: 50 }, timeouts: { connectMs: 2000, responseMs: 5000, idleMs: 5000 } },
      },
    },
  });
  t.after(() => signet.stop());
  return signet;
}

function manifestFor(layers: Buffer[] = []): Buffer {
  const configBytes = Buffer.from('{"architecture":"amd64","os":"linux"}');
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256(configBytes), size: configBytes.length },
      layers: layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha256(l), size: l.length })),
    }),
  );
}

async function files(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

describe('manifests', () => {
  test('a manifest by digest whose bytes do not match is a 502 DIGEST_INVALID and is not cached', async (t) => {
    const real = manifestFor();
    const digest = sha256(real);
    const other = manifestFor([Buffer.from('an extra layer')]);
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(other.length) });
      res.end(other);
    });
    const s = await signetFor(t, upstream);
    for (let i = 1; i <= 2; i++) {
      const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${digest}`, { headers: ACCEPT });
      const err = assertOciError(res, 502, ['DIGEST_INVALID']);
      assert.match(err.message, new RegExp(digest));
      assert.equal(upstream.requests().filter((r) => r.method === 'GET').length, i, 'each request asked the upstream again: nothing was cached');
    }
    assert.deepEqual(await files(join(s.dataDir, 'manifests', 'sha256')), []);
  });

  test('a tag HEAD without Docker-Content-Digest: Signet GETs the manifest and computes the digest', async (t) => {
    const manifest = manifestFor([Buffer.from('layer')]);
    const digest = sha256(manifest);
    const upstream = await fake(t, (req, res, next) => {
      if (req.url !== `/v2/${REPO}/manifests/v1`) {
        next();
        return;
      }
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(manifest.length) });
      res.end(req.method === 'HEAD' ? undefined : manifest);
    });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/v1`, { headers: ACCEPT });
    assert.equal(res.status, 200, res.body.toString());
    assert.ok(res.body.equals(manifest));
    assert.equal(res.headers['docker-content-digest'], digest);
    assert.equal(res.headers['content-type'], OCI_MANIFEST);
    assert.deepEqual(
      upstream.requests().map((r) => `${r.method} ${r.url}`),
      [`HEAD /v2/${REPO}/manifests/v1`, `GET /v2/${REPO}/manifests/v1`],
    );

    // HEAD from the client answers with the same digest.
    const head = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/v1`, { method: 'HEAD', headers: ACCEPT });
    assert.equal(head.status, 200);
    assert.equal(head.headers['docker-content-digest'], digest);
    assert.equal(head.headers['content-length'], String(manifest.length));
  });

  test('a manifest announced above 4 MiB is refused with a 4xx naming the limit', async (t) => {
    const digest = sha256(Buffer.from('whatever'));
    const size = 4 * MiB + 1;
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST, 'content-length': String(size) });
      res.write(Buffer.alloc(64 * 1024, 0x20)); // then nothing: Signet must not wait for the rest
    });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${digest}`, { headers: ACCEPT });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    const err = assertOciError(res, res.status);
    assert.match(err.message, /limit of 4194304 bytes/);
    assert.match(err.message, new RegExp(String(size)));
  });

  test('a chunked manifest (no Content-Length) above 4 MiB is refused with a 4xx naming the limit', async (t) => {
    const digest = sha256(Buffer.from('whatever else'));
    let written = 0;
    const upstream = await fake(t, async (_req, res) => {
      res.writeHead(200, { 'content-type': OCI_MANIFEST }); // chunked transfer encoding
      const chunk = Buffer.alloc(256 * 1024, 0x20);
      // Practically endless: an answer at all shows Signet stopped reading at its limit.
      while (written < 256 * MiB && !res.destroyed) {
        written += chunk.length;
        if (!res.write(chunk)) await new Promise((resolve) => res.once('drain', resolve).once('close', resolve));
      }
      if (!res.destroyed) res.end();
    });
    const s = await signetFor(t, upstream);
    const res = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/${digest}`, { headers: ACCEPT });
    assert.ok(res.status >= 400 && res.status < 500, `status ${res.status}`);
    const err = assertOciError(res, res.status);
    assert.match(err.message, /limit of 4194304 bytes/);
    assert.ok(written > 4 * MiB, 'the fake sent more than the limit');
  });

  test('an upstream that went down after a pull by tag: the tag is served stale from the cache', async (t) => {
    const manifest = manifestFor([Buffer.from('layer one')]);
    const digest = sha256(manifest);
    const upstream = await fake(t, { manifests: [{ repo: REPO, tag: 'stable', bytes: manifest, mediaType: OCI_MANIFEST }] });
    const s = await signetFor(t, upstream);
    const first = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/stable`, { headers: ACCEPT });
    assert.equal(first.status, 200, first.body.toString());
    assert.equal(first.headers['docker-content-digest'], digest);

    await upstream.stop(); // connection refused from now on
    const stale = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/stable`, { headers: ACCEPT });
    assert.equal(stale.status, 200, stale.body.toString());
    assert.ok(stale.body.equals(manifest));
    assert.equal(stale.headers['docker-content-digest'], digest);
    assert.equal(await s.metric('signet_stale_tag_serves_total'), 1);

    // A tag never seen before cannot be served: an OCI error, not a hang.
    const unknown = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/never-seen`, { headers: ACCEPT });
    assert.ok(unknown.status >= 500, `status ${unknown.status}`);
    assertOciError(unknown, unknown.status);
  });

  test('an upstream answering 503 after a pull by tag: the tag is served stale from the cache', async (t) => {
    const manifest = manifestFor([Buffer.from('layer two')]);
    let down = false;
    const upstream = await fake(t, {
      manifests: [{ repo: REPO, tag: 'stable', bytes: manifest, mediaType: OCI_MANIFEST }],
      handler: (_req, res, next) => {
        if (!down) {
          next();
          return;
        }
        res.writeHead(503);
        res.end();
      },
    });
    const s = await signetFor(t, upstream);
    const first = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/stable`, { headers: ACCEPT });
    assert.equal(first.status, 200);
    down = true;
    const stale = await cutAwareRequest(`${s.url}/v2/${REPO}/manifests/stable`, { headers: ACCEPT });
    assert.equal(stale.status, 200, stale.body.toString());
    assert.ok(stale.body.equals(manifest));
  });
});
