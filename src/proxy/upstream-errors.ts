import { DEFAULTS } from '../config/defaults.js';
import { SignetError, type ErrorCode } from '../errors.js';
import { firstOciError } from '../registry/oci-error-body.js';
import { destroyBody, readLimited } from '../registry/upstream-body.js';
import type { UpstreamResponse } from '../registry/upstream-client.js';
import { header } from '../registry/upstream-client.js';

/**
 * Turns a non-success upstream answer into the error the client should see. `notFound` is the
 * OCI code for a 404 of this kind of request (MANIFEST_UNKNOWN, BLOB_UNKNOWN, ...). The error
 * body is read within DEFAULTS.errorBodyMaxBytes and upstreamBodyTimeoutMs, and not at all once
 * `signal` aborted (the client left). An answer from another origin (a redirect target) is not
 * the upstream's word: it is neither read nor relayed, whatever its status.
 */
export async function upstreamFailure(upstream: string, res: UpstreamResponse, what: string, notFound: ErrorCode, signal?: AbortSignal): Promise<SignetError> {
  if (res.foreign) {
    destroyBody(res.body);
    return new SignetError('UPSTREAM_ERROR', `upstream ${upstream} redirected the request for ${what} to another host, which answered HTTP ${res.status}`);
  }
  const text = await readLimited(res.body, DEFAULTS.errorBodyMaxBytes, { signal }).catch(() => '');
  const said = firstOciMessage(text);
  const suffix = said ? `: ${said}` : '';
  switch (res.status) {
    case 404:
      return new SignetError(said?.startsWith('NAME_UNKNOWN') ? 'NAME_UNKNOWN' : notFound, `${what} not found at upstream ${upstream}${suffix}`);
    case 401:
    case 403:
      // The client cannot fix this by authenticating to Signet: say who has to act.
      return new SignetError(
        'DENIED',
        `upstream ${upstream} denied access to ${what} (HTTP ${res.status})${suffix}; the repository may not exist, or Signet needs upstreams.${upstream}.credentials`,
      );
    case 429: {
      // Passed on, so that clients back off as long as the upstream asked (podman and CRI-O
      // otherwise wait their own 30 s); only a plain delay in seconds is repeated.
      const after = header(res.headers, 'retry-after')?.trim();
      const retryAfterSeconds = after !== undefined && /^\d{1,6}$/.test(after) ? Number(after) : undefined;
      return new SignetError('TOOMANYREQUESTS', `upstream ${upstream} is rate-limiting Signet${suffix}`, {
        status: 429,
        ...(retryAfterSeconds === undefined ? {} : { detail: { retryAfterSeconds } }),
      });
    }
    default:
      return new SignetError('UPSTREAM_ERROR', `upstream ${upstream} answered HTTP ${res.status} for ${what}${suffix}`);
  }
}

/** "CODE: message" of the first entry of an OCI error body, if the text is one. */
function firstOciMessage(text: string): string | undefined {
  const first = firstOciError(text);
  return first ? `${first.code}: ${first.message}`.trim() : undefined;
}
