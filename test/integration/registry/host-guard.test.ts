import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { LookupFunction } from 'node:net';
import { pino } from 'pino';
import type { UpstreamConfig } from '../../../src/config/load.js';
import { SignetError } from '../../../src/errors.js';
import { classifyAddress, type AddressClass } from '../../../src/registry/address-class.js';
import { AddressRefusedError, HostGuard, type Resolver } from '../../../src/registry/host-guard.js';
import { UpstreamClient } from '../../../src/registry/upstream-client.js';
import { startFakeRegistry, type FakeRegistry } from '../../harness/fake-registry.js';

// Where an upstream's redirects and token realms may lead: the classification of addresses,
// the allowedHosts patterns, and the connect-time check of every address a name resolves to
// (names come from an injected resolver, so a name can "rebind" from one lookup to the next).
// The last tests go through real sockets: a name that passes the pattern but resolves to
// loopback never gets a connection.

describe('address classification', () => {
  const cases: Array<[string, AddressClass]> = [
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['172.32.0.1', 'public'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['169.254.169.254', 'link-local'],
    ['169.254.0.1', 'link-local'],
    ['10.0.0.1', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'private'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['240.0.0.1', 'reserved'],
    ['255.255.255.255', 'reserved'],
    ['2001:4860:4860::8888', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['febf::1', 'link-local'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fec0::1', 'private'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:10.1.2.3', 'private'],
    ['::ffff:8.8.8.8', 'public'],
    ['::127.0.0.1', 'loopback'],
    ['64:ff9b::a9fe:a9fe', 'link-local'],
    ['2002:7f00:1::', 'loopback'],
    ['2002:808:808::', 'public'],
    ['not-an-address', 'reserved'],
  ];
  for (const [address, expected] of cases) {
    test(`${address} is ${expected}`, () => {
      assert.equal(classifyAddress(address), expected);
    });
  }
});

describe('allowed hosts', () => {
  const guard = new HostGuard({
    origin: new URL('https://registry.example'),
    allowedHosts: ['storage.example.com', 'auth.example.com:8443', '*.blob.example.net', '[2001:db8::1]:9000', '127.0.0.1:5000'],
    allowPrivateAddresses: false,
  });
  const cases: Array<[string, string | undefined]> = [
    ['https://registry.example/v2/a/blobs/x', undefined],
    ['https://registry.example:443/elsewhere', undefined],
    ['https://registry.example:444/', 'host_not_allowed'],
    ['http://registry.example/', 'host_not_allowed'],
    ['https://storage.example.com/object?sig=1', undefined],
    ['https://STORAGE.Example.COM./object', undefined],
    ['http://storage.example.com/object', undefined],
    ['https://storage.example.com:8443/object', 'host_not_allowed'],
    ['https://storage.example.com.evil.org/', 'host_not_allowed'],
    ['https://auth.example.com:8443/token', undefined],
    ['https://auth.example.com/token', 'host_not_allowed'],
    ['https://a.blob.example.net/x', undefined],
    ['https://x.y.blob.example.net/x', undefined],
    ['https://blob.example.net/x', 'host_not_allowed'],
    ['https://evilblob.example.net/x', 'host_not_allowed'],
    ['https://[2001:db8::1]:9000/x', undefined],
    ['https://[2001:db8::1]/x', 'host_not_allowed'],
    ['http://169.254.169.254/latest/meta-data/', 'host_not_allowed'],
    ['http://127.0.0.1:5000/', 'private_address'],
    ['http://127.0.0.1:5001/', 'host_not_allowed'],
  ];
  for (const [url, expected] of cases) {
    test(`${url}: ${expected ?? 'allowed'}`, () => {
      assert.equal(guard.refusal(new URL(url))?.reason, expected);
    });
  }

  test('allowPrivateAddresses lets an allowed loopback host through, and nothing that is not allowed', () => {
    const lenient = new HostGuard({ origin: new URL('http://127.0.0.1:4000'), allowedHosts: ['127.0.0.1:5000'], allowPrivateAddresses: true });
    assert.equal(lenient.refusal(new URL('http://127.0.0.1:5000/token')), undefined);
    assert.equal(lenient.refusal(new URL('http://127.0.0.1:5001/token'))?.reason, 'host_not_allowed');
    assert.equal(lenient.lookup, undefined, 'no connect-time check is needed');
  });

  test("the upstream's own origin is allowed whatever its address", () => {
    const own = new HostGuard({ origin: new URL('http://10.0.0.5:5000'), allowedHosts: [], allowPrivateAddresses: false });
    assert.equal(own.refusal(new URL('http://10.0.0.5:5000/v2/x')), undefined);
    assert.equal(own.refusal(new URL('http://10.0.0.5:5001/v2/x'))?.reason, 'host_not_allowed');
  });
});

/** Calls a lookup function as net.connect does (with `all`, as autoSelectFamily does, or without). */
function lookUp(lookup: LookupFunction, hostname: string, all: boolean): Promise<unknown> {
  return new Promise((resolve, reject) => {
    lookup(hostname, { all, family: 0 }, (err, address, family) => (err ? reject(err) : resolve(all ? address : { address, family })));
  });
}

describe('connect-time address check', () => {
  /** A resolver answering from `answers`, one list per call, counting calls. */
  function scripted(answers: string[][]): { resolve: Resolver; calls: () => number } {
    let calls = 0;
    return {
      resolve: (hostname) => {
        const list = answers[Math.min(calls++, answers.length - 1)] ?? [];
        if (list.length === 0) return Promise.reject(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' }));
        return Promise.resolve(list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 })));
      },
      calls: () => calls,
    };
  }

  test('every lookup is checked: a name that rebinds from a public to a loopback address is refused the second time', async () => {
    const dns = scripted([['93.184.216.34'], ['127.0.0.1']]);
    const guard = new HostGuard({
      origin: new URL('https://registry.example'),
      allowedHosts: ['storage.example.com'],
      allowPrivateAddresses: false,
      resolve: dns.resolve,
    });
    const lookup = guard.lookup;
    assert.ok(lookup);
    assert.deepEqual(await lookUp(lookup, 'storage.example.com', true), [{ address: '93.184.216.34', family: 4 }]);
    await assert.rejects(lookUp(lookup, 'storage.example.com', true), (err: unknown) => {
      assert.ok(err instanceof AddressRefusedError);
      assert.equal(err.addressClass, 'loopback');
      return true;
    });
    assert.equal(dns.calls(), 2);
  });

  test('only the public addresses of a name are handed to the socket', async () => {
    const dns = scripted([['169.254.169.254', '93.184.216.34', 'fd00::1', '2606:2800:220:1::248']]);
    const guard = new HostGuard({
      origin: new URL('https://registry.example'),
      allowedHosts: ['storage.example.com'],
      allowPrivateAddresses: false,
      resolve: dns.resolve,
    });
    const lookup = guard.lookup;
    assert.ok(lookup);
    assert.deepEqual(await lookUp(lookup, 'storage.example.com', true), [
      { address: '93.184.216.34', family: 4 },
      { address: '2606:2800:220:1::248', family: 6 },
    ]);
    assert.deepEqual(await lookUp(lookup, 'storage.example.com', false), { address: '93.184.216.34', family: 4 });
  });

  test("the upstream's own host name may resolve to a private address", async () => {
    const dns = scripted([['10.1.2.3']]);
    const guard = new HostGuard({ origin: new URL('https://registry.corp'), allowedHosts: [], allowPrivateAddresses: false, resolve: dns.resolve });
    const lookup = guard.lookup;
    assert.ok(lookup);
    assert.deepEqual(await lookUp(lookup, 'registry.corp', false), { address: '10.1.2.3', family: 4 });
  });

  test('a resolution failure is passed on as it is', async () => {
    const guard = new HostGuard({
      origin: new URL('https://registry.example'),
      allowedHosts: ['x.example'],
      allowPrivateAddresses: false,
      resolve: scripted([[]]).resolve,
    });
    const lookup = guard.lookup;
    assert.ok(lookup);
    await assert.rejects(lookUp(lookup, 'x.example', true), /ENOTFOUND/);
  });
});

describe('through the upstream client', () => {
  function config(url: string, allowedHosts: string[]): UpstreamConfig {
    return {
      name: 'guarded.test',
      url: new URL(url),
      credentials: undefined,
      timeouts: { connectMs: 2000, responseMs: 5000, idleMs: 5000 },
      retries: { max: 0, baseDelayMs: 1, maxDelayMs: 1 },
      maxRedirects: 3,
      ca: undefined,
      allowedHosts,
      allowPrivateAddresses: false,
      officialNamespace: undefined,
      trust: { notary: undefined },
    };
  }

  async function fake(t: TestContext, options: Parameters<typeof startFakeRegistry>[0]): Promise<FakeRegistry> {
    const server = await startFakeRegistry(options);
    t.after(() => server.stop());
    return server;
  }

  test('a redirect to an allowed name that resolves to loopback gets no connection; the upstream itself (loopback) does', async (t) => {
    const internal = await fake(t, (_req, res) => {
      res.writeHead(200);
      res.end('internal');
    });
    const upstream = await fake(t, (_req, res) => {
      res.writeHead(302, { location: `http://storage.example.com:${internal.port}/object` });
      res.end();
    });
    // The name passes the pattern; the resolver says where it really is: the internal server.
    let lookups = 0;
    const resolve: Resolver = () => {
      lookups++;
      return Promise.resolve([{ address: '127.0.0.1', family: 4 }]);
    };
    const client = new UpstreamClient(config(upstream.url, [`storage.example.com:${internal.port}`]), { logger: pino({ level: 'silent' }), resolve });
    t.after(() => client.close());
    await assert.rejects(client.request({ method: 'GET', path: '/v2/a/blobs/sha256:1', repository: 'a', followRedirects: true }), (err: unknown) => {
      assert.ok(err instanceof SignetError);
      assert.equal(err.code, 'UPSTREAM_ERROR');
      assert.match(err.message, /upstream guarded\.test redirected .* a loopback address: .*upstreams\.guarded\.test\.allowPrivateAddresses/);
      return true;
    });
    assert.equal(lookups, 1, 'the name was resolved for the connection');
    assert.equal(internal.requests().length, 0, 'the internal server got a request');
    assert.equal(upstream.requests().length, 1);
  });
});
