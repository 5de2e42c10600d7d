import { firstOciError } from './oci-error-body.js';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError, errorMessage } from '../errors.js';
import { destroyBody, readLimited } from './upstream-body.js';
import type { UpstreamResponse } from './upstream-client.js';

/**
 * The coded error of the signature-fetching port. Trust sources switch on `code` (never on
 * messages) to tell "there is nothing" from "the registry cannot be asked" from "the registry
 * sent something Signet will not read"; the lower error, if any, is the `cause`.
 */
export type SignatureFetchErrorCode =
  /** The manifest, blob or repository does not exist at the upstream (HTTP 404). */
  | 'not_found'
  /** The upstream cannot be asked: unreachable, timed out, 5xx, 429, 401/403, a broken transfer. */
  | 'unavailable'
  /** Over a limit of DEFAULTS (bytes of a body, or entries of a referrers index). */
  | 'too_large'
  /** Bytes whose hash is not the digest they were requested or announced by. */
  | 'digest_mismatch'
  /** Not JSON, not an image index, or a descriptor that breaks the OCI descriptor rules. */
  | 'malformed';

export class SignatureFetchError extends SignetError<SignatureFetchErrorCode> {
  constructor(code: SignatureFetchErrorCode, message: string, options: { cause?: unknown; status?: number } = {}) {
    super(code, message, {
      ...(options.cause === undefined ? {} : { cause: options.cause }),
      ...(options.status === undefined ? {} : { detail: { upstreamStatus: options.status } }),
    });
    this.name = 'SignatureFetchError';
  }
}

export function isSignatureFetchError(err: unknown, code?: SignatureFetchErrorCode): err is SignatureFetchError {
  return err instanceof SignatureFetchError && (code === undefined || err.code === code);
}

/** An error thrown by the upstream client (network, timeout, too many redirects) as seen by the port. */
export function unavailable(upstream: string, what: string, err: unknown): SignatureFetchError {
  if (err instanceof SignatureFetchError) return err;
  return new SignatureFetchError('unavailable', `cannot fetch ${what} from upstream ${upstream}: ${errorMessage(err)}`, { cause: err });
}

/**
 * Turns a non-success answer into the port's error; the OCI error body (bounded) goes into the
 * message. A 404 whose body says NAME_UNKNOWN is the repository's absence, not the object's.
 */
export async function failedAnswer(upstream: string, res: UpstreamResponse, what: string): Promise<SignatureFetchError> {
  if (res.foreign) {
    // A redirect target's answer is not the upstream's word: neither read nor repeated.
    destroyBody(res.body);
    return new SignatureFetchError('unavailable', `upstream ${upstream} redirected ${what} to another host, which answered HTTP ${res.status}`, {
      status: res.status,
    });
  }
  const text = await readLimited(res.body, DEFAULTS.errorBodyMaxBytes).catch(() => '');
  const said = firstOciError(text);
  const suffix = said ? `: ${said.code}: ${said.message}` : '';
  const status = res.status;
  if (status === 404) {
    const subject = said?.code === 'NAME_UNKNOWN' ? 'repository of ' : '';
    return new SignatureFetchError('not_found', `${subject}${what} not found at upstream ${upstream}${suffix}`, { status });
  }
  if (status === 401 || status === 403) {
    return new SignatureFetchError(
      'unavailable',
      `upstream ${upstream} denied access to ${what} (HTTP ${status})${suffix}; Signet may need upstreams.${upstream}.credentials`,
      { status },
    );
  }
  return new SignatureFetchError('unavailable', `upstream ${upstream} answered HTTP ${status} for ${what}${suffix}`, { status });
}
