import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { MemoryProvenanceStore } from '../../../src/cache/memory/provenance.js';
import type { ProvenanceRoot, ProvenanceStore } from '../../../src/cache/ports.js';
import { connectRedis, type RedisState } from '../../../src/cache/redis/client.js';
import { RedisDecisionLog } from '../../../src/cache/redis/decision-log.js';
import { RedisProvenanceStore } from '../../../src/cache/redis/provenance.js';
import { RedisTagStore } from '../../../src/cache/redis/tags.js';
import { RedisTrustStateStore } from '../../../src/cache/redis/trust-state.js';
import { RedisVerdictStore } from '../../../src/cache/redis/verdicts.js';
import { stopAll } from '../../harness/cleanup.js';
import { freePort } from '../../harness/ports.js';
import { poll } from '../../harness/poll.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';
import { provenanceContract, tagContract, trustStateContract } from '../../unit/cache/state-contract.js';
import { sha256 } from '../../unit/cache/helpers.js';

/**
 * The Redis state backends against a real redis-server (append-only persistence): the state
 * ports' contracts, replicas writing at once, a Redis restart, and a Redis that is down.
 */

const silent = pino({ level: 'silent' });
let server: RedisServer | undefined;
const states: RedisState[] = [];
let prefixes = 0;

function running(): RedisServer {
  return server ?? assert.fail('redis-server did not start');
}

/** A connection with a key prefix no other test uses (or `prefix`, to share one as replicas do). */
async function connect(url = running().url, prefix = `t${++prefixes}:`): Promise<RedisState> {
  const state = await connectRedis({ url, keyPrefix: prefix, logger: silent, connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 });
  states.push(state);
  return state;
}

before(async () => {
  server = await startRedis();
});

after(async () => {
  await stopAll(...states.map((s) => ({ close: () => s.close() })), server);
});

tagContract('redis', async () => new RedisTagStore({ state: await connect() }));
provenanceContract('redis', async () => new RedisProvenanceStore({ state: await connect() }));

const scope = 'https://notary.example:4443';
const gun = 'registry.example:5000/team/app';
const [d1, d2, d3, d4] = [sha256('1'), sha256('2'), sha256('3'), sha256('4')];

trustStateContract('redis', async () => new RedisTrustStateStore({ state: await connect() }));

/** Beyond the contract: floors only rise, and a role not named keeps its floor (replicas race). */
describe('redis trust state store', () => {
  it('saves rollback floors and reads them back; a save raises floors and never lowers or drops one', async () => {
    const store = new RedisTrustStateStore({ state: await connect() });
    assert.deepEqual(await store.versions(scope, gun), {});
    await store.saveVersions(scope, gun, { root: 2, targets: 7, 'targets/releases': 0, snapshot: 9, timestamp: 12 });
    await store.saveVersions(scope, gun, { root: 3, targets: 5 });
    const floors = await store.versions(scope, gun);
    assert.deepEqual({ ...floors }, { root: 3, targets: 7, 'targets/releases': 0, snapshot: 9, timestamp: 12 });
    await store.saveVersions(scope, gun, Object.fromEntries([['__proto__', 4]]));
    const withProto = await store.versions(scope, gun);
    assert.equal(Object.getPrototypeOf(withProto), Object.prototype);
    assert.equal(Object.getOwnPropertyDescriptor(withProto, '__proto__')?.value, 4);
  });

  it('fails closed on floors that are not non-negative integers, and refuses to overwrite them', async () => {
    const state = await connect();
    const store = new RedisTrustStateStore({ state });
    await store.saveVersions(scope, gun, { root: 1 });
    const [key] = await state.client.keys(`${state.prefix}trust:floors:*`);
    for (const bad of ['-1', '1.5', 'x', '', '99999999999999999']) {
      await state.client.hSet(key ?? assert.fail('no floors key'), 'root', bad);
      await assert.rejects(store.versions(scope, gun), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORAGE_ERROR');
        assert.match(err.message, /denied until it is readable/);
        return true;
      });
    }
    await state.client.hSet(key ?? '', 'root', 'x');
    await assert.rejects(store.saveVersions(scope, gun, { root: 5 }), { code: 'STORAGE_ERROR' });
    assert.equal(await state.client.hGet(key ?? '', 'root'), 'x');
  });
});

describe('redis provenance store', () => {
  const clock = (): number => 1_700_000_000_000;
  const root = (digest: string, verifiedAt: number, tag?: string): ProvenanceRoot => (tag === undefined ? { digest, verifiedAt } : { digest, verifiedAt, tag });

  it('holds exactly what the memory store holds after the same records and dropped roots', async () => {
    const redis = new RedisProvenanceStore({ state: await connect(), clock });
    const memory = new MemoryProvenanceStore({ clock });
    const steps: Array<(s: ProvenanceStore) => Promise<void>> = [
      (s) => s.record('docker.io', 'app', [d1, d2], 'verified', [root(d1, 10, 'v1')]),
      (s) => s.record('docker.io', 'app', [d2, d3], 'verified', [root(d4, 20)]),
      (s) => s.record('docker.io', 'app', [d3], 'artifact'),
      (s) => s.record('docker.io', 'app', [d4], 'unverified'),
      (s) => s.record('docker.io', 'app', [d4], 'artifact', [root(d1, 30)]),
      (s) => s.record('docker.io', 'app', [d1], 'verified'),
      (s) => s.dropRoot('docker.io', 'app', d1),
      (s) => s.dropRoot('docker.io', 'app', sha256('never a root')),
      (s) => s.record('docker.io', 'app', [d1], 'unverified'),
    ];
    for (const [i, step] of steps.entries()) {
      await step(redis);
      await step(memory);
      for (const d of [d1, d2, d3, d4]) {
        assert.deepEqual(await redis.entry('docker.io', 'app', d), await memory.entry('docker.io', 'app', d), `after step ${i}, ${d}`);
      }
    }
    // The end state, spelled out: d1's only root was dropped and it came back as unverified.
    assert.deepEqual(await redis.entry('docker.io', 'app', d1), { kind: 'unverified', roots: [] });
    assert.deepEqual(await redis.entry('docker.io', 'app', d2), { kind: 'verified', roots: [root(d4, 20)] });
    assert.equal(await redis.get('docker.io', 'app', d4), undefined);
  });

  it('grants nothing for an entry it did not write, and replaces it on the next record', async () => {
    const state = await connect();
    const store = new RedisProvenanceStore({ state, clock });
    const key = `${state.prefix}prov:docker.io:app`;
    for (const bad of ['not json', '{"k":"v","r":[]}', '{"k":"x","r":[]}', `{"k":"v","r":[["${d2.toUpperCase()}",1]]}`, `{"k":"v","r":[["${d2}",-1]]}`]) {
      await state.client.hSet(key, d1, bad);
      assert.equal(await store.get('docker.io', 'app', d1), undefined, bad);
    }
    await store.record('docker.io', 'app', [d1], 'artifact');
    assert.deepEqual(await store.entry('docker.io', 'app', d1), { kind: 'artifact', roots: [root(d1, clock())] });
  });

  it('loses no update when two replicas record and drop roots in one repository at once', async () => {
    const prefix = `t${++prefixes}:`;
    const [a, b] = [
      new RedisProvenanceStore({ state: await connect(undefined, prefix), clock }),
      new RedisProvenanceStore({ state: await connect(undefined, prefix), clock }),
    ];
    const digests = Array.from({ length: 40 }, (_, i) => sha256(`c${i}`));
    const shared = sha256('shared layer');
    const r1 = sha256('root 1');
    await a.record('docker.io', 'team/app', [shared], 'verified', [root(r1, 1)]);
    await Promise.all([
      ...digests.map((d, i) => (i % 2 ? a : b).record('docker.io', 'team/app', [d, shared], 'verified', [root(d, i)])),
      // A stronger kind wins whatever the order: unverified and verified race for d1.
      a.record('docker.io', 'team/app', [d1], 'unverified'),
      b.record('docker.io', 'team/app', [d1], 'verified'),
      // Dropping r1 while roots are added: either order ends without r1 and with every other root.
      b.dropRoot('docker.io', 'team/app', r1),
    ]);
    for (const [i, d] of digests.entries()) assert.deepEqual(await a.entry('docker.io', 'team/app', d), { kind: 'verified', roots: [root(d, i)] });
    assert.equal(await b.get('docker.io', 'team/app', d1), 'verified');
    const sharedRoots = (await b.entry('docker.io', 'team/app', shared))?.roots.map((r) => r.digest) ?? [];
    assert.ok(!sharedRoots.includes(r1), 'the dropped root is gone');
    // Bounded to the newest roots (DEFAULTS.provenanceRootsPerDigest), all of them from this race.
    assert.ok(sharedRoots.length > 0 && sharedRoots.every((d) => digests.includes(d)));
  });

  it('reads what another replica recorded, and forgets what another replica dropped', async () => {
    const prefix = `t${++prefixes}:`;
    const [a, b] = [
      new RedisProvenanceStore({ state: await connect(undefined, prefix), clock }),
      new RedisProvenanceStore({ state: await connect(undefined, prefix), clock }),
    ];
    await a.record('docker.io', 'app', [d1, d2], 'verified', [root(d1, 5)]);
    assert.equal(await b.get('docker.io', 'app', d2), 'verified');
    await b.dropRoot('docker.io', 'app', d1);
    assert.equal(await a.get('docker.io', 'app', d2), undefined);
  });
});

describe('redis recent-decisions log', () => {
  it('keeps the newest lines of every replica, oldest first, up to its bound', async () => {
    const a = new RedisDecisionLog({ state: await connect(running().url, 'decisions:'), keep: 5 });
    const b = new RedisDecisionLog({ state: await connect(running().url, 'decisions:'), keep: 5 });
    assert.deepEqual(await a.recent(10), []);
    await a.append(['1', '2']);
    await b.append(['3']);
    assert.deepEqual(await b.recent(10), ['1', '2', '3']);
    assert.deepEqual(await a.recent(2), ['2', '3']);
    await Promise.all(Array.from({ length: 20 }, (_v, i) => (i % 2 ? a : b).append([String(10 + i)])));
    const kept = await a.recent(100);
    assert.equal(kept.length, 5);
    assert.deepEqual(await a.recent(0), []);
  });
});

describe('redis tag store', () => {
  it('treats a damaged record as absent, and expires records after ttlSeconds', async () => {
    const state = await connect();
    const store = new RedisTagStore({ state, ttlSeconds: 3600 });
    const record = { digest: d1, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 1, checkedAt: 2 };
    await store.set('docker.io', 'app', 'v1', record);
    const key = `${state.prefix}tag:docker.io:app:v1`;
    const ttl = await state.client.ttl(key);
    assert.ok(ttl > 3000 && ttl <= 3600, String(ttl));
    await state.client.set(key, '{"digest":');
    assert.equal(await store.get('docker.io', 'app', 'v1'), undefined);
  });
});

describe('concurrent replicas and rollback floors', () => {
  it('never lowers a floor when two replicas save at once', async () => {
    const prefix = `t${++prefixes}:`;
    const [a, b] = [
      new RedisTrustStateStore({ state: await connect(undefined, prefix) }),
      new RedisTrustStateStore({ state: await connect(undefined, prefix) }),
    ];
    const saves: Array<Promise<void>> = [];
    const highest: Record<string, number> = {};
    for (let i = 0; i < 200; i++) {
      // Each replica saves what it read, raised for some roles: stale reads race with fresh ones.
      const floors: Record<string, number> = {};
      for (const role of ['root', 'targets', 'snapshot', 'timestamp']) {
        if ((i * 7 + role.length) % 3 === 0) continue;
        floors[role] = (i * 37 + role.length * 11) % 101;
        highest[role] = Math.max(highest[role] ?? 0, floors[role]);
      }
      saves.push((i % 2 ? a : b).saveVersions(scope, gun, floors));
    }
    await Promise.all(saves);
    assert.deepEqual(await a.versions(scope, gun), highest);
    assert.deepEqual(await b.versions(scope, gun), highest);
  });
});

describe('a Redis restart and a Redis that is down', () => {
  let own: RedisServer | undefined;
  before(async () => {
    // Its own server: these tests stop it. appendfsync always: even a SIGKILL loses nothing acknowledged.
    own = await startRedis({ args: ['--appendfsync', 'always'] });
  });
  after(() => stopAll(own));

  function ownServer(): RedisServer {
    return own ?? assert.fail('redis-server did not start');
  }

  async function back(state: RedisState): Promise<void> {
    await poll('the client to reconnect', () =>
      state
        .ping()
        .then(() => true)
        .catch(() => undefined),
    );
  }

  it('keeps rollback floors, trust files and provenance across a restart (append-only file)', async () => {
    const state = await connect(ownServer().url);
    await state.requireAppendOnly();
    const trust = new RedisTrustStateStore({ state });
    const provenance = new RedisProvenanceStore({ state });
    await trust.saveVersions(scope, gun, { root: 4, targets: 9 });
    await trust.write(scope, gun, 'root.json', Buffer.from('pinned'));
    await provenance.record('docker.io', 'app', [d1], 'verified');
    await ownServer().restart();
    await back(state);
    assert.deepEqual(await trust.versions(scope, gun), { root: 4, targets: 9 });
    assert.equal((await trust.read(scope, gun, 'root.json'))?.toString(), 'pinned');
    assert.equal(await provenance.get('docker.io', 'app', d1), 'verified');
    // A fresh connection (another replica starting) reads the same.
    const fresh = new RedisTrustStateStore({ state: await connect(ownServer().url, state.prefix) });
    assert.deepEqual(await fresh.versions(scope, gun), { root: 4, targets: 9 });
  });

  it('throws STORAGE_ERROR (never "absent") for every read and write while Redis is down, and recovers', async () => {
    const state = await connect(ownServer().url);
    const trust = new RedisTrustStateStore({ state });
    const provenance = new RedisProvenanceStore({ state });
    const tags = new RedisTagStore({ state });
    await trust.saveVersions(scope, gun, { root: 2 });
    await ownServer().kill();
    const down = { code: 'STORAGE_ERROR' };
    await assert.rejects(trust.versions(scope, gun), down);
    await assert.rejects(trust.read(scope, gun, 'root.json'), down);
    await assert.rejects(trust.saveVersions(scope, gun, { root: 3 }), down);
    await assert.rejects(trust.write(scope, gun, 'root.json', Buffer.from('x')), down);
    await assert.rejects(provenance.get('docker.io', 'app', d1), down);
    await assert.rejects(provenance.entry('docker.io', 'app', d1), down);
    await assert.rejects(provenance.record('docker.io', 'app', [d1], 'verified'), down);
    await assert.rejects(provenance.dropRoot('docker.io', 'app', d1), down);
    await assert.rejects(tags.get('docker.io', 'app', 'v1'), down);
    await assert.rejects(state.ping(), down);
    await ownServer().restart();
    await back(state);
    assert.deepEqual(await trust.versions(scope, gun), { root: 2 });
    assert.equal(await provenance.get('docker.io', 'app', d1), undefined);
  });
});

describe('connecting', () => {
  it('reports a Redis it cannot reach as STORAGE_ERROR naming the URL without its credentials', async () => {
    const port = await freePort(); // nothing listens there
    await assert.rejects(
      connectRedis({ url: `redis://signet:hunter2@127.0.0.1:${port}/0`, keyPrefix: 'x:', logger: silent, connectTimeoutMs: 5_000 }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, 'STORAGE_ERROR');
        assert.ok(err.message.includes(`127.0.0.1:${port}`), err.message);
        assert.ok(!err.message.includes('hunter2'), err.message);
        assert.match(err.message, /credentials/);
        return true;
      },
    );
    await assert.rejects(connectRedis({ url: 'http://127.0.0.1:1', keyPrefix: 'x:', logger: silent, connectTimeoutMs: 1_000 }), { code: 'CONFIG_INVALID' });
  });

  it('authenticates, refuses a wrong password, and tells a Redis without append-only persistence', async (t) => {
    const guarded = await startRedis({ args: ['--requirepass', 'right-pass', '--appendonly', 'no'] });
    t.after(() => guarded.stop());
    await assert.rejects(
      connectRedis({ url: guarded.url, password: 'wrong-pass', keyPrefix: 'x:', logger: silent, connectTimeoutMs: 5_000 }),
      (err: Error & { code?: string }) => err.code === 'STORAGE_ERROR' && !err.message.includes('wrong-pass'),
    );
    const state = await connectRedis({
      url: guarded.url.replace('redis://', 'redis://:right-pass@'),
      keyPrefix: 'x:',
      logger: silent,
      connectTimeoutMs: 5_000,
    });
    t.after(() => state.close());
    await state.ping();
    assert.deepEqual(await state.durability(), { appendOnly: false });
    await assert.rejects(state.requireAppendOnly(), { code: 'STORAGE_ERROR', message: /appendonly yes/ });
  });
});

describe('redis verdict store', () => {
  it('shares a verdict for its lifetime, then forgets it; keys of other prefixes are apart', async () => {
    const store = new RedisVerdictStore({ state: await connect(), logger: silent });
    assert.equal(await store.get('docker.io/app@sha256:1 rule'), undefined);
    await store.set('docker.io/app@sha256:1 rule', '{"v":1}', 300);
    assert.equal(await store.get('docker.io/app@sha256:1 rule'), '{"v":1}');
    const other = new RedisVerdictStore({ state: await connect(), logger: silent });
    assert.equal(await other.get('docker.io/app@sha256:1 rule'), undefined);
    await store.set('zero', 'x', 0);
    assert.equal(await store.get('zero'), undefined);
    await poll('the verdict to expire', async () => ((await store.get('docker.io/app@sha256:1 rule')) === undefined ? true : undefined));
  });
});
