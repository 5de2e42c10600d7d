/**
 * updateRepository and NotaryTrustSource on metadata written by the real tools: a real
 * notary-server and the real notary CLI make every state (init, addhash, publish, delegations,
 * root key rotations); the files a real server serves at each step are captured and replayed
 * through an in-process MetadataFetcher (test/harness/evil-notary.ts), which can also mix them,
 * drop some, or serve them from a repository re-signed with the client's own keys where a case
 * needs metadata a real server cannot produce. Clocks are injected; nothing waits.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { SignetError } from '../../../../src/errors.js';
import { canonicalKeyId } from '../../../../src/trust/notary/certificates.js';
import { isTrustError, type TrustErrorCode } from '../../../../src/trust/notary/errors.js';
import { NotaryTrustSource, type NotaryLoadOptions } from '../../../../src/trust/notary/notary-source.js';
import type { MetadataFetcher } from '../../../../src/trust/notary/remote.js';
import { RootNotPinnedError, type RootPinning } from '../../../../src/trust/notary/root-trust.js';
import type { TrustStateStore } from '../../../../src/cache/ports.js';
import { DiskTrustStateStore } from '../../../../src/cache/disk/trust-state.js';
import { MemoryTrustStateStore } from '../../../../src/cache/memory/trust-state.js';
import { updateRepository } from '../../../../src/trust/notary/updater.js';
import type { VerifiedNotaryRepo } from '../../../../src/trust/notary/verified-repo.js';
import {
  captureRepo,
  delegationSigningKey,
  dropSignatures,
  freshKey,
  ReplayFetcher,
  repoFiles,
  RepoForger,
  resign,
  sha256Hex,
  signedOf,
  type CapturedRepo,
  type SigningKey,
  type TufFiles,
} from '../../../harness/evil-notary.js';
import { stopAll } from '../../../harness/cleanup.js';
import { createNotaryCli, DEFAULT_NOTARY_PASSPHRASES, type DelegationKey, type NotaryCli } from '../../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../../harness/notary-server.js';
import { runOk } from '../../../harness/process.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';
import { fixtureBytes, fixtureInfo, fixtureNow, FIXTURES } from '../../../harness/notary-fixtures.js';

const logger = pino({ level: 'silent' });
const SERVER = 'http://127.0.0.1:4443';
const TOFU: RootPinning = { keyIds: [], caPems: [], tofu: true };
const DAY = 24 * 60 * 60 * 1000;
const LOAD: NotaryLoadOptions = {
  server: { url: new URL(SERVER), ca: undefined, credentials: undefined, gun: '{registry}/{repository}', allowedHosts: [], allowPrivateAddresses: false },
  roots: { keyIds: [], caPems: [], tofu: true },
  path: 'policy.rules.0.require.notary',
};

/** A made-up manifest: its sha256 hex and size, as `notary addhash` takes them. */
function manifest(label: string): { hex: string; size: number; digest: string } {
  const bytes = Buffer.from(`{"manifest":"${label}"}`);
  const hex = createHash('sha256').update(bytes).digest('hex');
  return { hex, size: bytes.length, digest: `sha256:${hex}` };
}

function update(gun: string, fetcher: MetadataFetcher, store: TrustStateStore, opts: { now?: Date; pinning?: RootPinning } = {}): Promise<VerifiedNotaryRepo> {
  return updateRepository({ gun, server: SERVER, fetcher, store, pinning: opts.pinning ?? TOFU, now: opts.now ?? new Date(), logger });
}

/** Asserts that `promise` rejects with a TrustError of `code` (and a message matching `message`). */
async function rejectsTrust(promise: Promise<unknown>, code: TrustErrorCode, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(isTrustError(err), `expected a TrustError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

/** Asserts that `promise` rejects with Signet's DENIED and the given detail.reason. */
async function deniedWith(promise: Promise<unknown>, reason: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SignetError, `expected a SignetError, got ${String(err)}`);
    assert.equal(err.code, 'DENIED');
    assert.equal((err.detail as { reason?: string } | undefined)?.reason, reason, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

function source(
  store: TrustStateStore,
  fetcher: MetadataFetcher,
  clock: () => number,
  opts: { freshnessSeconds?: number; missingCacheSeconds?: number } = {},
): NotaryTrustSource {
  return new NotaryTrustSource({
    store,
    logger,
    freshnessSeconds: opts.freshnessSeconds ?? 60,
    missingCacheSeconds: opts.missingCacheSeconds ?? 30,
    clock,
    fetcherFor: () => fetcher,
  });
}

function without(files: TufFiles, ...names: string[]): TufFiles {
  const out = new Map(files);
  for (const n of names) assert.ok(out.delete(n), `${n} is served`);
  return out;
}

function expiresOf(file: Buffer): Date {
  return new Date(String(signedOf(file)['expires']));
}

describe('updateRepository on real notary data', () => {
  let notary: NotaryServer;
  let cli: NotaryCli;

  before(async () => {
    notary = await startNotaryServer({ tls: false });
    cli = await createNotaryCli({ server: notary });
  });
  after(async () => {
    await stopAll(cli, notary);
  });

  describe('happy path', () => {
    const gun = 'docker.io/acme/happy';
    const m1 = manifest('happy 1.0');
    const m2 = manifest('happy 2.0');
    const html = manifest('html');
    const HTML_NAMES = ['a<b&c', 'x>y\u2028z'];
    let first: CapturedRepo;
    let second: CapturedRepo;
    const store = new MemoryTrustStateStore();
    const fetcher = new ReplayFetcher();

    before(async () => {
      await cli.init(gun, { serverManagedSnapshot: true });
      await cli.addHash(gun, '1.0', m1.size, m1.hex);
      for (const name of HTML_NAMES) await cli.addHash(gun, name, html.size, html.hex);
      first = await captureRepo(notary, gun);
      await cli.addHash(gun, '2.0', m2.size, m2.hex);
      second = await captureRepo(notary, gun);
    });

    test('a first update verifies every role, persists the raw files and the versions', async () => {
      const repo = await update(gun, fetcher.serve(first.files), store);
      assert.deepEqual(repo.versions, {
        root: first.versions['root'],
        timestamp: first.versions['timestamp'],
        snapshot: first.versions['snapshot'],
        targets: first.versions['targets'],
      });
      assert.deepEqual(await store.versions(SERVER, gun), repo.versions);
      for (const role of ['root', 'timestamp', 'snapshot', 'targets']) {
        assert.deepEqual(await store.read(SERVER, gun, `${role}.json`), first.parts[role], role);
      }
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: m1.digest, size: m1.size });
      assert.equal(repo.chooseTarget('2.0'), undefined);
      // Without a cache: root.json (100 MiB cap), then timestamp, then snapshot and targets by hash name.
      assert.deepEqual(fetcher.fetched(), [
        'root.json',
        'timestamp.json',
        `snapshot.${sha256Hex(first.parts['snapshot'] as Buffer)}.json`,
        `targets.${sha256Hex(first.parts['targets'] as Buffer)}.json`,
      ]);
      // Each download is capped: root 100 MiB, timestamp 1 MiB, the others at the length their parent lists.
      assert.deepEqual(
        fetcher.calls.map((c) => c.maxBytes),
        [104_857_600, 1_048_576, (first.parts['snapshot'] as Buffer).length, (first.parts['targets'] as Buffer).length],
      );
    });

    test('a second update with nothing changed downloads only timestamp.json', async () => {
      fetcher.reset();
      const repo = await update(gun, fetcher, store);
      assert.deepEqual(fetcher.fetched(), ['timestamp.json']);
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: m1.digest, size: m1.size });
    });

    test('a new version of targets is picked up (and only the changed files are downloaded)', async () => {
      assert.ok((second.versions['targets'] ?? 0) > (first.versions['targets'] ?? 0));
      const repo = await update(gun, fetcher.serve(second.files), store);
      assert.equal(repo.versions['targets'], second.versions['targets']);
      assert.equal(repo.versions['snapshot'], second.versions['snapshot']);
      assert.deepEqual(repo.chooseTarget('2.0'), { role: 'targets', digest: m2.digest, size: m2.size });
      assert.deepEqual(fetcher.fetched(), [
        'timestamp.json',
        `snapshot.${sha256Hex(second.parts['snapshot'] as Buffer)}.json`,
        `targets.${sha256Hex(second.parts['targets'] as Buffer)}.json`,
      ]);
      assert.deepEqual(await store.versions(SERVER, gun), repo.versions);
    });

    test('target names Go HTML-escapes on the wire (< > & U+2028) verify and are found by chooseTarget', async () => {
      const wire = (second.parts['targets'] as Buffer).toString('utf8');
      assert.match(wire, /a\\u003cb\\u0026c/);
      assert.match(wire, /x\\u003ey\\u2028z/);
      assert.ok(!wire.includes('a<b&c'));
      const repo = await update(gun, new ReplayFetcher(second.files), new MemoryTrustStateStore());
      for (const name of HTML_NAMES) {
        assert.deepEqual(repo.chooseTarget(name), { role: 'targets', digest: html.digest, size: html.size }, name);
        assert.ok(
          repo.listTargets().some((t) => t.tag === name),
          name,
        );
      }
      assert.equal(repo.chooseTarget('a\\u003cb\\u0026c'), undefined);
    });
  });

  describe('root rotation', () => {
    const gun = 'docker.io/acme/rotate';
    const m1 = manifest('rotate 1.0');
    let v1: CapturedRepo;
    let v3: CapturedRepo;

    /** A store whose trusted root is v1 (and whose snapshot names v1). */
    async function storeAtV1(): Promise<MemoryTrustStateStore> {
      const store = new MemoryTrustStateStore();
      const repo = await update(gun, new ReplayFetcher(v1.files), store);
      assert.equal(repo.versions['root'], 1);
      return store;
    }

    before(async () => {
      await cli.init(gun);
      await cli.addHash(gun, '1.0', m1.size, m1.hex);
      v1 = await captureRepo(notary, gun);
      await cli.keyRotate(gun, 'root');
      await cli.keyRotate(gun, 'root');
      v3 = await captureRepo(notary, gun);
      assert.equal(v1.versions['root'], 1);
      assert.equal(v3.versions['root'], 3);
      assert.ok(v3.files.has('2.root.json') && v3.files.has('3.root.json'));
    });

    test('cached root v1, the real server now at v3: rotates to v3 (root by the checksum of the snapshot that revealed it, 2.root.json walked)', async () => {
      const store = await storeAtV1();
      // Everything the real server serves now, old checksum names included: the live server itself.
      const calls: Array<{ file: string; maxBytes: number }> = [];
      const live: MetadataFetcher = {
        async fetch(g, file, maxBytes) {
          calls.push({ file, maxBytes });
          const reply = await cli.fetchRole(g, file.replace(/\.json$/, ''));
          return reply.status === 200 ? { kind: 'ok', bytes: reply.body } : { kind: 'not_found' };
        },
      };
      const repo = await update(gun, live, store);
      assert.equal(repo.versions['root'], 3);
      assert.deepEqual(await store.read(SERVER, gun, 'root.json'), v3.parts['root']);
      assert.equal((await store.versions(SERVER, gun))['root'], 3);
      const v3Root = v3.parts['root'] as Buffer;
      const files = calls.map((c) => c.file);
      const byChecksum = files.indexOf(`root.${sha256Hex(v3Root)}.json`);
      assert.ok(byChecksum >= 0 && files.indexOf('2.root.json') > byChecksum, files.join(' '));
      assert.equal(calls[byChecksum]?.maxBytes, v3Root.length, 'capped at the length the snapshot lists');
      // The old root, which a real server still serves by its checksum, is never asked for.
      assert.ok(!files.includes(`root.${sha256Hex(v1.parts['root'] as Buffer)}.json`), files.join(' '));
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: m1.digest, size: m1.size });
    });

    test('cached root v1, server at v3 without consistent root names: root.json, then 2.root.json walked', async () => {
      const store = await storeAtV1();
      const fetcher = new ReplayFetcher(without(v3.files, `root.${sha256Hex(v3.parts['root'] as Buffer)}.json`));
      const repo = await update(gun, fetcher, store);
      assert.equal(repo.versions['root'], 3);
      assert.deepEqual(await store.read(SERVER, gun, 'root.json'), v3.parts['root']);
      const fetched = fetcher.fetched();
      const walk = ['root.json', '2.root.json'].map((f) => fetched.indexOf(f));
      assert.ok(walk[0] !== undefined && walk[1] !== undefined && walk[0] >= 0 && walk[1] > walk[0], fetched.join(' '));
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: m1.digest, size: m1.size });
    });

    test("an expired cached root is replaced by the server's current root (root.json), even though the server still serves the old one by checksum", async () => {
      // A root that expires in a day (re-signed with the client's real root key; the certificate is the real one).
      const real = v1.parts['root'] as Buffer;
      const forger = await RepoForger.fromTrustDir(cli.trustDir, real);
      const t0 = Date.now();
      const shortRoot = forger.root(real, (s) => (s['expires'] = new Date(t0 + DAY).toISOString()));
      const first = forger.publish({ root: shortRoot, targets: v1.parts['targets'] as Buffer }, { version: 1, expires: new Date(t0 + 30 * DAY) });
      const store = new MemoryTrustStateStore();
      await update(gun, new ReplayFetcher(first.files), store, { now: new Date(t0) });
      // Version 2 of the root, valid for long; the server keeps serving version 1 by its checksum and as 1.root.json.
      const longRoot = forger.root(real, (s) => (s['version'] = 2));
      const second = forger.publish({ root: longRoot, targets: v1.parts['targets'] as Buffer }, { version: 2, expires: new Date(t0 + 30 * DAY) });
      const files = new Map(second.files);
      files.set(`root.${sha256Hex(shortRoot)}.json`, shortRoot);
      files.set('1.root.json', shortRoot);
      files.set('2.root.json', longRoot);
      const repo = await update(gun, new ReplayFetcher(files), store, { now: new Date(t0 + 2 * DAY) });
      assert.equal(repo.versions['root'], 2);
    });

    test("a v3 not signed by v2's keys is refused (rotation needs the previous root's threshold)", async () => {
      const store = await storeAtV1();
      const v2Root = signedOf(v3.files.get('2.root.json') as Buffer) as { roles: { root: { keyids: string[] } } };
      const v2Keys = new Set(v2Root.roles.root.keyids);
      const real = v3.parts['root'] as Buffer;
      assert.equal((JSON.parse(real.toString()) as { signatures: unknown[] }).signatures.length, 2);
      const onlyNewKey = dropSignatures(real, (id) => !v2Keys.has(id));
      const files = new Map(v3.files);
      for (const name of ['root.json', '3.root.json', `root.${sha256Hex(real)}.json`]) files.set(name, onlyNewKey);
      await rejectsTrust(
        update(gun, new ReplayFetcher(files), store),
        'threshold',
        /root version 3 of docker\.io\/acme\/rotate is not signed by the trusted root's keys/,
      );
      assert.deepEqual(await store.read(SERVER, gun, 'root.json'), v1.parts['root']);
    });

    test('a rotation gap (2.root.json missing) is refused', async () => {
      const store = await storeAtV1();
      const fetcher = new ReplayFetcher(without(v3.files, '2.root.json'));
      await rejectsTrust(update(gun, fetcher, store), 'threshold', /version 2 of root\.json is not available/);
      assert.ok(fetcher.fetched().includes('2.root.json'));
      assert.deepEqual(await store.read(SERVER, gun, 'root.json'), v1.parts['root']);
    });
  });

  describe('server-side key rotations (notary key rotate <gun> timestamp|snapshot -r), followed against the real server', () => {
    const m1 = manifest('keyrot 1.0');
    const live = (): MetadataFetcher & { files: string[] } => ({
      files: [],
      async fetch(g, file) {
        this.files.push(file);
        const reply = await cli.fetchRole(g, file.replace(/\.json$/, ''));
        return reply.status === 200 ? { kind: 'ok', bytes: reply.body } : { kind: 'not_found' };
      },
    });

    /** A repository seen by a client, then the server rotates `role`'s key; the client updates again. */
    async function rotateAndUpdate(gun: string, role: 'timestamp' | 'snapshot'): Promise<void> {
      await cli.init(gun, { serverManagedSnapshot: true });
      await cli.addHash(gun, '1.0', m1.size, m1.hex);
      const store = new MemoryTrustStateStore();
      const before1 = await update(gun, live(), store);
      await cli.keyRotate(gun, role, { serverManaged: true });
      const after = await captureRepo(notary, gun);
      assert.ok((after.versions['root'] ?? 0) > (before1.versions['root'] ?? 0));
      const fetcher = live();
      const repo = await update(gun, fetcher, store);
      assert.equal(repo.versions['root'], after.versions['root'], fetcher.files.join(' '));
      assert.equal(repo.chooseTarget('1.0')?.digest, m1.digest);
    }

    test('a new timestamp key: the root that names it is fetched and the update succeeds', () => rotateAndUpdate('docker.io/acme/keyrot-ts', 'timestamp'));

    test('a new snapshot key: the root that names it is fetched and the update succeeds', () => rotateAndUpdate('docker.io/acme/keyrot-snap', 'snapshot'));
  });

  describe('trust pinning', () => {
    const gun = 'docker.io/acme/pinned';
    const m1 = manifest('pinned 1.0');
    let own: NotaryCli;
    let repo: CapturedRepo;
    let canonicalId: string;
    let certId: string;
    let tmp: string;

    before(async () => {
      tmp = await makeTempDir('pinning');
      // A notary client of its own, so that `notary key list` shows this repository's root key only.
      own = await createNotaryCli({ server: notary });
      await own.init(gun, { serverManagedSnapshot: true });
      await own.addHash(gun, '1.0', m1.size, m1.hex);
      repo = await captureRepo(notary, gun);
      const roots = (await own.keyList()).filter((k) => k.role === 'root');
      assert.equal(roots.length, 1);
      canonicalId = (roots[0] as { keyId: string }).keyId;
      const root = signedOf(repo.parts['root'] as Buffer) as {
        roles: { root: { keyids: string[] } };
        keys: Record<string, { keytype: string; keyval: { public: string } }>;
      };
      certId = root.roles.root.keyids[0] as string;
    });
    after(async () => {
      await stopAll(own);
      if (tmp) await removeDir(tmp);
    });

    test('the two IDs of an x509 root key differ, and `notary key list` shows the canonical one', async () => {
      const root = signedOf(repo.parts['root'] as Buffer) as { keys: Record<string, { keytype: string; keyval: { public: string } }> };
      const key = root.keys[certId];
      assert.ok(key);
      assert.equal(key.keytype, 'ecdsa-x509');
      assert.notEqual(canonicalId, certId);
      assert.equal(canonicalKeyId({ keytype: key.keytype, public: Buffer.from(key.keyval.public, 'base64') }), canonicalId);
    });

    test('a keyIds pin with the canonical ID (`notary key list`) is accepted', async () => {
      const pinned = await update(gun, new ReplayFetcher(repo.files), new MemoryTrustStateStore(), {
        pinning: { keyIds: [canonicalId], caPems: [], tofu: false },
      });
      assert.deepEqual(pinned.chooseTarget('1.0'), { role: 'targets', digest: m1.digest, size: m1.size });
    });

    test('a keyIds pin with the certificate-bundle ID of root.json is accepted', async () => {
      const pinned = await update(gun, new ReplayFetcher(repo.files), new MemoryTrustStateStore(), { pinning: { keyIds: [certId], caPems: [], tofu: false } });
      assert.equal(pinned.versions['root'], repo.versions['root']);
    });

    test('a wrong pin is refused with RootNotPinnedError, nothing is cached, and Signet denies root_not_pinned', async () => {
      const wrong = freshKey('ecdsa').keyid;
      const store = new MemoryTrustStateStore();
      const pinning = { keyIds: [wrong], caPems: [], tofu: true }; // a pin wins over TOFU
      await assert.rejects(update(gun, new ReplayFetcher(repo.files), store, { pinning }), (err: unknown) => {
        assert.ok(err instanceof RootNotPinnedError, String(err));
        assert.match(err.message, /not among the pinned root key IDs/);
        return true;
      });
      assert.equal(await store.read(SERVER, gun, 'root.json'), undefined);
      const src = source(store, new ReplayFetcher(repo.files), Date.now);
      await deniedWith(src.load({ name: gun }, { ...LOAD, roots: pinning }), 'root_not_pinned', /require\.notary\.roots/);
    });

    test('no pin and no TOFU: RootNotPinnedError', async () => {
      await assert.rejects(
        update(gun, new ReplayFetcher(repo.files), new MemoryTrustStateStore(), { pinning: { keyIds: [], caPems: [], tofu: false } }),
        RootNotPinnedError,
      );
    });

    test('CA pinning, real root certificate issued by a test CA (`notary init --rootkey --rootcert`): accepted; an unrelated CA is not', async () => {
      const caGun = 'docker.io/acme/ca-pinned';
      const f = (name: string): string => join(tmp, name);
      await runOk('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        f('ca.key'),
        '-out',
        f('ca.crt'),
        '-days',
        '3650',
        '-subj',
        '/CN=Signet Attack Test CA',
        '-addext',
        'basicConstraints=critical,CA:TRUE',
        '-addext',
        'keyUsage=critical,keyCertSign,cRLSign',
      ]);
      await runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('root.pem')]);
      // Notary 0.7 imports only encrypted PKCS#8 root keys with the PBKDF2-HMAC-SHA1 PRF.
      await runOk('openssl', [
        'pkcs8',
        '-topk8',
        '-v2',
        'aes-256-cbc',
        '-v2prf',
        'hmacWithSHA1',
        '-passout',
        `pass:${DEFAULT_NOTARY_PASSPHRASES.root}`,
        '-in',
        f('root.pem'),
        '-out',
        f('root.key'),
      ]);
      await runOk('openssl', ['req', '-new', '-key', f('root.pem'), '-subj', `/CN=${caGun.replaceAll('/', '\\/')}`, '-out', f('leaf.csr')]);
      await writeFile(f('leaf.cnf'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n');
      await runOk('openssl', [
        'x509',
        '-req',
        '-in',
        f('leaf.csr'),
        '-CA',
        f('ca.crt'),
        '-CAkey',
        f('ca.key'),
        '-CAcreateserial',
        '-out',
        f('leaf.crt'),
        '-days',
        '365',
        '-extfile',
        f('leaf.cnf'),
      ]);
      await own.runOk(['init', caGun, '--rootkey', f('root.key'), '--rootcert', f('leaf.crt'), '-p']);
      await own.addHash(caGun, '1.0', m1.size, m1.hex);
      const caRepo = await captureRepo(notary, caGun);
      const ca = { path: f('ca.crt'), pem: await readFile(f('ca.crt'), 'utf8') };
      const pinned = await update(caGun, new ReplayFetcher(caRepo.files), new MemoryTrustStateStore(), { pinning: { keyIds: [], caPems: [ca], tofu: false } });
      assert.deepEqual(pinned.chooseTarget('1.0'), { role: 'targets', digest: m1.digest, size: m1.size });

      await runOk('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        f('other.key'),
        '-out',
        f('other.crt'),
        '-days',
        '3650',
        '-subj',
        '/CN=Other CA',
      ]);
      const other = { path: f('other.crt'), pem: await readFile(f('other.crt'), 'utf8') };
      await assert.rejects(
        update(caGun, new ReplayFetcher(caRepo.files), new MemoryTrustStateStore(), { pinning: { keyIds: [], caPems: [other], tofu: true } }),
        (err: unknown) => err instanceof RootNotPinnedError && /chains to the pinned CA/.test(err.message),
      );
      // A self-signed root (notary init's own) never chains to a CA either.
      await assert.rejects(
        update(gun, new ReplayFetcher(repo.files), new MemoryTrustStateStore(), { pinning: { keyIds: [], caPems: [ca], tofu: true } }),
        RootNotPinnedError,
      );
    });

    test('CA pinning, fixture rsa-ca-root (clock injected at its generation time): a codeSigning-only leaf is refused as Notary (Go x509 Verify, serverAuth) refuses it', async () => {
      const info = fixtureInfo('rsa-ca-root');
      const parts: Record<string, Buffer> = {};
      for (const role of ['root', 'targets', 'snapshot', 'timestamp']) parts[role] = fixtureBytes(`rsa-ca-root/${role}.json`);
      const now = fixtureNow('rsa-ca-root');
      const caAndIntermediate =
        (await readFile(join(FIXTURES, 'rsa-ca-root/ca.crt'), 'utf8')) + (await readFile(join(FIXTURES, 'rsa-ca-root/intermediate.crt'), 'utf8'));
      const files = repoFiles(parts);
      // The data itself is sound at its generation time: with TOFU it verifies.
      const tofu = await update(info.gun, new ReplayFetcher(files), new MemoryTrustStateStore(), { now });
      assert.equal(tofu.chooseTarget('v1')?.size, info.targets?.['targets']?.['v1']);
      // trustpin.go caCheck calls leaf.Verify with no KeyUsages, i.e. serverAuth: the fixture's
      // leaf (extendedKeyUsage=codeSigning) has no chain, whatever CA bundle is pinned.
      await assert.rejects(
        update(info.gun, new ReplayFetcher(files), new MemoryTrustStateStore(), {
          now,
          pinning: { keyIds: [], caPems: [{ path: 'ca+intermediate.pem', pem: caAndIntermediate }], tofu: true },
        }),
        (err: unknown) => err instanceof RootNotPinnedError && /no valid certificate chain/.test(err.message),
      );
      // And the same files fifteen days later: the timestamp has expired (why the clock is injected).
      await rejectsTrust(
        update(info.gun, new ReplayFetcher(files), new MemoryTrustStateStore(), { now: new Date(now.getTime() + 15 * DAY) }),
        'expired',
        /timestamp metadata expired/,
      );
    });
  });

  describe('delegations', () => {
    const gun = 'docker.io/acme/deleg';
    const inTargets = manifest('deleg 1.0 in targets');
    const inReleases = manifest('deleg 1.0 in releases');
    const inOther = manifest('deleg 1.0 in other');
    const qa = manifest('deleg qa-1');
    const rel2 = manifest('deleg rel-2');
    let early: CapturedRepo; // releases holds 1.0 only
    let full: CapturedRepo;
    let releasesKey: DelegationKey;
    let forger: RepoForger;
    let forgedRoot: Buffer;
    const future = (): Date => new Date(Date.now() + 30 * DAY);

    /** The roles of `full` with `root` replaced by the forged one and `changes` applied (undefined drops a role). */
    function roles(changes: Record<string, Buffer | undefined> = {}): Record<string, Buffer> {
      const out: Record<string, Buffer> = {};
      // `changes` maps a dropped role to undefined; the spread's inferred type would claim a Buffer.
      const merged: Record<string, Buffer | undefined> = { ...full.parts, root: forgedRoot, ...changes };
      for (const [role, bytes] of Object.entries(merged)) {
        if (role === 'snapshot' || role === 'timestamp' || bytes === undefined) continue;
        out[role] = bytes;
      }
      return out;
    }

    before(async () => {
      await cli.init(gun); // client-managed snapshot: the forger re-signs snapshots with it
      await cli.addHash(gun, '1.0', inTargets.size, inTargets.hex);
      releasesKey = await cli.generateDelegationKey('targets/releases');
      // `docker trust signer add alice`: targets/alice and targets/releases with the same key.
      await cli.delegationAdd(gun, 'targets/releases', [releasesKey.certPath]);
      await cli.delegationAdd(gun, 'targets/alice', [releasesKey.certPath]);
      await cli.addHash(gun, '1.0', inReleases.size, inReleases.hex, { roles: ['targets/releases', 'targets/alice'] });
      early = await captureRepo(notary, gun);
      const qaKey = await cli.generateDelegationKey('targets/releases/qa');
      await cli.delegationAdd(gun, 'targets/releases/qa', [qaKey.certPath]);
      await cli.addHash(gun, 'qa-1', qa.size, qa.hex, { roles: ['targets/releases/qa'] });
      const otherKey = await cli.generateDelegationKey('targets/other');
      await cli.delegationAdd(gun, 'targets/other', [otherKey.certPath]);
      await cli.addHash(gun, 'only-other', inOther.size, inOther.hex, { roles: ['targets/other'] });
      await cli.addHash(gun, '1.0', inOther.size, inOther.hex, { roles: ['targets/other'] });
      await cli.addHash(gun, 'rel-2', rel2.size, rel2.hex, { roles: ['targets/releases'] });
      full = await captureRepo(notary, gun);
      for (const role of ['targets/releases', 'targets/alice', 'targets/releases/qa', 'targets/other']) assert.ok(full.parts[role], role);
      forger = await RepoForger.fromTrustDir(cli.trustDir, full.parts['root'] as Buffer);
      forgedRoot = forger.root(full.parts['root'] as Buffer);
    });

    async function releasesSigner(): Promise<SigningKey> {
      const targets = signedOf(full.parts['targets'] as Buffer) as { delegations: { roles: Array<{ name: string; keyids: string[] }> } };
      const keyid = targets.delegations.roles.find((r) => r.name === 'targets/releases')?.keyids[0];
      assert.ok(keyid);
      return delegationSigningKey(releasesKey.keyPath, keyid);
    }

    test("the real repository: every delegation verifies; Docker's choice takes targets/releases over targets", async () => {
      const repo = await update(gun, new ReplayFetcher(full.files), new MemoryTrustStateStore());
      for (const role of ['targets', 'targets/releases', 'targets/alice', 'targets/releases/qa', 'targets/other'])
        assert.equal(repo.versions[role], full.versions[role], role);
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets/releases', digest: inReleases.digest, size: inReleases.size });
      assert.deepEqual(repo.targetByName('1.0', ['targets'])?.role, 'targets');
      assert.deepEqual(repo.chooseTarget('rel-2'), { role: 'targets/releases', digest: rel2.digest, size: rel2.size });
    });

    test('a hit only in targets/other (or deeper than releases) is not accepted', async () => {
      const repo = await update(gun, new ReplayFetcher(full.files), new MemoryTrustStateStore());
      assert.equal(repo.targetByName('only-other', ['targets/releases', 'targets'])?.role, 'targets/other');
      assert.equal(repo.chooseTarget('only-other'), undefined);
      assert.equal(repo.targetByName('qa-1', ['targets/releases', 'targets'])?.role, 'targets/releases/qa');
      assert.equal(repo.chooseTarget('qa-1'), undefined);
      assert.ok(!repo.listTargets().some((t) => t.tag === 'only-other' || t.tag === 'qa-1'));
    });

    test('required signers: signersOf names each targets/<name> that signed the tag (releases excluded)', async () => {
      const repo = await update(gun, new ReplayFetcher(full.files), new MemoryTrustStateStore());
      const signers = repo.signersOf('1.0');
      assert.deepEqual([...signers.keys()].sort(), ['alice', 'other']);
      assert.equal(signers.get('alice')?.digest, inReleases.digest);
      assert.equal(signers.get('other')?.digest, inOther.digest);
      assert.deepEqual([...repo.signersOf('rel-2').keys()], []);
    });

    test('the forged repository (same delegations, snapshot and timestamp re-signed) behaves like the real one', async () => {
      const world = forger.publish(roles(), { version: 1, expires: future() });
      const repo = await update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore());
      assert.equal(repo.chooseTarget('1.0')?.role, 'targets/releases');
    });

    test('an expired delegation is dropped with its subtree: the tag falls back to targets', async () => {
      const signer = await releasesSigner();
      const expired = resign(full.parts['targets/releases'] as Buffer, (s) => (s['expires'] = new Date(Date.now() - DAY).toISOString()), [signer]);
      const world = forger.publish(roles({ 'targets/releases': expired }), { version: 1, expires: future() });
      const repo = await update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore());
      assert.equal(repo.versions['targets/releases'], undefined);
      assert.equal(repo.versions['targets/releases/qa'], undefined, 'the subtree goes with it');
      assert.ok(repo.versions['targets/alice'] !== undefined && repo.versions['targets/other'] !== undefined);
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: inTargets.digest, size: inTargets.size });
      assert.equal(repo.chooseTarget('rel-2'), undefined);
      assert.equal(repo.targetByName('qa-1', ['targets/releases', 'targets']), undefined);
    });

    test('a delegation under its threshold (signed by another key) is dropped with its subtree', async () => {
      const stranger = freshKey('ecdsa');
      const unsigned = resign(full.parts['targets/releases'] as Buffer, () => undefined, [stranger]);
      const world = forger.publish(roles({ 'targets/releases': unsigned }), { version: 1, expires: future() });
      const repo = await update(gun, new ReplayFetcher(world.files), new MemoryTrustStateStore());
      assert.equal(repo.versions['targets/releases'], undefined);
      assert.equal(repo.versions['targets/releases/qa'], undefined);
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: inTargets.digest, size: inTargets.size });
    });

    test('a hash mismatch in a delegation is fatal (an older real releases file under the current names)', async () => {
      const older = early.parts['targets/releases'] as Buffer;
      const current = full.parts['targets/releases'] as Buffer;
      assert.ok(older.length <= current.length, 'the older file fits the listed length');
      const files = new Map(full.files);
      files.set('targets/releases.json', older);
      files.set(`targets/releases.${sha256Hex(current)}.json`, older);
      await rejectsTrust(update(gun, new ReplayFetcher(files), new MemoryTrustStateStore()), 'hash_mismatch', /targets\/releases: sha256 checksum mismatch/);
    });

    test('a delegation the snapshot does not list is ignored (never even downloaded)', async () => {
      const listed = roles();
      const snapshot = forger.snapshot(roles({ 'targets/releases': undefined, 'targets/releases/qa': undefined }), { version: 1, expires: future() });
      const world = forger.publish(listed, { version: 1, expires: future(), snapshot });
      const fetcher = new ReplayFetcher(world.files);
      const repo = await update(gun, fetcher, new MemoryTrustStateStore());
      assert.ok(!fetcher.fetched().some((f) => f.startsWith('targets/releases')), fetcher.fetched().join(' '));
      assert.equal(repo.versions['targets/releases'], undefined);
      assert.deepEqual(repo.chooseTarget('1.0'), { role: 'targets', digest: inTargets.digest, size: inTargets.size });
      assert.equal(repo.signersOf('1.0').get('alice')?.digest, inReleases.digest);
    });
  });

  describe('trust server unreachable, freshness, missing trust data', () => {
    const gun = 'docker.io/acme/offline';
    const m1 = manifest('offline 1.0');
    let repo: CapturedRepo;
    let dir: string;

    before(async () => {
      dir = await makeTempDir('trust-state');
      await cli.init(gun, { serverManagedSnapshot: true });
      await cli.addHash(gun, '1.0', m1.size, m1.hex);
      repo = await captureRepo(notary, gun);
    });
    after(async () => {
      if (dir) await removeDir(dir);
    });

    test('within freshnessSeconds nothing is fetched; after it only timestamp.json', async () => {
      let now = Date.now();
      const fetcher = new ReplayFetcher(repo.files);
      const src = source(new MemoryTrustStateStore(), fetcher, () => now, { freshnessSeconds: 60 });
      await src.load({ name: gun }, LOAD);
      fetcher.reset();
      now += 59_000;
      assert.equal((await src.load({ name: gun }, LOAD)).chooseTarget('1.0')?.digest, m1.digest);
      assert.deepEqual(fetcher.fetched(), []);
      now += 2_000;
      await src.load({ name: gun }, LOAD);
      assert.deepEqual(fetcher.fetched(), ['timestamp.json']);
    });

    test('the persisted state stands in while the server is down, until its metadata expires, never beyond', async () => {
      const t0 = Date.now();
      const fetcher = new ReplayFetcher(repo.files);
      const first = source(new DiskTrustStateStore(dir), fetcher, () => t0);
      assert.equal((await first.load({ name: gun }, LOAD)).chooseTarget('1.0')?.digest, m1.digest);

      // Restart (new source, new store over the same directory); the trust server is down.
      fetcher.down = true;
      fetcher.reset();
      const tsExpiry = expiresOf(repo.parts['timestamp'] as Buffer).getTime();
      assert.ok(tsExpiry > t0 + 13 * DAY && tsExpiry < t0 + 15 * DAY, 'notary-server timestamps live 14 days');
      let now = tsExpiry - 60_000;
      const restarted = source(new DiskTrustStateStore(dir), fetcher, () => now, { freshnessSeconds: 3600 });
      const offline = await restarted.load({ name: gun }, LOAD);
      assert.equal(offline.chooseTarget('1.0')?.digest, m1.digest);
      assert.deepEqual(fetcher.fetched(), ['timestamp.json'], 'only the timestamp was asked for; the rest came from disk');

      // Past the timestamp's expiry: refused, even though the in-memory entry is still "fresh".
      now = tsExpiry + 1;
      await deniedWith(restarted.load({ name: gun }, LOAD), 'trust_unavailable', /cannot download the root/);
      // Another restart, same verdict.
      await deniedWith(source(new DiskTrustStateStore(dir), fetcher, () => now).load({ name: gun }, LOAD), 'trust_unavailable');
    });

    test('the trust server down and nothing cached: trust_unavailable', async () => {
      const fetcher = new ReplayFetcher(repo.files);
      fetcher.down = true;
      await deniedWith(source(new MemoryTrustStateStore(), fetcher, Date.now).load({ name: gun }, LOAD), 'trust_unavailable', /no trust data cached/);
    });

    test('"no trust data" (root.json 404) is remembered for missingCacheSeconds', async () => {
      const unsigned = 'docker.io/acme/unsigned';
      let now = Date.now();
      const fetcher = new ReplayFetcher(new Map());
      const src = source(new MemoryTrustStateStore(), fetcher, () => now, { missingCacheSeconds: 30 });
      await deniedWith(src.load({ name: unsigned }, LOAD), 'no_trust_data');
      assert.deepEqual(fetcher.fetched(), ['root.json']);
      now += 29_000;
      await deniedWith(src.load({ name: unsigned }, LOAD), 'no_trust_data');
      assert.equal(fetcher.calls.length, 1, 'answered from the negative cache');
      now += 2_000;
      await deniedWith(src.load({ name: unsigned }, LOAD), 'no_trust_data');
      assert.equal(fetcher.calls.length, 2, 'asked again once missingCacheSeconds passed');
    });
  });
});
