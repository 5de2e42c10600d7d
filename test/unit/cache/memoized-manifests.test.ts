import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskContent } from '../../../src/cache/disk/content.js';
import { MemoizedManifests } from '../../../src/cache/memoized-manifests.js';
import { MemoryContent } from '../../../src/cache/memory/content.js';
import type { ManifestStore, StoredManifest } from '../../../src/cache/ports.js';
import { manifestContract } from './contract.js';
import { capturingLogger, imageManifest, sha256, silent, tempDir } from './helpers.js';

manifestContract('memoized over disk', async () => {
  const content = new DiskContent({ root: await tempDir(), maxBytes: 1_000_000, logger: silent });
  await content.init();
  return new MemoizedManifests(content.manifests);
});

manifestContract('memoized over memory', () => Promise.resolve(new MemoizedManifests(new MemoryContent({ maxBytes: 1_000_000 }).manifests)));

/** A store that counts what reaches it. */
class CountingStore implements ManifestStore {
  readonly inner: ManifestStore = new MemoryContent({ maxBytes: 1_000_000 }).manifests;
  gets = 0;
  touches: string[] = [];
  async get(digest: string): Promise<StoredManifest | undefined> {
    this.gets++;
    return this.inner.get(digest);
  }
  put(m: StoredManifest): Promise<void> {
    return this.inner.put(m);
  }
  delete(digest: string): Promise<void> {
    return this.inner.delete(digest);
  }
  touch(digest: string): void {
    this.touches.push(digest);
  }
}

describe('memoized manifests', () => {
  it('answers a hot manifest from memory, parsed, and reports the use to the store behind', async () => {
    const store = new CountingStore();
    const memo = new MemoizedManifests(store);
    const layers = [sha256('l1'), sha256('l2')];
    const m = imageManifest(layers);
    await memo.put(m);
    const first = (await memo.get(m.digest)) ?? assert.fail('absent');
    const second = await memo.get(m.digest);
    assert.equal(store.gets, 0);
    assert.deepEqual(store.touches, [m.digest, m.digest]);
    assert.equal(first, second);
    assert.deepEqual(first.children, [sha256('config'), ...layers]);
    assert.equal(first.references.mediaType, m.mediaType);
  });

  it('reads a miss from the store once, then holds it', async () => {
    const store = new CountingStore();
    const m = imageManifest([sha256('l')]);
    await store.inner.put(m);
    const memo = new MemoizedManifests(store);
    assert.deepEqual((await memo.get(m.digest))?.children, [sha256('config'), sha256('l')]);
    await memo.get(m.digest);
    assert.equal(store.gets, 1);
    assert.equal(await memo.get(sha256('absent')), undefined);
  });

  it('is bounded in bytes: the least recently used parsed manifest is dropped, the store still has it', async () => {
    const store = new CountingStore();
    const one = imageManifest([sha256('one')]);
    const two = imageManifest([sha256('two')]);
    const memo = new MemoizedManifests(store, { maxBytes: one.bytes.length + 10 });
    await memo.put(one);
    await memo.put(two);
    assert.ok(await memo.get(two.digest));
    assert.equal(store.gets, 0);
    assert.ok(await memo.get(one.digest));
    assert.equal(store.gets, 1);
  });

  it('refuses to store bytes that are not a manifest', async () => {
    const store = new CountingStore();
    const memo = new MemoizedManifests(store);
    const junk = Buffer.from('not json');
    await assert.rejects(memo.put({ digest: sha256(junk), mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes: junk }), {
      code: 'MANIFEST_INVALID',
    });
    assert.equal(await store.inner.get(sha256(junk)), undefined);
  });

  it('treats stored bytes it cannot parse as a miss, and logs it', async () => {
    const root = await tempDir();
    const content = new DiskContent({ root, maxBytes: 1_000_000, logger: silent });
    await content.init();
    const { logger, records } = capturingLogger();
    const m = imageManifest([sha256('l')]);
    await content.manifests.put(m);
    const path = join(root, 'manifests', 'sha256', m.digest.slice(7));
    await rm(path);
    await writeFile(path, '{"damaged":');
    const memo = new MemoizedManifests(content.manifests, { logger });
    assert.equal(await memo.get(m.digest), undefined);
    assert.ok(records.some((r) => r['digest'] === m.digest));
  });

  it('forgets a deleted manifest in memory and in the store', async () => {
    const store = new CountingStore();
    const memo = new MemoizedManifests(store);
    const m = imageManifest([sha256('l')]);
    await memo.put(m);
    await memo.delete(m.digest);
    assert.equal(await memo.get(m.digest), undefined);
    assert.equal(await store.inner.get(m.digest), undefined);
  });
});
