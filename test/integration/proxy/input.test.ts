import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { startFakeRegistry, type FakeRegistry } from '../../harness/fake-registry.js';
import { assertOciError, rawRequest, rawSocketRequest, type RawReply } from '../../harness/http.js';
import { MANIFEST_ACCEPT, MEDIA_TYPES, pushImage } from '../../harness/images.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { startTrap, type Trap } from '../../harness/trap.js';

// Hostile and malformed requests: each gets the right 4xx with an OCI JSON error body (never a
// 500, never text/plain) and, unless the request is well-formed, causes no upstream request and
// no connection to anything that is not a configured upstream.

const MiB = 1024 * 1024;

describe('bad input', () => {
  let upstream: Registry;
  let big: FakeRegistry; // distribution 2.8.2 neither stores nor serves manifests over 4 MiB
  let trap: Trap;
  let signet: Signet;

  before(async () => {
    trap = await startTrap();
    upstream = await startRegistry();
    await pushImage(upstream, 'library/hello', '1.0');
    const huge = {
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: MEDIA_TYPES.ociConfig, digest: `sha256:${'a'.repeat(64)}`, size: 2 },
      layers: [],
      annotations: { padding: 'x'.repeat(5 * MiB) },
    };
    big = await startFakeRegistry({
      manifests: [{ repo: 'library/huge', tag: '1.0', bytes: Buffer.from(JSON.stringify(huge)), mediaType: MEDIA_TYPES.ociManifest }],
    });
    signet = await startSignet({
      upstreams: { 'docker.io': { url: upstream.url }, 'big.test': { url: big.url } },
      defaultUpstream: 'docker.io',
    });
  });
  after(() => stopAll(signet, upstream, big, trap));

  const get = (path: string, headers: Record<string, string> = {}): Promise<RawReply> =>
    rawRequest(signet.url, 'GET', path, { accept: MANIFEST_ACCEPT, ...headers });

  /** Runs `fn` and asserts that no upstream, and nothing else, was contacted meanwhile. */
  async function withoutUpstream(fn: () => Promise<void>): Promise<void> {
    const logBefore = (await upstream.accessLog()).length;
    const bigBefore = big.requests().length;
    const metricBefore = await signet.metric('signet_upstream_requests_total');
    await fn();
    assert.deepEqual((await upstream.accessLog()).slice(logBefore), [], 'the upstream was contacted');
    assert.equal(big.requests().length, bigBefore, 'big.test was contacted');
    assert.equal(await signet.metric('signet_upstream_requests_total'), metricBefore, 'upstream requests were counted');
    assert.equal(trap.connections(), 0, 'a connection reached the trap');
  }

  test('path traversal in the repository name', () =>
    withoutUpstream(async () => {
      for (const path of [
        '/v2/../etc/passwd/manifests/x',
        '/v2/library/../../etc/passwd/manifests/latest',
        '/v2/%2e%2e/%2e%2e/etc/passwd/manifests/x',
        '/v2/library%2f..%2f..%2fetc/manifests/x',
      ]) {
        assertOciError(await get(path), [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN']);
      }
    }));

  test('upper-case repository name', () =>
    withoutUpstream(async () => {
      assertOciError(await get('/v2/UPPER/manifests/latest'), 400, ['NAME_INVALID']);
      assertOciError(await get('/v2/library/Hello/blobs/sha256:' + 'a'.repeat(64)), 400, ['NAME_INVALID']);
    }));

  test('malformed tags', () =>
    withoutUpstream(async () => {
      // No tag can match, so "unknown" (404) is as right as "invalid" (400).
      for (const tag of ['-bad', '.hidden', 'a'.repeat(129), 'bad%20tag']) {
        assertOciError(await get(`/v2/library/hello/manifests/${tag}`), [400, 404], ['MANIFEST_UNKNOWN', 'MANIFEST_INVALID', 'TAG_INVALID', 'NAME_INVALID']);
      }
    }));

  test('malformed and unsupported digests', () =>
    withoutUpstream(async () => {
      assertOciError(await get('/v2/library/hello/blobs/sha256:xyz'), 400, ['DIGEST_INVALID']);
      assertOciError(await get(`/v2/library/hello/blobs/sha256:${'A'.repeat(64)}`), 400, ['DIGEST_INVALID']);
      assertOciError(await get(`/v2/library/hello/manifests/sha256:${'0'.repeat(63)}`), 400, ['DIGEST_INVALID']);
      assertOciError(await get(`/v2/library/hello/blobs/md5:${'0'.repeat(32)}`), 400, ['DIGEST_INVALID', 'UNSUPPORTED']);
    }));

  test('an ns that names no configured upstream is refused without any connection', () =>
    withoutUpstream(async () => {
      assertOciError(await get('/v2/library/hello/manifests/1.0?ns=evil.example'), [400, 403, 404], ['NAME_UNKNOWN', 'NAME_INVALID', 'DENIED']);
      assertOciError(await get(`/v2/library/hello/manifests/1.0?ns=127.0.0.1:${trap.port}`), [400, 403, 404]);
      assertOciError(await get(`/v2/library/hello/blobs/sha256:${'a'.repeat(64)}?ns=127.0.0.1:${trap.port}`), [400, 403, 404]);
    }));

  test('a host name as first path segment only ever reaches configured upstreams', async () => {
    await withoutUpstream(async () => {
      // not a valid repository name on any upstream (':' is not allowed)
      assertOciError(await get(`/v2/127.0.0.1:${trap.port}/x/manifests/1`), [400, 404], ['NAME_INVALID', 'NAME_UNKNOWN']);
    });
    // "unknownupstream.example/x" is a valid repository name: routed to the default upstream,
    // which does not have it. No other host is involved.
    const logBefore = (await upstream.accessLog()).length;
    assertOciError(await get('/v2/unknownupstream.example/x/manifests/1'), 404, ['MANIFEST_UNKNOWN', 'NAME_UNKNOWN']);
    const asked = (await upstream.accessLog()).slice(logBefore).filter((e) => e.path !== '/v2/');
    assert.ok(
      asked.every((e) => e.path.startsWith('/v2/unknownupstream.example/x/')),
      JSON.stringify(asked),
    );
    const upstreamLabels = new Set([...(await signet.metrics()).matchAll(/^signet_upstream_requests_total\{[^}]*upstream="([^"]*)"/gm)].map((m) => m[1]));
    for (const label of upstreamLabels) assert.ok(label === 'docker.io' || label === 'big.test', `upstream label ${label}`);
    assert.equal(trap.connections(), 0);
  });

  test('write methods are refused', () =>
    withoutUpstream(async () => {
      for (const method of ['PUT', 'DELETE', 'POST', 'PATCH']) {
        const reply = await rawRequest(signet.url, method, '/v2/library/hello/manifests/1.0', { 'content-length': '0' });
        assertOciError(reply, [401, 403, 405]);
      }
    }));

  test('an oversized upstream manifest is refused with a clear error', async () => {
    const reply = await get('/v2/big.test/library/huge/manifests/1.0');
    const error = assertOciError(reply, [400, 413, 502]);
    assert.match(error.message, /large|size|limit|exceed|bytes|MiB/i);
  });

  test('64 KiB of request headers get 431 with a JSON body', () =>
    withoutUpstream(async () => {
      const headers = Array.from({ length: 16 }, (_, i) => `X-Padding-${i}: ${'p'.repeat(4096)}`).join('\r\n');
      const reply = await rawSocketRequest(signet.url, `GET /v2/library/hello/manifests/1.0 HTTP/1.1\r\nHost: ${signet.host}\r\n${headers}`);
      assertOciError(reply, 431);
    }));

  test('a well-formed request right after a refused one is served', async () => {
    assertOciError(await get('/v2/library/../../etc/passwd/manifests/latest'), [400, 404]);
    const res = await fetch(`${signet.url}/v2/library/hello/manifests/1.0`, { headers: { accept: MANIFEST_ACCEPT } });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
  });
});
