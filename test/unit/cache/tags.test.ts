import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskTagStore } from '../../../src/cache/disk/tags.js';
import { MemoryTagStore } from '../../../src/cache/memory/tags.js';
import { tagContract } from './state-contract.js';
import { capturingLogger, sha256, tempDir } from './helpers.js';

tagContract('disk', async () => new DiskTagStore({ root: await tempDir() }));
tagContract('memory', () => Promise.resolve(new MemoryTagStore()));

const record = { digest: sha256('m'), mediaType: 'application/vnd.oci.image.index.v1+json', size: 321, checkedAt: 1_700_000_000_000 };

describe('disk tag store', () => {
  it('keeps the layout Signet always used: <root>/<upstream>/<repository>/_tags/<tag>, JSON', async () => {
    const root = await tempDir();
    await new DiskTagStore({ root }).set('registry.example:5000', 'team/app', 'v1.2', record);
    const path = join(root, 'registry.example%3A5000', 'team', 'app', '_tags', 'v1.2');
    assert.deepEqual(JSON.parse(await readFile(path, 'utf8')), record);
    // No temporary file is left next to it.
    assert.deepEqual(await readdir(join(root, 'registry.example%3A5000', 'team', 'app', '_tags')), ['v1.2']);
    // A record written by an earlier version (or another instance) is read.
    await writeFile(join(root, 'registry.example%3A5000', 'team', 'app', '_tags', 'old'), JSON.stringify({ ...record, size: 1 }));
    assert.deepEqual(await new DiskTagStore({ root }).get('registry.example:5000', 'team/app', 'old'), { ...record, size: 1 });
  });

  it('survives a restart, and reads tags the bounded memory forgot from disk', async () => {
    const root = await tempDir();
    const store = new DiskTagStore({ root, memoryEntries: 1 });
    await store.set('docker.io', 'a', 'one', record);
    await store.set('docker.io', 'a', 'two', { ...record, size: 2 });
    assert.deepEqual(await store.get('docker.io', 'a', 'one'), record);
    assert.deepEqual(await new DiskTagStore({ root }).get('docker.io', 'a', 'two'), { ...record, size: 2 });
  });

  it('treats a damaged or unreadable record as absent, and logs it', async () => {
    const root = await tempDir();
    const { logger, records } = capturingLogger();
    const store = new DiskTagStore({ root, logger });
    const dir = join(root, 'docker.io', 'a', '_tags');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'truncated'), '{"digest":"sha256:');
    await writeFile(join(dir, 'wrong'), JSON.stringify({ ...record, size: 'big' }));
    await mkdir(join(dir, 'directory'));
    for (const tag of ['truncated', 'wrong', 'directory']) assert.equal(await store.get('docker.io', 'a', tag), undefined, tag);
    assert.equal(await store.get('docker.io', 'a', 'missing'), undefined);
    assert.deepEqual(
      records.filter((r) => r['level'] === 40).map((r) => r['tag']),
      ['truncated', 'wrong', 'directory'],
    );
  });

  it('refuses names that would leave its root', async () => {
    const store = new DiskTagStore({ root: await tempDir() });
    await assert.rejects(store.get('docker.io', '../etc', 'x'), { code: 'INTERNAL' });
    await assert.rejects(store.get('..', 'a', 'x'), { code: 'INTERNAL' });
    await assert.rejects(store.set('docker.io', 'a', '../x', record), { code: 'INTERNAL' });
  });

  it('reports a failed write as STORAGE_ERROR', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'docker.io'), 'a file where a directory belongs');
    await assert.rejects(new DiskTagStore({ root }).set('docker.io', 'a', 'x', record), { code: 'STORAGE_ERROR' });
  });
});
