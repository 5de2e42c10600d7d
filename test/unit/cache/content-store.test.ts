import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { DiskContent, type DiskContentOptions } from '../../../src/cache/disk/content.js';
import { MemoryContent } from '../../../src/cache/memory/content.js';
import { contentContract, manifestContract } from './contract.js';
import { capturingLogger, collect, imageManifest, sha256, silent, tempDir } from './helpers.js';

contentContract('disk', async (options) => {
  const content = new DiskContent({ root: await tempDir(), logger: silent, ...options });
  await content.init();
  const other = new DiskContent({ root: await tempDir(), maxBytes: 1000, logger: silent });
  await other.init();
  return { blobs: content.blobs, manifests: content.manifests, foreignPending: () => other.blobs.createPending() };
});

contentContract('memory', async (options) => {
  const content = new MemoryContent({ logger: silent, ...options });
  await content.init();
  const other = new MemoryContent({ maxBytes: 1000 });
  return { blobs: content.blobs, manifests: content.manifests, foreignPending: () => other.blobs.createPending() };
});

manifestContract('disk', async () => {
  const content = new DiskContent({ root: await tempDir(), maxBytes: 1_000_000, logger: silent });
  await content.init();
  return content.manifests;
});

manifestContract('memory', () => Promise.resolve(new MemoryContent({ maxBytes: 1_000_000 }).manifests));

async function open(root: string, options: Partial<DiskContentOptions> = {}): Promise<DiskContent> {
  const content = new DiskContent({ root, maxBytes: 1_000_000, logger: silent, ...options });
  await content.init();
  return content;
}

async function putBlob(content: DiskContent, text: string): Promise<string> {
  const digest = sha256(text);
  const pending = await content.blobs.createPending();
  await pending.writev([Buffer.from(text)], 0);
  await content.blobs.commit(pending, digest, Buffer.byteLength(text));
  await pending.close();
  return digest;
}

function blobPath(root: string, digest: string): string {
  return join(root, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

function manifestPath(root: string, digest: string): string {
  return join(root, 'manifests', 'sha256', digest.slice('sha256:'.length));
}

describe('disk content backend', () => {
  it('keeps contents and the LRU order across a restart', async () => {
    const root = await tempDir();
    let now = Date.now();
    const step = DEFAULTS.accessTouchIntervalMs;
    const first = await open(root, { clock: () => now });
    const a = await putBlob(first, 'aaaa');
    now += step;
    const b = await putBlob(first, 'bbbb');
    now += step;
    const m = imageManifest([a, b]);
    await first.manifests.put(m);
    now += step;
    const c = await putBlob(first, 'cccc');
    now += step;
    // `a` used again after the touch interval: its mtime moves, so it is the newest after a restart.
    await collect((await first.blobs.openRead(a)) ?? assert.fail('absent'));
    await first.flush();
    const before = first.lruOrder();
    assert.deepEqual(
      before.map((e) => e.digest),
      [b, m.digest, c, a],
    );

    const evicted: string[] = [];
    const second = await open(root, { clock: () => now });
    assert.deepEqual(second.lruOrder(), before);
    assert.equal(second.totalBytes, 12 + m.bytes.length);
    now += step;
    const got = (await second.manifests.get(m.digest)) ?? assert.fail('absent');
    assert.equal(got.mediaType, m.mediaType);
    assert.ok(got.bytes.equals(m.bytes));
    now += step;
    assert.equal((await collect((await second.blobs.openRead(c)) ?? assert.fail('absent'))).toString(), 'cccc');
    await second.flush();

    // A smaller limit at start evicts the least recently used first.
    const third = await open(root, { maxBytes: 8, clock: () => now, onEvict: (_ns, d) => evicted.push(d) });
    assert.deepEqual(evicted, [b, a, m.digest]);
    assert.deepEqual(
      third.lruOrder().map((e) => e.digest),
      [c],
    );
    await assert.rejects(stat(blobPath(root, b)), { code: 'ENOENT' });
    await assert.rejects(stat(manifestPath(root, m.digest) + '.meta'), { code: 'ENOENT' });
  });

  it('rewrites the last-use time at most once per touch interval', async () => {
    const root = await tempDir();
    let now = Date.now() - 10 * DEFAULTS.accessTouchIntervalMs;
    const content = await open(root, { clock: () => now });
    const digest = await putBlob(content, 'touched');
    const committedAt = (await stat(blobPath(root, digest))).mtimeMs;
    assert.equal(Math.round(committedAt), now);
    now += DEFAULTS.accessTouchIntervalMs - 1;
    content.blobs.touch(digest);
    await content.flush();
    assert.equal((await stat(blobPath(root, digest))).mtimeMs, committedAt);
    now += 1;
    content.blobs.touch(digest);
    await content.flush();
    assert.equal(Math.round((await stat(blobPath(root, digest))).mtimeMs), now);
    // The order in memory follows every use, the file only every interval.
    const other = await putBlob(content, 'other');
    content.blobs.touch(digest);
    assert.deepEqual(
      content.lruOrder().map((e) => e.digest),
      [other, digest],
    );
  });

  it('removes leftovers at start: temp files, sidecars without a manifest, manifests without a media type', async () => {
    const root = await tempDir();
    const first = await open(root);
    const kept = await putBlob(first, 'persisted');
    const m = imageManifest([kept]);
    await first.manifests.put(m);
    const pending = await first.blobs.createPending();
    await pending.writev([Buffer.from('half a download')], 0);
    await writeFile(join(root, 'tmp', 'leftover'), 'partial download');
    const orphanSidecar = manifestPath(root, sha256('never committed')) + '.meta';
    await writeFile(orphanSidecar, '{"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
    const bare = manifestPath(root, sha256('no media type'));
    await writeFile(bare, 'no media type');
    await writeFile(join(root, 'blobs', 'sha256', 'not-a-digest'), 'a stranger');
    await mkdir(join(root, 'blobs', 'sha256', sha256('a directory').slice(7)));

    const second = await open(root);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    await assert.rejects(stat(orphanSidecar), { code: 'ENOENT' });
    await assert.rejects(stat(bare), { code: 'ENOENT' });
    // Files that are not ours stay, unindexed.
    assert.equal(await readFile(join(root, 'blobs', 'sha256', 'not-a-digest'), 'utf8'), 'a stranger');
    assert.deepEqual(await second.blobs.stat(kept), { size: 9 });
    assert.equal(second.totalBytes, 9 + m.bytes.length);
    assert.ok(await second.manifests.get(m.digest));
    await pending.close();
  });

  it('reads a data directory written by earlier versions (.meta sidecars)', async () => {
    const root = await tempDir();
    const m = imageManifest([sha256('layer')]);
    const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] }));
    await mkdir(join(root, 'manifests', 'sha256'), { recursive: true });
    await mkdir(join(root, 'blobs', 'sha256'), { recursive: true });
    await writeFile(manifestPath(root, m.digest), m.bytes);
    await writeFile(manifestPath(root, m.digest) + '.meta', JSON.stringify({ mediaType: m.mediaType }));
    await writeFile(manifestPath(root, sha256(index)), index);
    await writeFile(manifestPath(root, sha256(index)) + '.meta', JSON.stringify({ mediaType: 'application/vnd.oci.image.index.v1+json' }));
    await writeFile(blobPath(root, sha256('layer')), 'layer');
    const old = new Date(Date.now() - 3_600_000);
    await utimes(manifestPath(root, m.digest), old, old);

    const content = await open(root);
    assert.equal(content.totalBytes, m.bytes.length + index.length + 5);
    assert.equal(content.lruOrder()[0]?.digest, m.digest);
    const got = await content.manifests.get(m.digest);
    assert.deepEqual([got?.mediaType, got?.bytes.equals(m.bytes)], [m.mediaType, true]);
    assert.equal((await content.manifests.get(sha256(index)))?.mediaType, 'application/vnd.oci.image.index.v1+json');
    // And writes the same layout.
    const written = imageManifest([sha256('other')]);
    await content.manifests.put(written);
    assert.deepEqual(JSON.parse(await readFile(manifestPath(root, written.digest) + '.meta', 'utf8')), { mediaType: written.mediaType });
    assert.ok((await readFile(manifestPath(root, written.digest))).equals(written.bytes));
  });

  it('treats a damaged sidecar as a miss and drops the manifest, logging it', async () => {
    const root = await tempDir();
    const { logger, records } = capturingLogger();
    const content = await open(root, { logger });
    const m = imageManifest([sha256('layer')]);
    await content.manifests.put(m);
    await writeFile(manifestPath(root, m.digest) + '.meta', '{"mediaType":');
    assert.equal(await content.manifests.get(m.digest), undefined);
    assert.equal(content.totalBytes, 0);
    assert.ok(records.some((r) => r['digest'] === m.digest && r['level'] === 40));
  });

  it('fails a manifest read that is not "not found" (a directory in place of the file)', async () => {
    const root = await tempDir();
    const content = await open(root);
    const m = imageManifest([sha256('layer')]);
    await content.manifests.put(m);
    await rm(manifestPath(root, m.digest));
    await mkdir(manifestPath(root, m.digest));
    await assert.rejects(content.manifests.get(m.digest), { code: 'STORAGE_ERROR' });
  });

  it('answers "absent" for a blob whose file vanished, and forgets it', async () => {
    const root = await tempDir();
    const content = await open(root);
    const digest = await putBlob(content, 'gone');
    await rm(blobPath(root, digest));
    assert.equal(await content.blobs.openRead(digest), undefined);
    assert.equal(await content.blobs.stat(digest), undefined);
    assert.equal(content.totalBytes, 0);
  });

  it('writes pending blobs under tmp only; content appears under its digest at commit', async () => {
    const root = await tempDir();
    const content = await open(root);
    const data = Buffer.from('verified bytes');
    const digest = sha256(data);
    const pending = await content.blobs.createPending();
    await pending.writev([data], 0);
    assert.equal((await readdir(join(root, 'tmp'))).length, 1);
    await assert.rejects(stat(blobPath(root, digest)), { code: 'ENOENT' });
    await content.blobs.commit(pending, digest, data.length);
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    assert.ok((await readFile(blobPath(root, digest))).equals(data));
    await pending.close();

    const dropped = await content.blobs.createPending();
    await dropped.writev([data], 0);
    await dropped.discard();
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    await dropped.close();
  });

  it('logs each eviction', async () => {
    const root = await tempDir();
    const { logger, records } = capturingLogger();
    const content = await open(root, { logger, maxBytes: 5 });
    const a = await putBlob(content, 'aaaa');
    await putBlob(content, 'bbbb');
    assert.ok(records.some((r) => r['msg'] === 'evicted from cache' && r['digest'] === a && r['namespace'] === 'blobs' && r['size'] === 4));
  });

  it('fails to start on a root it cannot use', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'blobs'), 'a file where a directory belongs');
    const content = new DiskContent({ root, maxBytes: 1000, logger: silent });
    await assert.rejects(content.init(), { code: 'STORAGE_ERROR' });
    // Once the operator fixed it, a new attempt succeeds.
    await rm(join(root, 'blobs'));
    await content.init();
    assert.equal(content.totalBytes, 0);
  });
});
