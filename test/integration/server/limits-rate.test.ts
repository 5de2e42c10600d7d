import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test, type TestContext } from 'node:test';
import Koa from 'koa';
import type { Context, Next } from 'koa';
import { pino } from 'pino';
import { Metrics } from '../../../src/server/metrics.js';
import { errorMiddleware, type RequestState } from '../../../src/server/middleware.js';
import { rateLimitMiddleware } from '../../../src/server/rate-limit.js';
import { assertOciError } from '../../harness/http.js';
import { parseMetric } from '../../harness/metrics.js';

// The per-client request limit in a Koa app of its own, shaped like Signet's: the error
// middleware outermost, then (in place of the auth middleware) one that sets the user a test
// names, then the limit. The clock is the test's: no request refills a bucket unless it moves.

interface App {
  url: string;
  metrics: Metrics;
  advance(ms: number): void;
}

async function startApp(t: TestContext, limits: { clientRequestsPerSecond: number; clientBurst: number }): Promise<App> {
  let now = 1_000_000;
  const metrics = new Metrics();
  const app = new Koa();
  app.silent = true;
  app.use(errorMiddleware(pino({ level: 'silent' })));
  app.use(async (ctx: Context, next: Next) => {
    const user = ctx.get('x-test-user');
    if (user !== '') (ctx.state as RequestState).user = user;
    await next();
  });
  app.use(rateLimitMiddleware(limits, { observer: metrics, clock: () => now }));
  app.use((ctx: Context) => {
    ctx.body = { ok: true };
  });
  const callback = app.callback();
  const server: Server = createServer((req, res) => void callback(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, metrics, advance: (ms) => (now += ms) };
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: string }> {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

/** Statuses of `n` requests in a row. */
async function statuses(url: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await get(url, headers)).status);
  return out;
}

describe('per-client request limit', () => {
  test('over the burst: 429 TOOMANYREQUESTS with Retry-After, counted; the budget refills', async (t) => {
    const app = await startApp(t, { clientRequestsPerSecond: 0.5, clientBurst: 3 });
    assert.deepEqual(await statuses(`${app.url}/v2/`, 3), [200, 200, 200]);
    const refused = await get(`${app.url}/v2/team/app/manifests/1.0`);
    const error = assertOciError(refused, 429, ['TOOMANYREQUESTS']);
    assert.match(error.message, /limit is 0\.5 per second/);
    assert.equal(refused.headers.get('retry-after'), '2');
    const text = await app.metrics.registry.metrics();
    assert.equal(parseMetric(text, 'signet_rate_limited_total', { by: 'address' }), 1);
    app.advance(2_000);
    assert.deepEqual(await statuses(`${app.url}/v2/`, 2), [200, 429]);
  });

  test('an authenticated user is a client of its own, apart from its address', async (t) => {
    const app = await startApp(t, { clientRequestsPerSecond: 1, clientBurst: 2 });
    assert.deepEqual(await statuses(`${app.url}/v2/`, 3), [200, 200, 429]);
    assert.deepEqual(await statuses(`${app.url}/v2/`, 3, { 'x-test-user': 'alice' }), [200, 200, 429]);
    assert.deepEqual(await statuses(`${app.url}/v2/`, 3, { 'x-test-user': 'bob' }), [200, 200, 429]);
    const text = await app.metrics.registry.metrics();
    assert.equal(parseMetric(text, 'signet_rate_limited_total', { by: 'user' }), 2);
    assert.equal(parseMetric(text, 'signet_rate_limited_total', { by: 'address' }), 1);
  });

  test('probes are answered whatever the client sent before', async (t) => {
    const app = await startApp(t, { clientRequestsPerSecond: 1, clientBurst: 1 });
    assert.deepEqual(await statuses(`${app.url}/v2/`, 2), [200, 429]);
    assert.deepEqual(await statuses(`${app.url}/healthz`, 5), [200, 200, 200, 200, 200]);
    assert.deepEqual(await statuses(`${app.url}/readyz`, 5), [200, 200, 200, 200, 200]);
  });

  test('0 requests per second turns the limit off', async (t) => {
    const app = await startApp(t, { clientRequestsPerSecond: 0, clientBurst: 1 });
    const got = await statuses(`${app.url}/v2/`, 200);
    assert.deepEqual(new Set(got), new Set([200]));
    assert.equal(parseMetric(await app.metrics.registry.metrics(), 'signet_rate_limited_total'), 0);
  });
});
