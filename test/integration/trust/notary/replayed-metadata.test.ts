/**
 * Attacks on the Notary update workflow (rollback, freeze, mix-and-match, endless data, forged
 * and tampered signatures), each built from metadata written by a real notary-server and the
 * real notary CLI and replayed through an in-process MetadataFetcher (test/harness/evil-notary.ts).
 * Where an attack needs metadata no honest server would sign (a timestamp listing an old
 * snapshot, a fresh timestamp over expired targets), the repository is re-signed with the
 * notary client's own keys plus a timestamp key of the test's: the situation of an attacker who
 * stole the server's keys, which is exactly what the client-side checks are for.
 * Also: the wildcard rules of policy matching (src/policy/rules.ts).
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { SignetError } from '../../../../src/errors.js';
import { compileRules, mostSpecific } from '../../../../src/policy/rules.js';
import { isTrustError, type TrustErrorCode } from '../../../../src/trust/notary/errors.js';
import { NotaryTrustSource, type NotaryLoadOptions } from '../../../../src/trust/notary/notary-source.js';
import type { MetadataFetcher } from '../../../../src/trust/notary/remote.js';
import type { RootPinning } from '../../../../src/trust/notary/root-trust.js';
import type { TrustStateStore } from '../../../../src/cache/ports.js';
import { DiskTrustStateStore } from '../../../../src/cache/disk/trust-state.js';
import { MemoryTrustStateStore } from '../../../../src/cache/memory/trust-state.js';
import { updateRepository } from '../../../../src/trust/notary/updater.js';
import type { VerifiedNotaryRepo } from '../../../../src/trust/notary/verified-repo.js';
import {
  captureRepo,
  freshKey,
  ReplayFetcher,
  RepoForger,
  resign,
  sha256Hex,
  signedOf,
  tamper,
  type CapturedRepo,
  type ServedFile,
  type TufFiles,
} from '../../../harness/evil-notary.js';
import { stopAll } from '../../../harness/cleanup.js';
import { createNotaryCli, type NotaryCli } from '../../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../../harness/notary-server.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

const logger = pino({ level: 'silent' });
const SERVER = 'http://127.0.0.1:4443';
const TOFU: RootPinning = { keyIds: [], caPems: [], tofu: true };
const DAY = 24 * 60 * 60 * 1000;
const MiB = 1024 * 1024;
const LOAD: NotaryLoadOptions = {
  server: { url: new URL(SERVER), ca: undefined, credentials: undefined, gun: '{registry}/{repository}', allowedHosts: [], allowPrivateAddresses: false },
  roots: { keyIds: [], caPems: [], tofu: true },
  path: 'policy.rules.0.require.notary',
};

function manifest(label: string): { hex: string; size: number; digest: string } {
  const bytes = Buffer.from(`{"manifest":"${label}"}`);
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { hex, size: bytes.length, digest: `sha256:${hex}` };
}

function update(gun: string, fetcher: MetadataFetcher, store: TrustStateStore, now = new Date()): Promise<VerifiedNotaryRepo> {
  return updateRepository({ gun, server: SERVER, fetcher, store, pinning: TOFU, now, logger });
}

async function rejectsTrust(promise: Promise<unknown>, code: TrustErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isTrustError(err), `expected a TrustError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

async function deniedWith(promise: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SignetError, `expected a SignetError, got ${String(err)}`);
    assert.equal(err.code, 'DENIED', err.message);
    assert.equal((err.detail as { reason?: string } | undefined)?.reason, reason, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

function source(store: TrustStateStore, fetcher: MetadataFetcher, clock: () => number): NotaryTrustSource {
  return new NotaryTrustSource({ store, logger, freshnessSeconds: 60, missingCacheSeconds: 30, clock, fetcherFor: () => fetcher });
}

/** `files` with each named file replaced (all names must already be served). */
function replacing(files: TufFiles, replacements: Record<string, ServedFile>): TufFiles {
  const out = new Map(files);
  for (const [name, bytes] of Object.entries(replacements)) {
    assert.ok(out.has(name), `${name} is served`);
    out.set(name, bytes);
  }
  return out;
}

function hashName(role: string, bytes: Buffer | undefined): string {
  assert.ok(bytes, role);
  return `${role}.${sha256Hex(bytes)}.json`;
}

function listed(file: Buffer, role: string): { length: number } {
  const meta = (signedOf(file)['meta'] as Record<string, { length: number }>)[role];
  assert.ok(meta, `${role} listed`);
  return meta;
}

function padTo(file: Buffer, size: number): Buffer {
  assert.ok(size > file.length);
  return Buffer.concat([file, Buffer.alloc(size - file.length, 0x20)]); // JSON whitespace: still parses
}

describe('attacks on the update workflow, from real notary data', () => {
  const gun = 'docker.io/acme/attack';
  const m1 = manifest('attack 1.0');
  const mOld = manifest('attack old');
  let notary: NotaryServer;
  let cli: NotaryCli;
  /** Version N: targets {1.0, old}. */
  let older: CapturedRepo;
  /** Version N+1: `old` removed (a shorter targets file with a higher version). */
  let newer: CapturedRepo;
  let forger: RepoForger;
  let forgedRoot: Buffer;
  const dirs: string[] = [];
  const inDays = (days: number, from = Date.now()): Date => new Date(from + days * DAY);
  const part = (repo: CapturedRepo, role: string): Buffer => {
    const bytes = repo.parts[role];
    assert.ok(bytes, role);
    return bytes;
  };
  /** A store that has verified `files`. */
  async function seen(files: TufFiles, store: TrustStateStore = new MemoryTrustStateStore()): Promise<TrustStateStore> {
    await update(gun, new ReplayFetcher(files), store);
    return store;
  }

  before(async () => {
    notary = await startNotaryServer({ tls: false });
    cli = await createNotaryCli({ server: notary });
    await cli.init(gun); // client-managed snapshot key: the forger re-signs snapshots with it
    await cli.addHash(gun, '1.0', m1.size, m1.hex);
    await cli.addHash(gun, 'old', mOld.size, mOld.hex);
    older = await captureRepo(notary, gun);
    await cli.remove(gun, 'old');
    newer = await captureRepo(notary, gun);
    for (const role of ['timestamp', 'snapshot', 'targets']) assert.ok((newer.versions[role] ?? 0) > (older.versions[role] ?? 0), role);
    assert.ok(part(older, 'root').equals(part(newer, 'root')));
    forger = await RepoForger.fromTrustDir(cli.trustDir, part(newer, 'root'));
    forgedRoot = forger.root(part(newer, 'root'));
  });
  after(async () => {
    for (const dir of dirs) await removeDir(dir);
    await stopAll(cli, notary);
  });

  describe('rollback', () => {
    /** Forged versions 1 and 2 of the repository (snapshot and timestamp re-signed over the real targets). */
    const forged = (): { v1: ReturnType<RepoForger['publish']>; v2: ReturnType<RepoForger['publish']> } => ({
      v1: forger.publish({ root: forgedRoot, targets: part(older, 'targets') }, { version: 1, expires: inDays(30) }),
      v2: forger.publish({ root: forgedRoot, targets: part(newer, 'targets') }, { version: 2, expires: inDays(30) }),
    });

    test('timestamp: the older real timestamp after the newer was seen', async () => {
      const store = await seen(newer.files);
      const before = await store.versions(SERVER, gun);
      await rejectsTrust(
        update(gun, new ReplayFetcher(older.files), store),
        'rollback',
        new RegExp(`timestamp version ${older.versions['timestamp']} is lower than the trusted ${newer.versions['timestamp']}`),
      );
      assert.deepEqual(await store.versions(SERVER, gun), before, 'nothing is recorded from a refused update');
    });

    test('snapshot: a newer timestamp (stolen timestamp key) that lists the older snapshot', async () => {
      const { v1, v2 } = forged();
      const store = await seen(v2.files);
      const replay = forger.timestamp(v1.parts['snapshot'] as Buffer, { version: 3, expires: inDays(30) });
      const files = replacing(v1.files, { 'timestamp.json': replay });
      await rejectsTrust(update(gun, new ReplayFetcher(files), store), 'rollback', /snapshot version 1 is lower than the trusted 2/);
    });

    test('targets: a newer snapshot and timestamp (stolen keys) that list the older real targets', async () => {
      const { v2 } = forged();
      const store = await seen(v2.files);
      const replay = forger.publish({ root: forgedRoot, targets: part(older, 'targets') }, { version: 3, expires: inDays(30) });
      await rejectsTrust(
        update(gun, new ReplayFetcher(replay.files), store),
        'rollback',
        new RegExp(`targets version ${older.versions['targets']} is lower than the trusted ${newer.versions['targets']}`),
      );
    });

    test('a timestamp that verified during an update that failed later still raises the floor (Notary caches each file once it verifies)', async () => {
      const store = await seen(older.files);
      // N+1's timestamp verifies, then its snapshot cannot be had (the attacker withholds it).
      const withheld = new Map(newer.files);
      withheld.delete('snapshot.json');
      withheld.delete(hashName('snapshot', part(newer, 'snapshot')));
      await assert.rejects(update(gun, new ReplayFetcher(withheld), store));
      assert.deepEqual(await store.read(SERVER, gun, 'timestamp.json'), part(newer, 'timestamp'), 'N+1 timestamp verified and kept');
      // Replaying N now is a rollback for Notary (tufclient.go tryLoadRemote: minVersion = the cached file's version).
      await rejectsTrust(update(gun, new ReplayFetcher(older.files), store), 'rollback', /timestamp version/);
    });

    test('across a restart: versions persisted by DiskTrustStateStore, a new NotaryTrustSource still refuses (real timestamp)', async () => {
      const dir = await makeTempDir('rollback');
      dirs.push(dir);
      const fetcher = new ReplayFetcher(newer.files);
      const first = source(new DiskTrustStateStore(dir), fetcher, Date.now);
      assert.equal((await first.load({ name: gun }, LOAD)).chooseTarget('1.0')?.digest, m1.digest);
      await first.close();
      const restarted = source(new DiskTrustStateStore(dir), fetcher.serve(older.files), Date.now);
      await deniedWith(restarted.load({ name: gun }, LOAD), 'rollback', /rollback detected/);
      assert.deepEqual(fetcher.fetched().slice(0, 1), ['timestamp.json'], 'the root came from disk');
    });

    test('across a restart: a forged targets rollback is still refused', async () => {
      const dir = await makeTempDir('rollback');
      dirs.push(dir);
      const { v2 } = forged();
      const fetcher = new ReplayFetcher(v2.files);
      await source(new DiskTrustStateStore(dir), fetcher, Date.now).load({ name: gun }, LOAD);
      const replay = forger.publish({ root: forgedRoot, targets: part(older, 'targets') }, { version: 3, expires: inDays(30) });
      await deniedWith(source(new DiskTrustStateStore(dir), fetcher.serve(replay.files), Date.now).load({ name: gun }, LOAD), 'rollback', /targets version/);
    });
  });

  describe('freeze', () => {
    test('a replayed timestamp that has expired (clock past its expiry)', async () => {
      const store = await seen(newer.files);
      const expires = new Date(String(signedOf(part(newer, 'timestamp'))['expires']));
      const later = new Date(expires.getTime() + 1);
      await rejectsTrust(update(gun, new ReplayFetcher(newer.files), store, later), 'expired', /timestamp metadata expired at /);
      // The same through the trust source, after a restart, with its clock.
      const dir = await makeTempDir('freeze');
      dirs.push(dir);
      await source(new DiskTrustStateStore(dir), new ReplayFetcher(newer.files), Date.now).load({ name: gun }, LOAD);
      await deniedWith(
        source(new DiskTrustStateStore(dir), new ReplayFetcher(newer.files), () => later.getTime()).load({ name: gun }, LOAD),
        'expired',
        /trust metadata expired/,
      );
    });

    test('expired targets behind a fresh timestamp and snapshot', async () => {
      const targets = part(newer, 'targets');
      const now = new Date(new Date(String(signedOf(targets)['expires'])).getTime() + DAY);
      const world = forger.publish({ root: forgedRoot, targets }, { version: 1, expires: inDays(30, now.getTime()) });
      await rejectsTrust(update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore(), now), 'expired', /^targets metadata expired at /);
    });

    test('an expired snapshot behind a fresh timestamp', async () => {
      const snapshot = forger.snapshot({ root: forgedRoot, targets: part(newer, 'targets') }, { version: 1, expires: inDays(-1) });
      const world = forger.publish({ root: forgedRoot, targets: part(newer, 'targets') }, { version: 1, expires: inDays(30), snapshot });
      await rejectsTrust(update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore()), 'expired', /^snapshot metadata expired at /);
    });
  });

  describe('mix-and-match', () => {
    test('snapshot N served with targets N+1 (under both targets names): hash_mismatch', async () => {
      const targetsN = part(older, 'targets');
      const targetsN1 = part(newer, 'targets');
      assert.ok(targetsN1.length <= listed(part(older, 'snapshot'), 'targets').length, 'N+1 fits the listed length');
      const files = replacing(older.files, { 'targets.json': targetsN1, [hashName('targets', targetsN)]: targetsN1 });
      await rejectsTrust(update(gun, new ReplayFetcher(files), new MemoryTrustStateStore()), 'hash_mismatch', /^targets: sha256 checksum mismatch/);
    });

    test('a cached targets file is reused only while it matches: N+1 after N downloads the new file', async () => {
      const store = await seen(older.files);
      const fetcher = new ReplayFetcher(newer.files);
      await update(gun, fetcher, store);
      assert.ok(fetcher.fetched().includes(hashName('targets', part(newer, 'targets'))));
    });
  });

  describe('endless data', () => {
    test('timestamp.json over 1 MiB: too_large, and the fetcher is asked for at most 1 MiB', async () => {
      const store = await seen(newer.files);
      const fetcher = new ReplayFetcher(replacing(newer.files, { 'timestamp.json': { oversize: MiB + 1, announce: true } }));
      await rejectsTrust(update(gun, fetcher, store), 'too_large');
      const calls = fetcher.calls.filter((c) => c.file === 'timestamp.json');
      assert.ok(calls.length >= 1);
      for (const c of calls) assert.equal(c.maxBytes, 1_048_576);
    });

    test('timestamp.json over 1 MiB from a fetcher that ignores maxBytes: the updater refuses it itself', async () => {
      const padded = padTo(part(newer, 'timestamp'), MiB + 1);
      const fetcher = new ReplayFetcher(replacing(newer.files, { 'timestamp.json': padded }), { enforceCap: false });
      await rejectsTrust(update(gun, fetcher, await seen(newer.files)), 'too_large');
    });

    test('a snapshot bigger than the length the timestamp lists: too_large, asked for at most that length', async () => {
      const snapshot = part(newer, 'snapshot');
      const length = listed(part(newer, 'timestamp'), 'snapshot').length;
      assert.equal(length, snapshot.length);
      const name = hashName('snapshot', snapshot);
      const bigger = padTo(snapshot, length + 1);
      const fetcher = new ReplayFetcher(replacing(newer.files, { [name]: bigger, 'snapshot.json': bigger }));
      await rejectsTrust(update(gun, fetcher, new MemoryTrustStateStore()), 'too_large');
      const calls = fetcher.calls.filter((c) => c.file === name);
      assert.ok(calls.length >= 1);
      for (const c of calls) assert.equal(c.maxBytes, length);
      // A fetcher that hands over more than it was asked for meets the updater's own check.
      const lax = new ReplayFetcher(replacing(newer.files, { [name]: bigger, 'snapshot.json': bigger }), { enforceCap: false });
      await rejectsTrust(
        update(gun, lax, new MemoryTrustStateStore()),
        'too_large',
        new RegExp(`^snapshot: ${length + 1} bytes, more than the ${length} listed`),
      );
    });

    test('root.json over its 100 MiB cap: too_large, and the fetcher is asked for at most 100 MiB', async () => {
      const fetcher = new ReplayFetcher(replacing(newer.files, { 'root.json': { oversize: 100 * MiB + 1, announce: false } }));
      await rejectsTrust(update(gun, fetcher, new MemoryTrustStateStore()), 'too_large');
      assert.deepEqual(
        fetcher.calls.map((c) => [c.file, c.maxBytes]),
        [['root.json', 104_857_600]],
      );
      // Handed over anyway (a fetcher that ignores the cap): parseSigned refuses it before parsing.
      const lax = new ReplayFetcher(replacing(newer.files, { 'root.json': { oversize: 100 * MiB + 1, announce: false } }), { enforceCap: false });
      await rejectsTrust(update(gun, lax, new MemoryTrustStateStore()), 'too_large', /root metadata is 104857601 bytes/);
    });

    test('the root re-downloaded by checksum is capped at the length the snapshot lists', async () => {
      const root = part(newer, 'root');
      const targets = part(newer, 'targets');
      // Targets that do not match the snapshot make the update fail after the snapshot verified,
      // which re-downloads the root by the checksum that snapshot lists.
      const files = replacing(newer.files, {
        [hashName('targets', targets)]: tamper(targets, '"_type":"Targets"', '"_type":"Targetz"'),
        [hashName('root', root)]: { oversize: root.length + 1, announce: true },
      });
      const fetcher = new ReplayFetcher(files);
      await rejectsTrust(update(gun, fetcher, new MemoryTrustStateStore()), 'too_large');
      const call = fetcher.calls.find((c) => c.file === hashName('root', root));
      assert.equal(call?.maxBytes, root.length);
      assert.equal(call.maxBytes, listed(part(newer, 'snapshot'), 'root').length);
    });
  });

  describe('signatures', () => {
    test('a real timestamp re-signed with a freshly generated key: threshold', async () => {
      const stranger = freshKey('ed25519');
      const ts = resign(part(newer, 'timestamp'), () => undefined, [stranger]);
      await rejectsTrust(
        update(gun, new ReplayFetcher(replacing(newer.files, { 'timestamp.json': ts })), new MemoryTrustStateStore()),
        'threshold',
        /\(0 of 1\)/,
      );
    });

    test('real targets re-signed with a freshly generated key (snapshot and timestamp re-signed to match): threshold', async () => {
      const stranger = freshKey('ecdsa');
      const targets = resign(part(newer, 'targets'), () => undefined, [stranger]);
      const world = forger.publish({ root: forgedRoot, targets }, { version: 1, expires: inDays(30) });
      await rejectsTrust(
        update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore()),
        'threshold',
        /valid signatures did not meet threshold \(0 of 1\)/,
      );
      // The genuine targets key over the same content is accepted: only the key differs.
      const genuine = resign(part(newer, 'targets'), () => undefined, [forger.targetsKey]);
      const ok = forger.publish({ root: forgedRoot, targets: genuine }, { version: 1, expires: inDays(30) });
      assert.equal((await update(gun, new ReplayFetcher(ok.files), new MemoryTrustStateStore())).chooseTarget('1.0')?.digest, m1.digest);
    });

    test('a root demanding two signatures that carries one: threshold (and Signet denies with reason threshold)', async () => {
      const root = resign(
        part(newer, 'root'),
        (s) => (((s['roles'] as Record<string, { threshold: number }>)['root'] as { threshold: number }).threshold = 2),
        forger.rootKeys,
      );
      const files = replacing(newer.files, { 'root.json': root });
      await rejectsTrust(update(gun, new ReplayFetcher(files), new MemoryTrustStateStore()), 'threshold', /\(1 of 2\)/);
      await deniedWith(
        source(new MemoryTrustStateStore(), new ReplayFetcher(files), Date.now).load({ name: gun }, LOAD),
        'threshold',
        /signature threshold not met/,
      );
    });

    test('one byte of the signed part of a real timestamp changed (the snapshot length): threshold', async () => {
      const ts = part(newer, 'timestamp');
      const length = listed(ts, 'snapshot').length;
      const changed = tamper(ts, `"length":${length}`, `"length":${length + 1}`);
      await rejectsTrust(
        update(gun, new ReplayFetcher(replacing(newer.files, { 'timestamp.json': changed })), new MemoryTrustStateStore()),
        'threshold',
        /\(0 of 1\)/,
      );
    });

    test('one byte of a real targets file changed (a target length; snapshot re-signed to match): threshold', async () => {
      const changed = tamper(part(newer, 'targets'), `"length":${m1.size}`, `"length":${m1.size + 1}`);
      const world = forger.publish({ root: forgedRoot, targets: changed }, { version: 1, expires: inDays(30) });
      await rejectsTrust(update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore()), 'threshold', /\(0 of 1\)/);
    });

    test('a root whose targets key ID is not the hash of the key it names: bad_key (denied as bad_signature)', async () => {
      const other = freshKey('ecdsa');
      const root = forger.root(part(newer, 'root'), (s) => {
        const roles = s['roles'] as Record<string, { keyids: string[] }>;
        const keys = s['keys'] as Record<string, unknown>;
        const id = roles['targets']?.keyids[0];
        assert.ok(id);
        keys[id] = other.json; // the real targets key ID, another key's bytes
      });
      const world = forger.publish({ root, targets: part(newer, 'targets') }, { version: 1, expires: inDays(30) });
      await rejectsTrust(update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore()), 'bad_key', /does not hash to its ID/);
      await deniedWith(source(new MemoryTrustStateStore(), new ReplayFetcher(world.files), Date.now).load({ name: gun }, LOAD), 'bad_signature');
    });
  });
});

describe('policy rules: wildcard patterns cannot escape their scope (compileRules / mostSpecific)', () => {
  const rules = compileRules([
    { match: 'docker.io/**', id: 'all-docker' },
    { match: 'docker.io/acme/*', id: 'acme-one-level' },
    { match: 'docker.io/acme/app', id: 'acme-app' },
    { match: 'docker.io/acme/**', id: 'acme-deep' },
    { match: 'registry.example/**/app', id: 'any-app' },
  ]);
  const winner = (subject: string): string | undefined => mostSpecific(rules, subject)?.rule.id;
  const matches = (match: string, subject: string): boolean => (compileRules([{ match }])[0] as { test: (s: string) => boolean }).test(subject);

  test('`*` stays inside one path component', () => {
    assert.ok(matches('docker.io/acme/*', 'docker.io/acme/x'));
    assert.ok(!matches('docker.io/acme/*', 'docker.io/acme-evil/x'));
    assert.ok(!matches('docker.io/acme/*', 'docker.io/acme/x/y'));
    assert.ok(!matches('docker.io/acme/*', 'docker.io/acmex'));
    assert.ok(!matches('docker.io/acme*', 'docker.io/acme/x'));
    assert.ok(!matches('docker.io/acme/app*', 'docker.io/acme/app/evil'));
    assert.ok(matches('docker.io/acme/app*', 'docker.io/acme/app-2'));
    assert.ok(!matches('*/acme/x', 'evil.example/docker.io/acme/x'));
  });

  test('`**` spans components but stays anchored', () => {
    assert.ok(matches('docker.io/acme/**', 'docker.io/acme/x/y/z'));
    assert.ok(!matches('docker.io/acme/**', 'docker.io/acme-evil/x'));
    assert.ok(!matches('docker.io/acme/**', 'evil.example/docker.io/acme/x'));
    assert.ok(matches('registry.example/**/app', 'registry.example/a/b/app'));
    assert.ok(!matches('registry.example/**/app', 'registry.example/a/b/app-evil'));
    assert.ok(!matches('docker.io/**', 'docker.io.evil.example/x'));
  });

  test('`?` is one character; braces, extglobs and negation are literal', () => {
    assert.ok(matches('docker.io/acme/ap?', 'docker.io/acme/app'));
    assert.ok(!matches('docker.io/acme/ap?', 'docker.io/acme/ap/p'));
    assert.ok(!matches('docker.io/{acme,evil}/*', 'docker.io/evil/x'));
    assert.ok(!matches('docker.io/acme/!(x)', 'docker.io/acme/y'));
    assert.ok(!matches('!docker.io/acme/*', 'docker.io/other/x'));
  });

  test('the most specific rule wins: most literal characters, then fewest wildcards, then the first', () => {
    assert.equal(winner('docker.io/acme/app'), 'acme-app');
    assert.equal(winner('docker.io/acme/other'), 'acme-one-level');
    assert.equal(winner('docker.io/acme/x/y'), 'acme-deep');
    assert.equal(winner('docker.io/acme-evil/x'), 'all-docker');
    assert.equal(winner('registry.example/a/app'), 'any-app');
    assert.equal(winner('quay.io/acme/app'), undefined);
    const fewer = compileRules([
      { match: 'docker.io/acme/?*', id: 'two-wildcards' },
      { match: 'docker.io/acme/*', id: 'one-wildcard' },
    ]);
    assert.equal(mostSpecific(fewer, 'docker.io/acme/x')?.rule.id, 'one-wildcard');
    const tie = compileRules([
      { match: 'docker.io/acme/a*', id: 'first' },
      { match: 'docker.io/acme/*b', id: 'second' },
    ]);
    assert.equal(mostSpecific(tie, 'docker.io/acme/ab')?.rule.id, 'first');
  });
});
