import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CreateMultipartUploadCommand,
  GetObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { S3Content, type S3ContentOptions } from '../../../src/cache/s3/content.js';
import { contentContract, manifestContract } from '../../unit/cache/contract.js';
import { capturingLogger, collect, imageManifest, sha256, silent, tempDir } from '../../unit/cache/helpers.js';
import { stopAll } from '../../harness/cleanup.js';
import { startRadosgw, type Radosgw } from '../../harness/radosgw.js';

// RECIPES.md: this machine's AWS_CA_BUNDLE trips some S3 clients; the gateway is plain HTTP.
delete process.env['AWS_CA_BUNDLE'];

/** One gateway and bucket for the file; every store gets a prefix of its own. */
let rgw: Radosgw | undefined;
let client: S3Client;
const BUCKET = 'signet-content';

before(
  async () => {
    rgw = await startRadosgw();
    await rgw.createBucket(BUCKET);
    client = rgw.client();
  },
  { timeout: 180_000 },
);

after(async () => {
  (client as S3Client | undefined)?.destroy(); // unset when the gateway did not start
  await stopAll(rgw);
});

async function store(options: Partial<S3ContentOptions> & { prefix?: string } = {}): Promise<S3Content> {
  const content = new S3Content({
    client,
    bucket: BUCKET,
    prefix: options.prefix ?? `t-${randomUUID()}/`,
    maxBytes: 1_000_000,
    tempDir: await tempDir('signet-s3-'),
    logger: silent,
    ...options,
  });
  await content.init();
  return content;
}

contentContract('s3', async (options) => {
  const content = await store(options);
  const other = await store();
  return { blobs: content.blobs, manifests: content.manifests, foreignPending: () => other.blobs.createPending() };
});

manifestContract('s3', async () => (await store()).manifests);

async function putBlob(content: S3Content, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const pending = await content.blobs.createPending();
  await pending.writev([data], 0);
  await content.blobs.commit(pending, digest, data.length);
  await pending.close();
  return digest;
}

function keyOf(prefix: string, namespace: 'blobs' | 'manifests', digest: string): string {
  return `${prefix}${namespace}/sha256/${digest.slice('sha256:'.length)}`;
}

async function keysUnder(prefix: string): Promise<string[]> {
  const listed = await client.send(new ListObjectsV2Command({ Bucket: BUCKET, Prefix: prefix }));
  return (listed.Contents ?? []).map((o) => o.Key ?? '').sort();
}

describe('S3 content backend on radosgw', () => {
  it('commits a 20 MiB blob through a multipart upload and reads it back whole and by range', async () => {
    const prefix = `big-${randomUUID()}/`;
    const content = await store({ prefix, maxBytes: 100 * 1024 ** 2, limits: { partBytes: 5 * 1024 ** 2 } });
    const data = randomBytes(20 * 1024 ** 2);
    const digest = sha256(data);
    const pending = await content.blobs.createPending();
    // Written in pieces, as a download lands.
    for (let at = 0; at < data.length; at += 1024 ** 2) await pending.writev([data.subarray(at, at + 1024 ** 2)], at);
    await content.blobs.commit(pending, digest, data.length);
    // The pending blob still answers readers that fell behind.
    const tail = Buffer.alloc(16);
    assert.equal(await pending.read(tail, data.length - 16, 16), 16);
    assert.ok(tail.equals(data.subarray(-16)));
    await pending.close();

    const object = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: keyOf(prefix, 'blobs', digest), Range: 'bytes=0-0' }));
    await collect(object.Body as Readable);
    // A multipart upload's ETag is "<md5 of part md5s>-<parts>".
    assert.match(object.ETag ?? '', /-4"$/);
    assert.deepEqual(await content.blobs.stat(digest), { size: data.length });
    assert.ok((await collect((await content.blobs.openRead(digest)) ?? assert.fail('absent'))).equals(data));
    const start = 7 * 1024 ** 2 - 5;
    const end = 12 * 1024 ** 2 + 3;
    assert.ok((await collect((await content.blobs.openRead(digest, { start, end })) ?? assert.fail('absent'))).equals(data.subarray(start, end + 1)));
    assert.deepEqual(await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix })).then((l) => l.Uploads ?? []), []);
  });

  it('two replicas committing one digest at once leave one intact object', async () => {
    const prefix = `twice-${randomUUID()}/`;
    const [a, b] = [await store({ prefix, maxBytes: 100 * 1024 ** 2 }), await store({ prefix, maxBytes: 100 * 1024 ** 2 })];
    for (const data of [randomBytes(64 * 1024), randomBytes(12 * 1024 ** 2)]) {
      const digest = sha256(data);
      const pendings = await Promise.all([a.blobs.createPending(), b.blobs.createPending()]);
      await Promise.all(pendings.map((p) => p.writev([data], 0)));
      await Promise.all([a.blobs.commit(pendings[0], digest, data.length), b.blobs.commit(pendings[1], digest, data.length)]);
      await Promise.all(pendings.map((p) => p.close()));
      assert.deepEqual(
        (await keysUnder(`${prefix}blobs/`)).filter((k) => k.endsWith(digest.slice(7))),
        [keyOf(prefix, 'blobs', digest)],
      );
      for (const replica of [a, b]) assert.ok((await collect((await replica.blobs.openRead(digest)) ?? assert.fail('absent'))).equals(data));
    }
    assert.deepEqual(await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: prefix })).then((l) => l.Uploads ?? []), []);
  });

  it('detects an object overwritten behind its back, does not serve it and removes it', async () => {
    const prefix = `evil-${randomUUID()}/`;
    const { logger, records } = capturingLogger();
    const content = await store({ prefix, logger });
    const data = randomBytes(600 * 1024);
    const digest = await putBlob(content, data);
    const key = keyOf(prefix, 'blobs', digest);
    const forged = Buffer.from(data);
    forged.writeUInt8(forged.readUInt8(300 * 1024) ^ 0xff, 300 * 1024);

    // Same length and a copy of Signet's metadata: only the hash of a whole read tells.
    const head = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: key, Range: 'bytes=0-0' }));
    await collect(head.Body as Readable);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: forged, Metadata: head.Metadata }));
    const reader = (await content.blobs.openRead(digest)) ?? assert.fail('absent');
    const received: Buffer[] = [];
    reader.on('data', (chunk: Buffer) => received.push(chunk));
    await assert.rejects(
      new Promise((resolve, reject) => {
        reader.once('end', resolve);
        reader.once('error', reject);
      }),
      { code: 'STORAGE_ERROR' },
    );
    // The reader never got the whole body.
    assert.ok(Buffer.concat(received).length < data.length);
    // Removed before the reader saw the error: the next request goes to the upstream.
    assert.equal(await content.blobs.openRead(digest), undefined);
    assert.equal(await content.blobs.stat(digest), undefined);
    assert.ok(records.some((r) => r['msg'] === 'corrupted content in object storage removed' && r['digest'] === digest));

    // Other bytes without Signet's metadata: refused before a byte is read, for ranges too.
    const again = await putBlob(content, data);
    await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: Buffer.from('something else') }));
    assert.equal(await content.blobs.openRead(again, { start: 0, end: 3 }), undefined);
    assert.equal(await content.blobs.stat(again), undefined);
    assert.deepEqual(await keysUnder(key), []);

    // A manifest replaced by other bytes reads as absent and is removed.
    const m = imageManifest([digest]);
    await content.manifests.put(m);
    const mKey = keyOf(prefix, 'manifests', m.digest);
    const original = await client.send(new GetObjectCommand({ Bucket: BUCKET, Key: mKey }));
    await collect(original.Body as Readable);
    await client.send(
      new PutObjectCommand({ Bucket: BUCKET, Key: mKey, Body: Buffer.from(m.bytes.toString().replace('config', 'cOnfig')), Metadata: original.Metadata }),
    );
    assert.equal(await content.manifests.get(m.digest), undefined);
    assert.deepEqual(await keysUnder(mKey), []);
  });

  it('aborts a leftover multipart upload at start, and leaves young ones and other prefixes alone', async () => {
    const prefix = `left-${randomUUID()}/`;
    const elsewhere = `other-${randomUUID()}/`;
    const upload = async (key: string): Promise<string> => {
      const created = await client.send(new CreateMultipartUploadCommand({ Bucket: BUCKET, Key: key }));
      const id = created.UploadId ?? assert.fail('no upload id');
      await client.send(new UploadPartCommand({ Bucket: BUCKET, Key: key, UploadId: id, PartNumber: 1, Body: randomBytes(1024) }));
      return id;
    };
    await upload(keyOf(prefix, 'blobs', sha256('crashed')));
    await upload(keyOf(elsewhere, 'blobs', sha256('not ours')));
    const open = async (p: string): Promise<string[]> =>
      (await client.send(new ListMultipartUploadsCommand({ Bucket: BUCKET, Prefix: p }))).Uploads?.map((u) => u.Key ?? '') ?? [];

    // Younger than staleUploadMs: maybe another replica's upload under way.
    await store({ prefix, limits: { staleUploadMs: 3_600_000 } });
    assert.equal((await open(prefix)).length, 1);
    // The clock says an hour later.
    await store({ prefix, limits: { staleUploadMs: 3_600_000 }, clock: () => Date.now() + 3_600_000 });
    assert.deepEqual(await open(prefix), []);
    assert.equal((await open(elsewhere)).length, 1);
  });

  it('evicts the least recently used content of all replicas under one limit', async () => {
    const prefix = `lru-${randomUUID()}/`;
    const size = 100 * 1024;
    const evicted: string[] = [];
    const a = await store({ prefix, maxBytes: 3 * size });
    const x = await putBlob(a, randomBytes(size));
    const y = await putBlob(a, randomBytes(size));
    // Replica b starts later, sees x and y, and re-lists before each eviction.
    const b = await store({ prefix, maxBytes: 3 * size, limits: { listIntervalMs: 0 }, onEvict: (_ns, d) => evicted.push(d) });
    assert.equal(b.totalBytes, 2 * size);
    // a stores z; x is used afterwards, by replica a (an access marker), so y is the oldest.
    const z = await putBlob(a, randomBytes(size));
    const touching = await store({ prefix, maxBytes: 3 * size, clock: () => Date.now() + 3_600_000 });
    await collect((await touching.blobs.openRead(x)) ?? assert.fail('absent'));
    await touching.flush();
    const w = await putBlob(b, randomBytes(size));
    assert.deepEqual(evicted, [y]);
    assert.equal(b.totalBytes, 3 * size);
    assert.deepEqual((await keysUnder(`${prefix}blobs/`)).sort(), [x, z, w].map((d) => keyOf(prefix, 'blobs', d)).sort());
    // a learns of the eviction at its next listing.
    await a.refresh();
    assert.deepEqual(new Set(a.lruOrder().map((e) => e.digest)), new Set([x, z, w]));
    assert.equal(a.lruOrder().at(-1)?.digest, w);
  });
});
