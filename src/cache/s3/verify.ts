import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError } from '../../errors.js';
import type { Digest } from '../../registry/names.js';

/**
 * Passes a whole blob through while hashing it, holding back the last chunk until the digest
 * and length matched: a client never receives the complete body of a corrupted object, only a
 * cut one (the proxy ends the response early). On a mismatch `onMismatch` runs (the store
 * removes the object), then the stream fails with a STORAGE_ERROR.
 */
export function verifyingStream(digest: Digest, size: number, onMismatch: (reason: string) => Promise<void>): Transform {
  const hash = createHash(digest.algorithm);
  let held: Buffer | undefined;
  let seen = 0;
  return new Transform({
    readableHighWaterMark: DEFAULTS.blobReadChunkBytes,
    writableHighWaterMark: DEFAULTS.blobReadChunkBytes,
    transform(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      seen += chunk.length;
      const previous = held;
      held = chunk;
      callback(null, previous);
    },
    flush(callback) {
      const actual = `${digest.algorithm}:${hash.digest('hex')}`;
      const reason = seen !== size ? `object ended after ${seen} of ${size} bytes` : actual !== digest.value ? `object bytes hash to ${actual}` : undefined;
      if (reason !== undefined) {
        // Removed before the reader learns of it, so its retry fetches the blob again.
        const failure = new SignetError('STORAGE_ERROR', `stored blob ${digest.value} is corrupted: ${reason}`);
        onMismatch(reason).then(
          () => callback(failure),
          () => callback(failure),
        );
        return;
      }
      callback(null, held);
    },
  });
}
