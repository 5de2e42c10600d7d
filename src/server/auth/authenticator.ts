import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { AuthFailure } from './auth-failure.js';
import { parseAuthorization } from './authorization-header.js';
import { certificateUser, type CertificateUser, type CertificateUserField } from './client-certificate.js';
import type { PasswordVerifier } from './password-verifier.js';
import type { TokenService, VerifiedToken } from './tokens.js';

/** Who a request proved to be. `user` undefined: anonymous (an anonymous token included). */
export interface Identity {
  user: string | undefined;
  via: 'anonymous' | 'basic' | 'bearer' | 'certificate';
  /** The verified bearer token, whose `access` limits what it may be used for. */
  token: VerifiedToken | undefined;
}

export const ANONYMOUS: Identity = Object.freeze({ user: undefined, via: 'anonymous', token: undefined });

export interface AuthenticatorOptions {
  /** Basic credentials against `auth.htpasswd`; absent: Basic proves nothing. */
  passwords: PasswordVerifier | undefined;
  /** Bearer tokens of Signet's own issuer (`auth.token`); absent: Bearer proves nothing. */
  tokens: TokenService | undefined;
  /** Which certificate field names the user (`auth.clientCertificates.user`); absent: certificates name no users. */
  certificateField: CertificateUserField | undefined;
}

/**
 * Finds out who sent a request: the `Authorization` header (Basic against htpasswd, Bearer
 * against Signet's token key) if there is one, else the connection's TLS client certificate,
 * else anonymous. A credential that is presented and fails is an AuthFailure, whatever else
 * the request carries: a client never silently falls back to anonymous.
 */
export class Authenticator {
  readonly #o: AuthenticatorOptions;
  /** One look at a connection's certificate: it cannot change for the life of the socket. */
  readonly #certificates = new WeakMap<Socket, CertificateUser | AuthFailure>();

  constructor(options: AuthenticatorOptions) {
    this.#o = options;
  }

  async authenticate(req: IncomingMessage): Promise<Identity> {
    const certificate = this.#certificate(req.socket);
    const presented = parseAuthorization(req.headers.authorization);
    if (presented?.scheme === 'basic') {
      const { user, password } = presented;
      if (!this.#o.passwords)
        throw new AuthFailure('bad_credentials', 'basic', 'Basic credentials cannot be checked: no auth.htpasswd is configured', { user });
      if (!(await this.#o.passwords.verify(user, password))) throw new AuthFailure('bad_credentials', 'basic', 'wrong user name or password', { user });
      return { user, via: 'basic', token: undefined };
    }
    if (presented?.scheme === 'bearer') {
      if (!this.#o.tokens) throw new AuthFailure('bad_token', 'bearer', 'this Signet issues no tokens (no auth.token), so it accepts none');
      const token = await this.#o.tokens.verify(presented.token);
      return { user: token.user, via: 'bearer', token };
    }
    if (certificate) return { user: certificate.user, via: 'certificate', token: undefined };
    return ANONYMOUS;
  }

  /** Verifies Basic credentials given another way (the POST /token form). */
  async verifyPassword(user: string, password: string): Promise<void> {
    if (!this.#o.passwords || !(await this.#o.passwords.verify(user, password))) {
      throw new AuthFailure('bad_credentials', 'basic', 'wrong user name or password', { user });
    }
  }

  #certificate(socket: Socket): CertificateUser {
    let seen = this.#certificates.get(socket);
    if (seen === undefined && !this.#certificates.has(socket)) {
      try {
        seen = certificateUser(socket, this.#o.certificateField);
      } catch (err) {
        if (!(err instanceof AuthFailure)) throw err;
        seen = err;
      }
      this.#certificates.set(socket, seen);
    }
    if (seen instanceof AuthFailure) throw seen;
    return seen;
  }
}
