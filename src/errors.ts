/**
 * The one coded error base class. Every module throws `SignetError` (or wraps a lower error in
 * one with `cause`) so the outermost middleware can map codes to OCI error bodies in one place.
 */
export type ErrorCode =
  // OCI distribution-spec error codes (https://github.com/opencontainers/distribution-spec, "Error Codes")
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'MANIFEST_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'BLOB_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'SIZE_INVALID'
  | 'UNSUPPORTED'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'TOOMANYREQUESTS'
  | 'RANGE_INVALID'
  // Signet's own, mapped to 5xx/4xx by the error middleware
  | 'UPSTREAM_UNAVAILABLE'
  | 'UPSTREAM_TIMEOUT'
  | 'UPSTREAM_ERROR'
  | 'DIGEST_MISMATCH'
  | 'MANIFEST_TOO_LARGE'
  | 'HEADERS_TOO_LARGE'
  | 'CONFIG_INVALID'
  | 'STORAGE_ERROR'
  | 'BUNDLE_INVALID'
  | 'INTERNAL';

export interface SignetErrorOptions {
  cause?: unknown;
  /** Extra detail for the OCI error body's `detail` field; never secrets. */
  detail?: unknown;
  /** HTTP status overriding the default of the code (e.g. 502 for bad bytes from an upstream). */
  status?: number;
}

/**
 * Modules with a vocabulary of their own (the Notary verifier's `TrustErrorCode`) subclass this
 * with their code union; the error middleware maps only `ErrorCode`s and treats others as
 * internal, so such errors are translated where they cross into the proxy.
 */
export class SignetError<C extends string = ErrorCode> extends Error {
  readonly code: C;
  readonly detail: unknown;
  readonly status: number | undefined;

  constructor(code: C, message: string, options: SignetErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'SignetError';
    this.code = code;
    this.detail = options.detail;
    this.status = options.status;
  }
}

/** Wraps anything thrown by a lower layer, keeping an existing SignetError as is. */
export function wrapError(err: unknown, code: ErrorCode, message: string): SignetError {
  // Kept as is, whatever its code vocabulary: the error middleware maps unknown codes to 500.
  if (err instanceof SignetError) return err as SignetError;
  return new SignetError(code, `${message}: ${errorMessage(err)}`, { cause: err });
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    // A denial names its reason too (the `detail.reason` of 403 bodies and audit lines), so CLI output shows it.
    const detail = err instanceof SignetError ? (err.detail as { reason?: unknown } | undefined) : undefined;
    const label = code && typeof detail?.reason === 'string' ? `${code}: ${detail.reason}` : code;
    return label && !err.message.includes(label) ? `${err.message} (${label})` : err.message;
  }
  return String(err);
}
