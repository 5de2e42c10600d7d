import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { mergeState } from '../../../src/bundle/imported-state.js';
import { EMPTY_STATE, type ImportedState } from '../../../src/bundle/imported.js';

const d = (label: string): string => `sha256:${createHash('sha256').update(label).digest('hex')}`;
const OCI = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

const base: ImportedState = deepFreeze({
  version: 1,
  bundles: [d('bundle 1')],
  repositories: {
    'docker.io/library/app': {
      tags: { v1: d('m1'), latest: d('m1') },
      manifests: { [d('m1')]: OCI },
      blobs: [d('layer 1'), d('config 1')],
    },
    'docker.io/library/other': { tags: { v9: d('m9') }, manifests: { [d('m9')]: OCI }, blobs: [d('layer 9')] },
  },
  notary: {
    'docker.io/library/app': { 'root.json': d('root v1'), 'targets.json': d('targets v1'), 'targets/releases.json': d('releases v1') },
    'docker.io/library/other': { 'root.json': d('other root') },
  },
});

const add: ImportedState = deepFreeze({
  version: 1,
  bundles: [d('bundle 2')],
  repositories: {
    'docker.io/library/app': {
      tags: { v2: d('m2'), latest: d('m2') },
      manifests: { [d('m2')]: INDEX },
      blobs: [d('layer 2'), d('layer 1')],
    },
    'ghcr.io/team/tool': { tags: { t: d('mt') }, manifests: { [d('mt')]: OCI }, blobs: [] },
  },
  notary: {
    'docker.io/library/app': { 'root.json': d('root v2'), 'targets.json': d('targets v2') },
  },
});

describe('mergeState', () => {
  it('unions repositories; a tag of the newer import wins, the older tags stay', () => {
    const merged = mergeState(base, add);
    const app = merged.repositories['docker.io/library/app'];
    assert.ok(app);
    assert.deepEqual(app.tags, { latest: d('m2'), v1: d('m1'), v2: d('m2') });
    assert.deepEqual(app.manifests, { [d('m1')]: OCI, [d('m2')]: INDEX });
    assert.deepEqual(app.blobs, [d('layer 1'), d('config 1'), d('layer 2')].sort());
    assert.deepEqual(merged.repositories['docker.io/library/other'], base.repositories['docker.io/library/other']);
    assert.deepEqual(merged.repositories['ghcr.io/team/tool'], add.repositories['ghcr.io/team/tool']);
  });

  it('replaces the Notary files of a GUN the newer import carries as a set, and keeps the other GUNs', () => {
    const merged = mergeState(base, add);
    // targets/releases.json is gone: the newer trust data no longer has that delegation.
    assert.deepEqual(merged.notary['docker.io/library/app'], { 'root.json': d('root v2'), 'targets.json': d('targets v2') });
    assert.deepEqual(merged.notary['docker.io/library/other'], { 'root.json': d('other root') });
  });

  it('appends bundles oldest first, without duplicates', () => {
    assert.deepEqual(mergeState(base, add).bundles, [d('bundle 1'), d('bundle 2')]);
    assert.deepEqual(mergeState(mergeState(base, add), add).bundles, [d('bundle 1'), d('bundle 2')]);
    assert.deepEqual(mergeState(add, base).bundles, [d('bundle 2'), d('bundle 1')]);
  });

  it('is pure (inputs frozen) and deterministic: keys and blob lists sorted, equal inputs give equal bytes', () => {
    const merged = mergeState(base, add);
    const isSorted = (keys: string[]): boolean => keys.every((k, i) => i === 0 || (keys[i - 1] ?? '') < k);
    assert.ok(isSorted(Object.keys(merged.repositories)));
    assert.ok(isSorted(Object.keys(merged.notary)));
    for (const repo of Object.values(merged.repositories)) {
      assert.ok(isSorted(Object.keys(repo.tags)));
      assert.ok(isSorted(Object.keys(repo.manifests)));
      assert.ok(isSorted(repo.blobs), 'blobs sorted and without duplicates');
    }
    for (const files of Object.values(merged.notary)) assert.ok(isSorted(Object.keys(files)));
    // The same content in another key order gives the same bytes.
    const shuffled: ImportedState = {
      version: 1,
      bundles: [...add.bundles],
      repositories: Object.fromEntries(Object.entries(add.repositories).reverse()),
      notary: Object.fromEntries(Object.entries(add.notary).reverse()),
    };
    assert.equal(JSON.stringify(mergeState(base, shuffled)), JSON.stringify(merged));
  });

  it('merging into the empty index normalises the import; merging nothing changes nothing', () => {
    assert.deepEqual(mergeState(EMPTY_STATE, base), mergeState(base, EMPTY_STATE));
    assert.deepEqual(mergeState(EMPTY_STATE, EMPTY_STATE), EMPTY_STATE);
  });

  it('keeps a tag named like an Object.prototype member as a plain tag', () => {
    const odd: ImportedState = {
      version: 1,
      bundles: [],
      repositories: {
        'docker.io/app': { tags: JSON.parse(`{"__proto__":"${d('p')}","constructor":"${d('c')}"}`) as Record<string, string>, manifests: {}, blobs: [] },
      },
      notary: {},
    };
    const tags = mergeState(odd, odd).repositories['docker.io/app']?.tags ?? {};
    assert.deepEqual(Object.keys(tags), ['__proto__', 'constructor']);
    assert.equal(Object.getPrototypeOf(tags), Object.prototype);
    assert.equal(Object.hasOwn(tags, '__proto__'), true);
  });
});
