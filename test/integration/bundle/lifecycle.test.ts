import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { watch } from 'node:fs';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseBundleManifest, type BundleManifest } from '../../../src/bundle/bundle-manifest.js';
import { importedState, signetCli, signetCliOk, startConnectedSite, type ConnectedSite, type SiteTrust } from '../../harness/air-gap.js';
import { blobEntryName, readBundleEntries } from '../../harness/bundle-tar.js';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, allBlobs, pushBlob, pushImageWithLayer, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import { startProcess } from '../../harness/process.js';
import { REPO_ROOT, type Signet } from '../../harness/signet.js';
import { deterministicStream, hashStream } from '../../harness/streams.js';

// What happens to a bundle over its life on the isolated side: imported twice, killed half way
// and imported again, imported as an increment on an earlier bundle, compressed, imported after
// its Notary timestamp expired, exported for one platform only.

const GUN = 'docker.io/team/app';
/** The big layer of the kill test: large enough that the import is still writing it when killed. */
const BIG_LAYER_BYTES = 64 * 1024 * 1024;
/** zstd frame magic number (RFC 8878 §3.1.1), little-endian. */
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

describe('bundle lifecycle on the isolated side', () => {
  let connected: ConnectedSite;
  let dct: PushedImage;
  /** dct and cosign, exported once. */
  let good: string;

  const policy = (trust: SiteTrust): Record<string, unknown> => ({
    policy: { default: 'enforce', rules: [{ match: 'docker.io/team/**', require: trust.notaryOrCosignRequirement() }] },
  });

  /** A new image of team/app, signed with Notary under its tag. */
  const pushSigned = (tag: string, files: Record<string, string | Buffer>): Promise<PushedImage> => connected.pushSigned('notary', 'team/app', tag, { files });

  /** Two bundles of `tag`: `older` exported before the tag moved to the image `moved`, `newer` after. */
  const movedTag = async (tag: string): Promise<{ older: string; newer: string; moved: PushedImage }> => {
    await pushSigned(tag, { 'v.txt': 'one\n' });
    const older = await connected.exportBundle(`${tag}-older.tar`, [`docker.io/team/app:${tag}`]);
    const moved = await pushSigned(tag, { 'v.txt': 'two\n' });
    const newer = await connected.exportBundle(`${tag}-newer.tar`, [`docker.io/team/app:${tag}`]);
    return { older: older.path, newer: newer.path, moved };
  };

  /** The tags of team/app in an imported index (state.json). */
  const importedTags = (state: Buffer): Record<string, string> | undefined =>
    (JSON.parse(state.toString('utf8')) as { repositories: Record<string, { tags: Record<string, string> }> }).repositories[GUN]?.tags;

  const manifestOf = async (bundle: string): Promise<{ manifest: BundleManifest; digest: string }> => {
    const first = (await readBundleEntries(bundle))[0];
    assert.equal(first?.name, 'signet-bundle.json');
    return { manifest: parseBundleManifest(first.data), digest: `sha256:${createHash('sha256').update(first.data).digest('hex')}` };
  };

  /** Pulls `image` by its tag from `signet` as a client would, each body hashing to its digest. */
  const assertServes = async (signet: Signet, image: PushedImage): Promise<void> => {
    const res = await fetch(`${signet.url}/v2/team/app/manifests/${image.tag}`, { headers: { accept: MANIFEST_ACCEPT } });
    const body = Buffer.from(await res.arrayBuffer());
    assert.equal(res.status, 200, image.tag);
    assert.equal(`sha256:${createHash('sha256').update(body).digest('hex')}`, image.digest, image.tag);
    for (const child of image.children ?? []) {
      const c = await fetch(`${signet.url}/v2/team/app/manifests/${child.digest}`, { headers: { accept: MANIFEST_ACCEPT } });
      await c.arrayBuffer();
      assert.equal(c.status, 200, `${image.tag} ${child.digest}`);
    }
    for (const blob of allBlobs(image)) {
      const b = await fetch(`${signet.url}/v2/team/app/blobs/${blob.digest}`);
      assert.equal(b.status, 200, `${image.tag} ${blob.digest}`);
      assert.ok(b.body, `${image.tag} ${blob.digest} has a body`);
      assert.deepEqual(await hashStream(b.body), blob, `${image.tag} ${blob.digest}`);
    }
  };

  before(async () => {
    connected = await startConnectedSite({ name: 'lifecycle', policy });
    dct = await connected.pushSigned('notary', 'team/app', 'dct', { platforms: TWO_PLATFORMS, files: { 'a.txt': 'dct\n' } });
    await connected.pushSigned('cosign', 'team/app', 'cosign', { files: { 'a.txt': 'cosign\n' } });
    good = (await connected.exportBundle('good.tar', ['docker.io/team/app:dct', 'docker.io/team/app:cosign'])).path;
  });
  after(async () => {
    await stopAll(connected);
  });

  test('importing the same bundle again changes nothing and says so', async () => {
    const site = await connected.isolatedSite();
    const first = await signetCliOk(['bundle', 'import', good, '--config', site.config]);
    assert.match(first.stdout, /imported into/);
    const state = await readFile(join(site.store, 'state.json'));
    const again = await signetCli(['bundle', 'import', good, '--config', site.config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already imported: nothing changed/);
    assert.deepEqual(await readFile(join(site.store, 'state.json')), state);
  });

  test('importing an older bundle again after a newer one keeps the newer tag and trust data', async () => {
    const { older, newer, moved } = await movedTag('moving');
    const site = await connected.isolatedSite();
    await signetCliOk(['bundle', 'import', older, '--config', site.config]);
    await signetCliOk(['bundle', 'import', newer, '--config', site.config]);
    const state = await readFile(join(site.store, 'state.json'));
    const again = await signetCli(['bundle', 'import', older, '--config', site.config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /already imported: nothing changed/);
    assert.deepEqual(await readFile(join(site.store, 'state.json')), state);
    assert.equal(importedTags(state)?.moving, moved.digest);
  });

  test('an older bundle never imported here is refused after a newer one: trust data does not roll back', async () => {
    const { older, newer, moved } = await movedTag('rollback');
    const site = await connected.isolatedSite();
    await signetCliOk(['bundle', 'import', newer, '--config', site.config]);
    const state = await readFile(join(site.store, 'state.json'));
    const result = await signetCli(['bundle', 'import', older, '--config', site.config]);
    assert.equal(result.code, 1, result.stderr);
    assert.match(result.stderr, /trust data for docker\.io\/team\/app is older than what is imported here \(\S+\.json: version \d+, imported version \d+\)/);
    assert.deepEqual(await readFile(join(site.store, 'state.json')), state);
    assert.equal(importedTags(state)?.rollback, moved.digest);
  });

  test('an import killed while it writes a layer leaves no index; the next import completes and serves every byte', async (t) => {
    const layer = await pushBlob(connected.registry, 'team/app', () => deterministicStream(BIG_LAYER_BYTES, 'lifecycle-big-layer'));
    const big = await pushImageWithLayer(connected.registry, 'team/app', 'big', layer);
    await connected.sign('notary', big);
    const bundle = (await connected.exportBundle('big.tar', ['docker.io/team/app:big'])).path;
    const site = await connected.isolatedSite();
    const tmp = join(site.store, 'tmp');
    await mkdir(tmp, { recursive: true });

    // The import's temporary file for the layer, once its first batch is on disk: the import is
    // then mid-way through the layer, well before it can commit.
    const watcher = watch(tmp);
    t.after(() => watcher.close());
    const writing = new Promise<string>((resolve, reject) => {
      watcher.on('error', reject);
      watcher.on('change', (_event, name) => {
        if (typeof name !== 'string' || !name.startsWith('blob-')) return;
        stat(join(tmp, name)).then(
          (st) => {
            if (st.size >= 1024 * 1024) resolve(name);
          },
          () => undefined,
        );
      });
    });
    const env: NodeJS.ProcessEnv = { ...process.env };
    delete env.NODE_TEST_CONTEXT;
    delete env.NODE_OPTIONS;
    const importing = await startProcess(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'bundle', 'import', bundle, '--config', site.config],
      { cwd: REPO_ROOT, env, logFile: join(connected.dir, 'killed-import.log'), ready: () => Promise.resolve(true) },
    );
    t.after(() => importing.stop());
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      if (!importing.running()) resolve({ code: importing.child.exitCode, signal: importing.child.signalCode });
      importing.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const partial = await Promise.race([
      writing,
      exited.then(async (end) => {
        throw new Error(`the import ended (${end.code ?? end.signal ?? ''}) before it wrote the layer: ${await importing.log()}`);
      }),
    ]);
    importing.child.kill('SIGKILL');
    assert.equal((await exited).signal, 'SIGKILL', 'the import was killed, not finished');

    assert.equal(await importedState(site.store), undefined, 'no index after the kill');
    assert.ok((await readdir(tmp)).includes(partial), 'the half-written layer stays in tmp/ only');
    assert.ok((await readdir(site.store)).includes('import.lock'), 'the killed import’s lock stays behind');

    const again = await signetCli(['bundle', 'import', bundle, '--config', site.config]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /imported into/);
    assert.deepEqual(await readdir(tmp), [], 'the leftover of the killed import is removed');
    assert.equal((await readdir(site.store)).includes('import.lock'), false, 'the lock is released');

    const signet = await site.serve();
    t.after(() => stopAll(signet));
    await assertServes(signet, big);
  });

  test('an incremental bundle leaves out what its base carried and imports only on top of it', async (t) => {
    const a = await pushSigned('inc-a', { 'a.bin': randomBytes(256 * 1024) });
    const b1 = await connected.exportBundle('b1.tar', ['docker.io/team/app:inc-a']);
    const b = await pushSigned('inc-b', { 'b.txt': 'b\n' });
    const b2 = await connected.exportBundle('b2.tar', ['--since', b1.path, 'docker.io/team/app:inc-a', 'docker.io/team/app:inc-b']);
    assert.match(b2.stdout, /2 blob\(s\) left to the base bundle/);

    const base = await manifestOf(b1.path);
    const { manifest } = await manifestOf(b2.path);
    assert.equal(manifest.base, base.digest);
    assert.deepEqual(
      manifest.images.map((i) => i.ref),
      ['docker.io/team/app:inc-a', 'docker.io/team/app:inc-b'],
    );
    const carried = new Set(manifest.files.map((f) => f.path));
    for (const blob of a.blobs) assert.equal(carried.has(blobEntryName(blob.digest)), false, `b2 does not carry ${blob.digest} of inc-a`);
    for (const blob of b.blobs) assert.ok(carried.has(blobEntryName(blob.digest)), `b2 carries ${blob.digest} of inc-b`);
    assert.ok((await stat(b2.path)).size < (await stat(b1.path)).size, 'b2 is smaller than b1 (inc-a’s layer is not in it)');

    const empty = await connected.isolatedSite();
    const alone = await signetCli(['bundle', 'import', b2.path, '--config', empty.config]);
    assert.equal(alone.code, 1, alone.stderr);
    assert.match(alone.stderr, new RegExp(`incremental on bundle ${base.digest}.*import that bundle first`));
    assert.equal(await importedState(empty.store), undefined);

    const site = await connected.isolatedSite();
    await signetCliOk(['bundle', 'import', b1.path, '--config', site.config]);
    const second = await signetCli(['bundle', 'import', b2.path, '--config', site.config]);
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /imported into/);
    const signet = await site.serve();
    t.after(() => stopAll(signet));
    await assertServes(signet, a);
    await assertServes(signet, b);
  });

  test('a zstd-compressed bundle imports', async () => {
    const { path } = await connected.exportBundle('zstd.tar.zst', ['--zstd', 'docker.io/team/app:dct']);
    const head = (await readFile(path)).subarray(0, ZSTD_MAGIC.length);
    assert.deepEqual(head, ZSTD_MAGIC, 'the bundle is one zstd stream');
    const site = await connected.isolatedSite();
    const result = await signetCli(['bundle', 'import', path, '--config', site.config]);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /docker\.io\/team\/app:dct/);
    assert.match(result.stdout, /imported into/);
  });

  test('an expired Notary timestamp is refused, and accepted within offlineExpiryGraceDays', async () => {
    const { path } = await connected.exportBundle('expiring.tar', ['docker.io/team/app:dct']);
    const notaryOnly = (grace?: number): Record<string, unknown> => ({
      policy: {
        default: 'enforce',
        rules: [
          {
            match: 'docker.io/team/**',
            require: { notary: { roots: { tofu: true }, ...(grace === undefined ? {} : { offlineExpiryGraceDays: grace }) } },
          },
        ],
      },
    });
    const strict = await connected.isolatedSite(notaryOnly());
    const lenient = await connected.isolatedSite(notaryOnly(30));
    // Notary's timestamp role expires 14 days after it is signed: 20 days on, it has expired.
    const later = { wrap: ['faketime', '-f', '+20d'] };
    const [refused, accepted] = await Promise.all([
      signetCli(['bundle', 'import', path, '--config', strict.config], later),
      signetCli(['bundle', 'import', path, '--config', lenient.config], later),
    ]);
    assert.equal(refused.code, 1, refused.stderr);
    assert.match(refused.stderr, /docker\.io\/team\/app:dct is refused by this site's policy/);
    assert.match(refused.stderr, /timestamp metadata expired/);
    assert.equal(await importedState(strict.store), undefined);
    assert.equal(accepted.code, 0, accepted.stderr);
    assert.match(accepted.stdout, /imported into/);
    assert.match(accepted.stderr, /imported trust metadata is expired: accepted within offlineExpiryGraceDays/);
  });

  test('an images list naming one platform of an index exports only that platform', async () => {
    const amd64 = dct.children?.find((c) => c.platform?.architecture === 'amd64');
    const arm64 = dct.children?.find((c) => c.platform?.architecture === 'arm64');
    assert.ok(amd64 && arm64, 'dct is an index of amd64 and arm64');
    const list = join(connected.dir, 'list.yaml');
    await writeFile(list, stringify({ images: [{ ref: 'docker.io/team/app:dct', platforms: ['linux/amd64'] }] }));
    const { path } = await connected.exportBundle('amd64.tar', ['--images', list]);
    const { manifest } = await manifestOf(path);
    assert.equal(manifest.images.length, 1);
    const image = manifest.images[0];
    assert.ok(image);
    assert.deepEqual(image.platforms, ['linux/amd64']);
    assert.deepEqual(image.manifests.map((m) => m.digest).sort(), [dct.digest, amd64.digest].sort());
    assert.deepEqual(image.blobs.map((b) => b.digest).sort(), amd64.blobs.map((b) => b.digest).sort());
    const files = new Set(manifest.files.map((f) => f.path));
    for (const d of [arm64.digest, ...arm64.blobs.map((x) => x.digest)]) assert.equal(files.has(blobEntryName(d)), false, `no ${d} of arm64`);

    const site = await connected.isolatedSite();
    const result = await signetCli(['bundle', 'import', path, '--config', site.config]);
    assert.equal(result.code, 0, result.stderr);
  });
});
