/**
 * The coded error of the Notary v1 verification modules. Callers (the updater, the policy layer)
 * switch on `code`, never on messages; lower errors are kept as `cause`.
 */
import { SignetError } from '../../errors.js';

export type TrustErrorCode =
  /** The bytes are not JSON, or not JSON that docker/go canonical/json can re-encode. */
  | 'canonical_json'
  /** A single signature did not verify (wrong key type, bad length, bad math). */
  | 'bad_signature'
  /** Fewer distinct valid signatures than the role's threshold, or no signatures at all. */
  | 'threshold'
  /** A key that cannot be used: unparsable, wrong type, too short, or an ID that is not its hash. */
  | 'bad_key'
  /** A certificate that breaks a rule of trustpinning/certs.go or tuf/utils/x509.go. */
  | 'bad_certificate'
  /** Metadata that does not have the shape of tuf/data/*.go (wrong _type, missing role, ...). */
  | 'malformed'
  /** A delegation role name that tuf/data/roles.go IsDelegation rejects or that is not a child. */
  | 'bad_role_name'
  /** Metadata or certificate past its expiry for the injected clock. */
  | 'expired'
  /** A version lower than the last trusted one. */
  | 'rollback'
  /** Bytes whose hash differs from the one a trusted parent listed. */
  | 'hash_mismatch'
  /** Input larger than a limit of DEFAULTS.notary. */
  | 'too_large'
  /** The repository has no trust data at all (root.json 404): Notary's "not signed". */
  | 'not_found'
  /** The trust server could not be reached and nothing cached could stand in. */
  | 'unavailable'
  /** No pinning rule (key IDs, CA, trust on first use) accepts the root. */
  | 'not_pinned';

export class TrustError extends SignetError<TrustErrorCode> {
  constructor(code: TrustErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'TrustError';
  }
}

export function isTrustError(err: unknown, code?: TrustErrorCode): err is TrustError {
  return err instanceof TrustError && (code === undefined || err.code === code);
}
