import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { parseConfig } from '../../../src/config/load.js';
import { Signet } from '../../../src/server/signet.js';

// Graceful shutdown: a blob stream in flight when stop() begins is finished, new connections
// are refused, and readiness turns off first.

test('stop() lets an in-flight blob stream finish, then refuses new connections', async () => {
  const blob = randomBytes(2 * 1024 * 1024);
  const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  let release: () => void = () => undefined;
  let streaming: () => void = () => undefined;
  const started = new Promise<void>((r) => (streaming = r));
  const released = new Promise<void>((r) => (release = r));
  const upstream: Server = createServer((req, res) => {
    if (req.url === `/v2/team/app/blobs/${digest}`) {
      res.writeHead(200, { 'content-length': String(blob.length), 'content-type': 'application/octet-stream' });
      res.write(blob.subarray(0, blob.length / 2));
      streaming();
      void released.then(() => res.end(blob.subarray(blob.length / 2)));
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', () => r()));
  const storage = await mkdtemp(join(tmpdir(), 'signet-shutdown-'));
  const config = parseConfig(
    `listen: {host: 127.0.0.1, port: 0}\nstorage: {path: ${JSON.stringify(storage)}}\nupstreams:\n  r.example: {url: "http://127.0.0.1:${(upstream.address() as AddressInfo).port}"}\npolicy: {default: "off"}\n`,
    'test',
  );
  const signet = new Signet({ config, logger: pino({ level: 'silent' }) });
  const { port } = await signet.start();
  try {
    const body = new Promise<{ status: number; bytes: Buffer; complete: boolean }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, path: `/v2/team/app/blobs/${digest}` }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes: Buffer.concat(chunks), complete: res.complete }));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end();
    });
    // Wait until Signet is streaming, then begin the shutdown.
    await started;
    await new Promise((r) => setTimeout(r, 50)); // let the first half reach the client
    const stopping = signet.stop(10_000);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status).catch(() => 'refused');
    assert.notEqual(ready, 200, 'not ready once shutdown began');
    release();
    const got = await body;
    assert.equal(got.status, 200);
    assert.ok(got.complete, 'the response completed');
    assert.ok(got.bytes.equals(blob), 'all bytes arrived');
    await stopping;
    await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), 'no new connections after stop');
  } finally {
    release();
    await new Promise<void>((r) => upstream.close(() => r()));
    await rm(storage, { recursive: true, force: true });
  }
});
