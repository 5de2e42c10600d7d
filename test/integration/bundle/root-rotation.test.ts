import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseBundleManifest, serializeBundleManifest } from '../../../src/bundle/bundle-manifest.js';
import { readBundlePrivateKey, signBundleManifest } from '../../../src/bundle/signing.js';
import { signetCli, signetCliOk, startConnectedSite, type ConnectedSite, type IsolatedSite } from '../../harness/air-gap.js';
import { blobEntryName, readBundleEntries, rewriteBundle } from '../../harness/bundle-tar.js';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, type PushedImage } from '../../harness/images.js';
import type { Signet } from '../../harness/signet.js';

// A site that imported a repository's trust data, and served it (so its root is pinned), later
// imports a bundle made after two root versions (real notary CLI: `key rotate` of the root key,
// then of the targets key).
// The Notary client validates each root with the one before it, so the bundle carries the
// earlier root versions (`<N>.root.json`) and the isolated site walks them; without them, it
// cannot cross the gap.

const GUN = 'docker.io/team/rot';

describe('bundles across Notary root rotations', () => {
  let connected: ConnectedSite;
  let image: PushedImage;
  let site: IsolatedSite;
  let rotated: string;

  const pull = async (signet: Signet): Promise<{ status: number; digest: string | null }> => {
    const res = await fetch(`${signet.url}/v2/team/rot/manifests/1`, { headers: { accept: MANIFEST_ACCEPT } });
    await res.arrayBuffer();
    return { status: res.status, digest: res.headers.get('docker-content-digest') };
  };

  before(async () => {
    connected = await startConnectedSite({
      name: 'root-rotation',
      policy: () => ({ policy: { default: 'enforce', rules: [{ match: 'docker.io/team/**', require: { notary: { roots: { tofu: true } } } }] } }),
    });
    image = await connected.pushSigned('notary', 'team/rot', '1', { files: { 'a.txt': 'rotated\n' } });
    const first = await connected.exportBundle('before.tar', ['docker.io/team/rot:1']);
    site = await connected.isolatedSite();
    await signetCliOk(['bundle', 'import', first.path, '--config', site.config]);
    // Serving verifies the imported data and pins its root in the site's trust state.
    const signet = await site.serve();
    try {
      assert.deepEqual(await pull(signet), { status: 200, digest: image.digest });
    } finally {
      await stopAll(signet);
    }
    // Two new root versions: the root key, then the targets key (which the root lists). Under the
    // pinned root the new targets signature fails, so the client must walk the roots to the newest.
    await connected.notaryCli.keyRotate(GUN, 'root');
    await connected.notaryCli.keyRotate(GUN, 'targets');
    rotated = (await connected.exportBundle('after.tar', ['docker.io/team/rot:1'])).path;
  });
  after(async () => {
    await stopAll(connected);
  });

  test('the bundle carries the earlier roots, the site walks them, and pulls keep working', async () => {
    const manifest = parseBundleManifest((await readBundleEntries(rotated)).find((e) => e.name === 'signet-bundle.json')?.data ?? Buffer.alloc(0));
    const files = Object.keys(manifest.notary[GUN] ?? {});
    assert.ok(files.includes('1.root.json') && files.includes('2.root.json'), files.join(', '));
    const imported = await signetCli(['bundle', 'import', rotated, '--config', site.config]);
    assert.equal(imported.code, 0, imported.stderr);
    const signet = await site.serve();
    try {
      assert.deepEqual(await pull(signet), { status: 200, digest: image.digest });
    } finally {
      await stopAll(signet);
    }
  });

  test('without the earlier roots the rotation gap cannot be crossed: the import is refused', async () => {
    const fresh = await connected.isolatedSite();
    // The same history as `site`: the first bundle imported and served.
    await signetCliOk(['bundle', 'import', join(connected.dir, 'before.tar'), '--config', fresh.config]);
    const signet = await fresh.serve();
    try {
      assert.deepEqual(await pull(signet), { status: 200, digest: image.digest });
    } finally {
      await stopAll(signet);
    }
    const key = readBundlePrivateKey(await readFile(connected.keys.privatePath, 'utf8'), connected.keys.privatePath);
    const stripped = join(connected.dir, 'no-earlier-roots.tar');
    await rewriteBundle(rotated, stripped, async (entries) => {
      const m = parseBundleManifest(entries.find((e) => e.name === 'signet-bundle.json')?.data ?? Buffer.alloc(0));
      const all = m.notary[GUN] ?? {};
      const isEarlier = (f: string): boolean => /^\d+\.root\.json$/.test(f);
      const earlier = Object.keys(all).filter(isEarlier);
      const files = Object.fromEntries(Object.entries(all).filter(([f]) => !isEarlier(f)));
      const dropped = new Set(earlier.map((f) => blobEntryName(all[f] ?? '')));
      const bytes = serializeBundleManifest({ ...m, notary: { ...m.notary, [GUN]: files }, files: m.files.filter((f) => !dropped.has(f.path)) });
      const signature = await signBundleManifest(bytes, key);
      return entries
        .filter((e) => !dropped.has(e.name))
        .map((e) => (e.name === 'signet-bundle.json' ? { name: e.name, data: bytes } : e.name === 'signet-bundle.sig' ? { name: e.name, data: signature } : e));
    });
    const result = await signetCli(['bundle', 'import', stripped, '--config', fresh.config]);
    assert.equal(result.code, 1, result.stdout);
    assert.match(
      result.stderr,
      /docker\.io\/team\/rot:1 is refused by this site's policy.*root rotation of docker\.io\/team\/rot: version 2 of root\.json is not available/,
    );
  });
});
