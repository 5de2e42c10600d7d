import type { Readable } from 'node:stream';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';

/**
 * Small upstream bodies (error answers, token responses, redirects' leftovers) are read within a
 * size limit and a time limit, and the body is destroyed at either limit or when the reader's
 * signal aborts: an upstream that sends an endless error body (or a slow one) costs at most
 * `errorBodyMaxBytes` and `upstreamBodyTimeoutMs`, never the upstream's whole supply, and
 * nothing is read for a client that has left. Destroying closes the connection instead of
 * draining it.
 */

export interface SmallBodyLimits {
  /** Bytes kept; reading stops (the body is destroyed) past them. */
  maxBytes?: number;
  /** ms for the whole body; reading stops (the body is destroyed) then. */
  timeoutMs?: number;
  /** Reading stops (the body is destroyed) when this aborts: nobody waits for the body any more. */
  signal?: AbortSignal | undefined;
}

export interface SmallBody {
  bytes: Buffer;
  /** True when the body ended by itself within the limits (not cut at the size limit, the deadline or an abort). */
  complete: boolean;
  /** Why it is incomplete: over the size limit, past the deadline, aborted, or a transfer error. */
  stopped: 'size' | 'time' | 'aborted' | 'error' | undefined;
  /** The transfer error's message, when `stopped` is 'error'. */
  error?: string;
}

/** Reads at most `maxBytes` of a body within `timeoutMs`; never throws. */
export async function readSmallBody(body: Readable, limits: SmallBodyLimits = {}): Promise<SmallBody> {
  const maxBytes = limits.maxBytes ?? DEFAULTS.errorBodyMaxBytes;
  const timeoutMs = limits.timeoutMs ?? DEFAULTS.upstreamBodyTimeoutMs;
  const chunks: Buffer[] = [];
  let size = 0;
  let stopped: SmallBody['stopped'];
  let error: string | undefined;
  const stop = (why: 'size' | 'time' | 'aborted'): void => {
    stopped ??= why;
    destroyBody(body);
  };
  const timer = setTimeout(() => stop('time'), timeoutMs);
  const onAbort = (): void => stop('aborted');
  if (limits.signal?.aborted) stop('aborted');
  limits.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for await (const chunk of body) {
      const buf = chunk as Buffer;
      const room = maxBytes - size;
      if (buf.length > room) {
        // Over the limit: what would follow is not wanted, however much the upstream has.
        chunks.push(buf.subarray(0, room));
        size = maxBytes;
        stop('size');
        break;
      }
      chunks.push(buf);
      size += buf.length;
    }
  } catch (err) {
    if (stopped === undefined) {
      stopped = 'error';
      error = errorMessage(err);
    }
  } finally {
    clearTimeout(timer);
    limits.signal?.removeEventListener('abort', onAbort);
  }
  return { bytes: Buffer.concat(chunks, size), complete: stopped === undefined, stopped, ...(error === undefined ? {} : { error }) };
}

/** Reads at most `limit` bytes of a body as text within the time limit, and drops the rest unread. */
export async function readLimited(body: Readable, limit: number, limits: Omit<SmallBodyLimits, 'maxBytes'> = {}): Promise<string> {
  const read = await readSmallBody(body, { ...limits, maxBytes: limit });
  return read.bytes.toString('utf8');
}

/**
 * Lets go of a body nobody reads: a short body whose length is announced is drained (the
 * connection stays usable, for a bounded cost), anything else is destroyed.
 */
export function releaseBody(body: Readable, headers: Record<string, string | string[] | undefined>): void {
  const raw = headers['content-length'];
  const value = Array.isArray(raw) ? raw[0] : raw;
  const length = value !== undefined && /^\s*\d+\s*$/.test(value) ? Number(value) : undefined;
  if (length === undefined || length > DEFAULTS.errorBodyMaxBytes) {
    destroyBody(body);
    return;
  }
  const timer = setTimeout(() => destroyBody(body), DEFAULTS.upstreamBodyTimeoutMs);
  body.once('close', () => clearTimeout(timer));
  body.on('error', () => undefined);
  body.resume();
}

/**
 * Destroys a body. undici reports a body destroyed before its end as an 'error' that nobody
 * listens to any more; it is swallowed here rather than left to surface as an uncaught exception.
 */
export function destroyBody(body: Readable): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** undici error codes of a response body that stopped: no byte within the idle timeout. */
const BODY_TIMEOUT_CODES = new Set(['UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

/**
 * The error a response body fails with once its headers arrived: a transfer that broke (the
 * upstream closed the connection early, sent less than its Content-Length) is UPSTREAM_ERROR
 * (502), one that stalled past the idle timeout is UPSTREAM_TIMEOUT (504); both name the
 * upstream, so a client never sees a 500 for an upstream's fault.
 */
export function bodyTransferError(upstream: string, origin: string, err: unknown): SignetError {
  if (err instanceof SignetError) return err as SignetError;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && BODY_TIMEOUT_CODES.has(code)) {
    return new SignetError('UPSTREAM_TIMEOUT', `upstream ${upstream} (${origin}) stopped sending its answer: ${errorMessage(err)}`, { cause: err });
  }
  return new SignetError('UPSTREAM_ERROR', `upstream ${upstream} (${origin}) broke off its answer: ${errorMessage(err)}`, { cause: err });
}
