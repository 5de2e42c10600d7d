/**
 * Revocation checking for Notation verification (OCSP, then CRL): the checker and its default
 * HTTP transport.
 */
export { createRevocationChecker, type RevocationFetch, type RevocationLogger, type RevocationOptions } from './checker.js';
export { httpRevocationFetch } from './http.js';
