/**
 * The default RevocationFetch: plain HTTP with undici. OCSP responses and CRLs are signed
 * objects meant to travel over http (RFC 5280 4.2.1.13, RFC 6960 appendix A), and
 * notation-core-go refuses every other scheme for both, so https: (whose certificate would need
 * a revocation check of its own) and anything else is refused here too. Redirects are not
 * followed (undici's request does not follow them; a 3xx is returned as it is), the whole
 * exchange is bounded by `timeoutMs`, and the body by `maxBytes` while it streams.
 */
import { request } from 'undici';
import { errorMessage } from '../../../errors.js';
import { destroyBody, readSmallBody } from '../../../registry/upstream-body.js';
import type { RevocationFetch } from './checker.js';

export const httpRevocationFetch: RevocationFetch = async (url, init) => {
  if (url.protocol !== 'http:') throw new Error(`only http: revocation endpoints are fetched, not ${url.protocol}`);
  const signal = AbortSignal.timeout(init.timeoutMs);
  const headers: Record<string, string> = { 'user-agent': 'signet', accept: init.method === 'POST' ? 'application/ocsp-response' : '*/*' };
  if (init.contentType !== undefined) headers['content-type'] = init.contentType;
  let res: Awaited<ReturnType<typeof request>>;
  try {
    res = await request(url, { method: init.method, headers, body: init.body === undefined ? undefined : Buffer.from(init.body), signal });
  } catch (err) {
    throw new Error(signal.aborted ? `no answer within ${init.timeoutMs} ms` : `request failed: ${errorMessage(err)}`, { cause: err });
  }
  const announced = Number(res.headers['content-length']);
  if (Number.isFinite(announced) && announced > init.maxBytes) {
    destroyBody(res.body);
    throw new Error(`the answer is ${announced} bytes, over the limit of ${init.maxBytes} bytes`);
  }
  // The body within what is left of the deadline (the signal), at most maxBytes: past it, destroyed unread.
  const read = await readSmallBody(res.body, { maxBytes: init.maxBytes, timeoutMs: init.timeoutMs, signal });
  if (read.stopped === 'size') throw new Error(`the answer is more than ${init.maxBytes} bytes, over the limit`);
  if (read.stopped === 'time' || read.stopped === 'aborted') throw new Error(`the answer did not arrive within ${init.timeoutMs} ms`);
  if (read.stopped === 'error') throw new Error(`the transfer broke after ${read.bytes.length} bytes: ${read.error ?? 'unknown error'}`);
  return { status: res.statusCode, body: read.bytes };
};
