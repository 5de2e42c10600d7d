import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { GetObjectCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { stopAll } from '../../harness/cleanup.js';
import { captureRepo, startEvilNotary, type CapturedRepo, type EvilNotary } from '../../harness/evil-notary.js';
import { assertOciError, cutAwareRequest, denialOf, getWithManifestAccept } from '../../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, type BlobRef, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { poll } from '../../harness/poll.js';
import { startRadosgw, type Radosgw } from '../../harness/radosgw.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';

// Two Signet replicas sharing content in S3 (a real Ceph radosgw) and state in Redis (a real
// redis-server with its append-only file): the rollback floors one replica raised protect the
// other across a Redis restart, a replica without Redis refuses a cold pull (a denial under a
// trust rule, a storage error otherwise) rather than trusting from scratch, and an object corrupted in the bucket behind Signet's back is never served as the
// blob and is fetched again.

// RECIPES.md: this machine's AWS_CA_BUNDLE trips some S3 clients; the gateway is plain HTTP.
delete process.env['AWS_CA_BUNDLE'];

const BUCKET = 'signet-replicas';
const PREFIX = 'replicas/';
const GUN_APP = 'docker.io/signed/app';
const GUN_OTHER = 'docker.io/signed/other';

const sha256 = (bytes: Buffer | Uint8Array): string => `sha256:${createHash('sha256').update(bytes).digest('hex')}`;

describe('Signet replicas on shared S3 content and Redis state', () => {
  let rgw: Radosgw;
  let redis: RedisServer;
  let registry: Registry;
  let notary: NotaryServer;
  let evil: EvilNotary;
  let cli: NotaryCli;
  let client: S3Client;
  let replica1: Signet;
  let replica2: Signet;
  let app: PushedImage;
  let other: PushedImage;
  let plain: PushedImage;
  /** signed/app 1.0, as first published: the replay. */
  let older: CapturedRepo;
  /** signed/app after one more publish (1.0 unchanged): what replica 1 verifies. */
  let newer: CapturedRepo;

  before(
    async () => {
      [rgw, redis, registry, notary, evil] = await Promise.all([
        startRadosgw(),
        startRedis(),
        startRegistry(),
        startNotaryServer({ tls: false }),
        startEvilNotary(),
      ]);
      await rgw.createBucket(BUCKET);
      client = rgw.client();
      [app, other, plain] = await Promise.all([
        pushImage(registry, 'signed/app', '1.0', { files: { 'app.txt': 'signed app\n' } }),
        pushImage(registry, 'signed/other', '1.0', { files: { 'other.txt': 'signed other\n' } }),
        // Several read chunks long, so a corrupted object is detected mid-stream.
        pushImage(registry, 'plain/app', '1.0', { files: { 'data.bin': randomBytes(1024 ** 2) } }),
        pushImage(registry, 'plain/cold', '1.0', { files: { 'cold.txt': 'never pulled while Redis is up\n' } }),
      ]);
      cli = await createNotaryCli({ server: notary });
      const hex = (image: PushedImage): string => image.digest.slice('sha256:'.length);
      await cli.init(GUN_APP);
      await cli.addHash(GUN_APP, '1.0', app.size, hex(app));
      older = await captureRepo(notary, GUN_APP);
      // One more signed tag: every role's version rises, and 1.0 still names the same digest,
      // so the older state is valid in itself and only a rollback floor can refuse it.
      await cli.addHash(GUN_APP, 'stable', app.size, hex(app));
      newer = await captureRepo(notary, GUN_APP);
      for (const role of ['timestamp', 'snapshot', 'targets']) {
        assert.ok((newer.versions[role] ?? 0) > (older.versions[role] ?? 0), `${role} version rose`);
      }
      await cli.init(GUN_OTHER);
      await cli.addHash(GUN_OTHER, '1.0', other.size, hex(other));
      evil.serve(GUN_OTHER, (await captureRepo(notary, GUN_OTHER)).files);
      const config = {
        upstreams: { 'docker.io': { url: registry.url } },
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
          state: { redis: { url: redis.url, keyPrefix: 'replicas:' } },
          // One trust server URL for both replicas: trust state is scoped by the server's origin.
          upstreams: { 'docker.io': { trust: { notary: { url: evil.url } } } },
          policy: { default: 'off', rules: [{ match: 'docker.io/signed/**', require: { notary: { roots: { tofu: true } } } }] },
          // Every pull asks the trust server: no verified state or denial is reused from memory.
          trust: { freshnessSeconds: 0, missingCacheSeconds: 0 },
        },
      };
      [replica1, replica2] = await Promise.all([startSignet(config), startSignet(config)]);
    },
    { timeout: 240_000 },
  );
  after(async () => {
    (client as S3Client | undefined)?.destroy();
    await stopAll(replica1, replica2, cli, evil, notary, registry, redis, rgw);
  });

  const manifest = (signet: Signet, repo: string): ReturnType<typeof getWithManifestAccept> =>
    getWithManifestAccept(signet.url, `/v2/${repo}/manifests/1.0`, MANIFEST_ACCEPT);

  /** Waits until `signet` answers /readyz with every backend up (it reconnects to Redis by itself). */
  const ready = (signet: Signet): Promise<true> =>
    poll(`${signet.url}/readyz`, async () => {
      const res = await fetch(`${signet.url}/readyz`);
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    });

  test('Redis restarted mid-run: rollback protection still refuses a rolled-back trust server', async () => {
    await Promise.all([ready(replica1), ready(replica2)]);
    evil.serve(GUN_APP, newer.files);
    const allowed = await manifest(replica1, 'signed/app');
    assert.equal(allowed.status, 200, allowed.body.toString());
    assert.equal(allowed.headers.get('docker-content-digest'), app.digest);

    // SIGTERM: Redis flushes its append-only file; the floors replica 1 raised must come back.
    await redis.restart();
    evil.serve(GUN_APP, older.files);
    evil.clearRequests();
    await ready(replica2);

    // Replica 2 never verified the newer metadata itself: only the shared floors know of it.
    const denied = await manifest(replica2, 'signed/app');
    assert.equal(denied.status, 403, denied.body.toString());
    const d = denialOf(denied.body);
    assert.equal(d.code, 'DENIED');
    assert.equal(d.reason, 'rollback', d.message);
    assert.match(d.message, new RegExp(`timestamp version ${older.versions['timestamp']} is lower than the trusted ${newer.versions['timestamp']}`));
    assert.ok(
      evil.requests(GUN_APP).some((r) => r.file === 'timestamp.json'),
      'replica 2 asked the trust server (the denial is not a cached verdict)',
    );
    // Replica 1 re-checks too (freshness 0) and refuses the replay as well.
    const again = await manifest(replica1, 'signed/app');
    assert.equal(again.status, 403, again.body.toString());
    assert.equal(denialOf(again.body).reason, 'rollback');
  });

  test('while Redis is down a pull of an image not cached yet is refused, never served from unverified state', async () => {
    await ready(replica1);
    await redis.kill();
    let signed: Awaited<ReturnType<typeof manifest>>;
    let unenforced: Awaited<ReturnType<typeof manifest>>;
    try {
      signed = await manifest(replica1, 'signed/other');
      unenforced = await manifest(replica1, 'plain/cold');
    } finally {
      await redis.restart();
    }
    // What Signet answers. Under a Notary rule: the trust state (pinned root, rollback floors)
    // cannot be read, so the image is denied (fail closed) rather than trusted from scratch.
    const error = assertOciError(signed, 403, ['DENIED']);
    assert.equal(denialOf(signed.body).reason, 'trust_state_unreadable', error.message);
    assert.match(error.message, /from Redis/);
    assert.equal(signed.headers.get('docker-content-digest'), null);
    // Without a rule (policy off) the tag record cannot be read: a STORAGE_ERROR, 503 UNAVAILABLE
    // naming Redis, with Retry-After (src/server/oci-errors.ts); the manifest is not served either.
    const storage = assertOciError(unenforced, 503, ['UNAVAILABLE']);
    assert.match(storage.message, /Redis/);
    assert.equal(unenforced.headers.get('retry-after'), '5');
    assert.equal(unenforced.headers.get('docker-content-digest'), null);

    // With Redis back the same pull is allowed: the refusal was the outage, not the image.
    await ready(replica1);
    const allowed = await manifest(replica1, 'signed/other');
    assert.equal(allowed.status, 200, allowed.body.toString());
    assert.equal(allowed.headers.get('docker-content-digest'), other.digest);
  });

  test('Corrupted object in the bucket is detected on read, not served, and fetched again', async () => {
    await ready(replica2);
    const pulled = await manifest(replica2, 'plain/app');
    assert.equal(pulled.status, 200, pulled.body.toString());
    const layer = plain.blobs.reduce<BlobRef | undefined>((big, b) => (big && big.size >= b.size ? big : b), undefined);
    assert.ok(layer && layer.size > 512 * 1024, 'a layer of several read chunks');
    const path = `/v2/plain/app/blobs/${layer.digest}`;
    const first = await fetch(`${replica2.url}${path}`);
    assert.equal(first.status, 200);
    assert.equal(sha256(Buffer.from(await first.arrayBuffer())), layer.digest);

    // The key layout of src/cache/s3/keys.ts: <prefix>blobs/<algorithm>/<hex>.
    const key = `${PREFIX}blobs/${layer.digest.replace(':', '/')}`;
    const stored = await poll('the layer in the bucket', () => client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).catch(() => undefined));
    assert.equal(stored.ContentLength, layer.size);
    const body = (await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key }))).Body;
    assert.ok(body);
    const original = Buffer.from(await body.transformToByteArray());
    assert.equal(sha256(original), layer.digest);
    // Other bytes, the same length and the same metadata: only the content tells it apart.
    const corrupted = Buffer.from(original.map((b) => b ^ 0xff));
    await client.send(
      new PutObjectCommand({
        Bucket: BUCKET,
        Key: key,
        Body: corrupted,
        ContentLength: corrupted.length,
        Metadata: stored.Metadata,
        ...(stored.ContentType === undefined ? {} : { ContentType: stored.ContentType }),
      }),
    );
    const replaced = await client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key }));
    assert.deepEqual(replaced.Metadata, stored.Metadata);
    assert.equal(replaced.ContentLength, layer.size);

    const upstreamGets = async (atLeast = 0): Promise<number> =>
      (await registry.accessLog({ until: (entries) => entries.filter((e) => e.method === 'GET' && e.path === path).length >= atLeast })).filter(
        (e) => e.method === 'GET' && e.path === path,
      ).length;
    const fetchedBefore = await upstreamGets(1);

    // The read that meets the corruption: the digest only fails at the end, after the 200 went
    // out, so the client gets a cut body (never the whole wrong blob) and the object is removed.
    const cut = await cutAwareRequest(`${replica2.url}${path}`);
    assert.equal(cut.complete, false, `a corrupted object must not be delivered whole (HTTP ${cut.status}, ${cut.body.length} bytes)`);
    assert.ok(cut.body.length < layer.size, `${cut.body.length} of ${layer.size} bytes`);
    await poll('the corrupted object removed', () =>
      client.send(new HeadObjectCommand({ Bucket: BUCKET, Key: key })).then(
        () => undefined,
        () => true,
      ),
    );

    // The retry: fetched from the upstream again, correct bytes to the client and to the bucket.
    const retry = await fetch(`${replica2.url}${path}`);
    assert.equal(retry.status, 200);
    assert.equal(sha256(Buffer.from(await retry.arrayBuffer())), layer.digest);
    assert.equal(await upstreamGets(fetchedBefore + 1), fetchedBefore + 1, 'the blob was fetched from the upstream again');
    const repaired = await poll('the blob in the bucket again', async () => {
      const got = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key })).catch(() => undefined);
      if (!got?.Body) return undefined;
      const bytes = Buffer.from(await got.Body.transformToByteArray());
      return sha256(bytes) === layer.digest ? got : undefined;
    });
    assert.equal(repaired.Metadata?.['signet-digest'], layer.digest);
    // And the other replica, which never saw the corruption, serves the repaired object.
    const fromReplica1 = await fetch(`${replica1.url}${path}`);
    assert.equal(fromReplica1.status, 200);
    assert.equal(sha256(Buffer.from(await fromReplica1.arrayBuffer())), layer.digest);
    assert.equal(await upstreamGets(), fetchedBefore + 1, 'replica 1 served it from the bucket');
  });
});
