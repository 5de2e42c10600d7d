import { Readable } from 'node:stream';
import type { FileHandle } from 'node:fs/promises';
import { SignetError, errorMessage } from '../../errors.js';
import type { BufferPool } from '../buffer-pool.js';

/**
 * A stream of bytes `start`..`end` (inclusive) of an open file, read into buffers of `pool`, one
 * read at a time; the handle is closed when the stream ends or is destroyed. (Node's
 * `FileHandle.createReadStream` allocates a new buffer per read; this one lets the response
 * writer give each buffer back once it was sent.)
 */
export function pooledFileStream(handle: FileHandle, start: number, end: number, pool: BufferPool, what: string): Readable {
  let position = start;
  return new Readable({
    // One buffer ahead of the socket: the pool's size is the read size.
    highWaterMark: pool.size,
    read(this: Readable) {
      const remaining = end + 1 - position;
      if (remaining <= 0) {
        this.push(null);
        return;
      }
      const buf = pool.take();
      const length = Math.min(buf.length, remaining);
      handle.read(buf, 0, length, position).then(
        ({ bytesRead }) => {
          if (bytesRead === 0) {
            this.destroy(new SignetError('STORAGE_ERROR', `${what} ended at byte ${position}, before ${end + 1}`));
            return;
          }
          position += bytesRead;
          this.push(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
        },
        (err: unknown) => this.destroy(new SignetError('STORAGE_ERROR', `cannot read ${what}: ${errorMessage(err)}`, { cause: err })),
      );
    },
    destroy(err, cb) {
      handle.close().then(
        () => cb(err),
        () => cb(err),
      );
    },
  });
}
