import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { BufferPool } from '../../../src/cache/buffer-pool.js';
import { pooledFileStream } from '../../../src/cache/disk/file-reader.js';
import { collect, tempDir } from './helpers.js';

describe('BufferPool', () => {
  it('hands a recycled buffer (or a slice of it) out again, whole', () => {
    const pool = new BufferPool(1024, 4096);
    const a = pool.take();
    assert.equal(a.length, 1024);
    pool.recycle(a.subarray(0, 10));
    assert.equal(pool.freeCount, 1);
    const b = pool.take();
    assert.equal(b.buffer, a.buffer);
    assert.equal(b.length, 1024);
    assert.equal(pool.freeCount, 0);
  });

  it('ignores buffers it did not hand out, and keeps at most maxFreeBytes', () => {
    const pool = new BufferPool(1024, 2048);
    pool.recycle(Buffer.alloc(1024));
    pool.recycle(Buffer.from('small, from the shared pool'));
    assert.equal(pool.freeCount, 0);
    const taken = [pool.take(), pool.take(), pool.take()];
    for (const b of taken) pool.recycle(b);
    assert.equal(pool.freeCount, 2);
  });
});

describe('pooledFileStream', () => {
  async function file(bytes: Buffer): Promise<string> {
    const path = join(await tempDir(), 'blob');
    await writeFile(path, bytes);
    return path;
  }

  it('reads exactly the range, in pool-sized reads, and closes the file at the end', async () => {
    const data = randomBytes(10_000);
    const path = await file(data);
    const pool = new BufferPool(4096, 16_384);
    for (const [start, end] of [
      [0, data.length - 1],
      [1, 4096],
      [5000, 5000],
      [8191, 9999],
    ] as const) {
      const handle = await open(path, 'r');
      const got = await collect(pooledFileStream(handle, start, end, pool, 'test blob'));
      assert.ok(got.equals(data.subarray(start, end + 1)), `${start}-${end}`);
      await assert.rejects(handle.stat(), { code: 'EBADF' }, 'closed');
    }
  });

  it('fails with STORAGE_ERROR when the file is shorter than the range', async () => {
    const path = await file(randomBytes(100));
    const handle = await open(path, 'r');
    await assert.rejects(collect(pooledFileStream(handle, 0, 199, new BufferPool(64, 64), 'short blob')), {
      code: 'STORAGE_ERROR',
      message: /short blob ended at byte 100/,
    });
  });

  it('closes the file when the reader is destroyed early', async () => {
    const path = await file(randomBytes(100_000));
    const handle = await open(path, 'r');
    const stream = pooledFileStream(handle, 0, 99_999, new BufferPool(1024, 1024), 'test blob');
    for await (const chunk of stream) {
      assert.ok((chunk as Buffer).length > 0);
      break; // destroys the stream
    }
    // The close waits for a read still in flight.
    for (
      let i = 0;
      i < 100 &&
      (await handle.stat().then(
        () => true,
        () => false,
      ));
      i++
    )
      await new Promise((r) => setTimeout(r, 10));
    await assert.rejects(handle.stat(), { code: 'EBADF' });
  });
});
