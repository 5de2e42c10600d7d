import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { EvictionListener } from '../../../src/cache/lru-index.js';
import type { BlobStore, ManifestStore, PendingBlob } from '../../../src/cache/ports.js';
import { collect, imageManifest, sha256 } from './helpers.js';

/**
 * The content ports' contract (BlobStore, ManifestStore), run against every implementation
 * (disk, memory, memoized) by the *.test.ts files with a factory that builds a fresh store.
 * The state ports' contract is in state-contract.ts.
 */

export interface ContentOptions {
  maxBytes: number;
  clock?: () => number;
  onEvict?: EvictionListener;
}

export interface ContentUnderTest {
  blobs: BlobStore;
  manifests: ManifestStore;
  /** A pending blob of an unrelated store of the same kind. */
  foreignPending: () => Promise<PendingBlob>;
}

export type ContentFactory = (options: ContentOptions) => Promise<ContentUnderTest>;

async function putBlob(blobs: BlobStore, data: Buffer | string): Promise<string> {
  const bytes = Buffer.from(data);
  const digest = sha256(bytes);
  const pending = await blobs.createPending();
  await pending.writev([bytes], 0);
  await blobs.commit(pending, digest, bytes.length);
  await pending.close();
  return digest;
}

export function contentContract(name: string, make: ContentFactory): void {
  describe(`${name}: BlobStore and ManifestStore contract`, () => {
    it('returns undefined for content it does not hold, and refuses what is not a digest', async () => {
      const { blobs, manifests } = await make({ maxBytes: 1000 });
      const absent = sha256('absent');
      assert.equal(await blobs.stat(absent), undefined);
      assert.equal(await blobs.openRead(absent), undefined);
      assert.equal(await manifests.get(absent), undefined);
      await blobs.delete(absent);
      await manifests.delete(absent);
      await assert.rejects(blobs.stat('sha256:../../etc/passwd'), { code: 'DIGEST_INVALID' });
      await assert.rejects(manifests.get('sha256:ABC'), { code: 'DIGEST_INVALID' });
    });

    it('makes a blob visible only through commit, then reads it whole and by range', async () => {
      const { blobs } = await make({ maxBytes: 1000 });
      const data = Buffer.from('0123456789abcdef');
      const digest = sha256(data);
      const pending = await blobs.createPending();
      await pending.writev([data.subarray(0, 6), data.subarray(6)], 0);
      assert.equal(await blobs.stat(digest), undefined);
      assert.equal(await blobs.openRead(digest), undefined);
      await blobs.commit(pending, digest, data.length);
      await pending.close();
      assert.deepEqual(await blobs.stat(digest), { size: 16 });
      assert.equal(blobs.totalBytes, 16);
      assert.ok((await collect((await blobs.openRead(digest)) ?? assert.fail('absent'))).equals(data));
      assert.equal((await collect((await blobs.openRead(digest, { start: 3, end: 6 })) ?? assert.fail('absent'))).toString(), '3456');
      assert.equal((await collect((await blobs.openRead(digest, { start: 15, end: 15 })) ?? assert.fail('absent'))).toString(), 'f');
      // An end past the blob stops at its last byte, as a file read does.
      assert.equal((await collect((await blobs.openRead(digest, { start: 14, end: 99 })) ?? assert.fail('absent'))).toString(), 'ef');
      await assert.rejects(blobs.openRead(digest, { start: 16, end: 20 }), { code: 'RANGE_INVALID' });
      await assert.rejects(blobs.openRead(digest, { start: 5, end: 4 }), { code: 'RANGE_INVALID' });
      await assert.rejects(blobs.openRead(digest, { start: -1, end: 4 }), { code: 'RANGE_INVALID' });
    });

    it('stores an empty blob', async () => {
      const { blobs } = await make({ maxBytes: 1000 });
      const digest = await putBlob(blobs, '');
      assert.deepEqual(await blobs.stat(digest), { size: 0 });
      assert.equal((await collect((await blobs.openRead(digest)) ?? assert.fail('absent'))).length, 0);
    });

    it('refuses to commit a size that differs from the bytes written, a discarded, a committed or a foreign pending blob', async () => {
      const { blobs, foreignPending: foreign } = await make({ maxBytes: 1000 });
      const data = Buffer.from('payload');
      const digest = sha256(data);

      const short = await blobs.createPending();
      await short.writev([data], 0);
      await assert.rejects(blobs.commit(short, digest, data.length + 1), { code: 'STORAGE_ERROR' });
      assert.equal(await blobs.stat(digest), undefined);
      await short.discard();
      await assert.rejects(blobs.commit(short, digest, data.length), { code: 'STORAGE_ERROR' });
      await short.close();
      assert.equal(await blobs.stat(digest), undefined);

      const stranger = await foreign();
      await stranger.writev([data], 0);
      await assert.rejects(blobs.commit(stranger, digest, data.length), { code: 'INTERNAL' });
      await stranger.discard();
      await stranger.close();

      const once = await blobs.createPending();
      await once.writev([data], 0);
      await blobs.commit(once, digest, data.length);
      await assert.rejects(blobs.commit(once, digest, data.length), { code: 'STORAGE_ERROR' });
      await assert.rejects(once.writev([data], data.length), { code: 'STORAGE_ERROR' });
      await once.close();
    });

    it('keeps a pending blob readable after commit, and after the committed blob is gone, until close', async () => {
      const { blobs } = await make({ maxBytes: 1000 });
      const data = Buffer.from('bytes a slow reader still wants');
      const digest = sha256(data);
      const pending = await blobs.createPending();
      await pending.writev([data], 0);
      const early = Buffer.alloc(5);
      assert.equal(await pending.read(early, 0, 5), 5);
      assert.equal(early.toString(), 'bytes');
      await blobs.commit(pending, digest, data.length);
      await blobs.delete(digest);
      assert.equal(await blobs.stat(digest), undefined);
      const late = Buffer.alloc(data.length);
      assert.equal(await pending.read(late, 0, data.length), data.length);
      assert.ok(late.equals(data));
      assert.equal(await pending.read(Buffer.alloc(4), data.length, 4), 0);
      // Discarding after the commit must not take anything from the store.
      await pending.discard();
      await pending.close();
      await assert.rejects(pending.read(late, 0, 1), { code: 'STORAGE_ERROR' });
    });

    it('commits a pending blob its owner closed already, and discards idempotently', async () => {
      const { blobs } = await make({ maxBytes: 1000 });
      const data = Buffer.from('closed early');
      const digest = sha256(data);
      const pending = await blobs.createPending();
      await pending.writev([data], 0);
      await pending.close();
      await pending.close();
      await blobs.commit(pending, digest, data.length);
      await pending.discard();
      assert.ok((await collect((await blobs.openRead(digest)) ?? assert.fail('absent'))).equals(data));

      const dropped = await blobs.createPending();
      await dropped.writev([data], 0);
      await dropped.discard();
      await dropped.discard();
      await assert.rejects(dropped.writev([data], 0), { code: 'STORAGE_ERROR' });
      await dropped.close();
    });

    it('writes at the positions given', async () => {
      const { blobs } = await make({ maxBytes: 1000 });
      const pending = await blobs.createPending();
      await pending.writev([Buffer.from('abc')], 0);
      await pending.writev([Buffer.from('de'), Buffer.from('f')], 3);
      const out = Buffer.alloc(4);
      assert.equal(await pending.read(out, 2, 4), 4);
      assert.equal(out.toString(), 'cdef');
      await blobs.commit(pending, sha256('abcdef'), 6);
      await pending.close();
      assert.equal((await collect((await blobs.openRead(sha256('abcdef'))) ?? assert.fail('absent'))).toString(), 'abcdef');
    });

    it('deletes blobs and manifests and gives their bytes back to the total', async () => {
      const { blobs, manifests } = await make({ maxBytes: 10_000 });
      const digest = await putBlob(blobs, 'twelve bytes');
      const m = imageManifest([digest]);
      await manifests.put(m);
      assert.equal(blobs.totalBytes, 12 + m.bytes.length);
      await blobs.delete(digest);
      assert.equal(await blobs.stat(digest), undefined);
      assert.equal(blobs.totalBytes, m.bytes.length);
      await manifests.delete(m.digest);
      assert.equal(await manifests.get(m.digest), undefined);
      assert.equal(blobs.totalBytes, 0);
    });

    it('stores manifests with their media type, as copies of the bytes given', async () => {
      const { manifests } = await make({ maxBytes: 10_000 });
      const m = imageManifest([sha256('layer')]);
      const given = Buffer.from(m.bytes);
      await manifests.put({ ...m, bytes: given });
      given.fill(0);
      const got = (await manifests.get(m.digest)) ?? assert.fail('absent');
      assert.equal(got.digest, m.digest);
      assert.equal(got.mediaType, m.mediaType);
      assert.ok(got.bytes.equals(m.bytes));
    });

    it('evicts the least recently used of blobs and manifests together past the byte limit', async () => {
      let now = Date.now();
      const evicted: string[] = [];
      const m = imageManifest([sha256('layer')]);
      const size = m.bytes.length;
      const { blobs, manifests } = await make({ maxBytes: 3 * size, clock: () => now, onEvict: (ns, digest) => evicted.push(`${ns} ${digest}`) });
      const a = await putBlob(blobs, 'a'.repeat(size));
      now += 1;
      const b = await putBlob(blobs, 'b'.repeat(size));
      now += 1;
      await manifests.put(m);
      now += 1;
      // Uses: a read of `a`, a get of the manifest; `b` is now the least recently used.
      await collect((await blobs.openRead(a)) ?? assert.fail('absent'));
      assert.ok(await manifests.get(m.digest));
      const c = await putBlob(blobs, 'c'.repeat(size));
      assert.deepEqual(evicted, [`blobs ${b}`]);
      assert.equal(blobs.totalBytes, 3 * size);
      // touch counts as a use too (a HEAD answered from the store).
      blobs.touch(a);
      await putBlob(blobs, 'd'.repeat(size));
      assert.deepEqual(evicted, [`blobs ${b}`, `manifests ${m.digest}`]);
      assert.ok(await blobs.stat(a));
      assert.ok(await blobs.stat(c));
      assert.equal(await manifests.get(m.digest), undefined);
    });

    it('does not keep a blob larger than the limit, but its readers still get the bytes', async () => {
      const evicted: string[] = [];
      const { blobs } = await make({ maxBytes: 10, onEvict: (_ns, digest) => evicted.push(digest) });
      const data = Buffer.from('more than ten bytes');
      const digest = sha256(data);
      const pending = await blobs.createPending();
      await pending.writev([data], 0);
      await blobs.commit(pending, digest, data.length);
      assert.deepEqual(evicted, [digest]);
      assert.equal(await blobs.stat(digest), undefined);
      assert.equal(blobs.totalBytes, 0);
      const out = Buffer.alloc(data.length);
      assert.equal(await pending.read(out, 0, data.length), data.length);
      assert.ok(out.equals(data));
      await pending.close();
    });

    it('lets a stream opened before an eviction read to the end', async () => {
      const size = 300 * 1024;
      const { blobs } = await make({ maxBytes: size });
      const first = Buffer.alloc(size, 1);
      const a = await putBlob(blobs, first);
      const reader = (await blobs.openRead(a)) ?? assert.fail('absent');
      await putBlob(blobs, Buffer.alloc(size, 2));
      assert.equal(await blobs.stat(a), undefined);
      assert.ok((await collect(reader)).equals(first));
    });
  });
}

export type ManifestFactory = () => Promise<ManifestStore>;

export function manifestContract(name: string, make: ManifestFactory): void {
  describe(`${name}: ManifestStore contract`, () => {
    it('puts, gets, replaces and deletes manifests by digest', async () => {
      const store = await make();
      const one = imageManifest([sha256('one')]);
      const two = imageManifest([sha256('two')]);
      assert.equal(await store.get(one.digest), undefined);
      await store.put(one);
      await store.put(two);
      await store.put(one);
      const got = await store.get(one.digest);
      assert.deepEqual([got?.digest, got?.mediaType], [one.digest, one.mediaType]);
      assert.ok(got?.bytes.equals(one.bytes));
      assert.ok((await store.get(two.digest))?.bytes.equals(two.bytes));
      await store.delete(one.digest);
      assert.equal(await store.get(one.digest), undefined);
      assert.ok(await store.get(two.digest));
      await store.delete(one.digest);
    });

    it('keeps what was put even if the caller changes its buffer afterwards', async () => {
      const store = await make();
      const m = imageManifest([sha256('layer')]);
      const given = Buffer.from(m.bytes);
      await store.put({ ...m, bytes: given });
      given.fill(0x20);
      assert.ok((await store.get(m.digest))?.bytes.equals(m.bytes));
    });
  });
}
