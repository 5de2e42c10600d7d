/**
 * The coded error of the shared X.509 modules. Each trust format (Notary, cosign, Notation)
 * translates it into its own error where it crosses into that format's code.
 */
import { SignetError } from '../../errors.js';

export type X509ErrorCode =
  /** Bytes that are not a DER certificate (or PEM block) a strict parser would accept. */
  | 'malformed'
  /** More certificates or bytes than the caller's limit. */
  | 'too_large'
  /** No chain from the leaf to a trusted root under the chain rules. */
  | 'no_chain'
  /** A certificate outside its validity period at the injected time. */
  | 'expired';

export class X509Error extends SignetError<X509ErrorCode> {
  constructor(code: X509ErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options?.cause === undefined ? {} : { cause: options.cause });
    this.name = 'X509Error';
  }
}

export function isX509Error(err: unknown, code?: X509ErrorCode): err is X509Error {
  return err instanceof X509Error && (code === undefined || err.code === code);
}
