import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import type { UpstreamConfig } from '../../../src/config/load.js';
import { Secret } from '../../../src/config/secret.js';
import { SignetError } from '../../../src/errors.js';
import { UpstreamClient, type UpstreamClientOptions } from '../../../src/registry/upstream-client.js';
import { startFakeRegistry, type FakeHandler, type FakeRegistry, type FakeRegistryOptions } from '../../harness/fake-registry.js';
import { createTestCa } from '../../harness/test-ca.js';

// The upstream client against in-process fake registries and token servers: retries and
// Retry-After (waits recorded through an injected `delay`, never timed), network failures,
// Basic and Bearer authentication, redirects that never carry credentials to another origin,
// and secrets that never reach an error message.

const logger = pino({ level: 'silent' });
const USER = 'ci-bot';
const PASSWORD = 'pa55-Very-S3cret-value';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

/** An in-process server answering every request with `handler`, stopped when the test ends. */
async function startServer(t: TestContext, handler: FakeHandler): Promise<FakeRegistry> {
  const server = await startFakeRegistry(handler);
  t.after(() => server.stop());
  return server;
}

/** The same over HTTPS, with a certificate of a test CA. */
async function startTlsServer(t: TestContext, tls: NonNullable<FakeRegistryOptions['tls']>, handler: FakeHandler): Promise<FakeRegistry> {
  const server = await startFakeRegistry({ handler, tls });
  t.after(() => server.stop());
  return server;
}

interface ConfigOptions {
  credentials?: boolean;
  retries?: Partial<UpstreamConfig['retries']>;
  timeouts?: Partial<UpstreamConfig['timeouts']>;
  maxRedirects?: number;
  /** Hosts besides the upstream that redirects and realms may reach (loopback, so private addresses are allowed with them). */
  allowedHosts?: string[];
  ca?: string;
}

function upstreamConfig(url: string, o: ConfigOptions = {}): UpstreamConfig {
  return {
    name: 'fake.registry',
    url: new URL(url),
    credentials: o.credentials ? { username: USER, password: new Secret(PASSWORD) } : undefined,
    timeouts: { connectMs: 2_000, responseMs: 5_000, idleMs: 5_000, ...o.timeouts },
    retries: { max: 3, baseDelayMs: 100, maxDelayMs: 10_000, ...o.retries },
    maxRedirects: o.maxRedirects ?? 5,
    ca: o.ca,
    allowedHosts: o.allowedHosts ?? [],
    allowPrivateAddresses: o.allowedHosts !== undefined,
    officialNamespace: undefined,
    trust: { notary: undefined },
  };
}

interface Harness {
  client: UpstreamClient;
  /** Every wait the client asked for, in ms. */
  waits: number[];
}

function makeClient(t: TestContext, config: UpstreamConfig, extra: Partial<UpstreamClientOptions> = {}): Harness {
  const waits: number[] = [];
  const client = new UpstreamClient(config, {
    logger,
    delay: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    ...extra,
  });
  t.after(() => client.close());
  return { client, waits };
}

async function text(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of body) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function get(client: UpstreamClient, path: string, repository: string | undefined = 'a/b', followRedirects = false) {
  return client.request({ method: 'GET', path, repository, followRedirects });
}

/** Asserts a SignetError with `code`, whose message never contains the password. */
function isSignetError(code: string, pattern?: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SignetError, `expected a SignetError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    assert.ok(!err.message.includes(PASSWORD), `the password leaked into: ${err.message}`);
    assert.ok(!err.message.includes(BASIC.slice(6)), `the Basic credentials leaked into: ${err.message}`);
    return true;
  };
}

describe('responses and retries', () => {
  test('an anonymous 200 is returned with its body, without credentials', async (t) => {
    const fake = await startServer(t, (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello');
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/manifests/latest');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'hello');
    assert.equal(res.url.href, `${fake.url}/v2/a/b/manifests/latest`);
    assert.equal(fake.requests().length, 1);
    assert.equal(fake.requests()[0]?.headers['authorization'], undefined);
    assert.equal(fake.requests()[0]?.headers['user-agent'], 'signet');
    assert.deepEqual(waits, []);
  });

  test('a 404 is returned as is, without a retry', async (t) => {
    const fake = await startServer(t, (_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}');
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/manifests/nope');
    assert.equal(res.status, 404);
    assert.match(await text(res.body), /MANIFEST_UNKNOWN/);
    assert.equal(fake.requests().length, 1);
    assert.deepEqual(waits, []);
  });

  test('a 503 then 200 is retried after the exponential backoff', async (t) => {
    let n = 0;
    const fake = await startServer(t, (_req, res) => {
      n++;
      res.writeHead(n === 1 ? 503 : 200);
      res.end(n === 1 ? 'busy' : 'ok');
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { retries: { baseDelayMs: 100 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'ok');
    assert.equal(fake.requests().length, 2);
    assert.equal(waits.length, 1);
    // First backoff: baseDelayMs with jitter in [50 %, 100 %].
    assert.ok((waits[0] ?? NaN) >= 50 && (waits[0] ?? NaN) <= 100, `backoff ${waits[0]} outside [50, 100]`);
  });

  test('the backoff doubles per attempt and is capped at maxDelayMs', async (t) => {
    let n = 0;
    const fake = await startServer(t, (_req, res) => {
      n++;
      res.writeHead(n <= 3 ? 500 : 200);
      res.end();
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { retries: { max: 3, baseDelayMs: 400, maxDelayMs: 1000 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(waits.length, 3);
    assert.ok((waits[0] ?? NaN) >= 200 && (waits[0] ?? NaN) <= 400, `attempt 1 waited ${waits[0]}`);
    assert.ok((waits[1] ?? NaN) >= 400 && (waits[1] ?? NaN) <= 800, `attempt 2 waited ${waits[1]}`);
    assert.ok((waits[2] ?? NaN) >= 800 && (waits[2] ?? NaN) <= 1000, `attempt 3 waited ${waits[2]}`);
  });

  test('Retry-After in seconds is honoured', async (t) => {
    let n = 0;
    const fake = await startServer(t, (_req, res) => {
      n++;
      if (n === 1) res.writeHead(503, { 'retry-after': '2' });
      else res.writeHead(200);
      res.end();
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.deepEqual(waits, [2000]);
  });

  test('Retry-After as an HTTP date is measured against the clock', async (t) => {
    const now = Date.UTC(2030, 0, 2, 3, 4, 5);
    let n = 0;
    const fake = await startServer(t, (_req, res) => {
      n++;
      if (n === 1) res.writeHead(503, { 'retry-after': new Date(now + 3000).toUTCString() });
      else res.writeHead(200);
      res.end();
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url), { clock: () => now });
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.deepEqual(waits, [3000]);
  });

  test('a Retry-After longer than maxDelayMs is not waited for: the 503 is returned', async (t) => {
    const fake = await startServer(t, (_req, res) => {
      res.writeHead(503, { 'retry-after': '3600' });
      res.end('come back in an hour');
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { retries: { maxDelayMs: 10_000 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '3600');
    assert.equal(await text(res.body), 'come back in an hour');
    assert.equal(fake.requests().length, 1);
    assert.deepEqual(waits, []);
  });

  test('when retries are exhausted the last 5xx response is returned', async (t) => {
    let n = 0;
    const fake = await startServer(t, (_req, res) => {
      n++;
      res.writeHead(502);
      res.end(`attempt ${n}`);
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { retries: { max: 2 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 502);
    assert.equal(await text(res.body), 'attempt 3');
    assert.equal(fake.requests().length, 3);
    assert.equal(waits.length, 2);
  });

  test('a 429 is retried like a 503, honouring Retry-After', async (t) => {
    let n = 0;
    const fake = await startServer(t, (_req, res) => {
      n++;
      if (n === 1) res.writeHead(429, { 'retry-after': '1' });
      else res.writeHead(200);
      res.end();
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(fake.requests().length, 2);
    assert.deepEqual(waits, [1000]);
  });

  test('with retries.max 0 a 503 is returned at once', async (t) => {
    const fake = await startServer(t, (_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { retries: { max: 0 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 503);
    await text(res.body);
    assert.equal(fake.requests().length, 1);
    assert.deepEqual(waits, []);
  });
});

describe('network failures', () => {
  test('a server that destroys the socket is retried, then UPSTREAM_UNAVAILABLE names the upstream', async (t) => {
    const fake = await startServer(t, (req) => {
      req.socket.destroy();
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { retries: { max: 2 } }));
    await assert.rejects(get(client, '/v2/a/b/blobs/x'), isSignetError('UPSTREAM_UNAVAILABLE', /fake\.registry/));
    assert.equal(fake.requests().length, 3, 'one attempt and two retries');
    assert.equal(waits.length, 2);
  });

  test('a destroyed socket followed by a good answer succeeds', async (t) => {
    let n = 0;
    const fake = await startServer(t, (req, res) => {
      if (++n === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200);
      res.end('recovered');
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'recovered');
    assert.equal(waits.length, 1);
  });

  test('connection refused (closed port) is UPSTREAM_UNAVAILABLE naming the upstream and its origin', async (t) => {
    const fake = await startServer(t, () => undefined);
    const url = fake.url;
    await fake.stop();
    const { client, waits } = makeClient(t, upstreamConfig(url, { retries: { max: 1 }, credentials: true }));
    await assert.rejects(
      get(client, '/v2/a/b/blobs/x'),
      isSignetError('UPSTREAM_UNAVAILABLE', new RegExp(`fake\\.registry \\(${url.replace(/[.]/g, '\\.')}\\) is unreachable`)),
    );
    assert.equal(waits.length, 1);
  });

  test('no response headers within timeouts.responseMs is UPSTREAM_TIMEOUT', async (t) => {
    const fake = await startServer(t, () => undefined); // never answers
    const { client } = makeClient(t, upstreamConfig(fake.url, { retries: { max: 0 }, timeouts: { responseMs: 200 } }));
    await assert.rejects(get(client, '/v2/a/b/blobs/x'), isSignetError('UPSTREAM_TIMEOUT', /fake\.registry.*timed out/));
  });
});

describe('Basic authentication', () => {
  test('a Basic challenge is answered with the credentials, then sent up front', async (t) => {
    let challenges = 0;
    const fake = await startServer(t, (req, res) => {
      if (req.headers['authorization'] !== BASIC) {
        challenges++;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        res.end();
        return;
      }
      res.writeHead(200);
      res.end('secret stuff');
    });
    const { client, waits } = makeClient(t, upstreamConfig(fake.url, { credentials: true }));
    const first = await get(client, '/v2/a/b/manifests/1');
    assert.equal(first.status, 200);
    assert.equal(await text(first.body), 'secret stuff');
    assert.equal(fake.requests()[0]?.headers['authorization'], undefined, 'nothing is sent before the upstream asks');
    assert.equal(fake.requests()[1]?.headers['authorization'], BASIC);
    for (const path of ['/v2/a/b/manifests/2', '/v2/c/d/blobs/3']) {
      const res = await get(client, path, path.includes('c/d') ? 'c/d' : 'a/b');
      assert.equal(res.status, 200);
      await text(res.body);
    }
    assert.equal(challenges, 1, 'only the very first request was challenged');
    assert.equal(fake.requests().length, 4);
    assert.deepEqual(waits, [], 'an auth retry does not back off');
  });

  test('a Basic challenge without configured credentials returns the 401', async (t) => {
    const fake = await startServer(t, (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
    const { client } = makeClient(t, upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/manifests/1');
    assert.equal(res.status, 401);
    await text(res.body);
    assert.equal(fake.requests().length, 1);
  });

  test('wrong credentials: the second 401 is returned, not retried forever', async (t) => {
    const fake = await startServer(t, (_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
    const { client } = makeClient(t, upstreamConfig(fake.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/manifests/1');
    assert.equal(res.status, 401);
    await text(res.body);
    assert.equal(fake.requests().length, 2);
  });
});

interface TokenWorld {
  registry: FakeRegistry;
  tokens: FakeRegistry;
  /** Token → scope it was issued for. */
  issued: Map<string, string>;
  /** 401 answers of the registry. */
  challenges(): number;
  /** What a client config needs to reach the token server: it is on another origin, over HTTPS with a test CA. */
  access: { allowedHosts: string[]; ca: string };
}

/**
 * A registry that accepts only tokens issued for the repository in the path, and its token
 * server, which checks service, scope and (when `credentials`) the Basic credentials.
 */
async function tokenWorld(
  t: TestContext,
  options: { credentials: boolean; field?: 'token' | 'access_token'; expiresIn?: number; tokenStatus?: number },
): Promise<TokenWorld> {
  const issued = new Map<string, string>();
  let count = 0;
  const ca = await createTestCa();
  const tokens = await startTlsServer(t, await ca.server(), (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (options.tokenStatus !== undefined) {
      res.writeHead(options.tokenStatus, { 'content-type': 'application/json' });
      res.end('{"details":"incorrect username or password"}');
      return;
    }
    const scope = url.searchParams.get('scope') ?? '';
    const ok =
      url.pathname === '/token' &&
      url.searchParams.get('service') === 'reg' &&
      /^repository:[a-z0-9/]+:pull$/.test(scope) &&
      (!options.credentials || req.headers['authorization'] === BASIC);
    if (!ok) {
      res.writeHead(400);
      res.end('bad token request');
      return;
    }
    const token = `tok-${++count}`;
    issued.set(token, scope);
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ [options.field ?? 'token']: token, expires_in: options.expiresIn ?? 300 }));
  });
  let challenges = 0;
  const registry = await startServer(t, (req, res) => {
    const repo = /^\/v2\/(.+)\/(?:manifests|blobs)\//.exec(req.url ?? '')?.[1] ?? 'a/b';
    const auth = req.headers['authorization'] ?? '';
    const token = auth.startsWith('Bearer ') ? auth.slice(7) : undefined;
    if (token === undefined || issued.get(token) !== `repository:${repo}:pull`) {
      challenges++;
      res.writeHead(401, {
        'www-authenticate': `Bearer realm="${tokens.url}/token",service="reg",scope="repository:${repo}:pull"`,
        'content-type': 'application/json',
      });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return;
    }
    res.writeHead(200);
    res.end(`content of ${repo}`);
  });
  return { registry, tokens, issued, challenges: () => challenges, access: { allowedHosts: [tokens.host], ca: ca.certPem } };
}

describe('Bearer token flow', () => {
  test('a Bearer challenge fetches a token (service, scope, Basic credentials) and the retry carries it', async (t) => {
    const w = await tokenWorld(t, { credentials: true });
    const { client, waits } = makeClient(t, upstreamConfig(w.registry.url, { ...w.access, credentials: true }));
    const res = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'content of a/b');
    assert.equal(w.tokens.requests().length, 1);
    const tokenUrl = new URL(w.tokens.requests()[0]?.url ?? '', w.tokens.url);
    assert.equal(tokenUrl.searchParams.get('service'), 'reg');
    assert.equal(tokenUrl.searchParams.get('scope'), 'repository:a/b:pull');
    assert.equal(w.tokens.requests()[0]?.headers['authorization'], BASIC);
    assert.equal(w.registry.requests().length, 2);
    assert.equal(w.registry.requests()[1]?.headers['authorization'], 'Bearer tok-1');
    assert.deepEqual(waits, []);

    // The same repository again: the cached token is sent up front.
    const again = await get(client, '/v2/a/b/blobs/2', 'a/b');
    assert.equal(again.status, 200);
    await text(again.body);
    assert.equal(w.tokens.requests().length, 1, 'the token is reused');
    assert.equal(w.registry.requests()[2]?.headers['authorization'], 'Bearer tok-1');
    assert.equal(w.challenges(), 1);
  });

  test('anonymous token requests carry no Authorization header', async (t) => {
    const w = await tokenWorld(t, { credentials: false });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access));
    const res = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(w.tokens.requests()[0]?.headers['authorization'], undefined);
  });

  test('another repository gets its own token with scope repository:<repo>:pull', async (t) => {
    const w = await tokenWorld(t, { credentials: false });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access));
    const one = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(one.status, 200);
    await text(one.body);
    const two = await get(client, '/v2/c/d/manifests/1', 'c/d');
    assert.equal(two.status, 200);
    assert.equal(await text(two.body), 'content of c/d');
    assert.equal(w.tokens.requests().length, 2);
    assert.equal(new URL(w.tokens.requests()[1]?.url ?? '', w.tokens.url).searchParams.get('scope'), 'repository:c/d:pull');
    assert.equal(w.issued.get('tok-2'), 'repository:c/d:pull');
    assert.equal(w.challenges(), 1, 'the known challenge lets the second repository fetch its token first');
  });

  test('an expired token is refreshed (injected clock)', async (t) => {
    let now = Date.UTC(2030, 0, 1);
    const w = await tokenWorld(t, { credentials: false, expiresIn: 60 });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access), { clock: () => now });
    const one = await get(client, '/v2/a/b/manifests/1', 'a/b');
    await text(one.body);
    now += 30_000; // still fresh (60 s lifetime, 15 s margin)
    const two = await get(client, '/v2/a/b/manifests/1', 'a/b');
    await text(two.body);
    assert.equal(w.tokens.requests().length, 1);
    now += 30_000; // past expiry
    const three = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(three.status, 200);
    await text(three.body);
    assert.equal(w.tokens.requests().length, 2, 'a new token was fetched');
    assert.equal(w.registry.requests().at(-1)?.headers['authorization'], 'Bearer tok-2');
    assert.equal(w.challenges(), 1);
  });

  test('a token the registry rejects is dropped and fetched again once', async (t) => {
    const w = await tokenWorld(t, { credentials: false });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access));
    const one = await get(client, '/v2/a/b/manifests/1', 'a/b');
    await text(one.body);
    w.issued.delete('tok-1'); // the registry forgets (revokes) the token
    const two = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(two.status, 200);
    await text(two.body);
    assert.equal(w.tokens.requests().length, 2);
    assert.equal(w.registry.requests().at(-1)?.headers['authorization'], 'Bearer tok-2');
  });

  test('10 concurrent requests once the challenge is known share one token fetch', async (t) => {
    const w = await tokenWorld(t, { credentials: false });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access));
    const warm = await get(client, '/v2/x/y/manifests/1', 'x/y');
    await text(warm.body);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => get(client, `/v2/a/b/blobs/${i}`, 'a/b')));
    for (const res of results) {
      assert.equal(res.status, 200);
      assert.equal(await text(res.body), 'content of a/b');
    }
    const scopes = w.tokens.requests().map((s) => new URL(s.url, w.tokens.url).searchParams.get('scope'));
    assert.deepEqual(scopes, ['repository:x/y:pull', 'repository:a/b:pull']);
  });

  // A 401 answering a request sent before any token existed must not discard the token another
  // request just fetched.
  test('10 concurrent cold requests (all challenged) share one token fetch', async (t) => {
    const w = await tokenWorld(t, { credentials: false });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => get(client, `/v2/a/b/blobs/${i}`, 'a/b')));
    for (const res of results) {
      assert.equal(res.status, 200);
      await text(res.body);
    }
    assert.equal(w.tokens.requests().length, 1, `the token server was asked ${w.tokens.requests().length} times`);
  });

  test('a token server 401 is UPSTREAM_ERROR that points at the credentials, without the password', async (t) => {
    const w = await tokenWorld(t, { credentials: true, tokenStatus: 401 });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, { ...w.access, credentials: true }));
    await assert.rejects(get(client, '/v2/a/b/manifests/1', 'a/b'), isSignetError('UPSTREAM_ERROR', /credentials/));
  });

  test('the access_token field (OAuth2 style) is accepted', async (t) => {
    const w = await tokenWorld(t, { credentials: false, field: 'access_token' });
    const { client } = makeClient(t, upstreamConfig(w.registry.url, w.access));
    const res = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'content of a/b');
    assert.equal(w.registry.requests().at(-1)?.headers['authorization'], 'Bearer tok-1');
  });
});

describe('redirects', () => {
  /** A registry requiring Basic that redirects blob requests as `redirect(path)` says. */
  async function redirectingRegistry(t: TestContext, redirect: (path: string) => string | undefined): Promise<FakeRegistry> {
    return startServer(t, (req, res) => {
      if (req.headers['authorization'] !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        res.end();
        return;
      }
      const location = redirect(req.url ?? '');
      if (location !== undefined) {
        res.writeHead(307, { location });
        res.end();
        return;
      }
      res.writeHead(200);
      res.end(`same-origin ${req.url}`);
    });
  }

  test('a redirect to another origin carries no Authorization header', async (t) => {
    const storage = await startServer(t, (_req, res) => {
      res.writeHead(200);
      res.end('blob bytes');
    });
    const registry = await redirectingRegistry(t, (path) => (path.includes('/blobs/') ? `${storage.url}/data/blob1?sig=abc` : undefined));
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true, allowedHosts: [storage.host] }));
    // Learn Basic first, so that credentials would go up front.
    const warm = await get(client, '/v2/a/b/manifests/1');
    await text(warm.body);
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'blob bytes');
    assert.equal(res.url.href, `${storage.url}/data/blob1?sig=abc`);
    assert.equal(registry.requests().at(-1)?.headers['authorization'], BASIC, 'the registry itself got the credentials');
    assert.equal(storage.requests().length, 1);
    assert.equal(storage.requests()[0]?.url, '/data/blob1?sig=abc');
    assert.equal(storage.requests()[0]?.headers['authorization'], undefined, 'credentials leaked to another origin');
  });

  test('a Bearer token is not sent to another origin either', async (t) => {
    const w = await tokenWorld(t, { credentials: true });
    const storage = await startServer(t, (_req, res) => {
      res.writeHead(200);
      res.end('blob bytes');
    });
    // Wrap the token registry: blobs redirect once authenticated.
    const registry = await startServer(t, (req, res) => {
      const auth = req.headers['authorization'] ?? '';
      if (!auth.startsWith('Bearer ') || !w.issued.has(auth.slice(7))) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${w.tokens.url}/token",service="reg",scope="repository:a/b:pull"` });
        res.end();
        return;
      }
      res.writeHead(302, { location: `${storage.url}/blob` });
      res.end();
    });
    const { client } = makeClient(t, upstreamConfig(registry.url, { ...w.access, allowedHosts: [w.tokens.host, storage.host], credentials: true }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'blob bytes');
    assert.equal(storage.requests()[0]?.headers['authorization'], undefined);
  });

  test('a same-origin redirect keeps the credentials', async (t) => {
    const registry = await redirectingRegistry(t, (path) => (path.includes('/blobs/') ? '/storage/blob1' : undefined));
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true }));
    const warm = await get(client, '/v2/a/b/manifests/1');
    await text(warm.body);
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'same-origin /storage/blob1');
    const last = registry.requests().at(-1);
    assert.ok(last);
    assert.equal(last.url, '/storage/blob1');
    assert.equal(last.headers['authorization'], BASIC);
  });

  test('a relative Location is resolved against the URL that redirected', async (t) => {
    const registry = await redirectingRegistry(t, (path) => (path === '/v2/a/b/blobs/sha256:1' ? 'moved/here?x=1' : undefined));
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'same-origin /v2/a/b/blobs/moved/here?x=1');
    assert.equal(res.url.pathname, '/v2/a/b/blobs/moved/here');
  });

  test('more than maxRedirects is UPSTREAM_ERROR', async (t) => {
    const registry = await redirectingRegistry(t, (path) => {
      const m = /^\/hop\/(\d+)$/.exec(path);
      return `/hop/${m ? Number(m[1]) + 1 : 1}`;
    });
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true, maxRedirects: 3 }));
    await assert.rejects(get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true), isSignetError('UPSTREAM_ERROR', /redirected more than 3 times/));
    const hops = registry
      .requests()
      .filter((s) => s.url.startsWith('/hop/'))
      .map((s) => s.url);
    assert.deepEqual(hops, ['/hop/1', '/hop/2', '/hop/3']);
  });

  test('exactly maxRedirects redirects are followed', async (t) => {
    const registry = await redirectingRegistry(t, (path) => {
      const m = /^\/hop\/(\d+)$/.exec(path);
      const n = m ? Number(m[1]) : 0;
      return n < 3 ? `/hop/${n + 1}` : undefined;
    });
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true, maxRedirects: 3 }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'same-origin /hop/3');
  });

  test('without followRedirects the 3xx is returned', async (t) => {
    const registry = await redirectingRegistry(t, () => 'http://127.0.0.1:1/elsewhere');
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', false);
    assert.equal(res.status, 307);
    assert.equal(res.headers['location'], 'http://127.0.0.1:1/elsewhere');
    await text(res.body);
  });

  test('a redirect to a non-HTTP scheme is refused', async (t) => {
    const registry = await redirectingRegistry(t, () => 'file:///etc/passwd');
    const { client } = makeClient(t, upstreamConfig(registry.url, { credentials: true }));
    await assert.rejects(get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true), isSignetError('UPSTREAM_ERROR', /unsupported URL scheme/));
  });
});

describe('secrets', () => {
  test('the config serialises the password as [redacted]', () => {
    const config = upstreamConfig('http://127.0.0.1:1', { credentials: true });
    const json = JSON.stringify(config);
    assert.ok(json.includes('"password":"[redacted]"'), json);
    assert.ok(!json.includes(PASSWORD));
    assert.equal(String(config.credentials?.password), '[redacted]');
  });

  test('errors after authenticated requests never contain the password', async (t) => {
    // Basic learnt, then the upstream starts cutting connections.
    let n = 0;
    const fake = await startServer(t, (req, res) => {
      n++;
      if (n >= 3) {
        req.socket.destroy();
        return;
      }
      if (req.headers['authorization'] !== BASIC) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        res.end();
        return;
      }
      res.writeHead(200);
      res.end();
    });
    const { client } = makeClient(t, upstreamConfig(fake.url, { credentials: true, retries: { max: 1 } }));
    const ok = await get(client, '/v2/a/b/manifests/1');
    assert.equal(ok.status, 200);
    await text(ok.body);
    await assert.rejects(get(client, '/v2/a/b/manifests/1'), (err: unknown) => {
      assert.ok(err instanceof SignetError);
      const everything = [err.message, err.stack ?? '', (err.cause as Error | undefined)?.message ?? '', JSON.stringify(err)].join('\n');
      assert.ok(!everything.includes(PASSWORD), everything);
      assert.ok(!everything.includes(BASIC.slice(6)), everything);
      return true;
    });
  });
});
