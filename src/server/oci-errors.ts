import { SignetError, type ErrorCode } from '../errors.js';

/** HTTP status and OCI error-body code for each error code (OCI distribution-spec, "Error Codes"). */
const TABLE: Record<ErrorCode, { status: number; oci: string }> = {
  NAME_INVALID: { status: 400, oci: 'NAME_INVALID' },
  NAME_UNKNOWN: { status: 404, oci: 'NAME_UNKNOWN' },
  MANIFEST_UNKNOWN: { status: 404, oci: 'MANIFEST_UNKNOWN' },
  MANIFEST_INVALID: { status: 502, oci: 'MANIFEST_INVALID' },
  BLOB_UNKNOWN: { status: 404, oci: 'BLOB_UNKNOWN' },
  DIGEST_INVALID: { status: 400, oci: 'DIGEST_INVALID' },
  SIZE_INVALID: { status: 400, oci: 'SIZE_INVALID' },
  UNSUPPORTED: { status: 400, oci: 'UNSUPPORTED' },
  UNAUTHORIZED: { status: 401, oci: 'UNAUTHORIZED' },
  DENIED: { status: 403, oci: 'DENIED' },
  TOOMANYREQUESTS: { status: 429, oci: 'TOOMANYREQUESTS' },
  RANGE_INVALID: { status: 416, oci: 'RANGE_INVALID' },
  UPSTREAM_UNAVAILABLE: { status: 502, oci: 'UNAVAILABLE' },
  UPSTREAM_TIMEOUT: { status: 504, oci: 'UNAVAILABLE' },
  UPSTREAM_ERROR: { status: 502, oci: 'UNAVAILABLE' },
  DIGEST_MISMATCH: { status: 502, oci: 'DIGEST_INVALID' },
  // The upstream holds it, but Signet will not read it: the client asked for something refused.
  MANIFEST_TOO_LARGE: { status: 400, oci: 'MANIFEST_INVALID' },
  HEADERS_TOO_LARGE: { status: 431, oci: 'UNSUPPORTED' },
  CONFIG_INVALID: { status: 500, oci: 'UNKNOWN' },
  // Signet's own storage (a disk, Redis, the bucket) cannot be used now: nothing is served on
  // what cannot be read, and a client may try again (RFC 9110 §15.6.4).
  STORAGE_ERROR: { status: 503, oci: 'UNAVAILABLE' },
  BUNDLE_INVALID: { status: 400, oci: 'UNKNOWN' },
  INTERNAL: { status: 500, oci: 'UNKNOWN' },
};

export interface OciErrorResponse {
  status: number;
  body: { errors: Array<{ code: string; message: string; detail?: unknown }> };
}

export function toOciError(err: unknown): OciErrorResponse {
  if (err instanceof SignetError && Object.hasOwn(TABLE, String(err.code))) {
    const entry = TABLE[err.code as ErrorCode];
    const item: { code: string; message: string; detail?: unknown } = { code: entry.oci, message: err.message };
    if (err.detail !== undefined) item.detail = err.detail;
    return { status: err.status ?? entry.status, body: { errors: [item] } };
  }
  // A network error of an upstream transfer that escaped its translation (the upstream client
  // makes them UPSTREAM_ERROR / UPSTREAM_TIMEOUT): still the upstream's fault, never a 500.
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code.startsWith('UND_ERR_')) {
    const timeout = code.endsWith('_TIMEOUT');
    return {
      status: timeout ? 504 : 502,
      body: { errors: [{ code: 'UNAVAILABLE', message: `an upstream transfer ${timeout ? 'timed out' : 'failed'} (${code}); see the Signet log` }] },
    };
  }
  return { status: 500, body: { errors: [{ code: 'UNKNOWN', message: 'internal error; see the Signet log' }] } };
}

/** The raw HTTP/1.1 answer for a request Node rejected before Koa saw it (e.g. oversized headers). */
export function rawErrorResponse(status: number, reason: string, code: string, message: string): string {
  const body = JSON.stringify({ errors: [{ code, message }] });
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}
