import type { ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';

/**
 * Writes `body` to `res` as Koa's `body.pipe(res)` would, but learns when the socket has taken
 * each chunk (the write's callback) and then hands the chunk to `recycle`: the read buffers of a
 * blob go back to their pool instead of to the garbage collector. The caller has set the status
 * and headers and tells Koa not to respond (`ctx.respond = false`).
 *
 * Backpressure as in `pipe`: the body pauses while the response's buffer is full. A body that
 * fails cuts the connection (the caller's error handler), a client that leaves destroys the
 * body, so its file or download reader lets go at once.
 */
export function sendBody(res: ServerResponse, body: Readable, recycle: (chunk: Uint8Array) => void): void {
  let draining = false;
  const resume = (): void => {
    draining = false;
    body.resume();
  };
  body.on('data', (chunk: Buffer) => {
    const more = res.write(chunk, (err) => {
      // Only once the socket took the bytes; after a failed write they are dropped with the socket.
      if (!err) recycle(chunk);
    });
    if (!more && !draining) {
      draining = true;
      body.pause();
      res.once('drain', resume);
    }
  });
  body.once('end', () => res.end());
  res.once('close', () => {
    if (!body.destroyed) body.destroy();
  });
}
