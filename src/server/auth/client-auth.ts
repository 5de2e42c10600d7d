import type { Logger } from 'pino';
import type { Config } from '../../config/load.js';
import { SignetError } from '../../errors.js';
import { AccessControl, type AccessObserver } from '../../policy/access.js';
import type { AuditLog } from '../../policy/audit-log.js';
import { Authenticator } from './authenticator.js';
import type { ChallengeOptions } from './challenge.js';
import { HtpasswdFile } from './htpasswd-file.js';
import { PasswordVerifier } from './password-verifier.js';
import { TokenService } from './tokens.js';

/** `<upstream>/<repository>` a client-side repository name routes to (without containerd's ns); undefined when it routes nowhere. */
export type SubjectResolver = (name: string) => { upstream: string; repository: string } | undefined;

export interface ClientAuthOptions {
  config: Pick<Config, 'auth' | 'admin'>;
  audit: AuditLog;
  observer: AccessObserver;
  logger: Logger;
  resolve: SubjectResolver;
  clock?: () => number;
}

/**
 * Everything client authentication needs, built from the config: the access control (the
 * policy's), the htpasswd file and its verifier, the token issuer and the authenticator. The
 * file and the key are read by `init()` (at start), so that a bad one stops the start.
 */
export class ClientAuth {
  readonly access: AccessControl;
  readonly challenge: ChallengeOptions;
  readonly resolve: SubjectResolver;
  readonly #o: ClientAuthOptions;
  readonly #htpasswd: HtpasswdFile | undefined;
  #tokens: TokenService | undefined;
  #authenticator: Authenticator | undefined;

  constructor(options: ClientAuthOptions) {
    this.#o = options;
    const { auth } = options.config;
    this.access = new AccessControl({ config: options.config, audit: options.audit, observer: options.observer });
    this.challenge = { token: auth.token && { realm: auth.token.realm, service: auth.token.service } };
    this.resolve = options.resolve;
    this.#htpasswd = auth.enabled && auth.htpasswd !== undefined ? new HtpasswdFile({ path: auth.htpasswd, logger: options.logger }) : undefined;
  }

  async init(): Promise<void> {
    const { auth } = this.#o.config;
    if (!auth.enabled) {
      this.#authenticator = new Authenticator({ passwords: undefined, tokens: undefined, certificateField: undefined });
      return;
    }
    await this.#htpasswd?.load();
    this.#tokens = auth.token ? await TokenService.create({ config: auth.token, clock: this.#o.clock }) : undefined;
    const passwords = this.#htpasswd && new PasswordVerifier({ file: this.#htpasswd, clock: this.#o.clock });
    this.#authenticator = new Authenticator({ passwords, tokens: this.#tokens, certificateField: auth.clientCertificates?.user });
  }

  get authenticator(): Authenticator {
    if (!this.#authenticator) throw new SignetError('INTERNAL', 'client authentication is used before init()');
    return this.#authenticator;
  }

  /** Signet's token issuer, when `auth.token` is configured (after init). */
  get tokens(): TokenService | undefined {
    return this.#tokens;
  }
}
