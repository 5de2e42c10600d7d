import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { stopAll } from '../../harness/cleanup.js';
import { getWithManifestAccept } from '../../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { freePort } from '../../harness/ports.js';
import { run } from '../../harness/process.js';
import { startRadosgw, type Radosgw } from '../../harness/radosgw.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { REPO_ROOT, startSignet, type Signet } from '../../harness/signet.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// A Signet whose content is in S3 (a real Ceph radosgw) and whose state is in Redis (a real
// redis-server): an image is served and lands in the bucket under its digests, a restarted
// Signet (a fresh replica) serves it from the bucket without asking the upstream, /readyz
// reports the backends, and Signet does not start without them.

// RECIPES.md: this machine's AWS_CA_BUNDLE trips some S3 clients; the gateway is plain HTTP.
delete process.env['AWS_CA_BUNDLE'];

const BUCKET = 'signet-shared';

describe('Signet on S3 content and Redis state', () => {
  let rgw: Radosgw;
  let redis: RedisServer;
  let registry: Registry;
  let signet: Signet;
  let client: S3Client;
  let image: PushedImage;
  let dir: string;
  let s3Config: Record<string, unknown>;

  before(
    async () => {
      dir = await makeTempDir('shared-storage');
      [rgw, redis, registry] = await Promise.all([startRadosgw(), startRedis(), startRegistry()]);
      await rgw.createBucket(BUCKET);
      client = rgw.client();
      image = await pushImage(registry, 'library/app', '1.0', { files: { 'hello.txt': 'shared storage\n' } });
      s3Config = {
        endpoint: rgw.endpoint,
        region: rgw.region,
        bucket: BUCKET,
        prefix: 'signet/',
        forcePathStyle: true,
        accessKeyId: rgw.accessKeyId,
        secretAccessKey: rgw.secretAccessKey,
      };
      signet = await startSignet({
        upstreams: { 'docker.io': { url: registry.url } },
        defaultUpstream: 'docker.io',
        extra: { storage: { s3: s3Config }, state: { redis: { url: redis.url, keyPrefix: 'test:' } } },
      });
    },
    { timeout: 240_000 },
  );
  after(async () => {
    (client as S3Client | undefined)?.destroy();
    await stopAll(signet, registry, redis, rgw);
    await removeDir(dir);
  });

  const pull = async (): Promise<void> => {
    const manifest = await getWithManifestAccept(signet.url, '/v2/library/app/manifests/1.0', MANIFEST_ACCEPT);
    assert.equal(manifest.status, 200, manifest.body.toString());
    assert.equal(manifest.headers.get('docker-content-digest'), image.digest);
    for (const blob of image.blobs) {
      const res = await getWithManifestAccept(signet.url, `/v2/library/app/blobs/${blob.digest}`, '*/*');
      assert.equal(res.status, 200, blob.digest);
      assert.equal(res.body.length, blob.size);
    }
  };

  const upstreamBlobGets = async (): Promise<number> =>
    (await registry.accessLog()).filter((e) => e.method === 'GET' && e.path.startsWith('/v2/library/app/blobs/')).length;

  test('an image is served, and its blobs and manifest are in the bucket under their digests', async () => {
    await pull();
    const keys = await poll('the blobs in the bucket', async () => {
      const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: 'signet/' }));
      const all = (listed.Contents ?? []).map((o) => o.Key ?? '');
      return image.blobs.every((b) => all.some((k) => k.endsWith(b.digest.replace(':', '/')))) ? all : undefined;
    });
    assert.ok(
      keys.some((k) => k.includes('manifests/') && k.endsWith(image.digest.replace(':', '/'))),
      `the manifest in ${keys.join(', ')}`,
    );
    const ready = await fetch(`${signet.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), {
      status: 'ready',
      backends: [
        { backend: 'redis', ok: true },
        { backend: 's3', ok: true },
      ],
    });
  });

  test('a restarted Signet (a new replica) serves the image from the bucket and Redis, without the upstream', async () => {
    await pull();
    const before = await upstreamBlobGets();
    await signet.restart();
    await pull();
    assert.equal(await upstreamBlobGets(), before, 'no blob was fetched from the upstream again');
  });

  test('/readyz reports an unreachable Redis, and recovers with it', async () => {
    await redis.kill();
    try {
      const down = await fetch(`${signet.url}/readyz`);
      assert.equal(down.status, 503);
      const body = (await down.json()) as { backends: Array<{ backend: string; ok: boolean; error?: string }> };
      const state = body.backends.find((b) => b.backend === 'redis');
      assert.equal(state?.ok, false);
      assert.match(state.error ?? '', /Redis/);
    } finally {
      await redis.restart();
    }
    await poll('readyz again', async () => ((await fetch(`${signet.url}/readyz`)).status === 200 ? true : undefined));
  });

  test('20 clients over three replicas pull one cold image at once: one upstream GET per blob, correct bytes for all', async () => {
    const big = await pushImage(registry, 'library/big', '1.0', { files: { 'big.bin': randomBytes(12 * 1024 ** 2) } });
    const replicaConfig = {
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: { storage: { s3: { ...s3Config, prefix: 'replicas/' } }, state: { redis: { url: redis.url, keyPrefix: 'replicas:' } } },
    };
    const replicas = await Promise.all([startSignet(replicaConfig), startSignet(replicaConfig), startSignet(replicaConfig)]);
    try {
      const manifest = await getWithManifestAccept(replicas[0].url, '/v2/library/big/manifests/1.0', MANIFEST_ACCEPT);
      assert.equal(manifest.status, 200, manifest.body.toString());
      const clients = Array.from({ length: 20 }, (_, i) => replicas[i % replicas.length] as Signet);
      await Promise.all(
        clients.flatMap((replica) =>
          big.blobs.map(async (blob) => {
            const res = await fetch(`${replica.url}/v2/library/big/blobs/${blob.digest}`);
            assert.equal(res.status, 200, `${replica.url} ${blob.digest}`);
            const body = Buffer.from(await res.arrayBuffer());
            assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, blob.digest, `bytes of ${blob.digest} from ${replica.url}`);
          }),
        ),
      );
      const gets = (await registry.accessLog()).filter((e) => e.method === 'GET' && e.path.startsWith('/v2/library/big/blobs/'));
      for (const blob of big.blobs) {
        assert.equal(gets.filter((e) => e.path.endsWith(blob.digest)).length, 1, `upstream GETs of ${blob.digest}`);
      }
    } finally {
      await stopAll(...replicas);
    }
  });

  test('Signet refuses to start when Redis cannot be reached or does not persist its writes', async () => {
    const closed = await freePort();
    const refused = await serveOnce({ s3: s3Config, redis: { url: `redis://127.0.0.1:${closed}`, connectTimeoutMs: 2000 } });
    assert.equal(refused.code, 2, refused.stderr);
    assert.match(refused.stdout + refused.stderr, /cannot connect to Redis at redis:\/\/127\.0\.0\.1:\d+/);
    const volatile = await startRedis({ args: ['--appendonly', 'no'] });
    try {
      const noAof = await serveOnce({ s3: s3Config, redis: { url: volatile.url } });
      assert.equal(noAof.code, 2, noAof.stderr);
      assert.match(noAof.stdout + noAof.stderr, /append/i);
    } finally {
      await volatile.stop();
    }
  });

  /** `signet serve` with these backends; it must exit by itself (it cannot start). */
  async function serveOnce(backends: {
    s3: Record<string, unknown>;
    redis: Record<string, unknown>;
  }): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const { writeFile } = await import('node:fs/promises');
    const { stringify } = await import('yaml');
    const path = join(dir, `serve-${Date.now()}.yaml`);
    await writeFile(
      path,
      stringify({
        listen: { host: '127.0.0.1', port: await freePort() },
        storage: { path: join(dir, 'data'), s3: backends.s3 },
        state: { redis: backends.redis },
        upstreams: { 'docker.io': { url: registry.url } },
      }),
    );
    return run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'serve', '--config', path], { timeoutMs: 60_000 });
  }
});
