import { createCipheriv, createHash } from 'node:crypto';
import { Readable } from 'node:stream';

/**
 * A deterministic, incompressible stream of `size` bytes (AES-256-CTR over zeros, keyed by
 * `seed`), produced chunk by chunk so that huge blobs are never held in memory.
 */
export function deterministicStream(size: number, seed: string, chunkSize = 1024 * 1024): Readable {
  const key = createHash('sha256').update(`key:${seed}`).digest();
  const iv = createHash('sha256').update(`iv:${seed}`).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-256-ctr', key, iv);
  const zeros = Buffer.alloc(chunkSize);
  let remaining = size;
  return new Readable({
    highWaterMark: chunkSize,
    read() {
      if (remaining <= 0) {
        this.push(null);
        return;
      }
      const n = Math.min(remaining, chunkSize);
      remaining -= n;
      this.push(cipher.update(n === chunkSize ? zeros : zeros.subarray(0, n)));
    },
  });
}

/** sha256 digest (`sha256:<hex>`) and length of everything a stream yields. */
export async function hashStream(stream: AsyncIterable<unknown>): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of stream) {
    const buf = chunk as Uint8Array;
    hash.update(buf);
    size += buf.byteLength;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

export function sha256Digest(data: Buffer | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}
