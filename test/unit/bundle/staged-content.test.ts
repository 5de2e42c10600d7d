import assert from 'node:assert/strict';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { EMPTY_STATE, type ImportedContent } from '../../../src/bundle/imported.js';
import { StagedContent } from '../../../src/bundle/staged-content.js';
import { stateOf } from '../../../src/bundle/import.js';
import type { BundleManifest } from '../../../src/bundle/bundle-manifest.js';

const d = (c: string): string => `sha256:${c.repeat(64)}`;

/** A base store holding one file. */
function base(digest: string, bytes: Buffer): ImportedContent {
  return {
    state: () => Promise.resolve(EMPTY_STATE),
    stat: (x) => Promise.resolve(x === digest ? { size: bytes.length } : undefined),
    open: (x) =>
      Promise.resolve(
        x === digest
          ? ((async function* () {
              yield bytes;
            })() as never)
          : undefined,
      ),
    read: (x) => Promise.resolve(x === digest ? bytes : undefined),
  };
}

describe('staged content of an import being decided', () => {
  const held = Buffer.from('0123456789');
  const stored = Buffer.from('stored');
  const content = new StagedContent({ state: { ...EMPTY_STATE, bundles: ['x'] }, base: base(d('b'), stored), memory: new Map([[d('a'), held]]) });

  test('answers its own state, files held in memory first, then the base', async () => {
    assert.deepEqual((await content.state()).bundles, ['x']);
    assert.deepEqual(await content.stat(d('a')), { size: 10 });
    assert.deepEqual(await content.stat(d('b')), { size: 6 });
    assert.equal(await content.stat(d('c')), undefined);
    assert.equal((await content.read(d('a'), 100))?.toString(), '0123456789');
    assert.equal((await content.read(d('b'), 100))?.toString(), 'stored');
  });

  test('ranges of a held file, and limits', async () => {
    const part = await content.open(d('a'), { start: 2, end: 4 });
    assert.ok(part);
    assert.equal((await buffer(part)).toString(), '234');
    const whole = await content.open(d('a'));
    assert.ok(whole);
    assert.equal((await buffer(whole)).toString(), '0123456789');
    await assert.rejects(content.read(d('a'), 5), /over the limit of 5/);
    await assert.rejects(content.open(d('a'), { start: 11, end: 12 }), /not within/);
  });

  test('without a base, only held files exist', async () => {
    const alone = new StagedContent({ state: EMPTY_STATE });
    assert.equal(await alone.stat(d('a')), undefined);
    assert.equal(await alone.open(d('a')), undefined);
    assert.equal(await alone.read(d('a'), 1), undefined);
  });
});

describe('what a bundle adds to the imported index', () => {
  test('tags, signature tags, manifests and blobs per repository, and the Notary files', () => {
    const image = (tag: string | undefined, top: string): BundleManifest['images'][number] => ({
      ref: `docker.io/team/app${tag ? `:${tag}` : `@${top}`}`,
      upstream: 'docker.io',
      repository: 'team/app',
      ...(tag ? { tag } : {}),
      digest: top,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 100,
      manifests: [{ digest: top, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 100 }],
      blobs: [{ digest: d('c'), size: 5 }],
      tags: tag ? { [`sha256-${top.slice(7)}.sig`]: d('e') } : {},
      verdict: { verdict: 'allowed', rule: 'policy.rules.0', mode: 'enforce', reason: 'signed', signers: [], evidence: [], trust: null },
    });
    const state = stateOf({
      schemaVersion: 1,
      mediaType: 'application/vnd.signet.bundle.v1+json',
      created: '2026-12-01T00:00:00.000Z',
      images: [image('1.0', d('a')), image(undefined, d('b'))],
      notary: { 'docker.io/team/app': { 'root.json': d('f') } },
      files: [],
    });
    assert.deepEqual(state.bundles, []);
    assert.deepEqual(state.notary, { 'docker.io/team/app': { 'root.json': d('f') } });
    const repo = state.repositories['docker.io/team/app'];
    assert.ok(repo);
    assert.deepEqual(repo.tags, { '1.0': d('a'), [`sha256-${'a'.repeat(64)}.sig`]: d('e') });
    assert.deepEqual(Object.keys(repo.manifests).sort(), [d('a'), d('b')]);
    assert.deepEqual(repo.blobs, [d('c'), d('c')]);
  });
});
