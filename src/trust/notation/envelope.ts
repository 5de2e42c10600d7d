import { parseCertificate, type CertificateInfo } from '../x509/index.js';
import { chainProblem } from './cert-chain.js';
import { NotationError } from './errors.js';
import { certificateAlgorithm, isNotationAlgorithm, type NotationAlgorithm } from './key-spec.js';

/**
 * What every Notation envelope format carries once opened (signature-specification.md,
 * "Signature Envelope"), and the rules common to JWS and COSE that notation-core-go applies when
 * it verifies an envelope (signature/internal/base/envelope.go): the payload content type, a
 * signing time, an expiry after it, a complete certificate chain that keeps the signing scheme's
 * certificate rules, and a signature algorithm that is the one the leaf's key dictates.
 */

export const ENVELOPE_MEDIA_TYPES = { jws: 'application/jose+json', cose: 'application/cose' } as const;
export type EnvelopeMediaType = (typeof ENVELOPE_MEDIA_TYPES)[keyof typeof ENVELOPE_MEDIA_TYPES];
/** The only payload type of signature-specification.md ("Payload"). */
export const PAYLOAD_MEDIA_TYPE = 'application/vnd.cncf.notary.payload.v1+json';

export const SIGNING_SCHEMES = ['notary.x509', 'notary.x509.signingAuthority'] as const;
export type SigningScheme = (typeof SIGNING_SCHEMES)[number];

/** Header names of the signing scheme, the same strings in JWS and (as text labels) in COSE. */
export const HEADER = {
  signingScheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  timestampSignature: 'io.cncf.notary.timestampSignature',
  signingAgent: 'io.cncf.notary.signingAgent',
  verificationPlugin: 'io.cncf.notary.verificationPlugin',
} as const;

export interface EnvelopeContent {
  format: 'jws' | 'cose';
  payload: Buffer;
  signingScheme: SigningScheme;
  /** `signingTime` (notary.x509: the signer's claim) or `authenticSigningTime` (signingAuthority: vouched for). */
  signingTime: Date;
  expiry: Date | undefined;
  algorithm: NotationAlgorithm;
  /** The signature bytes: what an RFC 3161 countersignature stamps. */
  signature: Buffer;
  /** Leaf first, root last, as the envelope carries it. */
  chain: CertificateInfo[];
  timestampToken: Buffer | undefined;
  signingAgent: string | undefined;
}

/** What a format's parser hands to the common checks: everything read, the signature already verified with the leaf key. */
export interface OpenedEnvelope extends Omit<EnvelopeContent, 'algorithm' | 'chain' | 'signingTime' | 'expiry'> {
  algorithm: string;
  chainDer: Uint8Array[];
  payloadContentType: string;
  signingTime: Date | undefined;
  authenticSigningTime: Date | undefined;
  expiry: Date | undefined;
  /** Header names listed in `crit`. */
  critical: string[];
  /** Protected header names that are not the signing scheme's own. */
  extended: string[];
  /** Every protected header name (COSE: integer labels as their number, text labels that look like one marked as text). */
  present: string[];
}

export function malformed(message: string, cause?: unknown): NotationError {
  return new NotationError('malformed', message, cause === undefined ? {} : { cause });
}

/** The certificates of an envelope's chain, parsed; at least one. */
export function parseChain(chainDer: readonly Uint8Array[], format: string): CertificateInfo[] {
  if (chainDer.length === 0) throw malformed(`the ${format} envelope carries no certificate chain`);
  return chainDer.map((der, i) => {
    try {
      return parseCertificate(der);
    } catch (err) {
      throw malformed(`certificate ${i} of the ${format} envelope's chain cannot be read`, err);
    }
  });
}

/**
 * The signing scheme's rules on the protected headers (notation-core-go jws.go
 * validateProtectedHeaders / validateCriticalHeaders; cose envelope.go validateCritHeaders):
 * the scheme is known, its time header is the right one, `signingScheme` (and `expiry`,
 * `authenticSigningTime` when present) are critical, every critical header is present, and —
 * stricter than notation-go, as RFC 7515 §4.1.11 and RFC 9052 §3.1 require of a verifier —
 * no critical header is one Signet does not understand (a verification plugin's, say).
 */
export function checkSchemeHeaders(e: OpenedEnvelope, known: readonly string[]): { scheme: SigningScheme; signingTime: Date } {
  const scheme = e.signingScheme as string;
  if (!(SIGNING_SCHEMES as readonly string[]).includes(scheme))
    throw malformed(`unsupported signing scheme "${scheme}" (notary.x509 or notary.x509.signingAuthority)`);
  if (e.critical.length === 0) throw malformed('the protected header has no "crit" list');
  const mustBeCritical = new Set<string>([HEADER.signingScheme]);
  if (e.expiry !== undefined) mustBeCritical.add(HEADER.expiry);
  let signingTime: Date | undefined;
  if (scheme === 'notary.x509') {
    if (e.authenticSigningTime !== undefined) throw malformed(`"${HEADER.authenticSigningTime}" must not be present for the notary.x509 signing scheme`);
    signingTime = e.signingTime;
  } else {
    if (e.signingTime !== undefined) throw malformed(`"${HEADER.signingTime}" must not be present for the notary.x509.signingAuthority signing scheme`);
    if (e.authenticSigningTime === undefined)
      throw malformed(`"${HEADER.authenticSigningTime}" must be present for the notary.x509.signingAuthority signing scheme`);
    mustBeCritical.add(HEADER.authenticSigningTime);
    signingTime = e.authenticSigningTime;
  }
  if (e.critical.includes(HEADER.verificationPlugin) && e.extended.includes(HEADER.verificationPlugin)) {
    throw malformed(
      `the signature must be verified by a Notation verification plugin (critical header "${HEADER.verificationPlugin}"), which Signet does not run`,
    );
  }
  for (const label of e.critical) {
    // RFC 9052 §3.1 (go-cose ensureCritical), RFC 7515 §4.1.11: every critical header is present in the protected header.
    if (!e.present.includes(label)) throw malformed(`header "${label}" is marked critical but not present`);
    if (mustBeCritical.delete(label)) continue;
    if (known.includes(label)) continue;
    throw malformed(`critical header "${label}" is not one Signet understands; a verifier must refuse a signature with an unknown critical header`);
  }
  if (mustBeCritical.size > 0) throw malformed(`these headers must be marked critical: ${[...mustBeCritical].join(', ')}`);
  if (signingTime === undefined) throw malformed('the signing time is not present');
  if (e.expiry !== undefined && e.expiry.getTime() <= signingTime.getTime()) throw malformed('the expiry is not after the signing time');
  return { scheme: scheme as SigningScheme, signingTime };
}

/**
 * The checks after a format verified its signature (base/envelope.go validateEnvelopeContent and
 * notation-go verifyIntegrity): a payload of the Notation payload type, a valid chain whose leaf
 * key dictates the algorithm the signature claims.
 */
export function finishEnvelope(e: OpenedEnvelope, scheme: SigningScheme, signingTime: Date, chain: CertificateInfo[]): EnvelopeContent {
  if (e.payload.length === 0) throw malformed('the payload is empty');
  if (e.payloadContentType !== PAYLOAD_MEDIA_TYPE) throw malformed(`payload content type "${e.payloadContentType}" is not supported (${PAYLOAD_MEDIA_TYPE})`);
  if (e.signature.length === 0) throw malformed('the signature is empty');
  const problem = chainProblem(chain, 'codeSigning');
  if (problem !== undefined) throw new NotationError('certificate', `the certificate chain is invalid: ${problem}`);
  if (!isNotationAlgorithm(e.algorithm)) throw malformed(`signature algorithm "${e.algorithm}" is not supported`);
  return {
    format: e.format,
    payload: e.payload,
    signingScheme: scheme,
    signingTime,
    expiry: e.expiry,
    algorithm: e.algorithm,
    signature: e.signature,
    chain,
    timestampToken: e.timestampToken,
    signingAgent: e.signingAgent,
  };
}

/** The algorithm the leaf's key dictates; a signature claiming another is refused before it is checked. */
export function leafAlgorithm(leaf: CertificateInfo, claimed: string): NotationAlgorithm {
  const key = certificateAlgorithm(leaf);
  if (!key.ok) throw new NotationError('certificate', `the signing certificate's key cannot sign Notation signatures: ${key.problem}`);
  const expected = key.algorithm;
  if (expected !== claimed) {
    throw new NotationError(
      'integrity',
      `the envelope claims algorithm ${claimed}, but the signing certificate's key (${describeKey(leaf)}) signs with ${expected}: the algorithm must match the key`,
    );
  }
  return expected;
}

function describeKey(cert: CertificateInfo): string {
  const key = cert.publicKey;
  return key.algorithm === 'ecdsa' ? `ECDSA ${key.curve ?? '?'}` : `${key.algorithm.toUpperCase()} ${key.bits ?? '?'}`;
}
