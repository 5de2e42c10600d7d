import assert from 'node:assert/strict';
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskProvenanceStore } from '../../../src/cache/disk/provenance.js';
import { MemoryProvenanceStore } from '../../../src/cache/memory/provenance.js';
import { provenanceContract } from './state-contract.js';
import { sha256, tempDir } from './helpers.js';

provenanceContract('disk', async () => new DiskProvenanceStore({ root: await tempDir() }));
provenanceContract('memory', () => Promise.resolve(new MemoryProvenanceStore()));

const [d1, d2, d3, d4] = [sha256('1'), sha256('2'), sha256('3'), sha256('4')];

function fileOf(root: string): string {
  return join(root, 'docker.io', 'team', 'app', '_lineage');
}

describe('disk provenance store', () => {
  it('appends `<flag> <digest>` lines to the file earlier versions wrote, and reads them after a restart', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'docker.io', 'team', 'app'), { recursive: true });
    await writeFile(fileOf(root), `v ${d1}\nu ${d2}\n`);
    const store = new DiskProvenanceStore({ root });
    assert.equal(await store.get('docker.io', 'team/app', d1), 'verified');
    assert.equal(await store.get('docker.io', 'team/app', d2), 'unverified');
    await store.record('docker.io', 'team/app', [d2, d3], 'artifact');
    await store.record('docker.io', 'team/app', [d1, d3], 'artifact');
    assert.equal(await readFile(fileOf(root), 'utf8'), `v ${d1}\nu ${d2}\na ${d2}\na ${d3}\n`);
    const after = new DiskProvenanceStore({ root });
    assert.deepEqual(await Promise.all([d1, d2, d3, d4].map((d) => after.get('docker.io', 'team/app', d))), ['verified', 'artifact', 'artifact', undefined]);
  });

  it('lets the strongest kind of a digest win when loading, whatever the order of lines', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'docker.io', 'team', 'app'), { recursive: true });
    await writeFile(fileOf(root), [`v ${d1}`, `u ${d1}`, `a ${d1}`, `u ${d2}`, `a ${d2}`, `u ${d2}`, `a ${d3}`, `v ${d3}`, ''].join('\n'));
    const store = new DiskProvenanceStore({ root });
    assert.equal(await store.get('docker.io', 'team/app', d1), 'verified');
    assert.equal(await store.get('docker.io', 'team/app', d2), 'artifact');
    assert.equal(await store.get('docker.io', 'team/app', d3), 'verified');
  });

  it('grants nothing for lines it does not understand, and starts a new line after a cut one', async () => {
    const root = await tempDir();
    await mkdir(join(root, 'docker.io', 'team', 'app'), { recursive: true });
    const cut = `v ${d4}`.slice(0, -3);
    await writeFile(fileOf(root), [`x ${d1}`, `v  ${d2}`, `v ${d2.toUpperCase()}`, `v`, '', `v ${d3} extra`, cut].join('\n'));
    const store = new DiskProvenanceStore({ root });
    for (const d of [d1, d2, d3, d4]) assert.equal(await store.get('docker.io', 'team/app', d), undefined);
    await store.record('docker.io', 'team/app', [d4], 'verified');
    assert.ok((await readFile(fileOf(root), 'utf8')).endsWith(`${cut}\nv ${d4}\n`));
    assert.equal(await new DiskProvenanceStore({ root }).get('docker.io', 'team/app', d4), 'verified');
  });

  it('fails closed when the file exists but cannot be read, and recovers once it can', async () => {
    const root = await tempDir();
    await mkdir(fileOf(root), { recursive: true }); // a directory where the file belongs
    const store = new DiskProvenanceStore({ root });
    await assert.rejects(store.get('docker.io', 'team/app', d1), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'STORAGE_ERROR');
      assert.match(err.message, /_lineage/);
      return true;
    });
    await assert.rejects(store.record('docker.io', 'team/app', [d1], 'verified'), { code: 'STORAGE_ERROR' });
    await rm(fileOf(root), { recursive: true });
    await store.record('docker.io', 'team/app', [d1], 'verified');
    assert.equal(await store.get('docker.io', 'team/app', d1), 'verified');
  });

  it('reports a failed append and does not claim in memory what the disk lacks', async () => {
    const root = await tempDir();
    const store = new DiskProvenanceStore({ root });
    await store.record('docker.io', 'team/app', [d1], 'unverified');
    await rm(fileOf(root));
    await mkdir(fileOf(root)); // appends now fail
    await assert.rejects(store.record('docker.io', 'team/app', [d2], 'verified'), { code: 'STORAGE_ERROR' });
    await rm(fileOf(root), { recursive: true });
    assert.equal(await store.get('docker.io', 'team/app', d2), undefined);
  });

  it('holds a bounded number of repositories in memory and reads the others again from disk', async () => {
    const root = await tempDir();
    const store = new DiskProvenanceStore({ root, memoryRepositories: 1 });
    await store.record('docker.io', 'team/app', [d1], 'verified');
    await store.record('docker.io', 'team/other', [d2], 'unverified');
    // Written by another process meanwhile: visible only because `team/app` is read again.
    await appendFile(fileOf(root), `a ${d3}\n`);
    assert.equal(await store.get('docker.io', 'team/app', d1), 'verified');
    assert.equal(await store.get('docker.io', 'team/app', d3), 'artifact');
    assert.equal(await store.get('docker.io', 'team/other', d2), 'unverified');
  });

  it('keeps concurrent records of one repository', async () => {
    const root = await tempDir();
    const store = new DiskProvenanceStore({ root, memoryRepositories: 1 });
    const digests = Array.from({ length: 20 }, (_, i) => sha256(`c${i}`));
    await Promise.all(digests.map((d, i) => store.record('docker.io', i % 2 ? 'team/app' : 'team/other', [d], 'verified')));
    const fresh = new DiskProvenanceStore({ root });
    for (const [i, d] of digests.entries()) assert.equal(await fresh.get('docker.io', i % 2 ? 'team/app' : 'team/other', d), 'verified');
  });

  it('refuses names that would leave its root', async () => {
    const store = new DiskProvenanceStore({ root: await tempDir() });
    await assert.rejects(store.get('docker.io', 'a/../../b', d1), { code: 'INTERNAL' });
    await assert.rejects(store.record('.', 'a', [d1], 'verified'), { code: 'INTERNAL' });
  });
});
