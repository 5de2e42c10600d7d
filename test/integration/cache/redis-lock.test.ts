import assert from 'node:assert/strict';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { connectRedis, type RedisState } from '../../../src/cache/redis/client.js';
import { RedisLocks, type LockHandle } from '../../../src/cache/redis/lock.js';
import { stopAll } from '../../harness/cleanup.js';
import { poll } from '../../harness/poll.js';
import { startRedis, type RedisServer } from '../../harness/redis.js';

/**
 * The single-flight lock of the replicas against a real redis-server. Several connections
 * sharing one key prefix stand for several replicas. TTLs here are short (hundreds of ms) and
 * some tests wait past them on purpose: expiry is the behaviour under test.
 */

const silent = pino({ level: 'silent' });
let server: RedisServer | undefined;
const states: RedisState[] = [];
let prefixes = 0;

before(async () => {
  server = await startRedis();
});

after(async () => {
  await stopAll(...states.map((s) => ({ close: () => s.close() })), server);
});

/** `count` replicas sharing a fresh key prefix. */
async function replicas(count: number): Promise<Array<{ state: RedisState; locks: RedisLocks }>> {
  const url = server?.url ?? assert.fail('redis-server did not start');
  const prefix = `l${++prefixes}:`;
  const made: Array<{ state: RedisState; locks: RedisLocks }> = [];
  for (let i = 0; i < count; i++) {
    const state = await connectRedis({ url, keyPrefix: prefix, logger: silent, connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 });
    states.push(state);
    made.push({ state, locks: new RedisLocks({ state }) });
  }
  return made;
}

const blob = 'blob:sha256:0123';

describe('redis locks', () => {
  it('gives the lock to exactly one of 20 concurrent acquirers on 4 replicas', async () => {
    const rs = await replicas(4);
    const handles = await Promise.all(Array.from({ length: 20 }, (_, i) => (rs[i % 4] ?? assert.fail('no replica')).locks.acquire(blob, { ttlMs: 30_000 })));
    const holders = handles.filter((h): h is LockHandle => h !== undefined);
    assert.equal(holders.length, 1);
    // A name is its own lock.
    assert.ok(await rs[0]?.locks.acquire('blob:sha256:other', { ttlMs: 30_000 }));
    assert.equal(await holders[0]?.release(), true);
    assert.ok(await rs[1]?.locks.acquire(blob, { ttlMs: 30_000 }), 'free again after release');
  });

  it('keeps the lock while the holder refreshes it, past several TTLs', async () => {
    const [a, b] = await replicas(2);
    const held = (await a?.locks.acquire(blob, { ttlMs: 600 })) ?? assert.fail('not acquired');
    let lost: Error | undefined;
    const stop = held.keepAlive(100, (reason) => (lost = reason));
    await delay(2_000); // more than three TTLs: the behaviour under test
    assert.equal(await b?.locks.acquire(blob, { ttlMs: 600 }), undefined);
    assert.equal(lost, undefined);
    assert.equal(await held.refresh(), true);
    stop();
    assert.equal(await held.release(), true);
  });

  it('loses the lock once the holder stops refreshing (a crash), and another replica takes over', async () => {
    const [a, b] = await replicas(2);
    const crashed = (await a?.locks.acquire(blob, { ttlMs: 200 })) ?? assert.fail('not acquired');
    assert.equal(await b?.locks.acquire(blob, { ttlMs: 200 }), undefined);
    const next = await poll('the lock to expire and be taken', async () => b?.locks.acquire(blob, { ttlMs: 30_000 }));
    // The old holder can neither extend nor release the new holder's lock.
    assert.equal(await crashed.refresh(), false);
    assert.equal(await crashed.release(), false);
    assert.equal(await b?.state.client.get(`${b.state.prefix}lock:${encodeURIComponent(blob)}`), next.token);
    assert.equal(await a?.locks.acquire(blob, { ttlMs: 200 }), undefined);
    assert.equal(await next.release(), true);
  });

  it('tells a holder that keeps it alive when it lost the lock', async () => {
    const [a, b] = await replicas(2);
    const held = (await a?.locks.acquire(blob, { ttlMs: 5_000 })) ?? assert.fail('not acquired');
    const lost = new Promise<Error>((resolve) => held.keepAlive(50, resolve));
    // Another holder's token in its place (as after an expiry and a takeover).
    await b?.state.client.set(`${b.state.prefix}lock:${encodeURIComponent(blob)}`, 'another holder');
    assert.match((await lost).message, /expired or was taken/);
    assert.equal(await held.release(), false);
    assert.equal(await b?.state.client.get(`${b.state.prefix}lock:${encodeURIComponent(blob)}`), 'another holder');
  });

  it('tells a holder that keeps it alive that it lost the lock when Redis stayed unreachable for a TTL', async (t) => {
    const own = await startRedis();
    t.after(() => own.stop());
    const state = await connectRedis({ url: own.url, keyPrefix: 'k:', logger: silent, connectTimeoutMs: 10_000, commandTimeoutMs: 10_000 });
    t.after(() => state.close());
    const held = (await new RedisLocks({ state }).acquire(blob, { ttlMs: 300 })) ?? assert.fail('not acquired');
    let lostAt: number | undefined;
    const lost = new Promise<Error>((resolve) =>
      held.keepAlive(50, (reason) => {
        lostAt = performance.now();
        resolve(reason);
      }),
    );
    await own.kill();
    const killedAt = performance.now();
    assert.match((await lost).message, /could not be refreshed for 300 ms/);
    // Not before a TTL without a successful refresh (measured from before the kill, so a lower bound).
    assert.ok((lostAt ?? 0) - killedAt >= 300 - 100, String((lostAt ?? 0) - killedAt));
  });

  it('resolves waitUntilFree when the holder releases, false after its timeout, and rejects when aborted', async () => {
    const [a, b] = await replicas(2);
    const held = (await a?.locks.acquire(blob, { ttlMs: 30_000 })) ?? assert.fail('not acquired');
    assert.equal(await b?.locks.waitUntilFree(blob, { pollMs: 20, timeoutMs: 100 }), false);
    const controller = new AbortController();
    const aborted = b?.locks.waitUntilFree(blob, { pollMs: 20, timeoutMs: 30_000, signal: controller.signal });
    controller.abort(new Error('client left'));
    await assert.rejects(aborted ?? Promise.resolve(), /client left/);
    let settled = false;
    const waiting = b?.locks.waitUntilFree(blob, { pollMs: 20, timeoutMs: 30_000 }).finally(() => (settled = true));
    await delay(100); // the follower is polling while the lock is held: it must not resolve yet
    assert.equal(settled, false);
    assert.equal(await held.release(), true);
    assert.equal(await waiting, true);
    assert.equal(await b?.locks.waitUntilFree('blob:never-held', { pollMs: 20, timeoutMs: 1_000 }), true);
  });

  it('refuses a TTL that is not a positive number of ms', async () => {
    const [a] = await replicas(1);
    for (const ttlMs of [0, -1, 1.5, Number.NaN]) await assert.rejects(a?.locks.acquire(blob, { ttlMs }) ?? Promise.resolve(), { code: 'INTERNAL' });
  });
});
