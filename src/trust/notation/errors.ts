import { SignetError } from '../../errors.js';

/**
 * Why a Notation signature did not verify, by the check of the signing-and-verification workflow
 * it failed (notaryproject/specifications signing-and-verification-workflow.md). The trust
 * source turns these into denials; the trust policy's level decides which of them are enforced.
 */
export type NotationErrorCode =
  /** The envelope or payload cannot be read, or breaks a rule of its format (a bad header, an unknown critical header). */
  | 'malformed'
  /** The signature does not verify with the leaf certificate's key, or the payload names another artifact. */
  | 'integrity'
  /** A certificate of the signature's chain breaks a rule of the signing scheme (key usage, EKU, key size, SHA-1, CA constraints). */
  | 'certificate'
  /** The certificate chain is incomplete, breaks a certificate rule, or does not end at a certificate of the trust store. */
  | 'authenticity'
  /** The leaf certificate's subject is not one of the policy's trusted identities. */
  | 'identity'
  /** The payload signs another artifact than the one served (digest, media type or size differ). */
  | 'target_mismatch'
  /** The signature's `expiry` has passed, or the chain was not valid at the time that applies. */
  | 'expiry'
  /** No authentic signing time: the timestamp token is invalid or untrusted, or the chain was not valid at the time that applies. */
  | 'timestamp'
  /** A certificate of the signing chain is revoked. */
  | 'revoked'
  /** The revocation status of a certificate of the signing chain cannot be determined. */
  | 'revocation_unknown'
  /** Over a size or count limit. */
  | 'too_large';

export class NotationError extends SignetError<NotationErrorCode> {
  constructor(code: NotationErrorCode, message: string, options: { cause?: unknown } = {}) {
    super(code, message, options);
    this.name = 'NotationError';
  }
}
