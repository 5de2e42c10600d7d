import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { BlobFill } from '../../../src/cache/blob-fill.js';
import { BufferPool } from '../../../src/cache/buffer-pool.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { DiskContent } from '../../../src/cache/disk/content.js';
import { MemoryContent } from '../../../src/cache/memory/content.js';
import type { BlobStore, PendingBlob } from '../../../src/cache/ports.js';
import { parseDigest } from '../../../src/registry/names.js';
import { collect, sha256, silent, tempDir } from './helpers.js';

/** Counts the calls the fill makes on its pending blob. */
class SpyPending implements PendingBlob {
  closes = 0;
  discards = 0;
  readonly inner: PendingBlob;
  constructor(inner: PendingBlob) {
    this.inner = inner;
  }
  writev(buffers: readonly Buffer[], position: number): Promise<void> {
    return this.inner.writev(buffers, position);
  }
  reads = 0;
  read(target: Buffer, position: number, length: number): Promise<number> {
    this.reads++;
    return this.inner.read(target, position, length);
  }
  close(): Promise<void> {
    this.closes++;
    return this.inner.close();
  }
  discard(): Promise<void> {
    this.discards++;
    return this.inner.discard();
  }
}

/** The bytes in chunks of `size`, as a socket delivers them, with backpressure. */
function chunked(buf: Buffer, size = 64 * 1024): Readable {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < buf.length; offset += size) chunks.push(buf.subarray(offset, offset + size));
  return Readable.from(chunks, { objectMode: false });
}

function source(buf: Buffer): Readable {
  const s = new PassThrough();
  s.end(buf);
  return s;
}

/** Resolves once `done()` holds, re-checked at each progress event of the fill. */
async function until(fill: BlobFill, done: () => boolean): Promise<void> {
  while (!done()) await once(fill, 'progress');
}

for (const backend of ['disk', 'memory'] as const) {
  describe(`BlobFill over a ${backend} pending blob`, () => {
    async function setup(data: Buffer, options: { announced?: number; maxBytes?: number; buffers?: BufferPool } = {}) {
      const root = await tempDir();
      const content =
        backend === 'disk'
          ? new DiskContent({ root, maxBytes: options.maxBytes ?? 1 << 30, logger: silent })
          : new MemoryContent({ maxBytes: options.maxBytes ?? 1 << 30 });
      await content.init();
      const pending = new SpyPending(await content.blobs.createPending());
      const digest = parseDigest(sha256(data));
      const fill = new BlobFill(digest, 'announced' in options ? options.announced : data.length, pending, options.buffers);
      return { root, blobs: content.blobs as BlobStore, pending, fill };
    }

    it('gives every byte to readers created before, during and after the download', async () => {
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const { fill, blobs, pending } = await setup(data);
      const upstream = new PassThrough();
      const early = collect(fill.createReader());
      const running = fill.run(upstream, () => undefined);
      upstream.write(data.subarray(0, 1000));
      await until(fill, () => fill.written >= 1000);
      const middle = collect(fill.createReader());
      const ranged = collect(fill.createReader(10, 99, true));
      upstream.end(data.subarray(1000));
      await running;
      const { size } = await fill.done;
      await blobs.commit(pending.inner, fill.digest.value, size);
      const late = collect(fill.createReader());
      fill.seal();
      for (const got of await Promise.all([early, middle, late])) assert.ok(got.equals(data));
      assert.ok((await ranged).equals(data.subarray(10, 100)));
      assert.equal(size, data.length);
      assert.ok((await collect((await blobs.openRead(fill.digest.value)) ?? assert.fail('not committed'))).equals(data));
      assert.equal(pending.closes, 1);
      assert.equal(pending.discards, 0);
    });

    it('works without an announced size', async () => {
      const data = randomBytes(70_000);
      const { fill } = await setup(data, { announced: undefined });
      const reader = collect(fill.createReader());
      await fill.run(source(data), () => undefined);
      fill.seal();
      assert.ok((await reader).equals(data));
      assert.equal((await fill.done).size, data.length);
    });

    it('withholds the last byte until the digest matched', async () => {
      const data = Buffer.from('0123456789');
      const { fill } = await setup(data);
      const upstream = new PassThrough();
      void fill.run(upstream, () => undefined);
      upstream.write(data);
      await until(fill, () => fill.written === 10);
      assert.equal(fill.available(false), 9);
      assert.equal(fill.available(true), 0);
      upstream.end();
      await fill.done;
      assert.equal(fill.available(false), 10);
      fill.seal();
    });

    it('destroys every reader on a digest mismatch and discards the pending blob itself', async () => {
      const data = Buffer.from('the right bytes');
      const { fill, root, pending, blobs } = await setup(data);
      const reader = assert.rejects(collect(fill.createReader()), { code: 'DIGEST_MISMATCH' });
      await fill.run(source(Buffer.from('the wrong bytes')), () => undefined);
      await reader;
      await assert.rejects(fill.done, { code: 'DIGEST_MISMATCH' });
      assert.equal(pending.discards, 1);
      if (backend === 'disk') assert.deepEqual(await readdir(join(root, 'tmp')), []);
      // The owner's discard after a failure is a harmless repeat; nothing can be committed.
      await pending.discard();
      await assert.rejects(blobs.commit(pending.inner, fill.digest.value, data.length), { code: 'STORAGE_ERROR' });
      fill.seal();
      assert.equal(pending.closes, 1);
    });

    it('fails on a body cut short and on more bytes than announced', async () => {
      const data = randomBytes(1000);
      const short = await setup(data);
      const upstream = new PassThrough();
      const reader = assert.rejects(collect(short.fill.createReader()));
      const run = short.fill.run(upstream, () => undefined);
      upstream.write(data.subarray(0, 500));
      upstream.destroy(new Error('socket hang up'));
      await run;
      await reader;
      await assert.rejects(short.fill.done, { code: 'UPSTREAM_UNAVAILABLE' });
      short.fill.seal();
      assert.equal(short.pending.discards, 1);

      const long = await setup(data, { announced: 999 });
      await long.fill.run(source(data), () => undefined);
      await assert.rejects(long.fill.done, { code: 'DIGEST_MISMATCH' });
      long.fill.seal();
    });

    it('keeps the pending blob open until writer done, sealed and no reader left; a slow reader outlives the commit and an eviction', async () => {
      const data = randomBytes(600 * 1024);
      // A limit smaller than the blob: the commit evicts it at once.
      const { fill, pending, blobs } = await setup(data, { maxBytes: 1024 });
      const slow = fill.createReader(0, undefined, true);
      await fill.run(source(data), () => undefined);
      const { size } = await fill.done;
      await blobs.commit(pending.inner, fill.digest.value, size);
      assert.equal(await blobs.stat(fill.digest.value), undefined);
      fill.seal();
      assert.equal(pending.closes, 0);
      assert.ok((await collect(slow)).equals(data));
      assert.equal(pending.closes, 1);
    });

    it('serves a reader that keeps up from memory, and paces a fast upstream to it', async () => {
      const window = DEFAULTS.blobMemoryWindowBytes;
      const data = randomBytes(4 * window + 12345);
      const { fill, pending } = await setup(data);
      // A source that can always give more: only the pacing holds it back.
      const reader = fill.createReader();
      const running = fill.run(chunked(data), () => undefined);
      // Read slowly: 256 KiB per tick, checking how far the download runs ahead.
      let got = 0;
      let furthestAhead = 0;
      const chunks: Buffer[] = [];
      for await (const chunk of reader) {
        chunks.push(chunk as Buffer);
        got += (chunk as Buffer).length;
        furthestAhead = Math.max(furthestAhead, fill.written - got);
        await new Promise((r) => setImmediate(r));
      }
      await running;
      fill.seal();
      assert.ok(Buffer.concat(chunks).equals(data));
      assert.equal(pending.reads, 0, 'every byte came from memory');
      // Never further than the window kept in memory (plus what the reader stream buffers).
      assert.ok(furthestAhead <= window + 2 * DEFAULTS.blobReadChunkBytes, `ran ${furthestAhead} bytes ahead`);
    });

    it('runs on at full speed when its leading reader stops taking bytes', async () => {
      const data = randomBytes(2 * DEFAULTS.blobMemoryWindowBytes);
      const { fill, pending, blobs } = await setup(data);
      const stalled = fill.createReader();
      stalled.read(0); // takes a little, then nothing
      const started = Date.now();
      await fill.run(chunked(data), () => undefined);
      const { size } = await fill.done;
      assert.ok(Date.now() - started >= DEFAULTS.blobPaceStallMs / 2, 'waited for the reader first');
      await blobs.commit(pending.inner, fill.digest.value, size);
      fill.seal();
      // The reader that fell behind the window reads the rest back from the pending blob.
      assert.ok((await collect(stalled)).equals(data));
      assert.ok(pending.reads > 0);
    });

    it('runs at full speed for the cache when its reader leaves', async () => {
      const data = randomBytes(2 * DEFAULTS.blobMemoryWindowBytes);
      const { fill } = await setup(data);
      const reader = fill.createReader();
      reader.read(0);
      const running = fill.run(chunked(data), () => undefined);
      await until(fill, () => fill.written > 0);
      const started = Date.now();
      reader.destroy();
      await running;
      assert.ok(Date.now() - started < DEFAULTS.blobPaceStallMs, 'did not wait for a reader that left');
      assert.equal((await fill.done).size, data.length);
      fill.seal();
    });

    it('reads behind the window into pooled buffers, which are handed back whole', async () => {
      const data = randomBytes(DEFAULTS.blobMemoryWindowBytes + 3 * DEFAULTS.blobReadChunkBytes + 5);
      const buffers = new BufferPool(DEFAULTS.blobReadChunkBytes, 4 * DEFAULTS.blobReadChunkBytes);
      const { fill, pending, blobs } = await setup(data, { buffers });
      await fill.run(chunked(data), () => undefined);
      const { size } = await fill.done;
      await blobs.commit(pending.inner, fill.digest.value, size);
      // Created after the download: its first bytes are behind the window kept in memory.
      const late = fill.createReader();
      fill.seal();
      const chunks: Buffer[] = [];
      for await (const chunk of late) {
        chunks.push(Buffer.from(chunk as Buffer)); // a copy: the chunk goes back to the pool
        buffers.recycle(chunk as Buffer);
      }
      assert.ok(Buffer.concat(chunks).equals(data));
      assert.ok(pending.reads >= 3);
      assert.ok(buffers.freeCount >= 1 && buffers.freeCount <= 4);
    });

    it('reports the bytes received for metrics', async () => {
      const data = randomBytes(5000);
      const { fill } = await setup(data);
      let counted = 0;
      await fill.run(source(data), (n) => (counted += n));
      fill.seal();
      assert.equal(counted, data.length);
    });
  });
}
