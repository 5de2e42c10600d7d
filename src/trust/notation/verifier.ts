import { isObject } from '../../registry/descriptors.js';
import type { CertificateInfo } from '../x509/index.js';
import { subject as name, validityProblem } from './cert-chain.js';
import { openCose } from './cose.js';
import { ENVELOPE_MEDIA_TYPES, type EnvelopeContent } from './envelope.js';
import { NotationError } from './errors.js';
import { openJws } from './jws.js';
import { verifyTimestampToken, timestampRange } from './timestamp.js';
import { matchIdentity } from './trust-policy.js';
import type { CheckAction, NotationCheck, RevocationChecker, RevocationResult, TrustPolicyStatement, TrustStoreSet, TrustStoreType } from './types.js';

/**
 * One Notation signature verified the way notation-go's verifier does it (verifier/verifier.go
 * processSignature and Verify; signing-and-verification-workflow.md "Verification Steps"), in
 * its order: integrity (the envelope opens, its signature verifies with the leaf key, its chain
 * keeps the certificate rules), authenticity (the chain meets a certificate of the policy's
 * trust stores; the leaf's subject is a trusted identity), expiry, authentic timestamp,
 * revocation, then the payload must name the artifact served. The trust policy statement's
 * level says of each check whether a failure refuses the signature ("enforce") or is only
 * reported ("log"); integrity and the payload always refuse.
 */

/** The artifact the signature must name (what the registry serves under the digest). */
export interface TargetDescriptor {
  digest: string;
  mediaType: string;
  size: number;
}

export interface VerifyContext {
  statement: TrustPolicyStatement;
  stores: TrustStoreSet;
  /** Undefined: no revocation checks can be made (each is "unknown"). */
  revocation: RevocationChecker | undefined;
  now: Date;
}

/** A check that failed but whose action is "log": reported, not refusing. */
export interface LoggedFailure {
  check: NotationCheck;
  message: string;
}

export interface VerifiedSignature {
  format: 'jws' | 'cose';
  scheme: EnvelopeContent['signingScheme'];
  /** The leaf certificate's subject (RFC 4514 text): the signing identity thresholds count. */
  subject: string;
  issuer: string;
  /** The trusted identity of the policy it matched ("*" for any). */
  identity: string;
  /** The signer's claimed signing time (notary.x509) or the authentic one (signingAuthority). */
  signingTime: Date;
  /** The timestamp authority's time and subject, when a countersignature was verified. */
  timestamp: { genTime: Date; tsa: string } | undefined;
  expiry: Date | undefined;
  level: TrustPolicyStatement['level'];
  logged: LoggedFailure[];
  /** The certificate chain that signed, leaf first (the console's trust health reports its validity). */
  chain: readonly CertificateInfo[];
}

export async function verifySignature(envelope: Buffer, mediaType: string, target: TargetDescriptor, ctx: VerifyContext): Promise<VerifiedSignature> {
  const { statement } = ctx;
  const logged: LoggedFailure[] = [];
  /** Applies the statement's action to a failed check: throws when it is enforced. */
  const failed = (check: NotationCheck, error: NotationError): void => {
    const action: CheckAction = statement.actions[check];
    if (action === 'enforce') throw error;
    if (action === 'log') logged.push({ check, message: error.message });
  };

  // Integrity: always enforced (a signature that does not verify says nothing at all).
  const content = await openEnvelope(envelope, mediaType);
  const leaf = content.chain[0] as CertificateInfo;

  // Authenticity: the chain meets the trust store of the signing scheme's type, and the identity is trusted.
  let identity = '';
  if (statement.actions.authenticity !== 'skip') {
    const storeType: TrustStoreType = content.signingScheme === 'notary.x509' ? 'ca' : 'signingAuthority';
    const trusted = certificatesOf(ctx.stores, statement, storeType);
    const authenticity =
      trusted.length === 0
        ? new NotationError(
            'authenticity',
            `trust policy statement "${statement.name}" names no ${storeType} trust store with certificates, which ${content.signingScheme} signatures need`,
          )
        : content.chain.some((c) => trusted.some((t) => t.der.equals(c.der)))
          ? undefined
          : new NotationError(
              'authenticity',
              `the signature's certificate chain (root ${name(content.chain[content.chain.length - 1] as CertificateInfo)}) does not meet any certificate of the ${storeType} trust store(s) ${storeNames(statement, storeType)} of trust policy statement "${statement.name}"`,
            );
    if (authenticity) failed('authenticity', authenticity);
    const matched = matchIdentity(statement, leaf.subject.der);
    if (matched === undefined) {
      failed(
        'authenticity',
        new NotationError(
          'identity',
          `the signing certificate's subject "${leaf.subject.text}" is not one of the trusted identities of trust policy statement "${statement.name}"`,
        ),
      );
    } else {
      identity = matched === '*' ? '*' : matched.text;
    }
  }

  // Expiry of the signature itself.
  if (statement.actions.expiry !== 'skip' && content.expiry !== undefined && ctx.now.getTime() >= content.expiry.getTime()) {
    failed('expiry', new NotationError('expiry', `the signature expired at ${content.expiry.toISOString()}`));
  }

  // Authentic timestamp: the time at which the chain must have been valid.
  let timestamp: VerifiedSignature['timestamp'];
  if (statement.actions.authenticTimestamp !== 'skip') {
    try {
      timestamp = await authenticTime(content, ctx);
    } catch (err) {
      if (!(err instanceof NotationError)) throw err;
      failed('authenticTimestamp', err);
    }
  }

  // Revocation of the signing chain (OCSP, then CRL).
  if (statement.actions.revocation !== 'skip') {
    const problem = await revocationProblem(ctx.revocation, content.chain, 'codeSigning', ctx.now, 'signing');
    if (problem) failed('revocation', problem);
  }

  // The payload must name exactly what is served (notation-go Verify: content.Equal on mediaType, digest, size).
  const claimed = targetArtifact(content.payload);
  if (claimed.digest !== target.digest || claimed.mediaType !== target.mediaType || claimed.size !== target.size) {
    throw new NotationError(
      'target_mismatch',
      `the signature is for ${claimed.mediaType} ${claimed.digest} (${claimed.size} bytes), not for the ${target.mediaType} ${target.digest} (${target.size} bytes) served`,
    );
  }

  return {
    format: content.format,
    scheme: content.signingScheme,
    subject: leaf.subject.text,
    issuer: leaf.issuer.text,
    identity,
    signingTime: content.signingTime,
    timestamp,
    expiry: content.expiry,
    level: statement.level,
    logged,
    chain: content.chain,
  };
}

/** Parses the envelope of its media type and verifies its signature (integrity). */
export async function openEnvelope(envelope: Buffer, mediaType: string): Promise<EnvelopeContent> {
  if (mediaType === ENVELOPE_MEDIA_TYPES.jws) return openJws(envelope);
  if (mediaType === ENVELOPE_MEDIA_TYPES.cose) return openCose(envelope);
  throw new NotationError('malformed', `signature envelope type "${mediaType}" is not supported (${ENVELOPE_MEDIA_TYPES.jws} or ${ENVELOPE_MEDIA_TYPES.cose})`);
}

function certificatesOf(stores: TrustStoreSet, statement: TrustPolicyStatement, type: TrustStoreType): CertificateInfo[] {
  const seen = new Set<string>();
  const out: CertificateInfo[] = [];
  for (const ref of statement.trustStores) {
    if (ref.type !== type || seen.has(ref.name)) continue;
    seen.add(ref.name);
    out.push(...(stores.get(type, ref.name) ?? []));
  }
  return out;
}

function storeNames(statement: TrustPolicyStatement, type: TrustStoreType): string {
  const names = statement.trustStores.filter((s) => s.type === type).map((s) => `${s.type}:${s.name}`);
  return names.length > 0 ? names.join(', ') : '(none)';
}

/**
 * notation-go verifyAuthenticTimestamp / verifyTimestamp. notary.x509.signingAuthority: the chain
 * must have been valid at the authentic signing time. notary.x509: when the statement names a
 * tsa trust store (and, with verifyTimestamp "afterCertExpiry", only once a certificate of the
 * chain has expired) the RFC 3161 countersignature is required: it must verify against the tsa
 * stores, its TSA chain must not be revoked, and its time (± accuracy) must lie inside every
 * certificate's validity; otherwise the chain must be valid now.
 */
async function authenticTime(content: EnvelopeContent, ctx: VerifyContext): Promise<VerifiedSignature['timestamp']> {
  const { statement, now } = ctx;
  if (content.signingScheme === 'notary.x509.signingAuthority') {
    const problem = validityProblem(content.chain, content.signingTime, 'the authentic signing time');
    if (problem) throw new NotationError('expiry', `the certificate chain was not valid when the signature was made: ${problem}`);
    return undefined;
  }
  let verifyTimestamp = statement.trustStores.some((s) => s.type === 'tsa');
  if (verifyTimestamp && statement.verifyTimestamp === 'afterCertExpiry') {
    verifyTimestamp = content.chain.some((c) => now.getTime() > c.notAfter.getTime());
  }
  if (!verifyTimestamp) {
    const problem = validityProblem(content.chain, now, 'the time of verification');
    if (problem) {
      throw new NotationError(
        'expiry',
        `${problem}, and ${statement.trustStores.some((s) => s.type === 'tsa') ? 'the chain has not expired' : `trust policy statement "${statement.name}" names no tsa trust store to check a timestamp against`}`,
      );
    }
    return undefined;
  }
  if (content.timestampToken === undefined) {
    throw new NotationError(
      'timestamp',
      'the signature has no timestamp countersignature, and the trust policy statement requires one (it names a tsa trust store)',
    );
  }
  const roots = certificatesOf(ctx.stores, statement, 'tsa');
  if (roots.length === 0) throw new NotationError('timestamp', `the tsa trust store(s) ${storeNames(statement, 'tsa')} hold no certificate`);
  const stamped = verifyTimestampToken(content.timestampToken, content.signature, roots, { now });
  const range = timestampRange(stamped);
  for (const cert of content.chain) {
    if (range.earliest.getTime() < cert.notBefore.getTime()) {
      throw new NotationError(
        'expiry',
        `the timestamp (${stamped.genTime.toISOString()}) may be before certificate ${name(cert)} is valid (from ${cert.notBefore.toISOString()})`,
      );
    }
    if (range.latest.getTime() > cert.notAfter.getTime()) {
      throw new NotationError(
        'expiry',
        `the timestamp (${stamped.genTime.toISOString()}) may be after certificate ${name(cert)} expired (${cert.notAfter.toISOString()})`,
      );
    }
  }
  const revoked = await revocationProblem(ctx.revocation, stamped.chain, 'timestamping', now, 'timestamping');
  if (revoked) throw new NotationError('timestamp', revoked.message, { cause: revoked });
  return { genTime: stamped.genTime, tsa: stamped.tsa };
}

/**
 * notation-go revocationFinalResult: any revoked certificate makes the chain revoked; every
 * certificate OK (or with no revocation endpoint) makes it OK; anything else is unknown.
 */
async function revocationProblem(
  checker: RevocationChecker | undefined,
  chain: readonly CertificateInfo[],
  purpose: 'codeSigning' | 'timestamping',
  now: Date,
  what: string,
): Promise<NotationError | undefined> {
  if (checker === undefined)
    return new NotationError(
      'revocation_unknown',
      `the revocation status of the ${what} certificate chain cannot be checked: revocation checking is not configured`,
    );
  let results: RevocationResult[];
  try {
    results = await checker.check(chain, purpose, now);
  } catch (err) {
    // A chain the checker cannot work with (it breaks its purpose's rules) has an unknown status.
    if (err instanceof NotationError) return err;
    throw err;
  }
  const revoked = results.findIndex((r) => r.status === 'revoked');
  if (revoked >= 0) {
    const r = results[revoked] as Extract<RevocationResult, { status: 'revoked' }>;
    return new NotationError(
      'revoked',
      `${what} certificate ${name(chain[revoked] as CertificateInfo)} is revoked (${r.method}${r.reason ? `, reason ${r.reason}` : ''}${r.revokedAt ? `, since ${r.revokedAt.toISOString()}` : ''})`,
    );
  }
  const unknown = results.findIndex((r) => r.status === 'unknown');
  if (unknown >= 0) {
    const r = results[unknown] as Extract<RevocationResult, { status: 'unknown' }>;
    return new NotationError(
      'revocation_unknown',
      `the revocation status of ${what} certificate ${name(chain[unknown] as CertificateInfo)} is unknown: ${r.why}`,
    );
  }
  return undefined;
}

/** The payload's `targetArtifact` (signature-specification.md "Payload"). */
function targetArtifact(payload: Buffer): TargetDescriptor {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new NotationError('malformed', 'the signature payload is not JSON', { cause: err });
  }
  const target = isObject(json) ? json['targetArtifact'] : undefined;
  if (!isObject(target)) throw new NotationError('malformed', 'the signature payload has no targetArtifact descriptor');
  const { digest, mediaType, size } = target;
  if (typeof digest !== 'string' || typeof mediaType !== 'string' || typeof size !== 'number' || !Number.isSafeInteger(size)) {
    throw new NotationError('malformed', 'the signature payload targetArtifact lacks a digest, mediaType or size');
  }
  return { digest, mediaType, size };
}
