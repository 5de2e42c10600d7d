import type { Context, Next } from 'koa';
import { DEFAULTS } from '../../config/defaults.js';
import { SignetError } from '../../errors.js';
import { printable } from '../../registry/names.js';
import type { RequestState } from '../middleware.js';
import { AuthFailure } from './auth-failure.js';
import type { ClientAuth } from './client-auth.js';
import { readForm } from './form-body.js';
import { callerOf, identityOf } from './guards.js';
import { parseScopes, type ResourceScope } from './scope.js';

export interface TokenEndpointOptions {
  /** Its token issuer (`auth.token`, ready after init()); without one there is no /token. */
  auth: ClientAuth;
  /** bytes of a POST form; default DEFAULTS.tokenRequestMaxBytes. */
  maxBodyBytes?: number;
}

/**
 * `/token`: Signet as its own Docker token issuer.
 *
 * - `GET /token?service=&scope=...` with optional Basic credentials (distribution
 *   docs/spec/auth/token.md, "Requesting a Token"): what docker and `docker login` use.
 * - `POST /token` with a form, `grant_type=password` (docs/spec/auth/oauth.md): what containerd
 *   tries first when it has credentials (remotes/docker/authorizer.go: POST, then GET after a
 *   401/400/404/405). No refresh tokens are issued, so `grant_type=refresh_token` is a 400.
 *
 * The answer carries only the scopes the user is granted (the access control decides each,
 * audited); an anonymous request gets a token for what anonymous clients may pull. Bad
 * credentials: 401 with an OCI error body.
 */
export function tokenEndpoint(options: TokenEndpointOptions) {
  const { auth } = options;
  return async (ctx: Context, next: Next): Promise<void> => {
    const tokens = auth.tokens;
    if (ctx.path !== '/token' || !tokens) {
      await next();
      return;
    }
    (ctx.state as RequestState).route = 'token';
    let user: string | undefined;
    let service: string | undefined;
    let scopes: ResourceScope[];
    if (ctx.method === 'GET') {
      user = identityOf(ctx).user;
      service = single(ctx.query['service']);
      const raw = ctx.query['scope'];
      scopes = (Array.isArray(raw) ? raw : raw === undefined ? [] : [raw]).flatMap(parseScopes);
    } else if (ctx.method === 'POST') {
      const form = await readForm(ctx, options.maxBodyBytes ?? DEFAULTS.tokenRequestMaxBytes);
      const grant = form.get('grant_type');
      if (grant !== 'password') {
        throw new SignetError(
          'UNSUPPORTED',
          `grant_type ${printable(grant ?? '(none)')} is not supported: Signet issues no refresh tokens; use grant_type=password`,
          {
            status: 400,
          },
        );
      }
      user = form.get('username') ?? '';
      await verifyPassword(ctx, auth, user, form.get('password') ?? '');
      service = form.get('service') ?? undefined;
      scopes = parseScopes(form.get('scope') ?? '');
    } else {
      ctx.set('Allow', 'GET, POST');
      throw new SignetError('UNSUPPORTED', `${ctx.method} /token is not supported`, { status: 405 });
    }
    if (service !== undefined && service !== tokens.service) {
      throw new SignetError('UNSUPPORTED', `unknown service "${printable(service)}": this token issuer serves "${tokens.service}"`, { status: 400 });
    }
    const issued = await tokens.issue(user, grantedScopes(ctx, auth, user, scopes));
    // RFC 6749 §5.1: token answers are not cached.
    ctx.set('Cache-Control', 'no-store');
    ctx.body = { token: issued.token, access_token: issued.token, expires_in: issued.expiresIn, issued_at: issued.issuedAt.toISOString() };
  };
}

async function verifyPassword(ctx: Context, auth: ClientAuth, user: string, password: string): Promise<void> {
  try {
    await auth.authenticator.verifyPassword(user, password);
  } catch (err) {
    if (err instanceof AuthFailure) {
      auth.access.authenticationFailed({ reason: err.reason, message: err.message, credential: err.credential, user: err.user }, ctx.request.ip);
    }
    throw err;
  }
  (ctx.state as RequestState).user = user;
}

/**
 * The requested repository scopes the user may pull, with the pull action only (Signet is
 * read-only). Each name resolves to `<upstream>/<repository>` as a request path would without
 * containerd's `ns`; the challenge names repositories that way, so the answer is the same.
 */
function grantedScopes(ctx: Context, auth: ClientAuth, user: string | undefined, scopes: readonly ResourceScope[]): ResourceScope[] {
  const caller = { ...callerOf(ctx), user };
  const decided = new Map<string, boolean>();
  const granted = new Map<string, ResourceScope>();
  for (const scope of scopes) {
    if (scope.type !== 'repository' || !(scope.actions.includes('pull') || scope.actions.includes('*'))) continue;
    const subject = auth.resolve(scope.name);
    if (!subject || granted.has(scope.name)) continue;
    const key = `${subject.upstream}/${subject.repository}`;
    let allowed = decided.get(key);
    if (allowed === undefined) {
      allowed = auth.access.pull(caller, { ...subject, via: 'token' }).allowed;
      decided.set(key, allowed);
    }
    if (allowed) granted.set(scope.name, { type: 'repository', name: scope.name, actions: ['pull'] });
  }
  return [...granted.values()];
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
