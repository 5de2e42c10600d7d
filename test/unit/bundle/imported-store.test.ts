import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fsp from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it, mock } from 'node:test';
import { pino } from 'pino';
import { DiskImportedStore } from '../../../src/bundle/imported-store.js';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { EMPTY_STATE, type ImportedState } from '../../../src/bundle/imported.js';
import { SignetError } from '../../../src/errors.js';

const logger = pino({ level: 'silent' });

async function tempRoot(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'signet-imported-'));
  after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function sha256(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** A source that yields `data` in `chunk`-byte pieces. */
function source(data: Buffer, chunk = 7): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  return Readable.from(parts, { objectMode: false });
}

function errorWithCode(code: string, message?: RegExp) {
  return (err: unknown) => {
    assert.ok(err instanceof SignetError, `expected a SignetError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  };
}

function stateWith(bundle: string, tag: string, manifest: string): ImportedState {
  return {
    version: 1,
    bundles: [bundle],
    repositories: {
      'docker.io/library/app': { tags: { [tag]: manifest }, manifests: { [manifest]: 'application/vnd.oci.image.manifest.v1+json' }, blobs: [] },
    },
    notary: {},
  };
}

/** A state whose file size differs per `n`, so a test can tell which one it read. */
const S1 = stateWith(sha256('bundle 1'), 'v1', sha256('m1'));
const S2 = stateWith(sha256('bundle 2'), 'v2-longer', sha256('m2'));

/** Files under a directory, recursively (relative paths). */
async function files(dir: string): Promise<string[]> {
  if (!existsSync(dir)) return [];
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

describe('DiskImportedStore: layout and init', () => {
  it('creates blobs/sha256 and tmp/, and removes what a killed import left in tmp/', async () => {
    const root = await tempRoot();
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', 'blob-partial'), 'half a layer');
    const store = new DiskImportedStore({ root, logger });
    await store.init();
    assert.ok(existsSync(join(root, 'blobs', 'sha256')));
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
  });

  it('leaves tmp/ alone while a live import holds the lock (its work in progress)', async () => {
    const root = await tempRoot();
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', 'blob-in-progress'), 'being written');
    await writeFile(join(root, 'import.lock'), `${process.pid}\n`);
    await new DiskImportedStore({ root, logger }).init();
    assert.deepEqual(await readdir(join(root, 'tmp')), ['blob-in-progress']);
  });

  it('has an empty index before the first import', async () => {
    const store = new DiskImportedStore({ root: await tempRoot(), logger });
    assert.deepEqual(await store.state(), EMPTY_STATE);
  });
});

describe('DiskImportedStore: put and the read port', () => {
  it('stores bytes under their digest and serves them by stat, open (ranges too) and read', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    await store.init();
    const data = Buffer.from('the bytes of a layer, streamed in small chunks');
    const digest = sha256(data);
    assert.equal(await store.has(digest), false);
    assert.equal(await store.stat(digest), undefined);
    assert.equal(await store.open(digest), undefined);
    assert.equal(await store.read(digest, 1000), undefined);

    assert.equal(await store.put({ digest, size: data.length }, source(data)), 'stored');
    assert.equal(await store.has(digest), true);
    assert.deepEqual(await store.stat(digest), { size: data.length });
    assert.deepEqual(await readFile(join(root, 'blobs', 'sha256', digest.slice(7))), data);
    const whole = await store.open(digest);
    assert.ok(whole);
    assert.deepEqual(await collect(whole), data);
    const part = await store.open(digest, { start: 4, end: 8 });
    assert.ok(part);
    assert.equal((await collect(part)).toString(), 'bytes');
    assert.deepEqual(await store.read(digest, data.length), data);
    assert.deepEqual(await files(join(root, 'tmp')), []);
  });

  it('refuses a read over maxBytes (BUNDLE_INVALID, as the port says) and a range outside the file', async () => {
    const store = new DiskImportedStore({ root: await tempRoot(), logger });
    const data = Buffer.from('0123456789');
    const digest = sha256(data);
    await store.put({ digest, size: data.length }, source(data));
    await assert.rejects(store.read(digest, 9), errorWithCode('BUNDLE_INVALID', /10 bytes, over the limit of 9 bytes/));
    await assert.rejects(store.open(digest, { start: 10, end: 12 }), errorWithCode('RANGE_INVALID'));
  });

  it('validates a digest before building any path from it', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    for (const bad of ['../../state.json', 'sha256:../../../etc/passwd', `sha256:${'A'.repeat(64)}`, `sha512:${'a'.repeat(128)}`, 'sha256:abc']) {
      await assert.rejects(store.stat(bad), errorWithCode('DIGEST_INVALID'), bad);
      await assert.rejects(store.open(bad), errorWithCode('DIGEST_INVALID'), bad);
      await assert.rejects(store.read(bad, 10), errorWithCode('DIGEST_INVALID'), bad);
      await assert.rejects(store.put({ digest: bad, size: 1 }, source(Buffer.from('x'))), errorWithCode('DIGEST_INVALID'), bad);
    }
  });

  for (const [what, bytes] of [
    ['other bytes of the same size', Buffer.from('the bytes of a layeR')],
    ['fewer bytes', Buffer.from('the bytes of a')],
    ['more bytes', Buffer.from('the bytes of a layer, and then some more')],
  ] as const) {
    it(`refuses ${what} than the digest names: BundleError naming the file, nothing in blobs/ nor tmp/`, async () => {
      const root = await tempRoot();
      const store = new DiskImportedStore({ root, logger });
      await store.init();
      const expected = Buffer.from('the bytes of a layer');
      const digest = sha256(expected);
      const name = `blobs/sha256/${digest.slice(7)}`;
      await assert.rejects(
        store.put({ digest, size: expected.length, name }, source(bytes)),
        errorWithCode('BUNDLE_INVALID', new RegExp(`^${name} does not match its digest ${digest}: the bundle is corrupt or was tampered with`)),
      );
      assert.deepEqual(await files(join(root, 'blobs')), []);
      assert.deepEqual(await files(join(root, 'tmp')), []);
      assert.equal(await store.has(digest), false);
    });
  }

  it('stops reading a source that runs past the expected size, before it fills the disk', async () => {
    const store = new DiskImportedStore({ root: await tempRoot(), logger });
    let produced = 0;
    const endless = new Readable({
      read() {
        produced += 1024;
        this.push(Buffer.alloc(1024));
      },
    });
    const digest = sha256(Buffer.alloc(4096));
    await assert.rejects(store.put({ digest, size: 4096 }, endless), errorWithCode('BUNDLE_INVALID'));
    assert.ok(endless.destroyed, 'the source was destroyed');
    assert.ok(produced < 1024 * 1024, `read ${produced} bytes of an endless source`);
  });

  it('checks the bytes of a blob already present too, and leaves the stored file as it is', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    const data = Buffer.from('a config blob');
    const digest = sha256(data);
    assert.equal(await store.put({ digest, size: data.length }, source(data)), 'stored');
    const consumed = source(data);
    assert.equal(await store.put({ digest, size: data.length }, consumed), 'present');
    assert.ok(consumed.readableEnded, 'the source was read to its end');
    await assert.rejects(store.put({ digest, size: data.length }, source(Buffer.from('a config blo!'))), errorWithCode('BUNDLE_INVALID', /does not match/));
    assert.deepEqual(await readFile(join(root, 'blobs', 'sha256', digest.slice(7))), data);
  });

  it('discards the files a refused import stored; an absent one is no error', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    const data = Buffer.from('a layer of a refused bundle');
    const digest = sha256(data);
    assert.equal(await store.put({ digest, size: data.length }, source(data)), 'stored');
    await store.discard([digest, sha256('never stored')]);
    assert.equal(await store.stat(digest), undefined);
    assert.equal(await store.has(digest), false);
    await assert.rejects(store.discard(['sha256:nothex']), errorWithCode('DIGEST_INVALID'));
  });

  it('cleans up and passes on a source that fails half way', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    const failing = new Readable({
      read() {
        this.push(Buffer.from('part of it'));
        this.destroy(new Error('the tar stream broke'));
      },
    });
    await assert.rejects(store.put({ digest: sha256('whatever'), size: 100 }, failing), /the tar stream broke/);
    assert.deepEqual(await files(join(root, 'tmp')), []);
    assert.deepEqual(await files(join(root, 'blobs')), []);
  });
});

describe('DiskImportedStore: state.json', () => {
  it('commits an index that a fresh store reads back, sorted and whole', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    await store.commit(S1);
    assert.deepEqual(await store.state(), S1);
    assert.deepEqual(await new DiskImportedStore({ root, logger }).state(), S1);
    assert.deepEqual(JSON.parse(await readFile(join(root, 'state.json'), 'utf8')), S1);
    assert.deepEqual(await files(join(root, 'tmp')), []);
  });

  it('refuses to commit an index it could not read back', async () => {
    const store = new DiskImportedStore({ root: await tempRoot(), logger });
    const bad = { ...S1, bundles: ['not a digest'] };
    await assert.rejects(store.commit(bad), errorWithCode('INTERNAL', /not valid/));
  });

  for (const [what, bytes] of [
    ['not JSON', '{"version":1,'],
    ['JSON of another shape', '{"version":2,"bundles":[],"repositories":{},"notary":{}}'],
    ['an unknown key', '{"version":1,"bundles":[],"repositories":{},"notary":{},"extra":1}'],
    ['a tag naming no digest', '{"version":1,"bundles":[],"repositories":{"docker.io/app":{"tags":{"v1":"latest"},"manifests":{},"blobs":[]}},"notary":{}}'],
    ['a Notary file leaving its directory', `{"version":1,"bundles":[],"repositories":{},"notary":{"g":{"../x.json":"${sha256('x')}"}}}`],
    ['empty', ''],
  ] as const) {
    it(`fails closed on a state.json that is ${what}: STORAGE_ERROR, never an empty index`, async () => {
      const root = await tempRoot();
      await writeFile(join(root, 'state.json'), bytes);
      const store = new DiskImportedStore({ root, logger });
      await assert.rejects(store.state(), errorWithCode('STORAGE_ERROR', /imported index .*state\.json.*import the bundles again/));
      // And again: a cached failure is still a failure.
      await assert.rejects(store.state(), errorWithCode('STORAGE_ERROR'));
    });
  }

  it(`refuses a state.json over ${DEFAULTS.bundle.stateMaxBytes} bytes without reading it`, async () => {
    const root = await tempRoot();
    const path = join(root, 'state.json');
    await writeFile(path, '');
    await truncate(path, DEFAULTS.bundle.stateMaxBytes + 1); // sparse: costs no disk
    const store = new DiskImportedStore({ root, logger });
    await assert.rejects(store.state(), errorWithCode('STORAGE_ERROR', /over the limit/));
  });

  it('replaces state.json only by renaming a complete, flushed temporary file: the old index is readable until then', async () => {
    const root = await tempRoot();
    const writer = new DiskImportedStore({ root, logger });
    await writer.commit(S1);
    const statePath = join(root, 'state.json');
    const seen: Array<{ before: unknown; temp: unknown; from: string }> = [];
    const realRename = fsp.rename;
    // The store's rename is the builtin's live binding: replace it to look at the moment before.
    const renameMock = mock.method(fsp, 'rename', async (from: string, to: string) => {
      if (to === statePath) {
        seen.push({ before: JSON.parse(await readFile(statePath, 'utf8')), temp: JSON.parse(await readFile(from, 'utf8')), from });
      }
      return realRename(from, to);
    });
    syncBuiltinESMExports();
    try {
      await writer.commit(S2);
    } finally {
      renameMock.mock.restore();
      syncBuiltinESMExports();
    }
    assert.equal(seen.length, 1, 'state.json was written by exactly one rename');
    const [only] = seen;
    assert.ok(only);
    assert.deepEqual(only.before, S1, 'until the rename, readers see the old index whole');
    assert.deepEqual(only.temp, S2, 'what is renamed is the new index whole');
    assert.ok(only.from.startsWith(join(root, 'tmp')), only.from);
    assert.deepEqual(await new DiskImportedStore({ root, logger }).state(), S2);
  });

  it('a failed commit leaves the old index in place and nothing in tmp/', async () => {
    const root = await tempRoot();
    const writer = new DiskImportedStore({ root, logger });
    await writer.commit(S1);
    const renameMock = mock.method(fsp, 'rename', () => Promise.reject(Object.assign(new Error('no space left on device'), { code: 'ENOSPC' })));
    syncBuiltinESMExports();
    try {
      await assert.rejects(writer.commit(S2), errorWithCode('STORAGE_ERROR', /cannot save the imported index/));
    } finally {
      renameMock.mock.restore();
      syncBuiltinESMExports();
    }
    assert.deepEqual(await new DiskImportedStore({ root, logger }).state(), S1);
    assert.deepEqual(await files(join(root, 'tmp')), []);
  });

  it('a serving store sees another process’s import only after recheckMs, without looking at the file before', async () => {
    const root = await tempRoot();
    let now = 1_000_000;
    const reader = new DiskImportedStore({ root, logger, recheckMs: 1000, clock: () => now });
    const writer = new DiskImportedStore({ root, logger });
    await writer.commit(S1);
    assert.deepEqual(await reader.state(), S1);

    await writer.commit(S2);
    now += 999;
    assert.deepEqual(await reader.state(), S1, 'within recheckMs the cached index is served');
    await rm(join(root, 'state.json'));
    assert.deepEqual(await reader.state(), S1, 'within recheckMs the file is not even looked at');
    await writer.commit(S2);

    now += 1;
    assert.deepEqual(await reader.state(), S2, 'after recheckMs the new index is read');
    now += 5000;
    const same = await reader.state();
    assert.equal(same, await reader.state(), 'an unchanged file is not parsed again: the same object');
  });

  it('after recheckMs an unchanged file keeps the same index object (referrers are memoized per object)', async () => {
    const root = await tempRoot();
    let now = 0;
    const reader = new DiskImportedStore({ root, logger, recheckMs: 10, clock: () => now });
    await new DiskImportedStore({ root, logger }).commit(S1);
    const first = await reader.state();
    now += 100;
    assert.equal(await reader.state(), first);
  });
});

describe('DiskImportedStore: the import lock', () => {
  it('lets one import run at a time, naming the pid of the running one', async () => {
    const root = await tempRoot();
    const store = new DiskImportedStore({ root, logger });
    const held = await store.lock();
    assert.equal((await readFile(join(root, 'import.lock'), 'utf8')).trim(), String(process.pid));
    await assert.rejects(
      new DiskImportedStore({ root, logger }).lock(),
      errorWithCode('BUNDLE_INVALID', new RegExp(`another import \\(pid ${process.pid}\\) is running`)),
    );
    await held.release();
    assert.equal(existsSync(join(root, 'import.lock')), false);
    const again = await store.lock();
    await again.release();
    await again.release(); // idempotent
  });

  it('takes over the lock of a process that is gone, and removes its temporary files', async () => {
    const root = await tempRoot();
    await mkdir(join(root, 'tmp'), { recursive: true });
    await writeFile(join(root, 'tmp', 'blob-of-the-killed-import'), 'partial');
    // No process has this id: pid_max is at most 2^22 on Linux.
    await writeFile(join(root, 'import.lock'), '2147483646\n');
    const store = new DiskImportedStore({ root, logger });
    const held = await store.lock();
    assert.equal((await readFile(join(root, 'import.lock'), 'utf8')).trim(), String(process.pid));
    assert.deepEqual(await readdir(join(root, 'tmp')), []);
    await held.release();
  });

  it('refuses a lock file that holds no pid, saying what to do', async () => {
    const root = await tempRoot();
    await writeFile(join(root, 'import.lock'), 'garbage');
    await assert.rejects(
      new DiskImportedStore({ root, logger }).lock(),
      errorWithCode('BUNDLE_INVALID', /holds no process id.*remove it if no import is running/),
    );
  });

  it('does not remove a lock another import took over', async () => {
    const root = await tempRoot();
    const held = await new DiskImportedStore({ root, logger }).lock();
    await writeFile(join(root, 'import.lock'), '2147483646\n');
    await held.release();
    assert.equal((await readFile(join(root, 'import.lock'), 'utf8')).trim(), '2147483646');
  });
});
