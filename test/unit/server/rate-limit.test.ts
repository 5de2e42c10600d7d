import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { SignetError } from '../../../src/errors.js';
import { TokenBuckets, addressKey } from '../../../src/server/rate-limit.js';

function clock(start = 1_000_000): { now: () => number; advance: (ms: number) => void } {
  let t = start;
  return { now: () => t, advance: (ms) => (t += ms) };
}

/** How many requests in a row `client` gets before the first refusal (bounded by `max`). */
function allowedInARow(buckets: TokenBuckets, client: string, max = 10_000): number {
  for (let i = 0; i < max; i++) if (!buckets.take(client).allowed) return i;
  return max;
}

describe('per-client token buckets', () => {
  test('a burst, then refusals with the seconds until the next request is allowed', () => {
    const c = clock();
    const buckets = new TokenBuckets({ requestsPerSecond: 2, burst: 5 }, { clock: c.now });
    assert.equal(allowedInARow(buckets, 'a'), 5);
    assert.deepEqual(buckets.take('a'), { allowed: false, retryAfterSeconds: 1 });
    const slow = new TokenBuckets({ requestsPerSecond: 0.1, burst: 1 }, { clock: c.now });
    assert.ok(slow.take('a').allowed);
    assert.deepEqual(slow.take('a'), { allowed: false, retryAfterSeconds: 10 });
  });

  test('refills at the sustained rate, never above the burst', () => {
    const c = clock();
    const buckets = new TokenBuckets({ requestsPerSecond: 10, burst: 20 }, { clock: c.now });
    assert.equal(allowedInARow(buckets, 'a'), 20);
    c.advance(500);
    assert.equal(allowedInARow(buckets, 'a'), 5);
    c.advance(3_600_000);
    assert.equal(allowedInARow(buckets, 'a'), 20);
  });

  test('a clock that goes back refills nothing', () => {
    const c = clock();
    const buckets = new TokenBuckets({ requestsPerSecond: 10, burst: 3 }, { clock: c.now });
    assert.equal(allowedInARow(buckets, 'a'), 3);
    c.advance(-60_000);
    assert.equal(buckets.take('a').allowed, false);
  });

  test('clients have budgets of their own', () => {
    const c = clock();
    const buckets = new TokenBuckets({ requestsPerSecond: 1, burst: 3 }, { clock: c.now });
    assert.equal(allowedInARow(buckets, 'user alice'), 3);
    assert.equal(allowedInARow(buckets, 'user bob'), 3);
    assert.equal(allowedInARow(buckets, 'address 10.0.0.1'), 3);
  });

  test('the clients tracked stay within maxClients however many there are', () => {
    const c = clock();
    const buckets = new TokenBuckets({ requestsPerSecond: 1, burst: 2 }, { clock: c.now, maxClients: 100 });
    for (let i = 0; i < 50_000; i++) {
      buckets.take(`address 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
      assert.ok(buckets.size <= 100);
    }
    assert.equal(buckets.size, 100);
  });

  test('refuses limits that are not positive', () => {
    assert.throws(() => new TokenBuckets({ requestsPerSecond: 0, burst: 1 }), SignetError);
    assert.throws(() => new TokenBuckets({ requestsPerSecond: 1, burst: 0 }), SignetError);
    assert.throws(() => new TokenBuckets({ requestsPerSecond: Number.POSITIVE_INFINITY, burst: 1 }), SignetError);
  });
});

describe('the address a client counts as', () => {
  test('IPv4 as is, also mapped into IPv6', () => {
    assert.equal(addressKey('192.0.2.7'), '192.0.2.7');
    assert.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7');
  });

  test('IPv6 by its /64 network, however it is spelled', () => {
    const net = '2001:db8:1:2::/64';
    for (const ip of ['2001:db8:1:2::1', '2001:0db8:0001:0002:ffff:ffff:ffff:ffff', '2001:db8:1:2:a:b:c:d', '2001:DB8:1:2::']) {
      assert.equal(addressKey(ip), net, ip);
    }
    assert.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.notEqual(addressKey('2001:db8:1:3::1'), net);
  });
});
