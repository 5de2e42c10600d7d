import { randomUUID } from 'node:crypto';
import { SignJWT, errors as joseErrors, jwtVerify } from 'jose';
import { DEFAULTS } from '../../config/defaults.js';
import type { TokenIssuerConfig } from '../../config/load.js';
import { errorMessage } from '../../errors.js';
import { AuthFailure } from './auth-failure.js';
import type { ResourceScope } from './scope.js';
import { loadSigningKey, type SigningKey } from './signing-key.js';

export interface IssuedToken {
  token: string;
  /** seconds. */
  expiresIn: number;
  issuedAt: Date;
}

export interface VerifiedToken {
  /** The user the token was issued to; undefined for an anonymous token (`sub: ""`). */
  user: string | undefined;
  access: ResourceScope[];
}

export interface TokenServiceOptions {
  config: TokenIssuerConfig;
  clock?: () => number;
}

/**
 * Signet as its own Docker token issuer (distribution docs/spec/auth/token.md and jwt.md): short
 * JWTs with `iss`, `sub`, `aud` (the service), `exp`, `nbf`, `iat`, `jti` and the granted
 * `access`, signed with the configured key. Verification pins the algorithm of that key and
 * checks issuer, audience and the time claims.
 */
export class TokenService {
  readonly #config: TokenIssuerConfig;
  readonly #key: SigningKey;
  readonly #clock: () => number;

  private constructor(config: TokenIssuerConfig, key: SigningKey, clock: () => number) {
    this.#config = config;
    this.#key = key;
    this.#clock = clock;
  }

  static async create(options: TokenServiceOptions): Promise<TokenService> {
    const key = await loadSigningKey(options.config.key.pem, options.config.key.path);
    return new TokenService(options.config, key, options.clock ?? Date.now);
  }

  /** The `service` token requests name, and the tokens' audience. */
  get service(): string {
    return this.#config.service;
  }

  get algorithm(): string {
    return this.#key.alg;
  }

  async issue(user: string | undefined, access: readonly ResourceScope[]): Promise<IssuedToken> {
    const now = Math.floor(this.#clock() / 1000);
    const lifetime = this.#config.lifetimeSeconds;
    const token = await new SignJWT({ access: access.map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] })) })
      .setProtectedHeader({ alg: this.#key.alg, typ: 'JWT', kid: this.#key.kid })
      .setIssuer(this.#config.issuer)
      .setSubject(user ?? '')
      .setAudience(this.#config.service)
      .setIssuedAt(now)
      .setNotBefore(now)
      .setExpirationTime(now + lifetime)
      .setJti(randomUUID())
      .sign(this.#key.privateKey);
    return { token, expiresIn: lifetime, issuedAt: new Date(now * 1000) };
  }

  /** Verifies a token this Signet issued; throws AuthFailure (`token_expired` or `bad_token`) otherwise. */
  async verify(jwt: string): Promise<VerifiedToken> {
    let payload: Record<string, unknown>;
    try {
      ({ payload } = await jwtVerify(jwt, this.#key.publicKey, {
        algorithms: [this.#key.alg],
        issuer: this.#config.issuer,
        audience: this.#config.service,
        // Signet verifies its own tokens with its own clock: the leeway is for a client's retry
        // after a token's last second.
        clockTolerance: DEFAULTS.tokenLeewaySeconds,
        currentDate: new Date(this.#clock()),
        requiredClaims: ['exp', 'nbf', 'iat', 'sub'],
        typ: 'JWT',
      }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired)
        throw new AuthFailure('token_expired', 'bearer', 'the bearer token has expired: ask /token for a new one', { cause: err });
      throw new AuthFailure('bad_token', 'bearer', `the bearer token is not valid here: ${tokenProblem(err)}`, { cause: err });
    }
    const sub = payload['sub'];
    const access = parseAccess(payload['access']);
    if (typeof sub !== 'string' || !access) throw new AuthFailure('bad_token', 'bearer', 'the bearer token has malformed sub or access claims');
    return { user: sub === '' ? undefined : sub, access };
  }
}

function tokenProblem(err: unknown): string {
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return 'signature verification failed';
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return 'signed with an algorithm this Signet does not use';
  if (err instanceof joseErrors.JWTClaimValidationFailed) return `claim ${err.claim} check failed (${err.reason})`;
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return 'malformed token';
  return errorMessage(err);
}

function parseAccess(value: unknown): ResourceScope[] | undefined {
  if (value === undefined) return [];
  // Read after the signature verified: only this Signet wrote it, so its size needs no limit of its own.
  if (!Array.isArray(value)) return undefined;
  const out: ResourceScope[] = [];
  for (const entry of value as unknown[]) {
    if (typeof entry !== 'object' || entry === null) return undefined;
    const { type, name, actions } = entry as Record<string, unknown>;
    if (typeof type !== 'string' || typeof name !== 'string' || !Array.isArray(actions) || !actions.every((a) => typeof a === 'string')) return undefined;
    out.push({ type, name, actions });
  }
  return out;
}
