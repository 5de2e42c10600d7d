import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import { pino } from 'pino';
import type { UpstreamConfig } from '../../../src/config/load.js';
import { Secret } from '../../../src/config/secret.js';
import { SignetError } from '../../../src/errors.js';
import { UpstreamClient, type UpstreamClientOptions } from '../../../src/registry/upstream-client.js';

// The upstream client against in-process fake registries and token servers: retries and
// Retry-After (waits recorded through an injected `delay`, never timed), network failures,
// Basic and Bearer authentication, redirects that never carry credentials to another origin,
// and secrets that never reach an error message.

const logger = pino({ level: 'silent' });
const USER = 'ci-bot';
const PASSWORD = 'pa55-Very-S3cret-value';
const BASIC = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`;

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

interface FakeServer {
  url: string;
  origin: string;
  port: number;
  /** Every request seen: method, URL (path + query) and headers. */
  seen: Array<{ method: string; url: string; headers: IncomingMessage['headers'] }>;
  close(): Promise<void>;
}

const servers = new Set<Server>();
const clients = new Set<UpstreamClient>();

after(async () => {
  await Promise.all([...clients].map((c) => c.close()));
  for (const s of servers) s.closeAllConnections();
  await Promise.all([...servers].map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function startServer(handler: Handler): Promise<FakeServer> {
  const seen: FakeServer['seen'] = [];
  const server = createServer((req, res) => {
    seen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    handler(req, res);
  });
  servers.add(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    url: origin,
    origin,
    port,
    seen,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      servers.delete(server);
    },
  };
}

interface ConfigOptions {
  credentials?: boolean;
  retries?: Partial<UpstreamConfig['retries']>;
  timeouts?: Partial<UpstreamConfig['timeouts']>;
  maxRedirects?: number;
}

function upstreamConfig(url: string, o: ConfigOptions = {}): UpstreamConfig {
  return {
    name: 'fake.registry',
    url: new URL(url),
    credentials: o.credentials ? { username: USER, password: new Secret(PASSWORD) } : undefined,
    timeouts: { connectMs: 2_000, responseMs: 5_000, idleMs: 5_000, ...o.timeouts },
    retries: { max: 3, baseDelayMs: 100, maxDelayMs: 10_000, ...o.retries },
    maxRedirects: o.maxRedirects ?? 5,
    officialNamespace: undefined,
    trust: { notary: undefined },
  };
}

interface Harness {
  client: UpstreamClient;
  /** Every wait the client asked for, in ms. */
  waits: number[];
}

function makeClient(config: UpstreamConfig, extra: Partial<UpstreamClientOptions> = {}): Harness {
  const waits: number[] = [];
  const client = new UpstreamClient(config, {
    logger,
    delay: async (ms) => {
      waits.push(ms);
    },
    ...extra,
  });
  clients.add(client);
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
  test('an anonymous 200 is returned with its body, without credentials', async () => {
    const fake = await startServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('hello');
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/manifests/latest');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'hello');
    assert.equal(res.url.href, `${fake.url}/v2/a/b/manifests/latest`);
    assert.equal(fake.seen.length, 1);
    assert.equal(fake.seen[0]?.headers['authorization'], undefined);
    assert.equal(fake.seen[0]?.headers['user-agent'], 'signet');
    assert.deepEqual(waits, []);
    await fake.close();
  });

  test('a 404 is returned as is, without a retry', async () => {
    const fake = await startServer((_req, res) => {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"MANIFEST_UNKNOWN","message":"no"}]}');
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/manifests/nope');
    assert.equal(res.status, 404);
    assert.match(await text(res.body), /MANIFEST_UNKNOWN/);
    assert.equal(fake.seen.length, 1);
    assert.deepEqual(waits, []);
    await fake.close();
  });

  test('a 503 then 200 is retried after the exponential backoff', async () => {
    let n = 0;
    const fake = await startServer((_req, res) => {
      n++;
      res.writeHead(n === 1 ? 503 : 200);
      res.end(n === 1 ? 'busy' : 'ok');
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url, { retries: { baseDelayMs: 100 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'ok');
    assert.equal(fake.seen.length, 2);
    assert.equal(waits.length, 1);
    // First backoff: baseDelayMs with jitter in [50 %, 100 %].
    assert.ok(waits[0]! >= 50 && waits[0]! <= 100, `backoff ${waits[0]} outside [50, 100]`);
    await fake.close();
  });

  test('the backoff doubles per attempt and is capped at maxDelayMs', async () => {
    let n = 0;
    const fake = await startServer((_req, res) => {
      n++;
      res.writeHead(n <= 3 ? 500 : 200);
      res.end();
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url, { retries: { max: 3, baseDelayMs: 400, maxDelayMs: 1000 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(waits.length, 3);
    assert.ok(waits[0]! >= 200 && waits[0]! <= 400, `attempt 1 waited ${waits[0]}`);
    assert.ok(waits[1]! >= 400 && waits[1]! <= 800, `attempt 2 waited ${waits[1]}`);
    assert.ok(waits[2]! >= 800 && waits[2]! <= 1000, `attempt 3 waited ${waits[2]}`);
    await fake.close();
  });

  test('Retry-After in seconds is honoured', async () => {
    let n = 0;
    const fake = await startServer((_req, res) => {
      n++;
      if (n === 1) res.writeHead(503, { 'retry-after': '2' });
      else res.writeHead(200);
      res.end();
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.deepEqual(waits, [2000]);
    await fake.close();
  });

  test('Retry-After as an HTTP date is measured against the clock', async () => {
    const now = Date.UTC(2030, 0, 2, 3, 4, 5);
    let n = 0;
    const fake = await startServer((_req, res) => {
      n++;
      if (n === 1) res.writeHead(503, { 'retry-after': new Date(now + 3000).toUTCString() });
      else res.writeHead(200);
      res.end();
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url), { clock: () => now });
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.deepEqual(waits, [3000]);
    await fake.close();
  });

  test('a Retry-After longer than maxDelayMs is not waited for: the 503 is returned', async () => {
    const fake = await startServer((_req, res) => {
      res.writeHead(503, { 'retry-after': '3600' });
      res.end('come back in an hour');
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url, { retries: { maxDelayMs: 10_000 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 503);
    assert.equal(res.headers['retry-after'], '3600');
    assert.equal(await text(res.body), 'come back in an hour');
    assert.equal(fake.seen.length, 1);
    assert.deepEqual(waits, []);
    await fake.close();
  });

  test('when retries are exhausted the last 5xx response is returned', async () => {
    let n = 0;
    const fake = await startServer((_req, res) => {
      n++;
      res.writeHead(502);
      res.end(`attempt ${n}`);
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url, { retries: { max: 2 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 502);
    assert.equal(await text(res.body), 'attempt 3');
    assert.equal(fake.seen.length, 3);
    assert.equal(waits.length, 2);
    await fake.close();
  });

  test('a 429 is retried like a 503, honouring Retry-After', async () => {
    let n = 0;
    const fake = await startServer((_req, res) => {
      n++;
      if (n === 1) res.writeHead(429, { 'retry-after': '1' });
      else res.writeHead(200);
      res.end();
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(fake.seen.length, 2);
    assert.deepEqual(waits, [1000]);
    await fake.close();
  });

  test('with retries.max 0 a 503 is returned at once', async () => {
    const fake = await startServer((_req, res) => {
      res.writeHead(503);
      res.end();
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url, { retries: { max: 0 } }));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 503);
    await text(res.body);
    assert.equal(fake.seen.length, 1);
    assert.deepEqual(waits, []);
    await fake.close();
  });
});

describe('network failures', () => {
  test('a server that destroys the socket is retried, then UPSTREAM_UNAVAILABLE names the upstream', async () => {
    const fake = await startServer((req) => req.socket.destroy());
    const { client, waits } = makeClient(upstreamConfig(fake.url, { retries: { max: 2 } }));
    await assert.rejects(get(client, '/v2/a/b/blobs/x'), isSignetError('UPSTREAM_UNAVAILABLE', /fake\.registry/));
    assert.equal(fake.seen.length, 3, 'one attempt and two retries');
    assert.equal(waits.length, 2);
    await fake.close();
  });

  test('a destroyed socket followed by a good answer succeeds', async () => {
    let n = 0;
    const fake = await startServer((req, res) => {
      if (++n === 1) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200);
      res.end('recovered');
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/blobs/x');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'recovered');
    assert.equal(waits.length, 1);
    await fake.close();
  });

  test('connection refused (closed port) is UPSTREAM_UNAVAILABLE naming the upstream and its origin', async () => {
    const fake = await startServer(() => undefined);
    const url = fake.url;
    await fake.close();
    const { client, waits } = makeClient(upstreamConfig(url, { retries: { max: 1 }, credentials: true }));
    await assert.rejects(
      get(client, '/v2/a/b/blobs/x'),
      isSignetError('UPSTREAM_UNAVAILABLE', new RegExp(`fake\\.registry \\(${url.replace(/[.]/g, '\\.')}\\) is unreachable`)),
    );
    assert.equal(waits.length, 1);
  });

  test('no response headers within timeouts.responseMs is UPSTREAM_TIMEOUT', async () => {
    const fake = await startServer(() => undefined); // never answers
    const { client } = makeClient(upstreamConfig(fake.url, { retries: { max: 0 }, timeouts: { responseMs: 200 } }));
    await assert.rejects(get(client, '/v2/a/b/blobs/x'), isSignetError('UPSTREAM_TIMEOUT', /fake\.registry.*timed out/));
    await fake.close();
  });
});

describe('Basic authentication', () => {
  test('a Basic challenge is answered with the credentials, then sent up front', async () => {
    let challenges = 0;
    const fake = await startServer((req, res) => {
      if (req.headers['authorization'] !== BASIC) {
        challenges++;
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
        res.end();
        return;
      }
      res.writeHead(200);
      res.end('secret stuff');
    });
    const { client, waits } = makeClient(upstreamConfig(fake.url, { credentials: true }));
    const first = await get(client, '/v2/a/b/manifests/1');
    assert.equal(first.status, 200);
    assert.equal(await text(first.body), 'secret stuff');
    assert.equal(fake.seen[0]?.headers['authorization'], undefined, 'nothing is sent before the upstream asks');
    assert.equal(fake.seen[1]?.headers['authorization'], BASIC);
    for (const path of ['/v2/a/b/manifests/2', '/v2/c/d/blobs/3']) {
      const res = await get(client, path, path.includes('c/d') ? 'c/d' : 'a/b');
      assert.equal(res.status, 200);
      await text(res.body);
    }
    assert.equal(challenges, 1, 'only the very first request was challenged');
    assert.equal(fake.seen.length, 4);
    assert.deepEqual(waits, [], 'an auth retry does not back off');
    await fake.close();
  });

  test('a Basic challenge without configured credentials returns the 401', async () => {
    const fake = await startServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
    const { client } = makeClient(upstreamConfig(fake.url));
    const res = await get(client, '/v2/a/b/manifests/1');
    assert.equal(res.status, 401);
    await text(res.body);
    assert.equal(fake.seen.length, 1);
    await fake.close();
  });

  test('wrong credentials: the second 401 is returned, not retried forever', async () => {
    const fake = await startServer((_req, res) => {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' });
      res.end();
    });
    const { client } = makeClient(upstreamConfig(fake.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/manifests/1');
    assert.equal(res.status, 401);
    await text(res.body);
    assert.equal(fake.seen.length, 2);
    await fake.close();
  });
});

interface TokenWorld {
  registry: FakeServer;
  tokens: FakeServer;
  /** Token → scope it was issued for. */
  issued: Map<string, string>;
  /** 401 answers of the registry. */
  challenges(): number;
}

/**
 * A registry that accepts only tokens issued for the repository in the path, and its token
 * server, which checks service, scope and (when `credentials`) the Basic credentials.
 */
async function tokenWorld(options: { credentials: boolean; field?: 'token' | 'access_token'; expiresIn?: number; tokenStatus?: number }): Promise<TokenWorld> {
  const issued = new Map<string, string>();
  let count = 0;
  const tokens = await startServer((req, res) => {
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
  const registry = await startServer((req, res) => {
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
  return { registry, tokens, issued, challenges: () => challenges };
}

describe('Bearer token flow', () => {
  test('a Bearer challenge fetches a token (service, scope, Basic credentials) and the retry carries it', async () => {
    const w = await tokenWorld({ credentials: true });
    const { client, waits } = makeClient(upstreamConfig(w.registry.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'content of a/b');
    assert.equal(w.tokens.seen.length, 1);
    const tokenUrl = new URL(w.tokens.seen[0]!.url, w.tokens.url);
    assert.equal(tokenUrl.searchParams.get('service'), 'reg');
    assert.equal(tokenUrl.searchParams.get('scope'), 'repository:a/b:pull');
    assert.equal(w.tokens.seen[0]!.headers['authorization'], BASIC);
    assert.equal(w.registry.seen.length, 2);
    assert.equal(w.registry.seen[1]!.headers['authorization'], 'Bearer tok-1');
    assert.deepEqual(waits, []);

    // The same repository again: the cached token is sent up front.
    const again = await get(client, '/v2/a/b/blobs/2', 'a/b');
    assert.equal(again.status, 200);
    await text(again.body);
    assert.equal(w.tokens.seen.length, 1, 'the token is reused');
    assert.equal(w.registry.seen[2]!.headers['authorization'], 'Bearer tok-1');
    assert.equal(w.challenges(), 1);
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('anonymous token requests carry no Authorization header', async () => {
    const w = await tokenWorld({ credentials: false });
    const { client } = makeClient(upstreamConfig(w.registry.url));
    const res = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(res.status, 200);
    await text(res.body);
    assert.equal(w.tokens.seen[0]!.headers['authorization'], undefined);
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('another repository gets its own token with scope repository:<repo>:pull', async () => {
    const w = await tokenWorld({ credentials: false });
    const { client } = makeClient(upstreamConfig(w.registry.url));
    const one = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(one.status, 200);
    await text(one.body);
    const two = await get(client, '/v2/c/d/manifests/1', 'c/d');
    assert.equal(two.status, 200);
    assert.equal(await text(two.body), 'content of c/d');
    assert.equal(w.tokens.seen.length, 2);
    assert.equal(new URL(w.tokens.seen[1]!.url, w.tokens.url).searchParams.get('scope'), 'repository:c/d:pull');
    assert.equal(w.issued.get('tok-2'), 'repository:c/d:pull');
    assert.equal(w.challenges(), 1, 'the known challenge lets the second repository fetch its token first');
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('an expired token is refreshed (injected clock)', async () => {
    let now = Date.UTC(2030, 0, 1);
    const w = await tokenWorld({ credentials: false, expiresIn: 60 });
    const { client } = makeClient(upstreamConfig(w.registry.url), { clock: () => now });
    const one = await get(client, '/v2/a/b/manifests/1', 'a/b');
    await text(one.body);
    now += 30_000; // still fresh (60 s lifetime, 15 s margin)
    const two = await get(client, '/v2/a/b/manifests/1', 'a/b');
    await text(two.body);
    assert.equal(w.tokens.seen.length, 1);
    now += 30_000; // past expiry
    const three = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(three.status, 200);
    await text(three.body);
    assert.equal(w.tokens.seen.length, 2, 'a new token was fetched');
    assert.equal(w.registry.seen.at(-1)!.headers['authorization'], 'Bearer tok-2');
    assert.equal(w.challenges(), 1);
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('a token the registry rejects is dropped and fetched again once', async () => {
    const w = await tokenWorld({ credentials: false });
    const { client } = makeClient(upstreamConfig(w.registry.url));
    const one = await get(client, '/v2/a/b/manifests/1', 'a/b');
    await text(one.body);
    w.issued.delete('tok-1'); // the registry forgets (revokes) the token
    const two = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(two.status, 200);
    await text(two.body);
    assert.equal(w.tokens.seen.length, 2);
    assert.equal(w.registry.seen.at(-1)!.headers['authorization'], 'Bearer tok-2');
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('10 concurrent requests once the challenge is known share one token fetch', async () => {
    const w = await tokenWorld({ credentials: false });
    const { client } = makeClient(upstreamConfig(w.registry.url));
    const warm = await get(client, '/v2/x/y/manifests/1', 'x/y');
    await text(warm.body);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => get(client, `/v2/a/b/blobs/${i}`, 'a/b')));
    for (const res of results) {
      assert.equal(res.status, 200);
      assert.equal(await text(res.body), 'content of a/b');
    }
    const scopes = w.tokens.seen.map((s) => new URL(s.url, w.tokens.url).searchParams.get('scope'));
    assert.deepEqual(scopes, ['repository:x/y:pull', 'repository:a/b:pull']);
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  // A 401 answering a request sent before any token existed must not discard the token another
  // request just fetched.
  test('10 concurrent cold requests (all challenged) share one token fetch', async () => {
    const w = await tokenWorld({ credentials: false });
    const { client } = makeClient(upstreamConfig(w.registry.url));
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => get(client, `/v2/a/b/blobs/${i}`, 'a/b')));
    for (const res of results) {
      assert.equal(res.status, 200);
      await text(res.body);
    }
    assert.equal(w.tokens.seen.length, 1, `the token server was asked ${w.tokens.seen.length} times`);
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('a token server 401 is UPSTREAM_ERROR that points at the credentials, without the password', async () => {
    const w = await tokenWorld({ credentials: true, tokenStatus: 401 });
    const { client } = makeClient(upstreamConfig(w.registry.url, { credentials: true }));
    await assert.rejects(get(client, '/v2/a/b/manifests/1', 'a/b'), isSignetError('UPSTREAM_ERROR', /credentials/));
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });

  test('the access_token field (OAuth2 style) is accepted', async () => {
    const w = await tokenWorld({ credentials: false, field: 'access_token' });
    const { client } = makeClient(upstreamConfig(w.registry.url));
    const res = await get(client, '/v2/a/b/manifests/1', 'a/b');
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'content of a/b');
    assert.equal(w.registry.seen.at(-1)!.headers['authorization'], 'Bearer tok-1');
    await Promise.all([w.registry.close(), w.tokens.close()]);
  });
});

describe('redirects', () => {
  /** A registry requiring Basic that redirects blob requests as `redirect(path)` says. */
  async function redirectingRegistry(redirect: (path: string) => string | undefined): Promise<FakeServer> {
    return startServer((req, res) => {
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

  test('a redirect to another origin carries no Authorization header', async () => {
    const storage = await startServer((_req, res) => {
      res.writeHead(200);
      res.end('blob bytes');
    });
    const registry = await redirectingRegistry((path) => (path.includes('/blobs/') ? `${storage.url}/data/blob1?sig=abc` : undefined));
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true }));
    // Learn Basic first, so that credentials would go up front.
    const warm = await get(client, '/v2/a/b/manifests/1');
    await text(warm.body);
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'blob bytes');
    assert.equal(res.url.href, `${storage.url}/data/blob1?sig=abc`);
    assert.equal(registry.seen.at(-1)!.headers['authorization'], BASIC, 'the registry itself got the credentials');
    assert.equal(storage.seen.length, 1);
    assert.equal(storage.seen[0]!.url, '/data/blob1?sig=abc');
    assert.equal(storage.seen[0]!.headers['authorization'], undefined, 'credentials leaked to another origin');
    await Promise.all([registry.close(), storage.close()]);
  });

  test('a Bearer token is not sent to another origin either', async () => {
    const w = await tokenWorld({ credentials: true });
    const storage = await startServer((_req, res) => {
      res.writeHead(200);
      res.end('blob bytes');
    });
    // Wrap the token registry: blobs redirect once authenticated.
    const registry = await startServer((req, res) => {
      const auth = req.headers['authorization'] ?? '';
      if (!auth.startsWith('Bearer ') || !w.issued.has(auth.slice(7))) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${w.tokens.url}/token",service="reg",scope="repository:a/b:pull"` });
        res.end();
        return;
      }
      res.writeHead(302, { location: `${storage.url}/blob` });
      res.end();
    });
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'blob bytes');
    assert.equal(storage.seen[0]!.headers['authorization'], undefined);
    await Promise.all([registry.close(), storage.close(), w.registry.close(), w.tokens.close()]);
  });

  test('a same-origin redirect keeps the credentials', async () => {
    const registry = await redirectingRegistry((path) => (path.includes('/blobs/') ? '/storage/blob1' : undefined));
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true }));
    const warm = await get(client, '/v2/a/b/manifests/1');
    await text(warm.body);
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'same-origin /storage/blob1');
    const last = registry.seen.at(-1)!;
    assert.equal(last.url, '/storage/blob1');
    assert.equal(last.headers['authorization'], BASIC);
    await registry.close();
  });

  test('a relative Location is resolved against the URL that redirected', async () => {
    const registry = await redirectingRegistry((path) => (path === '/v2/a/b/blobs/sha256:1' ? 'moved/here?x=1' : undefined));
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'same-origin /v2/a/b/blobs/moved/here?x=1');
    assert.equal(res.url.pathname, '/v2/a/b/blobs/moved/here');
    await registry.close();
  });

  test('more than maxRedirects is UPSTREAM_ERROR', async () => {
    const registry = await redirectingRegistry((path) => {
      const m = /^\/hop\/(\d+)$/.exec(path);
      return `/hop/${m ? Number(m[1]) + 1 : 1}`;
    });
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true, maxRedirects: 3 }));
    await assert.rejects(get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true), isSignetError('UPSTREAM_ERROR', /redirected more than 3 times/));
    const hops = registry.seen.filter((s) => s.url.startsWith('/hop/')).map((s) => s.url);
    assert.deepEqual(hops, ['/hop/1', '/hop/2', '/hop/3']);
    await registry.close();
  });

  test('exactly maxRedirects redirects are followed', async () => {
    const registry = await redirectingRegistry((path) => {
      const m = /^\/hop\/(\d+)$/.exec(path);
      const n = m ? Number(m[1]) : 0;
      return n < 3 ? `/hop/${n + 1}` : undefined;
    });
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true, maxRedirects: 3 }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true);
    assert.equal(res.status, 200);
    assert.equal(await text(res.body), 'same-origin /hop/3');
    await registry.close();
  });

  test('without followRedirects the 3xx is returned', async () => {
    const registry = await redirectingRegistry(() => 'http://127.0.0.1:1/elsewhere');
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true }));
    const res = await get(client, '/v2/a/b/blobs/sha256:1', 'a/b', false);
    assert.equal(res.status, 307);
    assert.equal(res.headers['location'], 'http://127.0.0.1:1/elsewhere');
    await text(res.body);
    await registry.close();
  });

  test('a redirect to a non-HTTP scheme is refused', async () => {
    const registry = await redirectingRegistry(() => 'file:///etc/passwd');
    const { client } = makeClient(upstreamConfig(registry.url, { credentials: true }));
    await assert.rejects(get(client, '/v2/a/b/blobs/sha256:1', 'a/b', true), isSignetError('UPSTREAM_ERROR', /unsupported URL scheme/));
    await registry.close();
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

  test('errors after authenticated requests never contain the password', async () => {
    // Basic learnt, then the upstream starts cutting connections.
    let n = 0;
    const fake = await startServer((req, res) => {
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
    const { client } = makeClient(upstreamConfig(fake.url, { credentials: true, retries: { max: 1 } }));
    const ok = await get(client, '/v2/a/b/manifests/1');
    assert.equal(ok.status, 200);
    await text(ok.body);
    await assert.rejects(get(client, '/v2/a/b/manifests/1'), (err: unknown) => {
      assert.ok(err instanceof SignetError);
      const everything = [err.message, err.stack ?? '', String((err.cause as Error | undefined)?.message ?? ''), JSON.stringify(err)].join('\n');
      assert.ok(!everything.includes(PASSWORD), everything);
      assert.ok(!everything.includes(BASIC.slice(6)), everything);
      return true;
    });
    await fake.close();
  });
});
