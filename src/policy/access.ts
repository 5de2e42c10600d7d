import type { AccessRuleConfig, Config, Principal } from '../config/load.js';
import type { AuditLog, AuditRecord } from './audit-log.js';
import type { DecisionObserver } from './policy.js';
import { compileRules, mostSpecific, type CompiledRule } from './rules.js';

/**
 * Who may pull what, and who may use the admin endpoints: the access half of the policy. Like
 * the content decisions (policy.ts) every answer is audited (kinds `access` and `admin`) and
 * counted, and authentication failures found by the server are audited and counted here too.
 *
 * Rules (`auth.access`) match `<upstream>/<repository>` with the anchored globs and the
 * most-specific-wins order of policy rules (rules.ts). No rule matches → nobody may pull.
 * Without an `auth` section (loopback listeners only, the schema sees to it) everybody may.
 */

/** Who asks: the proven user (undefined: anonymous) and the client address for the audit log. */
export interface Caller {
  user: string | undefined;
  client: string | undefined;
}

/** Why a client is refused: unknown clients get 401 + challenge, known users 403 DENIED. */
export type AccessVerdict = { allowed: true } | { allowed: false; status: 'unauthenticated' | 'forbidden'; reason: AccessDenialReason; message: string };

export type AccessDenialReason = 'unauthenticated' | 'no_access_rule' | 'access_not_granted' | 'insufficient_scope' | 'admin_not_granted';

/** Authentication failures the server reports (a credential was presented and did not prove a user). */
export type AuthFailureReason = 'bad_credentials' | 'bad_token' | 'token_expired' | 'bad_certificate' | 'malformed_authorization';

/** Counts authentication failures (Prometheus `signet_auth_failures_total{reason}`). */
export interface AccessObserver extends DecisionObserver {
  authFailure(reason: AuthFailureReason): void;
}

export interface AccessControlOptions {
  config: Pick<Config, 'auth' | 'admin'>;
  audit: AuditLog;
  observer?: AccessObserver;
}

/** A pull request: by a client request, or asked while a token is issued (only granted scopes go into the token). */
export interface PullRequest {
  upstream: string;
  repository: string;
  /** `pull` (a registry request) or `token` (a scope asked of /token). */
  via: 'pull' | 'token';
  /**
   * The `<upstream>/<repository>` subjects a bearer token grants pull on; undefined when the
   * caller did not present a token. A token must cover what it is used for (Docker token spec,
   * "Using the signed token"): else 401 with `error="insufficient_scope"`, and the client asks again.
   */
  tokenGrants?: ReadonlySet<string>;
}

export class AccessControl {
  readonly #o: AccessControlOptions;
  readonly #rules: Array<CompiledRule<AccessRuleConfig>>;
  readonly #anonymousAnywhere: boolean;

  constructor(options: AccessControlOptions) {
    this.#o = options;
    this.#rules = compileRules(options.config.auth.access);
    this.#anonymousAnywhere = !options.config.auth.enabled || options.config.auth.access.some((r) => r.pull.some((p) => p.kind === 'anonymous'));
  }

  /** Whether clients must authenticate at all (an `auth` section is configured). */
  get enabled(): boolean {
    return this.#o.config.auth.enabled;
  }

  /** Whether some rule lets anonymous clients pull something; if none does, anonymous requests are refused before routing. */
  get anonymousMayPull(): boolean {
    return this.#anonymousAnywhere;
  }

  /** May `caller` pull `<upstream>/<repository>`? Audited and counted. */
  pull(caller: Caller, request: PullRequest): AccessVerdict {
    const subject = `${request.upstream}/${request.repository}`;
    const base = {
      client: caller.client,
      ...(caller.user === undefined ? {} : { user: caller.user }),
      upstream: request.upstream,
      repository: request.repository,
      kind: 'access' as const,
      reference: request.via,
    };
    const who = describeCaller(caller);
    if (!this.enabled) {
      // Nothing to decide without an auth section (loopback only): counted, but not written, so
      // the audit log keeps one line per content decision.
      this.#o.observer?.decision('allowed', 'access_open');
      return { allowed: true };
    }
    const match = mostSpecific(this.#rules, subject);
    if (!match) {
      return this.#deny(caller, { ...base, rule: 'auth.access' }, 'no_access_rule', `${who} may not pull ${subject}`, 'no auth.access rule matches it');
    }
    const rule = `auth.access.${match.rule.index}`;
    const granting = match.rule.pull.find((p) => this.#admits(p, caller.user));
    if (!granting) {
      const grants = match.rule.pull.map(formatPrincipal).join(', ') || 'nobody';
      return this.#deny(caller, { ...base, rule }, 'access_not_granted', `${who} may not pull ${subject}`, `${rule} grants ${grants}`);
    }
    if (request.tokenGrants && !request.tokenGrants.has(subject)) {
      const message = `${who}: the bearer token does not grant pull on ${subject}; ask /token for scope repository:${subject}:pull`;
      this.#emit({ ...base, mode: 'enforce', rule, verdict: 'denied', reason: 'insufficient_scope', message });
      return { allowed: false, status: 'unauthenticated', reason: 'insufficient_scope', message };
    }
    this.#emit({
      ...base,
      mode: 'enforce',
      rule,
      verdict: 'allowed',
      reason: 'access_granted',
      message: `${who}: ${rule} grants ${formatPrincipal(granting)}`,
    });
    return { allowed: true };
  }

  /**
   * `GET /v2/` with auth on: 401 + challenge for anonymous clients, which is how `docker login`
   * learns where to authenticate (distribution-spec end-1; DESIGN.md "One pull", step 1).
   */
  base(caller: Caller): AccessVerdict {
    if (!this.enabled) return { allowed: true };
    const base = { ...this.#nothing(caller, 'access', '/v2/'), mode: 'enforce', rule: 'auth' };
    if (caller.user !== undefined) {
      this.#emit({ ...base, verdict: 'allowed', reason: 'access_granted', message: `${describeCaller(caller)}: authenticated` });
      return { allowed: true };
    }
    const message = 'authentication required';
    this.#emit({ ...base, verdict: 'denied', reason: 'unauthenticated', message });
    return { allowed: false, status: 'unauthenticated', reason: 'unauthenticated', message };
  }

  /**
   * Anonymous requests when no rule grants anonymous anything: refused before routing, so an
   * unknown client learns nothing of the configured upstreams and repositories.
   */
  anonymous(caller: Caller, path: string): AccessVerdict {
    if (this.#anonymousAnywhere || caller.user !== undefined) return { allowed: true };
    const message = 'authentication required: no auth.access rule lets anonymous clients pull';
    this.#emit({ ...this.#nothing(caller, 'access', path), mode: 'enforce', rule: 'auth.access', verdict: 'denied', reason: 'unauthenticated', message });
    return { allowed: false, status: 'unauthenticated', reason: 'unauthenticated', message };
  }

  /** May `caller` use the admin endpoint `endpoint` (`/metrics`)? `admin.allow` decides. Audited and counted. */
  admin(caller: Caller, endpoint: string): AccessVerdict {
    const base = { ...this.#nothing(caller, 'admin', endpoint), mode: 'enforce', rule: 'admin.allow' };
    const granting = this.#o.config.admin.allow.find((p) => this.#admits(p, caller.user));
    if (granting) {
      this.#emit({
        ...base,
        verdict: 'allowed',
        reason: 'admin_granted',
        message: `${describeCaller(caller)}: admin.allow grants ${formatPrincipal(granting)}`,
      });
      return { allowed: true };
    }
    const grants = this.#o.config.admin.allow.map(formatPrincipal).join(', ') || 'nobody';
    const message = `${describeCaller(caller)} may not use ${endpoint}`;
    if (caller.user === undefined) {
      this.#emit({ ...base, verdict: 'denied', reason: 'unauthenticated', message: `${message}: admin.allow grants ${grants}` });
      return { allowed: false, status: 'unauthenticated', reason: 'unauthenticated', message };
    }
    this.#emit({ ...base, verdict: 'denied', reason: 'admin_not_granted', message: `${message}: admin.allow grants ${grants}` });
    return { allowed: false, status: 'forbidden', reason: 'admin_not_granted', message };
  }

  /**
   * A credential that proved nothing (bad password, bad or expired token, bad certificate):
   * audited and counted, whatever the server answers. `credential` names what was presented
   * (basic, bearer, certificate); `user` is the name it claimed, if any (never the secret).
   */
  authenticationFailed(
    failure: { reason: AuthFailureReason; message: string; credential: string; user?: string | undefined },
    client: string | undefined,
  ): void {
    const claimed = failure.user === undefined ? '' : ` (claimed user ${failure.user})`;
    this.#emit({
      ...this.#nothing({ user: undefined, client }, 'access', failure.credential),
      mode: 'enforce',
      rule: 'auth',
      verdict: 'denied',
      reason: failure.reason,
      message: `${failure.message}${claimed}`,
    });
    this.#o.observer?.authFailure(failure.reason);
  }

  /** Whether `principal` admits `user` (undefined: an anonymous caller). */
  #admits(principal: Principal, user: string | undefined): boolean {
    switch (principal.kind) {
      case 'anonymous':
        return true;
      case 'authenticated':
        return user !== undefined;
      case 'user':
        return user !== undefined && principal.name === user;
      case 'group':
        return user !== undefined && (this.#o.config.auth.groups.get(principal.name)?.includes(user) ?? false);
    }
  }

  /** `message` goes to the client; `why` (which rule grants whom) only to the audit log. */
  #deny(
    caller: Caller,
    base: Pick<AuditRecord, 'client' | 'user' | 'upstream' | 'repository' | 'kind' | 'reference' | 'rule'>,
    reason: AccessDenialReason,
    message: string,
    why: string,
  ): AccessVerdict {
    // Unknown clients may still prove who they are: 401 with a challenge. Known users: 403.
    const denied = caller.user === undefined ? 'unauthenticated' : reason;
    this.#emit({ ...base, mode: 'enforce', verdict: 'denied', reason: denied, message: `${message}: ${why}` });
    return { allowed: false, status: caller.user === undefined ? 'unauthenticated' : 'forbidden', reason: denied, message };
  }

  #nothing(
    caller: Caller,
    kind: 'access' | 'admin',
    reference: string,
  ): Pick<AuditRecord, 'client' | 'user' | 'upstream' | 'repository' | 'kind' | 'reference'> {
    return { client: caller.client, ...(caller.user === undefined ? {} : { user: caller.user }), upstream: '', repository: '', kind, reference };
  }

  #emit(partial: Omit<AuditRecord, 'digest' | 'signers' | 'evidence' | 'trust'>): void {
    const record: AuditRecord = { ...partial, digest: undefined, signers: undefined, evidence: undefined, trust: undefined };
    this.#o.audit.record(record);
    this.#o.observer?.decision(record.verdict, record.reason);
  }
}

function describeCaller(caller: Caller): string {
  return caller.user === undefined ? 'anonymous client' : `user ${caller.user}`;
}

export function formatPrincipal(p: Principal): string {
  return p.kind === 'user' || p.kind === 'group' ? `${p.kind}:${p.name}` : p.kind;
}
