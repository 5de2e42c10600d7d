import assert from 'node:assert/strict';
import { Agent, request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { stopAll } from '../../harness/cleanup.js';
import { startEvilNotary, type EvilNotary } from '../../harness/evil-notary.js';
import { startFakeRegistry, type FakeRegistry } from '../../harness/fake-registry.js';
import { MANIFEST_ACCEPT, MEDIA_TYPES } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest } from '../../harness/streams.js';

// Repository names and tags are the client's choice: nothing Signet keeps per name may grow
// with them, and a denial repeated for one name must not cost a trust-server request each time.
// Signet runs in this process, so its heap is this process's heap (measured after a full GC).

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** Distinct names of the first round: each kind more than its bound (10 000 denials, 4096 tag verdicts), so the caches are full. */
const FILL = 16_000;
/** Distinct names of the second round, measured. */
const ROUND = 8_000;
/** Requests in flight at once. */
const CONCURRENCY = 16;
/** Heap the second round may add (bytes): unbounded, each name kept ~1.5 KiB (~11 MiB for the round). */
const SECOND_ROUND_HEAP_BOUND = 5 * 1024 * 1024;
/** Trust-server requests that 50 identical denials may cost: the first (with one retry), nothing more. */
const REPEAT_REQUEST_BOUND = 2;

function heapUsed(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('per-name state against hostile clients', () => {
  let upstream: FakeRegistry;
  let notary: NotaryServer;
  let evil: EvilNotary;
  let cli: NotaryCli;
  let signet: InProcessSignet;
  let agent: Agent;
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha256Digest('{}'), size: 2 },
      layers: [],
    }),
  );

  /** GET a manifest; resolves with the status (the body is drained). */
  function pull(path: string): Promise<number> {
    const { port } = new URL(signet.url);
    return new Promise((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path, agent, headers: { accept: MANIFEST_ACCEPT } }, (res) => {
        res.resume();
        res.once('end', () => resolve(res.statusCode ?? 0));
        res.once('error', reject);
      });
      req.once('error', reject);
      req.end();
    });
  }

  /** Pulls `count` paths made by `path(i)`, CONCURRENCY at a time; returns how many answered each status. */
  async function pullAll(count: number, path: (i: number) => string): Promise<Map<number, number>> {
    const statuses = new Map<number, number>();
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          const status = await pull(path(next++));
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    return statuses;
  }

  /** Requests Signet sent to the real trust server (its upstream client counts them). */
  const notaryRequests = (): Promise<number> => signet.metric('signet_upstream_requests_total', { upstream: `notary ${notary.host}` });

  before(async () => {
    [upstream, notary, evil] = await Promise.all([
      startFakeRegistry({ manifests: [{ repo: 'library/signed', tag: '1.0', bytes: manifest, mediaType: MEDIA_TYPES.ociManifest }] }),
      startNotaryServer({ tls: false }),
      startEvilNotary(),
    ]);
    cli = await createNotaryCli({ server: notary });
    await cli.init('docker.io/library/signed');
    await cli.addHash('docker.io/library/signed', '1.0', manifest.length, sha256Digest(manifest).slice('sha256:'.length));
    // Signed, but with a root nobody pinned: denied root_not_pinned on every pull.
    await cli.init('docker.io/pinned/app');
    signet = await startInProcessSignet({
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: {
          default: 'enforce',
          rules: [
            { match: 'docker.io/library/**', require: { notary: { roots: { tofu: true } } } },
            { match: 'docker.io/pinned/**', require: { notary: { roots: { keyIds: ['ab'.repeat(32)] } } } },
            // Names with no trust data, or garbage, answered by the in-process trust server.
            { match: 'docker.io/team/**', trust: { notary: { url: evil.url } }, require: { notary: { roots: { tofu: true } } } },
          ],
        },
        trust: { freshnessSeconds: 600, missingCacheSeconds: 600 },
        // One client sends everything here: no per-client request limit.
        limits: { clientRequestsPerSecond: 0 },
      },
    });
    agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  });

  after(async () => {
    agent.destroy();
    await stopAll(signet, cli, evil, upstream, notary);
  });

  test('rounds of distinct names and tags leave the heap bounded and the verified state cached', async () => {
    assert.equal(await pull('/v2/library/signed/manifests/1.0'), 200);
    // Two thirds unknown repositories (no trust data), one third unsigned tags of a signed one.
    const round = (prefix: string) => (i: number) => (i % 3 === 2 ? `/v2/library/signed/manifests/${prefix}${i}` : `/v2/team/${prefix}${i}/manifests/latest`);
    assert.deepEqual([...(await pullAll(FILL, round('a')))], [[403, FILL]]);
    evil.clearRequests();
    const afterFirst = heapUsed();
    assert.deepEqual([...(await pullAll(ROUND, round('b')))], [[403, ROUND]]);
    evil.clearRequests();
    const growth = heapUsed() - afterFirst;
    assert.ok(growth < SECOND_ROUND_HEAP_BOUND, `a second round of ${ROUND} new names grew the heap by ${(growth / 1024 ** 2).toFixed(1)} MiB`);

    // More denied names than verified states are kept: they evict denials only, and the signed
    // tag is still answered from the verified state, without a trust-server request.
    const flood = DEFAULTS.trustStateMemoryEntries + 500;
    assert.deepEqual([...(await pullAll(flood, (i) => `/v2/team/c${i}/manifests/latest`))], [[403, flood]]);
    evil.clearRequests();
    const before = await notaryRequests();
    assert.equal(await pull('/v2/library/signed/manifests/1.0'), 200);
    assert.equal(await notaryRequests(), before, 'the verified state of library/signed survived the flood');
  });

  test('repeating a denied pull costs no trust-server request after the first', async () => {
    // One after the other: concurrent requests for one name share one update anyway.
    evil.serve('docker.io/team/garbage', new Map([['root.json', Buffer.from('{"signed": "not metadata"}')]]));
    const cases = [
      { path: '/v2/team/unsigned/manifests/1.0', requests: async () => evil.requests('docker.io/team/unsigned').length },
      { path: '/v2/team/garbage/manifests/1.0', requests: async () => evil.requests('docker.io/team/garbage').length },
      { path: '/v2/pinned/app/manifests/1.0', requests: notaryRequests },
    ];
    for (const c of cases) {
      const before = await c.requests();
      for (let i = 0; i < 50; i++) assert.equal(await pull(c.path), 403, c.path);
      const cost = (await c.requests()) - before;
      assert.ok(cost >= 1 && cost <= REPEAT_REQUEST_BOUND, `50 denials of ${c.path} cost ${cost} trust-server requests`);
    }
  });
});
