import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseBundleManifest, serializeBundleManifest } from '../../../src/bundle/bundle-manifest.js';
import { readBundlePrivateKey, signBundleManifest } from '../../../src/bundle/signing.js';
import {
  bundleKeys,
  importedState,
  signetCli,
  signetCliOk,
  startConnectedSite,
  type ConnectedSite,
  type IsolatedSite,
  type SiteTrust,
} from '../../harness/air-gap.js';
import { blobEntryName, readBundleEntries, rewriteBundle, type BundleEntry } from '../../harness/bundle-tar.js';
import { stopAll } from '../../harness/cleanup.js';
import { TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';

// A bundle altered in any way after it was signed, or not signed by a pinned key, is refused
// whole: exit 1, a message that says what is wrong, and the site's imported index as it was
// (absent in an empty store; byte for byte the same in a store that already holds a bundle).

describe('bundle import refuses an altered or unpinned bundle and imports nothing', () => {
  let connected: ConnectedSite;
  let dct: PushedImage;
  let cosigned: PushedImage;
  /** dct and cosign, exported once and altered copy by copy. */
  let good: string;
  /** A store that imported `good`: a refused import must leave its state.json as it was. */
  let populated: IsolatedSite;

  const policy = (trust: SiteTrust): Record<string, unknown> => ({
    policy: { default: 'enforce', rules: [{ match: 'docker.io/team/**', require: trust.notaryOrCosignRequirement() }] },
  });

  /** A copy of the good bundle with its entries changed by `change`. */
  const altered = async (name: string, change: (entries: BundleEntry[]) => BundleEntry[] | Promise<BundleEntry[]>): Promise<string> => {
    const path = join(connected.dir, `${name}.tar`);
    await rewriteBundle(good, path, change);
    return path;
  };

  const entry = (entries: readonly BundleEntry[], name: string): BundleEntry => {
    const found = entries.find((e) => e.name === name);
    assert.ok(found, `the bundle holds ${name}`);
    return found;
  };

  /** Files a store holds in `tmp/` (a refused import leaves none). */
  const leftovers = async (store: string): Promise<string[]> => readdir(join(store, 'tmp')).catch(() => []);
  /** Files a store holds under `blobs/sha256/` (a refused import removes what it stored). */
  const storedFiles = async (store: string): Promise<string[]> => readdir(join(store, 'blobs', 'sha256')).catch(() => []);

  /**
   * Imports `bundle` into a fresh store (and, unless `emptyOnly`, into the populated one) and
   * asserts the refusal: exit 1, stderr matching every pattern, no index written or changed.
   * Answers the fresh store.
   */
  const assertRefused = async (bundle: string, patterns: readonly RegExp[], o: { emptyOnly?: boolean } = {}): Promise<string> => {
    const empty = await connected.isolatedSite();
    const before = await readFile(join(populated.store, 'state.json'));
    const runs = [{ site: empty, label: 'empty store' }, ...(o.emptyOnly === true ? [] : [{ site: populated, label: 'store holding a bundle' }])];
    const results = await Promise.all(runs.map(({ site }) => signetCli(['bundle', 'import', bundle, '--config', site.config])));
    for (const [i, result] of results.entries()) {
      const label = runs[i]?.label ?? '';
      assert.equal(result.code, 1, `${label}: ${result.stdout}${result.stderr}`);
      for (const pattern of patterns) assert.match(result.stderr, pattern, label);
      assert.doesNotMatch(result.stdout, /imported into/, label);
    }
    assert.equal(await importedState(empty.store), undefined, 'the empty store has no index');
    assert.deepEqual(await leftovers(empty.store), []);
    assert.deepEqual(await storedFiles(empty.store), [], 'the refused import removed the files it stored');
    assert.deepEqual(await readFile(join(populated.store, 'state.json')), before, 'the populated store’s index is unchanged');
    assert.deepEqual(await leftovers(populated.store), []);
    return empty.store;
  };

  before(async () => {
    connected = await startConnectedSite({ name: 'tamper', policy });
    dct = await connected.pushSigned('notary', 'team/app', 'dct', { platforms: TWO_PLATFORMS, files: { 'a.txt': 'dct\n' } });
    cosigned = await connected.pushSigned('cosign', 'team/app', 'cosign', { files: { 'a.txt': 'cosign\n' } });
    good = (await connected.exportBundle('good.tar', ['docker.io/team/app:dct', 'docker.io/team/app:cosign'])).path;
    populated = await connected.isolatedSite();
    await signetCliOk(['bundle', 'import', good, '--config', populated.config]);
  });
  after(async () => {
    await stopAll(connected);
  });

  /** A layer of the dct image (not its config), flipped in one byte: same size, other bytes. */
  const flippedLayer = async (): Promise<{ bundle: string; digest: string }> => {
    const layer = dct.children?.[0]?.blobs[1];
    assert.ok(layer, 'the dct image has a layer');
    const bundle = await altered('flipped', (entries) => {
      const e = entry(entries, blobEntryName(layer.digest));
      const data = Buffer.from(e.data);
      const at = Math.floor(data.length / 2);
      data[at] = (data[at] ?? 0) ^ 0xff;
      return entries.map((x) => (x === e ? { name: x.name, data } : x));
    });
    return { bundle, digest: layer.digest };
  };

  test('a layer with one flipped byte (same size) does not match its digest', async () => {
    const { bundle, digest } = await flippedLayer();
    const store = await assertRefused(bundle, [/does not match its digest/, new RegExp(digest.slice('sha256:'.length)), /nothing .*imported/i]);
    // The altered bytes never get the digest's name in a store that did not hold it.
    assert.equal(existsSync(join(store, blobEntryName(digest))), false);
  });

  test('bundle verify without a config checks every file: the good bundle passes, the flipped one fails', async () => {
    const ok = await signetCli(['bundle', 'verify', good, '--key', connected.keys.publicPath]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /verified \(signature and every file/);
    const { bundle } = await flippedLayer();
    const bad = await signetCli(['bundle', 'verify', bundle, '--key', connected.keys.publicPath]);
    assert.equal(bad.code, 1, bad.stderr);
    assert.match(bad.stderr, /does not match its digest/);
  });

  test('a signature taken from another bundle signed by the same key does not verify', async () => {
    const other = await connected.exportBundle('other.tar', ['docker.io/team/app:cosign']);
    const otherSignature = entry(await readBundleEntries(other.path), 'signet-bundle.sig');
    const bundle = await altered('swapped-sig', (entries) => entries.map((e) => (e.name === 'signet-bundle.sig' ? otherSignature : e)));
    await assertRefused(bundle, [/signet-bundle\.sig signature does not verify/]);
  });

  test('a Notary metadata file dropped from the tar leaves the bundle incomplete', async () => {
    let dropped = '';
    const bundle = await altered('no-notary-file', (entries) => {
      const manifest = parseBundleManifest(entry(entries, 'signet-bundle.json').data);
      const files = manifest.notary['docker.io/team/app'];
      assert.ok(files?.['timestamp.json'], 'the bundle carries the Notary timestamp');
      dropped = blobEntryName(files['timestamp.json']);
      return entries.filter((e) => e.name !== dropped);
    });
    await assertRefused(bundle, [/lists 1 file\(s\) the bundle does not hold/, new RegExp(dropped), /incomplete/]);
  });

  test('a manifest re-signed by the pinned key without its Notary trust data is refused by the site’s policy', async () => {
    const key = readBundlePrivateKey(await readFile(connected.keys.privatePath, 'utf8'), connected.keys.privatePath);
    const bundle = await altered('no-trust-data', async (entries) => {
      const manifest = parseBundleManifest(entry(entries, 'signet-bundle.json').data);
      const notaryFiles = new Set(Object.values(manifest.notary).flatMap((files) => Object.values(files).map(blobEntryName)));
      assert.ok(notaryFiles.size > 0, 'the bundle carries Notary trust data');
      const bytes = serializeBundleManifest({ ...manifest, notary: {}, files: manifest.files.filter((f) => !notaryFiles.has(f.path)) });
      const signature = await signBundleManifest(bytes, key);
      return entries
        .filter((e) => !notaryFiles.has(e.name))
        .map((e) => (e.name === 'signet-bundle.json' ? { name: e.name, data: bytes } : e.name === 'signet-bundle.sig' ? { name: e.name, data: signature } : e));
    });
    // The signature is genuine, so verification alone passes; the decision is what refuses it.
    const verified = await signetCli(['bundle', 'verify', bundle, '--key', connected.keys.publicPath]);
    assert.equal(verified.code, 0, verified.stderr);
    // Only an empty store: a site that imported this GUN's trust data before would rightly use it.
    await assertRefused(bundle, [/docker\.io\/team\/app:dct is refused by this site's policy/, /no trust data for docker\.io\/team\/app/], { emptyOnly: true });
  });

  test('a bundle signed by a key that is not pinned is refused naming the key', async () => {
    const stranger = await bundleKeys(connected.dir, 'stranger');
    const key = readBundlePrivateKey(await readFile(stranger.privatePath, 'utf8'), stranger.privatePath);
    const bundle = await altered('stranger', async (entries) => {
      const signature = await signBundleManifest(entry(entries, 'signet-bundle.json').data, key);
      return entries.map((e) => (e.name === 'signet-bundle.sig' ? { name: e.name, data: signature } : e));
    });
    await assertRefused(bundle, [new RegExp(`signed by key ${key.keyId}, which is not pinned`)]);
  });

  test('a bundle cut at half its length is truncated', async () => {
    const bytes = await readFile(good);
    const bundle = join(connected.dir, 'truncated.tar');
    await writeFile(bundle, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assertRefused(bundle, [/truncated/]);
  });

  test('a listed blob missing from the tar is refused naming the file count', async () => {
    const layer = cosigned.blobs[1];
    assert.ok(layer, 'the cosign image has a layer');
    const bundle = await altered('missing-blob', (entries) => entries.filter((e) => e.name !== blobEntryName(layer.digest)));
    await assertRefused(bundle, [/lists 1 file\(s\) the bundle does not hold/, new RegExp(layer.digest.slice('sha256:'.length)), /incomplete/]);
  });

  test('a file the signed manifest does not list is refused', async () => {
    const extra = Buffer.from('not part of the bundle\n');
    const name = blobEntryName(`sha256:${'e'.repeat(64)}`);
    const bundle = await altered('extra-file', (entries) => [...entries, { name, data: extra }]);
    await assertRefused(bundle, [new RegExp(`holds ${name}, which its signed manifest does not list`)]);
  });

  test('bundle verify with no key pinned refuses and says how to pin one', async () => {
    const result = await signetCli(['bundle', 'verify', good]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /no bundle key is pinned/);
    assert.match(result.stderr, /bundles\.keys or pass --key/);
  });
});
