import type { Context, Next } from 'koa';
import { printable } from '../../registry/names.js';
import type { RequestState } from '../middleware.js';
import { AuthFailure } from './auth-failure.js';
import { ANONYMOUS } from './authenticator.js';
import { challenge } from './challenge.js';
import type { ClientAuth } from './client-auth.js';
import { callerOf, refuse, type AuthState } from './guards.js';

/** Probes answer to everybody and reveal nothing but ok / ready. */
const OPEN_PATHS = new Set(['/healthz', '/readyz']);

/**
 * Finds out who the client is (Authorization header, TLS client certificate, else anonymous)
 * and leaves it in `ctx.state` (`user`, `identity`) for the routes and the middleware after
 * this one. A credential that fails is audited and counted, and answered 401 with a challenge.
 *
 * Two checks cannot wait for routing: `GET /v2/` answers 401 + challenge to anonymous clients
 * when auth is on (how `docker login` finds the realm; DESIGN.md "One pull", step 1), and when
 * no rule lets anonymous clients pull anything, their other /v2/ requests are refused before
 * routing. Everything else is decided by the route, once the repository is known.
 */
export function authMiddleware(auth: ClientAuth) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const state = ctx.state as RequestState & AuthState;
    if (!auth.access.enabled || OPEN_PATHS.has(ctx.path)) {
      state.identity = ANONYMOUS;
      await next();
      return;
    }
    try {
      state.identity = await auth.authenticator.authenticate(ctx.req);
    } catch (err) {
      if (err instanceof AuthFailure) {
        auth.access.authenticationFailed({ reason: err.reason, message: err.message, credential: err.credential, user: err.user }, ctx.request.ip);
        ctx.set('WWW-Authenticate', challenge(ctx, auth.challenge, { error: err.credential === 'bearer' ? 'invalid_token' : undefined }));
      }
      throw err;
    }
    state.user = state.identity.user;
    if (ctx.path === '/v2/' || ctx.path === '/v2') {
      const verdict = auth.access.base(callerOf(ctx));
      if (!verdict.allowed) refuse(ctx, auth, verdict);
    } else if (ctx.path.startsWith('/v2/')) {
      const verdict = auth.access.anonymous(callerOf(ctx), printable(ctx.path));
      if (!verdict.allowed) refuse(ctx, auth, verdict);
    }
    await next();
  };
}
