import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Provenance, ProvenanceStore, TagStore, TrustStateStore } from '../../../src/cache/ports.js';
import { sha256 } from './helpers.js';

/**
 * The state ports' contract (TagStore, ProvenanceStore, TrustStateStore), run against the disk
 * and the memory implementation by the *.test.ts files with a factory that builds a fresh store.
 */

export type TagFactory = () => Promise<TagStore>;

export function tagContract(name: string, make: TagFactory): void {
  describe(`${name}: TagStore contract`, () => {
    const record = { digest: sha256('m'), mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 120, checkedAt: 1_700_000_000_000 };

    it('answers undefined for an unknown tag and the last record set for a known one', async () => {
      const store = await make();
      assert.equal(await store.get('docker.io', 'library/alpine', '3.20'), undefined);
      await store.set('docker.io', 'library/alpine', '3.20', record);
      assert.deepEqual(await store.get('docker.io', 'library/alpine', '3.20'), record);
      const newer = { ...record, digest: sha256('n'), checkedAt: record.checkedAt + 1 };
      await store.set('docker.io', 'library/alpine', '3.20', newer);
      assert.deepEqual(await store.get('docker.io', 'library/alpine', '3.20'), newer);
    });

    it('keeps upstreams, repositories and tags apart', async () => {
      const store = await make();
      await store.set('docker.io', 'a/b', 'c', record);
      assert.equal(await store.get('ghcr.io', 'a/b', 'c'), undefined);
      assert.equal(await store.get('docker.io', 'a', 'c'), undefined);
      assert.equal(await store.get('docker.io', 'a/b/c', 'c'), undefined);
      assert.equal(await store.get('docker.io', 'a/b', 'd'), undefined);
    });

    it('hands out copies: changing a record given or returned changes nothing stored', async () => {
      const store = await make();
      const given = { ...record, extra: 'not stored' };
      await store.set('docker.io', 'x', 'latest', given);
      given.digest = sha256('changed');
      const got = (await store.get('docker.io', 'x', 'latest')) ?? assert.fail('absent');
      assert.deepEqual(got, record);
      got.size = 1;
      assert.deepEqual(await store.get('docker.io', 'x', 'latest'), record);
    });
  });
}

export type ProvenanceFactory = () => Promise<ProvenanceStore>;

export function provenanceContract(name: string, make: ProvenanceFactory): void {
  describe(`${name}: ProvenanceStore contract`, () => {
    const [d1, d2, d3] = [sha256('1'), sha256('2'), sha256('3')];

    it('answers undefined for a digest never recorded, and the kind recorded otherwise', async () => {
      const store = await make();
      assert.equal(await store.get('docker.io', 'app', d1), undefined);
      await store.record('docker.io', 'app', [d1, d2, d1], 'verified');
      await store.record('docker.io', 'app', [d3], 'artifact');
      assert.equal(await store.get('docker.io', 'app', d1), 'verified');
      assert.equal(await store.get('docker.io', 'app', d2), 'verified');
      assert.equal(await store.get('docker.io', 'app', d3), 'artifact');
      await store.record('docker.io', 'app', [], 'verified');
    });

    it('never lets a digest lose a stronger kind: verified > artifact > unverified', async () => {
      const store = await make();
      const order: Array<[Provenance, Provenance, Provenance]> = [
        ['unverified', 'artifact', 'artifact'],
        ['artifact', 'verified', 'verified'],
        ['verified', 'unverified', 'verified'],
        ['verified', 'artifact', 'verified'],
        ['artifact', 'unverified', 'artifact'],
        ['unverified', 'unverified', 'unverified'],
      ];
      for (const [i, [first, second, expected]] of order.entries()) {
        const d = sha256(`kind ${i}`);
        await store.record('docker.io', 'app', [d], first);
        await store.record('docker.io', 'app', [d], second);
        assert.equal(await store.get('docker.io', 'app', d), expected, `${first} then ${second}`);
      }
    });

    it('keeps repositories and upstreams apart', async () => {
      const store = await make();
      await store.record('docker.io', 'team/app', [d1], 'verified');
      assert.equal(await store.get('docker.io', 'team/other', d1), undefined);
      assert.equal(await store.get('docker.io', 'team', d1), undefined);
      assert.equal(await store.get('ghcr.io', 'team/app', d1), undefined);
    });

    it('refuses anything that is not a digest, recording nothing of the call', async () => {
      const store = await make();
      await assert.rejects(store.record('docker.io', 'app', [d1, `${d2}\nv ${d3}`], 'unverified'), { code: 'DIGEST_INVALID' });
      assert.equal(await store.get('docker.io', 'app', d1), undefined);
      assert.equal(await store.get('docker.io', 'app', d3), undefined);
    });
  });
}

export type TrustStateFactory = () => Promise<TrustStateStore>;

export function trustStateContract(name: string, make: TrustStateFactory): void {
  describe(`${name}: TrustStateStore contract`, () => {
    const scope = 'https://notary.example:4443';
    const gun = 'registry.example:5000/team/app';

    it('reads undefined for a file never written, then the last bytes written, until removed', async () => {
      const store = await make();
      assert.equal(await store.read(scope, gun, 'root.json'), undefined);
      await store.write(scope, gun, 'root.json', Buffer.from('{"v":1}'));
      await store.write(scope, gun, 'root.json', Buffer.from('{"v":2}'));
      await store.write(scope, gun, 'targets/releases.json', Buffer.from('{"r":1}'));
      assert.equal((await store.read(scope, gun, 'root.json'))?.toString(), '{"v":2}');
      assert.equal((await store.read(scope, gun, 'targets/releases.json'))?.toString(), '{"r":1}');
      await store.remove(scope, gun, 'root.json');
      await store.remove(scope, gun, 'root.json');
      assert.equal(await store.read(scope, gun, 'root.json'), undefined);
      assert.ok(await store.read(scope, gun, 'targets/releases.json'));
    });

    it('keeps scopes and names apart', async () => {
      const store = await make();
      await store.write(scope, gun, 'root.json', Buffer.from('a'));
      await store.saveVersions(scope, gun, { root: 3 });
      assert.equal(await store.read('https://other.example', gun, 'root.json'), undefined);
      assert.equal(await store.read(scope, `${gun}/sub`, 'root.json'), undefined);
      assert.deepEqual(await store.versions('https://other.example', gun), {});
      assert.deepEqual(await store.versions(scope, 'registry.example:5000/team'), {});
    });

    it('saves rollback floors and reads them back; none saved is {}', async () => {
      const store = await make();
      assert.deepEqual(await store.versions(scope, gun), {});
      await store.saveVersions(scope, gun, { root: 2, targets: 7, 'targets/releases': 0, snapshot: 9, timestamp: 12 });
      assert.deepEqual(await store.versions(scope, gun), { root: 2, targets: 7, 'targets/releases': 0, snapshot: 9, timestamp: 12 });
      // Raised floors replace the saved ones (whether a role left out is dropped is the backend's
      // choice: a shared backend keeps it, since a replica with an older view must not erase it).
      await store.saveVersions(scope, gun, { root: 3, targets: 7, 'targets/releases': 0, snapshot: 10, timestamp: 13 });
      assert.deepEqual(await store.versions(scope, gun), { root: 3, targets: 7, 'targets/releases': 0, snapshot: 10, timestamp: 13 });
    });

    it('refuses to save floors that are not non-negative integers', async () => {
      const store = await make();
      await store.saveVersions(scope, gun, { root: 1 });
      for (const bad of [{ root: -1 }, { root: 1.5 }, { root: Number.NaN }, { root: 2 ** 60 }, { root: '2' as unknown as number }]) {
        await assert.rejects(store.saveVersions(scope, gun, bad), { code: 'INTERNAL' });
      }
      assert.deepEqual(await store.versions(scope, gun), { root: 1 });
    });

    it('lists the scopes and names with saved floors, up to the limit', async () => {
      const store = await make();
      assert.deepEqual(await store.names(10), []);
      await store.write('https://notary.test', 'docker.io/library/only-files', 'root.json', Buffer.from('{}'));
      await store.saveVersions('https://notary.test', 'docker.io/library/app', { root: 1 });
      await store.saveVersions('https://notary.test', 'docker.io/team/deep/app', { root: 2 });
      await store.saveVersions('imported:docker.io', 'docker.io/library/app', { root: 1 });
      const key = (n: { scope: string; name: string }): string => `${n.scope} ${n.name}`;
      assert.deepEqual((await store.names(10)).map(key).sort(), [
        'https://notary.test docker.io/library/app',
        'https://notary.test docker.io/team/deep/app',
        'imported:docker.io docker.io/library/app',
      ]);
      assert.equal((await store.names(2)).length, 2);
    });

    it('hands out copies of bytes and floors', async () => {
      const store = await make();
      const given = Buffer.from('root bytes');
      await store.write(scope, gun, 'root.json', given);
      given.fill(0);
      const read = (await store.read(scope, gun, 'root.json')) ?? assert.fail('absent');
      assert.equal(read.toString(), 'root bytes');
      read.fill(0);
      assert.equal((await store.read(scope, gun, 'root.json'))?.toString(), 'root bytes');
      const floors = { root: 4 };
      await store.saveVersions(scope, gun, floors);
      floors.root = 1;
      const got = await store.versions(scope, gun);
      got['root'] = 0;
      assert.deepEqual(await store.versions(scope, gun), { root: 4 });
    });
  });
}
