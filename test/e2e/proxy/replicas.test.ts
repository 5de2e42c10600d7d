import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { stopAll } from '../../harness/cleanup.js';
import { startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { pushImage, type PushedImage } from '../../harness/images.js';
import { startNginx, type Nginx, type NginxRequest } from '../../harness/nginx.js';
import { poll } from '../../harness/poll.js';
import { startRadosgw, type Radosgw } from '../../harness/radosgw.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { hashStream } from '../../harness/streams.js';

// Three Signet replicas share one bucket (a real Ceph radosgw) and one Redis, behind nginx
// round robin; dockerd pulls through nginx by its host name (127.0.0.0/8 is an insecure registry
// for dockerd, and a pull by host name has no fallback to Docker Hub: docs/CLIENTS.md).
// - A cold pull and a warm one (after `docker rmi`) cost the upstream one GET per blob.
// - A replica SIGKILLed in the middle of a layer: nginx cuts the client's response, dockerd
//   retries the layer (a Range request from where it stopped), nginx sends the retry to a live
//   replica, which waits until the dead replica's download lock expires in Redis
//   (state.redis.downloadLockTtlMs, 6 s here),
//   downloads the blob and serves the rest. The bucket then holds only whole, verified blobs.
//
// The replicas reach the upstream registry through a second nginx that sends at most
// UPSTREAM_RATE bytes/s: on loopback a 60 MiB blob arrives in well under a second, too fast to
// kill a replica in its middle. The registry's access log still counts what reaches it.

// RECIPES.md: this machine's AWS_CA_BUNDLE trips some S3 clients; the gateway is plain HTTP.
delete process.env['AWS_CA_BUNDLE'];

const MiB = 1024 ** 2;
const BUCKET = 'signet-replicas';
const PREFIX = 'signet/';
const UPSTREAM_RATE = 24 * MiB;
/** A download has surely started, and is far from done, once a replica has read this much. */
const MID_LAYER_BYTES = 8 * MiB;
const UPSTREAM_BYTES = 'signet_upstream_bytes_total';

describe('three Signet replicas on one bucket and one Redis behind nginx, pulled by dockerd', () => {
  let rgw: Radosgw;
  let redis: RedisServer;
  let registry: Registry;
  let dockerd: Dockerd;
  let slowLink: Nginx;
  let balancer: Nginx;
  let replicas: Signet[] = [];
  let client: S3Client;
  let app: PushedImage;
  let big: PushedImage;

  before(
    async () => {
      // The images are made and pushed while the gateway starts (its ~15 s are the longest wait).
      const pushed = startRegistry().then(async (started) => {
        registry = started;
        // Layers dockerd can unpack (gzip tars), of random bytes gzip cannot shrink.
        [app, big] = await Promise.all([
          pushImage(started, 'library/app', '1.0', { files: { 'app.bin': randomBytes(30 * MiB) } }),
          pushImage(started, 'library/big', '1.0', { files: { 'big.bin': randomBytes(60 * MiB) } }),
        ]);
      });
      [rgw, redis, dockerd] = await Promise.all([startRadosgw(), startRedis(), startDockerd(), pushed]);
      await rgw.createBucket(BUCKET);
      client = rgw.client();
      slowLink = await startNginx({ upstreams: [registry.host], limitRate: UPSTREAM_RATE });
      const config = {
        upstreams: { 'docker.io': { url: slowLink.url } },
        defaultUpstream: 'docker.io',
        extra: {
          storage: {
            s3: {
              endpoint: rgw.endpoint,
              region: rgw.region,
              bucket: BUCKET,
              prefix: PREFIX,
              forcePathStyle: true,
              accessKeyId: rgw.accessKeyId,
              secretAccessKey: rgw.secretAccessKey,
            },
          },
          state: { redis: { url: redis.url, keyPrefix: 'replicas:', downloadLockTtlMs: 6000 } },
        },
      };
      replicas = await Promise.all([startSignet(config), startSignet(config), startSignet(config)]);
      balancer = await startNginx({ upstreams: replicas.map((r) => r.host) });
    },
    { timeout: 240_000 },
  );
  after(async () => {
    (client as S3Client | undefined)?.destroy();
    await stopAll(dockerd, balancer, ...replicas, slowLink, registry, redis, rgw);
  });

  const dockerPull = async (name: string, digest: string): Promise<void> => {
    const pull = await dockerd.docker(['pull', name]);
    assert.equal(pull.code, 0, `docker pull ${name}: ${pull.stdout}\n${pull.stderr}`);
    assert.match(pull.stdout, new RegExp(`Digest: ${digest}`));
  };

  const upstreamGets = (entries: Array<{ method: string; path: string }>, repo: string, digest: string): number =>
    entries.filter((e) => e.method === 'GET' && e.path === `/v2/${repo}/blobs/${digest}`).length;

  test('a cold pull, then a warm one after docker rmi: the right digest, and one upstream GET per blob over both', async () => {
    const name = `${balancer.host}/library/app:1.0`;
    await dockerPull(name, app.digest);
    const rmi = await dockerd.docker(['rmi', name]);
    assert.equal(rmi.code, 0, rmi.stderr);
    await dockerPull(name, app.digest);
    const entries = await registry.accessLog({ until: (es) => app.blobs.every((b) => upstreamGets(es, 'library/app', b.digest) > 0) });
    for (const blob of app.blobs) assert.equal(upstreamGets(entries, 'library/app', blob.digest), 1, `upstream GETs of ${blob.digest}`);
  });

  test('a replica SIGKILLed in the middle of a layer: the pull completes through another one, and the bucket holds only whole blobs', async (t) => {
    const layer = big.blobs.find((b) => b.size > MID_LAYER_BYTES);
    assert.ok(layer, 'the big layer');
    const live = replicas.filter((r) => isAlive(r.pid));
    const baseline = await Promise.all(live.map((r) => r.metric(UPSTREAM_BYTES)));
    const name = `${balancer.host}/library/big:1.0`;
    const pull = dockerd.docker(['pull', name]);

    // The replica that reads the layer from the upstream, caught in its middle.
    const { victim, read } = await poll(
      'a replica in the middle of the layer',
      async () => {
        const now = await Promise.all(live.map((r) => r.metric(UPSTREAM_BYTES)));
        const i = now.findIndex((n, k) => n - (baseline[k] ?? 0) >= MID_LAYER_BYTES);
        const found = live[i];
        return found ? { victim: found, read: (now[i] ?? 0) - (baseline[i] ?? 0) } : undefined;
      },
      { timeoutMs: 60_000 },
    );
    process.kill(victim.pid, 'SIGKILL');
    const killedAt = Date.now();
    assert.ok(read < layer.size, `killed after ${read} of ${layer.size} bytes`);

    const pulled = await pull;
    const completedAfter = Date.now() - killedAt;
    assert.equal(pulled.code, 0, `docker pull ${name}: ${pulled.stdout}\n${pulled.stderr}`);
    assert.match(pulled.stdout, new RegExp(`Digest: ${big.digest}`));
    t.diagnostic(`victim had read ${(read / MiB).toFixed(1)} MiB of ${(layer.size / MiB).toFixed(1)}; the pull completed ${completedAfter} ms after the kill`);

    // Through nginx: a GET of the layer cut short by the victim, then dockerd's retry (from where it
    // stopped) answered in full by another replica.
    const layerPath = `/v2/library/big/blobs/${layer.digest}`;
    const requests = (await balancer.requests()).filter((r) => r.method === 'GET' && r.uri === layerPath);
    t.diagnostic(`nginx: ${JSON.stringify(requests)}`);
    // nginx logs every upstream it tried (`a, b`): the last one answered.
    const answeredBy = (r: NginxRequest): string | undefined => r.upstream.split(', ').at(-1);
    const cut = requests.find((r) => answeredBy(r) === victim.host && r.bytesSent < layer.size);
    assert.ok(cut, 'the victim cut a response short');
    const retry = requests.find((r) => r.status === 206 || (r.status === 200 && r.bytesSent === layer.size));
    assert.ok(retry && answeredBy(retry) !== victim.host, 'another replica served the rest');
    // The upstream saw the victim's GET and one more: only one live replica took the download over.
    const upstream = await registry.accessLog({ until: (es) => upstreamGets(es, 'library/big', layer.digest) >= 2 });
    assert.equal(upstreamGets(upstream, 'library/big', layer.digest), 2, 'upstream GETs of the layer');
    // What dockerd did (a diagnostic): dockerd.ts keeps its log next to its API socket and has no log() yet.
    const dockerLog = await readFile(join(dirname(dockerd.host.replace(/^unix:\/\//, '')), 'dockerd.log'), 'utf8').catch(() => '');
    t.diagnostic(
      `dockerd: ${dockerLog
        .split('\n')
        .filter((l) => l.includes('Download failed'))
        .join(' | ')}`,
    );

    // Nothing half-written in the bucket: the takeover commits the layer (after serving it), and
    // every blob object hashes to the digest its key names.
    const blobsPrefix = `${PREFIX}blobs/`;
    const layerKey = `${blobsPrefix}${layer.digest.replace(':', '/')}`;
    const keys = await poll('the layer committed to the bucket', async () => {
      const all = await listKeys(client, blobsPrefix);
      return all.includes(layerKey) ? all : undefined;
    });
    for (const key of keys) {
      const answer = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }));
      assert.ok(answer.Body instanceof Readable, key);
      const { digest } = await hashStream(answer.Body);
      assert.equal(digest, key.slice(blobsPrefix.length).replace('/', ':'), `the bytes of ${key}`);
    }
  });
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function listKeys(client: S3Client, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix, ContinuationToken: token }));
    for (const object of page.Contents ?? []) if (object.Key) keys.push(object.Key);
    token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
  } while (token !== undefined);
  return keys;
}
