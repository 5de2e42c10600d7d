import type { Context } from 'koa';

export interface ChallengeOptions {
  /** Signet's token issuer: Bearer challenges. Absent: Basic. */
  token: { realm: URL | undefined; service: string } | undefined;
}

/** RFC 6750 §3.1 error codes of a Bearer challenge. */
export type BearerError = 'invalid_token' | 'insufficient_scope';

/** Characters a Host header may bring into the realm; anything else is dropped (no quote can end the parameter). */
const HOST_CHARS = /[^A-Za-z0-9.:[\]-]/g;

/**
 * The `WWW-Authenticate` header of a 401 (distribution docs/spec/auth/token.md, "How to
 * authenticate"): `Bearer realm="<realm>",service="<service>",scope="repository:<name>:pull"`
 * when Signet issues tokens, else `Basic realm="signet"`. The realm is `auth.token.realm`, or
 * `/token` on the origin the client reached. The scope names the repository as
 * `<upstream>/<repository>`, which resolves to the same repository at /token even when the
 * request itself named the upstream only by containerd's `?ns=` (a token request carries no ns).
 */
export function challenge(ctx: Context, options: ChallengeOptions, extra: { repository?: string; error?: BearerError } = {}): string {
  if (!options.token) return 'Basic realm="signet"';
  const realm = options.token.realm?.href ?? `${ctx.protocol}://${ctx.host.replace(HOST_CHARS, '')}/token`;
  const params = [`realm=${quote(realm)}`, `service=${quote(options.token.service)}`];
  if (extra.repository !== undefined) params.push(`scope=${quote(`repository:${extra.repository}:pull`)}`);
  if (extra.error !== undefined) params.push(`error=${quote(extra.error)}`);
  return `Bearer ${params.join(',')}`;
}

/** An RFC 9110 quoted-string. */
function quote(value: string): string {
  return `"${value.replace(/[\\"]/g, '\\$&')}"`;
}
