import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { BundleError } from '../../../src/bundle/bundle-manifest.js';
import { EMPTY_STATE, type ImportedContent, type ImportedState } from '../../../src/bundle/imported.js';
import { DiskImportedStore } from '../../../src/bundle/imported-store.js';
import { ImportedNotaryFetcher } from '../../../src/bundle/offline-notary.js';
import { MemoryTrustStateStore } from '../../../src/cache/memory/trust-state.js';
import { SignetError } from '../../../src/errors.js';
import { isTrustError } from '../../../src/trust/notary/errors.js';
import { updateRepository } from '../../../src/trust/notary/updater.js';
import { fixtureBytes, fixtureInfo, fixtureNow } from '../../harness/notary-fixtures.js';

const GUN = 'docker.io/library/app';

function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** Imported content in memory: the read port as the disk store answers it. */
class MemoryContent implements ImportedContent {
  readonly files = new Map<string, Buffer>();
  notary: ImportedState['notary'] = {};

  add(bytes: Buffer): string {
    const digest = sha256(bytes);
    this.files.set(digest, bytes);
    return digest;
  }

  state(): Promise<ImportedState> {
    return Promise.resolve({ version: 1, bundles: [], repositories: {}, notary: this.notary });
  }

  stat(digest: string): Promise<{ size: number } | undefined> {
    const bytes = this.files.get(digest);
    return Promise.resolve(bytes ? { size: bytes.length } : undefined);
  }

  open(digest: string): Promise<Readable | undefined> {
    const bytes = this.files.get(digest);
    return Promise.resolve(bytes ? Readable.from([bytes]) : undefined);
  }

  read(digest: string, maxBytes: number): Promise<Buffer | undefined> {
    const bytes = this.files.get(digest);
    if (bytes && bytes.length > maxBytes) return Promise.reject(new BundleError(`${digest} is over ${maxBytes} bytes`));
    return Promise.resolve(bytes);
  }
}

const root = (version: number): Buffer => Buffer.from(JSON.stringify({ signed: { _type: 'Root', version }, signatures: [] }));
const ROOT_V3 = root(3);
const TARGETS = Buffer.from('{"signed":{"_type":"Targets","version":7}}');
const RELEASES = Buffer.from('{"signed":{"_type":"Targets","version":2,"targets":{}}}');
const TIMESTAMP = Buffer.from('{"signed":{"_type":"Timestamp"}}');

function fixture(): { content: MemoryContent; fetcher: ImportedNotaryFetcher } {
  const content = new MemoryContent();
  content.notary = {
    [GUN]: {
      'root.json': content.add(ROOT_V3),
      'targets.json': content.add(TARGETS),
      'targets/releases.json': content.add(RELEASES),
      'timestamp.json': content.add(TIMESTAMP),
    },
  };
  return { content, fetcher: new ImportedNotaryFetcher({ content }) };
}

const hex = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('ImportedNotaryFetcher', () => {
  it('answers a role file by name, delegations included', async () => {
    const { fetcher } = fixture();
    assert.deepEqual(await fetcher.fetch(GUN, 'root.json', 1000), { kind: 'ok', bytes: ROOT_V3 });
    assert.deepEqual(await fetcher.fetch(GUN, 'timestamp.json', 1000), { kind: 'ok', bytes: TIMESTAMP });
    assert.deepEqual(await fetcher.fetch(GUN, 'targets/releases.json', 1000), { kind: 'ok', bytes: RELEASES });
  });

  it('is not_found for a GUN or a file nothing imported, names like Object.prototype members included', async () => {
    const { fetcher } = fixture();
    assert.deepEqual(await fetcher.fetch('docker.io/library/unsigned', 'root.json', 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch(GUN, 'snapshot.json', 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch(GUN, 'targets/other.json', 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch('constructor', 'root.json', 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch('__proto__', 'root.json', 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch(GUN, 'constructor', 1000), { kind: 'not_found' });
  });

  it('answers a consistent name only with bytes that hash to it', async () => {
    const { fetcher } = fixture();
    assert.deepEqual(await fetcher.fetch(GUN, `targets.${hex(TARGETS)}.json`, 1000), { kind: 'ok', bytes: TARGETS });
    assert.deepEqual(await fetcher.fetch(GUN, `targets/releases.${hex(RELEASES)}.json`, 1000), { kind: 'ok', bytes: RELEASES });
    assert.deepEqual(await fetcher.fetch(GUN, `root.${hex(ROOT_V3)}.json`, 1000), { kind: 'ok', bytes: ROOT_V3 });
    // Another version of the file (the server would have it; an import keeps the latest only).
    assert.deepEqual(await fetcher.fetch(GUN, `targets.${hex(Buffer.from('older targets'))}.json`, 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch(GUN, `snapshot.${hex(TARGETS)}.json`, 1000), { kind: 'not_found' });
  });

  it('answers <N>.root.json with the imported root only when it is version N', async () => {
    const { fetcher } = fixture();
    assert.deepEqual(await fetcher.fetch(GUN, '3.root.json', 1000), { kind: 'ok', bytes: ROOT_V3 });
    assert.deepEqual(await fetcher.fetch(GUN, '2.root.json', 1000), { kind: 'not_found' });
    assert.deepEqual(await fetcher.fetch(GUN, '4.root.json', 1000), { kind: 'not_found' });
  });

  it('serves the intermediate roots of a rotation a bundle carries under their versioned names, checked too', async () => {
    const { content, fetcher } = fixture();
    const files = content.notary[GUN] ?? {};
    files['2.root.json'] = content.add(root(2));
    files['5.root.json'] = content.add(root(4)); // mislabelled: refused
    assert.deepEqual(await fetcher.fetch(GUN, '2.root.json', 1000), { kind: 'ok', bytes: root(2) });
    assert.deepEqual(await fetcher.fetch(GUN, '3.root.json', 1000), { kind: 'ok', bytes: ROOT_V3 });
    assert.deepEqual(await fetcher.fetch(GUN, '5.root.json', 1000), { kind: 'not_found' });
  });

  it('reads a root that is not JSON, or has no numeric version, as no such version', async () => {
    for (const bytes of ['not json', '[]', '{"signed":null}', '{"signed":{"version":"3"}}', '{"signed":{"version":3.5}}']) {
      const content = new MemoryContent();
      content.notary = { [GUN]: { 'root.json': content.add(Buffer.from(bytes)) } };
      const fetcher = new ImportedNotaryFetcher({ content });
      assert.deepEqual(await fetcher.fetch(GUN, '3.root.json', 1000), { kind: 'not_found' }, bytes);
    }
  });

  it('refuses a file over maxBytes as too_large, as the trust server client does', async () => {
    const { fetcher } = fixture();
    await assert.rejects(fetcher.fetch(GUN, 'targets.json', TARGETS.length - 1), (err: unknown) => {
      assert.ok(isTrustError(err, 'too_large'), String(err));
      assert.equal(err.message, `targets.json of ${GUN} is ${TARGETS.length} bytes, over the ${TARGETS.length - 1}-byte limit`);
      return true;
    });
    await assert.rejects(fetcher.fetch(GUN, '3.root.json', 10), (err: unknown) => isTrustError(err, 'too_large'));
  });

  it('refuses as too_large when the store refuses the read for size (the file grew between stat and read)', async () => {
    const { content, fetcher } = fixture();
    content.stat = () => Promise.resolve({ size: 1 });
    await assert.rejects(fetcher.fetch(GUN, 'targets.json', 10), (err: unknown) => isTrustError(err, 'too_large'));
  });

  it('is a STORAGE_ERROR, not "not found", when a listed file is missing from the store', async () => {
    const { content, fetcher } = fixture();
    content.files.delete(sha256(TARGETS));
    await assert.rejects(fetcher.fetch(GUN, 'targets.json', 1000), (err: unknown) => {
      assert.ok(err instanceof SignetError && err.code === 'STORAGE_ERROR', String(err));
      assert.match(err.message, /missing from the imported content: import the bundle/);
      return true;
    });
  });
});

describe('ImportedNotaryFetcher under the Notary updater', () => {
  it('brings a repository up to date from imported metadata a real notary-server wrote, delegations included', async () => {
    const root = await mkdtemp(join(tmpdir(), 'signet-notary-import-'));
    after(() => rm(root, { recursive: true, force: true }));
    const name = 'ecdsa-delegation';
    const { gun } = fixtureInfo(name);
    const store = new DiskImportedStore({ root, logger: pino({ level: 'silent' }) });
    await store.init();
    const files: Record<string, string> = {};
    for (const role of ['root', 'targets', 'targets/releases', 'targets/releases/qa', 'snapshot', 'timestamp']) {
      const bytes = fixtureBytes(`${name}/${role}.json`);
      const digest = sha256(bytes);
      await store.put({ digest, size: bytes.length }, Readable.from([bytes]));
      files[`${role}.json`] = digest;
    }
    await store.commit({ ...EMPTY_STATE, notary: { [gun]: files } });

    const repo = await updateRepository({
      gun,
      server: 'offline:docker.io',
      fetcher: new ImportedNotaryFetcher({ content: store }),
      store: new MemoryTrustStateStore(),
      pinning: { keyIds: [], caPems: [], tofu: true },
      now: fixtureNow(name),
      logger: pino({ level: 'silent' }),
    });
    assert.equal(repo.name, gun);
    for (const role of ['root', 'targets', 'snapshot', 'timestamp', 'targets/releases', 'targets/releases/qa']) {
      assert.equal(typeof repo.versions[role], 'number', `${role} was verified`);
    }
  });
});
