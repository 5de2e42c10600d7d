import { createHash, type Hash } from 'node:crypto';
import { errorMessage } from '../errors.js';
import type { DigestAlgorithm } from './names.js';
import { SignatureFetchError } from './signature-fetch-error.js';
import { header, type UpstreamResponse } from './upstream-client.js';

export interface BoundedReadOptions {
  /** Upstream name, for messages. */
  upstream: string;
  /** What is read, for messages ("manifest app@sha256:..."). */
  what: string;
  maxBytes: number;
  /** Hashes the bytes while they arrive. */
  hash?: DigestAlgorithm;
  /** Sees each chunk before it is kept; throws to stop reading (the body is then destroyed). */
  inspect?: (chunk: Buffer) => void;
}

export interface BoundedBody {
  bytes: Buffer;
  /** "<algorithm>:<hex>" of the bytes, when `hash` was asked for. */
  digest: string | undefined;
}

/**
 * Reads a small body whole, refusing it before the first byte when its Content-Length is over
 * the limit and while reading when more bytes than that arrive (Content-Length is only a claim:
 * chunked answers have none). A refused body is destroyed, which closes the connection rather
 * than draining what the upstream still has to send.
 */
export async function readBounded(res: UpstreamResponse, options: BoundedReadOptions): Promise<BoundedBody> {
  const { upstream, what, maxBytes } = options;
  const announced = contentLength(res);
  if (announced !== undefined && announced > maxBytes) {
    discard(res);
    throw new SignatureFetchError(
      'too_large',
      `${what} at upstream ${upstream} is ${announced} bytes (Content-Length), over the limit of ${maxBytes} bytes; it was not read`,
    );
  }
  const hash: Hash | undefined = options.hash ? createHash(options.hash) : undefined;
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      size += buf.length;
      if (size > maxBytes) {
        throw new SignatureFetchError('too_large', `${what} at upstream ${upstream} is more than ${maxBytes} bytes, over the limit; it was not read further`);
      }
      options.inspect?.(buf);
      hash?.update(buf);
      chunks.push(buf);
    }
  } catch (err) {
    discard(res);
    if (err instanceof SignatureFetchError) throw err;
    throw new SignatureFetchError('unavailable', `the transfer of ${what} from upstream ${upstream} broke after ${size} bytes: ${errorMessage(err)}`, {
      cause: err,
    });
  }
  return { bytes: Buffer.concat(chunks, size), digest: hash && options.hash ? `${options.hash}:${hash.digest('hex')}` : undefined };
}

/**
 * Closes a body that will not be read. undici reports a body destroyed before its end as an
 * 'error' (RequestAbortedError); nobody listens to it any more, so it is swallowed here rather
 * than left to surface as an uncaught exception.
 */
export function discard(res: UpstreamResponse): void {
  res.body.on('error', () => undefined);
  res.body.destroy();
}

/** The announced length, when the header is a plain decimal number (RFC 9110 §8.6). */
export function contentLength(res: UpstreamResponse): number | undefined {
  const value = header(res.headers, 'content-length');
  if (value === undefined || !/^\s*\d+\s*$/.test(value)) return undefined;
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : Number.MAX_SAFE_INTEGER;
}
