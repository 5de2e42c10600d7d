import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskTrustStateStore } from '../../../src/cache/disk/trust-state.js';
import { MemoryTrustStateStore } from '../../../src/cache/memory/trust-state.js';
import { trustStateContract } from './state-contract.js';
import { tempDir } from './helpers.js';

trustStateContract('disk', async () => new DiskTrustStateStore(await tempDir()));
trustStateContract('memory', () => Promise.resolve(new MemoryTrustStateStore()));

const scope = 'https://notary.example:4443';
const gun = 'registry.example:5000/team/app';

function tufDir(root: string): string {
  return join(root, 'https%3A%2F%2Fnotary.example%3A4443', 'registry.example%3A5000', 'team', 'app', '_tuf');
}

function rejectsNaming(path: string) {
  return (err: Error & { code?: string }) => {
    assert.equal(err.code, 'STORAGE_ERROR');
    assert.ok(err.message.includes(path), err.message);
    assert.match(err.message, /restore/i);
    assert.match(err.message, /remove/i);
    return true;
  };
}

describe('disk trust state store', () => {
  it('keeps the layout Signet always used: <root>/<scope>/<name parts>/_tuf/<file>', async () => {
    const root = await tempDir();
    const store = new DiskTrustStateStore(root);
    await store.write(scope, gun, 'targets/releases.json', Buffer.from('r'));
    await store.saveVersions(scope, gun, { root: 1, 'targets/releases': 4 });
    assert.equal(await readFile(join(tufDir(root), 'targets', 'releases.json'), 'utf8'), 'r');
    assert.deepEqual(JSON.parse(await readFile(join(tufDir(root), 'versions'), 'utf8')), { root: 1, 'targets/releases': 4 });
    assert.deepEqual((await readdir(tufDir(root))).sort(), ['targets', 'versions']);
    // What an earlier version wrote is read as it is.
    await writeFile(join(tufDir(root), 'root.json'), '{"signed":{}}');
    assert.equal((await new DiskTrustStateStore(root).read(scope, gun, 'root.json'))?.toString(), '{"signed":{}}');
  });

  it('fails closed on a file it cannot read (a directory in its place), naming it and the way out', async () => {
    const root = await tempDir();
    const store = new DiskTrustStateStore(root);
    await mkdir(join(tufDir(root), 'root.json'), { recursive: true });
    await assert.rejects(store.read(scope, gun, 'root.json'), rejectsNaming(join(tufDir(root), 'root.json')));
    await mkdir(join(tufDir(root), 'versions'));
    await assert.rejects(store.versions(scope, gun), rejectsNaming(join(tufDir(root), 'versions')));
  });

  it('fails closed on rollback floors that are not a JSON object of non-negative integers', async () => {
    const root = await tempDir();
    const store = new DiskTrustStateStore(root);
    await mkdir(tufDir(root), { recursive: true });
    const bad = ['', '{"root":', 'null', '[1,2]', '"text"', '{"root":-1}', '{"root":1.5}', '{"root":"3"}', '{"root":1e300}', '{"root":9007199254740993}'];
    for (const text of bad) {
      await writeFile(join(tufDir(root), 'versions'), text);
      await assert.rejects(store.versions(scope, gun), rejectsNaming(join(tufDir(root), 'versions')), text);
    }
    await writeFile(join(tufDir(root), 'versions'), '{"root":0,"targets":12,"__proto__":3}');
    const floors = await store.versions(scope, gun);
    assert.equal(floors['targets'], 12);
    assert.equal(Object.getPrototypeOf(floors), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(floors, '__proto__')?.value, 3);
  });

  it('replaces files atomically, leaving no temporary file', async () => {
    const root = await tempDir();
    const store = new DiskTrustStateStore(root);
    for (let v = 1; v <= 3; v++) await store.write(scope, gun, 'timestamp.json', Buffer.from(`v${v}`));
    assert.deepEqual(await readdir(tufDir(root)), ['timestamp.json']);
    assert.equal((await store.read(scope, gun, 'timestamp.json'))?.toString(), 'v3');
  });

  it('reports a failed write as STORAGE_ERROR', async () => {
    const root = await tempDir();
    await writeFile(join(root, 'https%3A%2F%2Fnotary.example%3A4443'), 'a file where a directory belongs');
    await assert.rejects(new DiskTrustStateStore(root).write(scope, gun, 'root.json', Buffer.from('x')), { code: 'STORAGE_ERROR' });
  });

  it('refuses names that would leave its root', async () => {
    const store = new DiskTrustStateStore(await tempDir());
    await assert.rejects(store.read(scope, 'a/../../b', 'root.json'), { code: 'INTERNAL' });
    await assert.rejects(store.read(scope, gun, '../../root.json'), { code: 'INTERNAL' });
    await assert.rejects(store.write(scope, gun, 'targets//x.json', Buffer.from('x')), { code: 'INTERNAL' });
    await assert.rejects(store.versions('..', gun), { code: 'INTERNAL' });
  });
});
