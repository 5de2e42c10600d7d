import { SignetError } from '../../errors.js';
import type { AuthFailureReason } from '../../policy/access.js';

/** What a client presented: the Authorization scheme, or its TLS certificate. */
export type CredentialKind = 'basic' | 'bearer' | 'certificate' | 'authorization';

/**
 * A credential that proved no user: answered 401 UNAUTHORIZED with a challenge, audited and
 * counted (`signet_auth_failures_total{reason}`) by the access control. The message is for the
 * client and the audit log, so it names what failed and never a secret.
 */
export class AuthFailure extends SignetError {
  readonly reason: AuthFailureReason;
  readonly credential: CredentialKind;
  /** The user name the credential claimed, if any. */
  readonly user: string | undefined;

  constructor(reason: AuthFailureReason, credential: CredentialKind, message: string, options: { user?: string | undefined; cause?: unknown } = {}) {
    super('UNAUTHORIZED', message, { cause: options.cause });
    this.name = 'AuthFailure';
    this.reason = reason;
    this.credential = credential;
    this.user = options.user;
  }
}
