import { AuthFailure } from './auth-failure.js';

/** Credentials of an `Authorization` header. */
export type PresentedCredentials = { scheme: 'basic'; user: string; password: string } | { scheme: 'bearer'; token: string };

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
// RFC 6750 §2.1 b64token.
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/**
 * Parses `Authorization: Basic <base64(user:password)>` (RFC 7617) or `Bearer <token>`
 * (RFC 6750); undefined when there is no header. Anything else is a malformed credential
 * (AuthFailure), not an anonymous request: a client that sent something meant to send it.
 */
export function parseAuthorization(header: string | undefined): PresentedCredentials | undefined {
  if (header === undefined || header === '') return undefined;
  const space = header.indexOf(' ');
  const given = space < 0 ? header : header.slice(0, space);
  const scheme = given.toLowerCase();
  const value = space < 0 ? '' : header.slice(space + 1).trim();
  if (scheme === 'basic') {
    if (!BASE64.test(value)) throw malformed('Basic credentials are not base64');
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    // RFC 7617 §2: the user-id cannot contain a colon; the password may.
    const colon = decoded.indexOf(':');
    if (colon <= 0) throw malformed('Basic credentials are not user:password');
    return { scheme: 'basic', user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (scheme === 'bearer') {
    if (!B64TOKEN.test(value)) throw malformed('the Bearer token is malformed');
    return { scheme: 'bearer', token: value };
  }
  throw malformed(`the ${given.slice(0, 20).replace(/[^\x21-\x7e]/g, '?')} scheme is not supported: use Basic or Bearer`);
}

function malformed(message: string): AuthFailure {
  return new AuthFailure('malformed_authorization', 'authorization', message);
}
