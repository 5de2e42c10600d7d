import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { AuthFailure } from './auth-failure.js';

/** What a TLS client certificate says about the user: which field names it. */
export type CertificateUserField = 'commonName' | 'email';

/** The user a verified client certificate names; undefined when none was presented (or none names users). */
export type CertificateUser = { user: string } | undefined;

/**
 * The user of a connection's TLS client certificate (`listen.tls.clientCaFile`). The server
 * asked for one (`requestCert`) and verified it against the client CA bundle; with
 * `clientCertificates: optional` the handshake also completes for a certificate that failed,
 * so `authorized` is checked here: a certificate presented and not verified is an
 * authentication failure, never an anonymous request.
 */
export function certificateUser(socket: Socket, field: CertificateUserField | undefined): CertificateUser {
  const tls = socket as Partial<TLSSocket>;
  if (tls.encrypted !== true || typeof tls.getPeerCertificate !== 'function') return undefined;
  const cert = tls.getPeerCertificate();
  // No certificate: an empty object (node:tls).
  if (Object.keys(cert).length === 0) return undefined;
  if (tls.authorized !== true) {
    const why = tls.authorizationError === undefined ? 'not verified' : String(tls.authorizationError);
    throw new AuthFailure('bad_certificate', 'certificate', `the client certificate is not trusted: ${why}`);
  }
  if (field === undefined) return undefined;
  const user = field === 'commonName' ? first(cert.subject.CN) : emailOf(cert.subjectaltname, cert.subject.emailAddress);
  if (user === undefined || user === '') {
    throw new AuthFailure(
      'bad_certificate',
      'certificate',
      `the client certificate names no ${field === 'commonName' ? 'subject commonName' : 'email address'}`,
    );
  }
  return { user };
}

/** A subject field given several times is an array in node:tls; only a single value names a user. */
function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? (value.length === 1 ? value[0] : undefined) : value;
}

/** The rfc822Name of the subject alternative names (RFC 5280 §4.2.1.6), else the subject emailAddress. */
function emailOf(san: string | undefined, subjectEmail: string | string[] | undefined): string | undefined {
  const fromSan = (san ?? '')
    .split(', ')
    .find((entry) => entry.startsWith('email:'))
    ?.slice('email:'.length);
  return fromSan ?? first(subjectEmail);
}

/**
 * A TLS handshake refused because of the client certificate (`clientCertificates: required`):
 * none presented (OpenSSL's "peer did not return a certificate"), or one the client CA bundle
 * does not verify (node:tls then destroys the socket with the verification error in
 * `authorizationError` and reports a bare ECONNRESET). Undefined for other handshake errors
 * (scanners, plain HTTP on the TLS port), which are no authentication attempt.
 */
export function handshakeFailure(err: Error, authorizationError: unknown): AuthFailure | undefined {
  if (typeof authorizationError === 'string' || authorizationError instanceof Error) {
    return new AuthFailure('bad_certificate', 'certificate', `TLS handshake refused: the client certificate is not trusted: ${String(authorizationError)}`);
  }
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!/CERTIFICATE/.test(code)) return undefined;
  return new AuthFailure(
    'bad_certificate',
    'certificate',
    `TLS handshake refused: ${code === 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE' ? 'no client certificate' : code}`,
  );
}
