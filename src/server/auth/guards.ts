import type { Context } from 'koa';
import { SignetError } from '../../errors.js';
import type { AccessVerdict, Caller } from '../../policy/access.js';
import type { Target } from '../../proxy/router.js';
import { ANONYMOUS, type Identity } from './authenticator.js';
import { challenge } from './challenge.js';
import type { ClientAuth, SubjectResolver } from './client-auth.js';
import type { VerifiedToken } from './tokens.js';

/** What the auth middleware leaves for the routes (beside RequestState.user). */
export interface AuthState {
  identity?: Identity;
}

export function identityOf(ctx: Context): Identity {
  return (ctx.state as AuthState).identity ?? ANONYMOUS;
}

export function callerOf(ctx: Context): Caller {
  return { user: identityOf(ctx).user, client: ctx.request.ip };
}

/**
 * Turns a refusal of the access control into the answer: 401 UNAUTHORIZED with a challenge for
 * clients that may still prove who they are, 403 DENIED for known users.
 */
export function refuse(ctx: Context, auth: ClientAuth, verdict: Exclude<AccessVerdict, { allowed: true }>, repository?: string): never {
  if (verdict.status === 'forbidden') throw new SignetError('DENIED', verdict.message, { detail: { reason: verdict.reason } });
  const error = verdict.reason === 'insufficient_scope' ? 'insufficient_scope' : undefined;
  ctx.set('WWW-Authenticate', challenge(ctx, auth.challenge, { repository, error }));
  throw new SignetError('UNAUTHORIZED', verdict.message, { detail: { reason: verdict.reason } });
}

/** The access check of a registry route, once the route knows the repository. */
export function pullGuard(auth: ClientAuth): (ctx: Context, target: Target) => void {
  return (ctx, target) => {
    const identity = identityOf(ctx);
    const upstream = target.upstream.name;
    const verdict = auth.access.pull(callerOf(ctx), {
      upstream,
      repository: target.repository,
      via: 'pull',
      tokenGrants: identity.token && tokenGrants(identity.token, auth.resolve),
    });
    if (!verdict.allowed) refuse(ctx, auth, verdict, `${upstream}/${target.repository}`);
  };
}

/** The admin endpoints (`/metrics`): `admin.allow` decides. */
export function requireAdmin(ctx: Context, auth: ClientAuth): void {
  const verdict = auth.access.admin(callerOf(ctx), ctx.path);
  if (!verdict.allowed) refuse(ctx, auth, verdict);
}

/** The `<upstream>/<repository>` subjects a token grants pull on: its access names resolved as /token resolved them. */
export function tokenGrants(token: VerifiedToken, resolve: SubjectResolver): ReadonlySet<string> {
  const subjects = new Set<string>();
  for (const entry of token.access) {
    if (entry.type !== 'repository' || !entry.actions.includes('pull')) continue;
    const subject = resolve(entry.name);
    if (subject) subjects.add(`${subject.upstream}/${subject.repository}`);
  }
  return subjects;
}
