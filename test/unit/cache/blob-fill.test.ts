import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, open, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { BlobFill } from '../../../src/cache/blob-fill.js';
import { parseDigest } from '../../../src/registry/names.js';

async function setup(data: Buffer, announced?: number) {
  const dir = await mkdtemp(join(tmpdir(), 'signet-fill-'));
  const path = join(dir, 'temp');
  const handle = await open(path, 'w+');
  const digest = parseDigest(`sha256:${createHash('sha256').update(data).digest('hex')}`);
  return { dir, fill: new BlobFill(digest, announced ?? data.length, { path, handle }) };
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

test('readers created before, during and after the download get every byte', async () => {
  const data = randomBytes(3 * 1024 * 1024 + 17);
  const { fill } = await setup(data);
  const source = new PassThrough();
  const early = collect(fill.createReader());
  const running = fill.run(source, () => undefined);
  source.write(data.subarray(0, 1000));
  await new Promise((r) => setImmediate(r));
  const middle = collect(fill.createReader());
  const ranged = collect(fill.createReader(10, 99, true));
  source.end(data.subarray(1000));
  await running;
  const late = collect(fill.createReader());
  fill.seal();
  for (const got of await Promise.all([early, middle, late])) assert.ok(got.equals(data));
  assert.ok((await ranged).equals(data.subarray(10, 100)));
  assert.equal((await fill.done).size, data.length);
});

test('the last byte is withheld until the digest matched', async () => {
  const data = Buffer.from('0123456789');
  const { fill } = await setup(data);
  const source = new PassThrough();
  void fill.run(source, () => undefined);
  source.write(data);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(fill.available(false), 9);
  assert.equal(fill.available(true), 0);
  source.end();
  await fill.done;
  assert.equal(fill.available(false), 10);
  fill.seal();
});

test('a digest mismatch destroys every reader and removes the temp file', async () => {
  const data = Buffer.from('the right bytes');
  const { fill, dir } = await setup(data);
  const reader = fill.createReader();
  const got = assert.rejects(collect(reader), { code: 'DIGEST_MISMATCH' });
  await fill.run(Readable_from(Buffer.from('the wrong bytes')), () => undefined);
  await got;
  await assert.rejects(fill.done, { code: 'DIGEST_MISMATCH' });
  fill.seal();
  assert.deepEqual(await readdir(dir), []);
});

test('a short body (reset mid-stream) fails; more bytes than announced fail', async () => {
  const data = randomBytes(1000);
  const short = await setup(data);
  const src = new PassThrough();
  const reader = assert.rejects(collect(short.fill.createReader()));
  const run = short.fill.run(src, () => undefined);
  src.write(data.subarray(0, 500));
  src.destroy(new Error('socket hang up'));
  await run;
  await reader;
  await assert.rejects(short.fill.done);
  short.fill.seal();

  const long = await setup(data, 999);
  await long.fill.run(Readable_from(data), () => undefined);
  await assert.rejects(long.fill.done, { code: 'DIGEST_MISMATCH' });
  long.fill.seal();
});

function Readable_from(buf: Buffer): Readable {
  const s = new PassThrough();
  s.end(buf);
  return s;
}
