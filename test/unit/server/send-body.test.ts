import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { sendBody } from '../../../src/server/send-body.js';

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

describe('sendBody', () => {
  it('sends every byte and recycles each chunk only after the socket took it', async () => {
    const chunks = Array.from({ length: 64 }, () => randomBytes(64 * 1024));
    const sent = new Set<Uint8Array>();
    const recycled: Uint8Array[] = [];
    const { server, url } = await serve((_req, res) => {
      res.setHeader('Content-Length', String(64 * 64 * 1024));
      const body = Readable.from(chunks, { objectMode: false });
      body.on('data', (c: Buffer) => sent.add(c));
      sendBody(res, body, (chunk) => {
        assert.ok(sent.has(chunk), 'a chunk of this body');
        recycled.push(chunk);
      });
    });
    try {
      const res = await fetch(url);
      const got = Buffer.from(await res.arrayBuffer());
      assert.ok(got.equals(Buffer.concat(chunks)));
      assert.equal(recycled.length, chunks.length);
    } finally {
      server.close();
    }
  });

  it('destroys the body when the client leaves, and pauses it while the client reads nothing', async () => {
    let body: Readable | undefined;
    let produced = 0;
    const { server, url } = await serve((_req, res) => {
      body = new Readable({
        read() {
          produced += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024));
        },
      });
      sendBody(res, body, () => undefined);
    });
    try {
      const req = request(url);
      req.end();
      const [res] = (await once(req, 'response')) as [import('node:http').IncomingMessage];
      res.pause(); // reads nothing: the socket buffers fill up, then the body must wait
      await new Promise((r) => setTimeout(r, 300));
      const before = produced;
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(produced, before, 'no more bytes produced while the client reads nothing');
      assert.ok(produced < 64 * 1024 ** 2, `bounded: ${produced} bytes`);
      req.destroy();
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(body?.destroyed, true);
    } finally {
      server.close();
    }
  });
});
