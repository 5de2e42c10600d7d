import { PolicyError, VerificationError } from '@sigstore/verify';
import { errorMessage } from '../../errors.js';
import { Denial, type DenyReason } from '../source.js';

/**
 * @sigstore/verify's failures as Signet's denial reasons, with what the user can do about them.
 * `what` names the signature ("the cosign bundle for sha256:...", "the legacy cosign signature
 * (.sig) of sha256:..."); the message of a Denial produced here reads "<what>: <why>".
 */

const REASONS: Readonly<Record<string, { reason: DenyReason; why: string }>> = {
  // The signature bytes do not verify with the key the bundle's certificate (or the pinned key) holds.
  SIGNATURE_ERROR: { reason: 'bad_signature', why: 'the signature does not verify: the signed content or the signature was altered' },
  // Chain to the trusted Fulcio CAs, validity at the signing time, SCTs.
  CERTIFICATE_ERROR: {
    reason: 'untrusted_signer',
    why: 'its certificate does not chain to a Fulcio CA of the trusted root, or was not valid when it was used, or has no SCT from a trusted CT log',
  },
  PUBLIC_KEY_ERROR: { reason: 'untrusted_signer', why: 'its key is not one the rule pins' },
  TIMESTAMP_ERROR: {
    reason: 'untrusted_signer',
    why: 'no signing time verifies (an RFC 3161 timestamp from a trusted timestamp authority, or a log integrated time with a signed entry timestamp)',
  },
  TLOG_ERROR: { reason: 'no_tlog_entry', why: 'it has no transparency-log entry, and the rule requires one' },
  TLOG_MISSING_INCLUSION_ERROR: { reason: 'no_tlog_entry', why: 'its transparency-log entry has neither a signed entry timestamp nor an inclusion proof' },
  TLOG_INCLUSION_PROMISE_ERROR: {
    reason: 'no_tlog_entry',
    why: 'its transparency-log entry is not signed by a log of the trusted root (signed entry timestamp)',
  },
  TLOG_INCLUSION_PROOF_ERROR: {
    reason: 'no_tlog_entry',
    why: 'its transparency-log inclusion proof or checkpoint does not verify against a log of the trusted root',
  },
  TLOG_BODY_ERROR: { reason: 'bad_signature', why: 'its transparency-log entry is for another signature or content' },
};

/**
 * A Denial for `err` thrown while verifying `what`. Signet's own checks throw Denials whose
 * message is the reason alone ("it is an attestation ..."): they get `what` in front.
 */
export function denialFor(err: unknown, what: string): Denial {
  if (err instanceof Denial) return new Denial(err.reason, `${what}: ${err.message}`, { cause: err });
  if (err instanceof VerificationError || err instanceof PolicyError) {
    const known = REASONS[err.code];
    const detail = err.message ? ` (${err.message}${err.cause instanceof Error ? `: ${err.cause.message}` : ''})` : '';
    if (known) return new Denial(known.reason, `${what}: ${known.why}${detail}`, { cause: err });
  }
  // Anything else came from reading malformed content (a certificate, a timestamp, a log body).
  return new Denial('bad_signature', `${what}: the signature is malformed: ${errorMessage(err)}`, { cause: err });
}
