import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Readable, pipeline } from 'node:stream';
import { describe, test, type TestContext } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { applyConnectionLimits, type ConnectionLimits } from '../../../src/server/connection-limits.js';
import { poll } from '../../harness/poll.js';

// A real node:http server configured by applyConnectionLimits, with clients that misbehave on
// raw sockets: too slow to send their headers, too many, or never reading what they asked for.

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** ms a test waiting for a connection to close may take before it fails (a hang guard, not a timing assertion). */
const HANG_GUARD_MS = 30_000;
const KiB = 1024;
const MiB = 1024 * KiB;

const LIMITS: ConnectionLimits = {
  maxConnections: 1_000,
  timeouts: { headersMs: 60_000, requestMs: 60_000, keepAliveMs: 60_000, sendMs: 60_000 },
};

function limits(over: { maxConnections?: number; timeouts?: Partial<ConnectionLimits['timeouts']> }): ConnectionLimits {
  return { maxConnections: over.maxConnections ?? LIMITS.maxConnections, timeouts: { ...LIMITS.timeouts, ...over.timeouts } };
}

interface TestServer {
  port: number;
  /** Responses whose connection has not closed yet. */
  open: Set<ServerResponse>;
  /** Responses whose connection closed. */
  closed: () => number;
}

/**
 * `/big`: a body of 1 GiB made of one buffer of `perResponse` bytes held for each response (as a
 * blob stream holds its buffers), `/slow-start`: answers only after its socket timer fired once
 * (the response was being worked out for longer than sendMs), `/slow-body`: sends its first
 * bytes, then the rest only after its socket timer fired once, anything else: "ok".
 */
async function startServer(t: TestContext, config: ConnectionLimits, perResponse = 512 * KiB): Promise<TestServer> {
  const open = new Set<ServerResponse>();
  let closed = 0;
  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    open.add(res);
    res.once('close', () => {
      open.delete(res);
      closed++;
    });
    if (req.url === '/big') {
      const held = Buffer.alloc(perResponse, 1);
      let left = 1024 * MiB;
      const body = new Readable({
        read() {
          const n = Math.min(left, held.length);
          left -= n;
          this.push(n > 0 ? held.subarray(0, n) : null);
        },
      });
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(1024 * MiB) });
      pipeline(body, res, () => undefined);
      return;
    }
    if (req.url === '/slow-start') {
      res.once('timeout', () => setImmediate(() => res.end('late but whole')));
      return;
    }
    if (req.url === '/slow-body') {
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '14' });
      res.write('late ');
      // The rest comes after the timer's handlers ran: the response outlived the timer.
      res.once('timeout', () => setImmediate(() => res.end('but whole')));
      return;
    }
    res.end('ok');
  };
  const server: Server = createServer({ maxHeaderSize: DEFAULTS.maxHeaderBytes }, handler);
  applyConnectionLimits(server, config);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { port: (server.address() as AddressInfo).port, open, closed: () => closed };
}

/** A raw client socket, destroyed when the test ends; `text()` is everything it received. */
async function rawClient(t: TestContext, port: number): Promise<{ socket: Socket; text: () => string; closed: Promise<void> }> {
  const socket = connect(port, '127.0.0.1');
  t.after(() => socket.destroy());
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, text: () => Buffer.concat(chunks).toString('latin1'), closed };
}

function ociBody(text: string): { code: string; message: string } {
  const body = text.slice(text.indexOf('\r\n\r\n') + 4);
  const first = (JSON.parse(body) as { errors: Array<{ code: string; message: string }> }).errors[0];
  assert.ok(first, text);
  return first;
}

describe('connection limits', () => {
  test('a client too slow to send its headers gets 408 with an OCI body, and is disconnected', { timeout: HANG_GUARD_MS }, async (t) => {
    const server = await startServer(t, limits({ timeouts: { headersMs: 200 } }));
    const client = await rawClient(t, server.port);
    client.socket.write('GET /v2/ HTTP/1.1\r\nHost: signet\r\n'); // the blank line never comes
    await client.closed;
    assert.match(client.text(), /^HTTP\/1\.1 408 /);
    assert.match(client.text(), /content-type: application\/json/i);
    assert.equal(ociBody(client.text()).code, 'UNSUPPORTED');
  });

  test('a client that sends nothing at all is answered 408 and disconnected', { timeout: HANG_GUARD_MS }, async (t) => {
    const server = await startServer(t, limits({ timeouts: { headersMs: 200 } }));
    const client = await rawClient(t, server.port);
    await client.closed;
    assert.match(client.text(), /^HTTP\/1\.1 408 /);
  });

  test('headers over the limit get 431 and garbage 400, with OCI bodies', { timeout: HANG_GUARD_MS }, async (t) => {
    const server = await startServer(t, LIMITS);
    const big = await rawClient(t, server.port);
    big.socket.write(`GET /v2/ HTTP/1.1\r\nHost: signet\r\nX-Big: ${'a'.repeat(DEFAULTS.maxHeaderBytes + 1)}\r\n\r\n`);
    await big.closed;
    assert.match(big.text(), /^HTTP\/1\.1 431 /);
    assert.match(ociBody(big.text()).message, new RegExp(`${DEFAULTS.maxHeaderBytes} bytes`));
    const garbage = await rawClient(t, server.port);
    garbage.socket.write('NOT HTTP AT ALL\r\n\r\n');
    await garbage.closed;
    assert.match(garbage.text(), /^HTTP\/1\.1 400 /);
    assert.equal(ociBody(garbage.text()).code, 'UNSUPPORTED');
  });

  test('connections over maxConnections are closed at once; the others keep working', { timeout: HANG_GUARD_MS }, async (t) => {
    const server = await startServer(t, limits({ maxConnections: 3 }));
    const kept = [];
    for (let i = 0; i < 3; i++) {
      const c = await rawClient(t, server.port);
      c.socket.write('GET /small HTTP/1.1\r\nHost: signet\r\n\r\n');
      await poll(`answer on connection ${i}`, () => (c.text().endsWith('ok') ? true : undefined));
      kept.push(c);
    }
    const extra = await rawClient(t, server.port);
    extra.socket.write('GET /small HTTP/1.1\r\nHost: signet\r\n\r\n');
    await extra.closed;
    assert.equal(extra.text(), '', 'no answer on the connection over the limit');
    const first = kept[0];
    assert.ok(first);
    first.socket.write('GET /small HTTP/1.1\r\nHost: signet\r\n\r\n');
    await poll('a second answer on a kept connection', () => ((first.text().match(/\r\nok/g) ?? []).length === 2 ? true : undefined));
    // One leaves: there is room for a new one.
    first.socket.destroy();
    await first.closed;
    await poll('a new connection accepted', async () => {
      const c = await rawClient(t, server.port);
      c.socket.write('GET /small HTTP/1.1\r\nHost: signet\r\n\r\n');
      await Promise.race([c.closed, poll('answer', () => (c.text().endsWith('ok') ? true : undefined), { timeoutMs: 2_000 })]);
      return c.text().endsWith('ok') ? true : undefined;
    });
  });

  test('readers that stop reading are disconnected after sendMs and what their responses held is released', async (t) => {
    const readers = 200;
    const perResponse = 512 * KiB;
    const server = await startServer(t, limits({ timeouts: { sendMs: 500 } }), perResponse);
    gc();
    const baseline = process.memoryUsage().arrayBuffers;
    for (let i = 0; i < readers; i++) {
      const c = await rawClient(t, server.port);
      c.socket.pause(); // asks, then reads nothing
      c.socket.write('GET /big HTTP/1.1\r\nHost: signet\r\n\r\n');
    }
    // Waits for the event itself: every one of the responses was cut by the server.
    await poll(`the ${readers} stalled responses cut`, () => (server.closed() === readers && server.open.size === 0 ? true : undefined), {
      timeoutMs: 60_000,
    });
    // V8 frees the buffers of collected ArrayBuffers on a background thread after a GC: asked
    // again until they are gone (the deadline fails the test if something still holds them).
    let held = Number.POSITIVE_INFINITY;
    await poll(
      'the buffers of the cut responses released',
      () => {
        gc();
        held = process.memoryUsage().arrayBuffers - baseline;
        return held < 16 * MiB ? true : undefined;
      },
      { timeoutMs: 20_000 },
    ).catch((err: unknown) => {
      throw new Error(`${(held / MiB).toFixed(1)} MiB still held after the cut (${((readers * perResponse) / MiB).toFixed(0)} MiB while stalled)`, {
        cause: err,
      });
    });
  });

  test('a response still being worked out, or whose next bytes are slow to come, is not cut after sendMs', { timeout: HANG_GUARD_MS }, async (t) => {
    const server = await startServer(t, limits({ timeouts: { sendMs: 200 } }));
    for (const path of ['/slow-start', '/slow-body']) {
      const res = await fetch(`http://127.0.0.1:${server.port}${path}`);
      assert.equal(res.status, 200, path);
      assert.equal(await res.text(), 'late but whole', path);
    }
  });

  test('an idle keep-alive connection is closed after keepAliveMs', { timeout: HANG_GUARD_MS }, async (t) => {
    const server = await startServer(t, limits({ timeouts: { keepAliveMs: 200, sendMs: 100 } }));
    const client = await rawClient(t, server.port);
    client.socket.write('GET /small HTTP/1.1\r\nHost: signet\r\n\r\n');
    await client.closed;
    assert.match(client.text(), /^HTTP\/1\.1 200 [\s\S]*keep-alive[\s\S]*ok$/i);
  });
});
