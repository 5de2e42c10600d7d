import { createPublicKey } from 'node:crypto';
import type { Bundle } from '@sigstore/bundle';
import { dsse, type X509Certificate } from '@sigstore/core';
import { Verifier, toSignedEntity, type KeyFinderFunc, type SignedEntity, type Signer, type TrustMaterial, type VerifierOptions } from '@sigstore/verify';
import { Denial, type Evidence } from '../source.js';
import { describeSeen, seenIdentity } from './identity.js';
import type { PinnedKey } from './keys.js';
import type { CosignPolicy } from './policy.js';
import { signatureContentFor } from './signature-content.js';
import { verifyWithKeyScheme } from './signature-scheme.js';
import { dropUnverifiableTimestamps } from './timestamps.js';
import { assertEntriesRecordSigner } from './tlog-key.js';

/**
 * One Sigstore bundle (parsed and validated by @sigstore/bundle) verified under a rule's policy:
 * signature, signer (a pinned key, or a Fulcio certificate chaining to the trusted root at a
 * verified signing time, with an SCT), transparency-log entries, then the identity. What was
 * signed (the claim) is the caller's check. Throws Denials whose message is the reason alone.
 *
 * @sigstore/verify does the cryptography (Verifier.verify: timestamps, key or certificate chain
 * with SCTs, log inclusion by SET or by inclusion proof and checkpoint, log body against the
 * signature); Signet adds what it leaves to callers or does differently:
 * - key-based signatures are tried against every pinned key, whatever the bundle's key hint
 *   (cosign verify --key ignores it too), the hinted key first;
 * - the signature scheme follows the key (signature-scheme.ts: SHA-384 for P-384, Ed25519ph);
 * - log entries must record the signing key or certificate (tlog-key.ts);
 * - with `tlog: false`, a key-based signature's log entries and timestamps are ignored, as
 *   cosign verify --insecure-ignore-tlog does (a rule without a log needs no log keys);
 * - identities are matched by identity.ts, anchored, never by @sigstore/verify's unanchored regex.
 */

export interface VerifiedSignature {
  /** Who signed, as thresholds count signers: the pinned key's ID, or the matched rule identity "<issuer> <subject>". */
  signer: string;
  evidence: Evidence;
  /** The transparency-log index of the signature's entry, if it has one that was checked. */
  logIndex?: number;
}

/** What a signature whose key or certificate is not looked up anywhere has: nothing. */
const EMPTY_MATERIAL: TrustMaterial = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: noKey };

function noKey(hint: string): never {
  throw new Denial('untrusted_signer', `no pinned key for the key hint "${hint}"`);
}

/**
 * Verifies `bundle`; `artifact` is what a message signature signs (the legacy payload, a file),
 * undefined for a DSSE envelope (it signs its own payload).
 */
export function verifySignedBundle(bundle: Bundle, artifact: Buffer | undefined, policy: CosignPolicy): VerifiedSignature {
  const signedBytes = signedBytesOf(bundle, artifact);
  const entity = toSignedEntity(bundle, artifact);
  const key = entity.key;
  entity.signature = signatureContentFor(bundle, entity.signature, signedBytes);
  if (key.$case === 'public-key') return verifyKeyBased(entity, key.hint, signedBytes, policy);
  return verifyKeyless(entity, key.certificate, certificateDer(bundle), policy);
}

function verifyKeyBased(entity: SignedEntity, hint: string, signedBytes: Buffer, policy: CosignPolicy): VerifiedSignature {
  if (policy.keys.length === 0) {
    throw new Denial('untrusted_signer', `it is signed with a key (hint "${hint}"), and ${policy.path} trusts keyless identities only`);
  }
  if (!policy.tlog) {
    // cosign verify --insecure-ignore-tlog: entries and the times they give are not looked at.
    entity.tlogEntries = [];
    entity.timestamps = [];
  }
  requireLogEntry(entity, policy);
  const signature = entity.signature.signature;
  const ordered = [...policy.keys].sort((a, b) => Number(namesKey(hint, b)) - Number(namesKey(hint, a)));
  const pinned = ordered.find((k) => verifyWithKeyScheme(k.key, signedBytes, signature));
  if (!pinned) {
    const named = policy.keys.find((k) => namesKey(hint, k));
    if (named)
      throw new Denial(
        'bad_signature',
        `it names the pinned key ${named.id} (${named.path}), which does not verify it: the signed content or the signature was altered`,
      );
    throw new Denial('untrusted_signer', `none of the ${policy.keys.length} keys ${policy.path} pins (${policy.keys.map((k) => k.id).join(', ')}) verifies it`);
  }
  const finder: KeyFinderFunc = () => ({ publicKey: pinned.key, validFor: () => true });
  const material = { ...(policy.root ?? EMPTY_MATERIAL), publicKey: finder };
  dropUnverifiableTimestamps(entity, material, pinned.key);
  runVerifier(entity, material, { tlogThreshold: policy.tlog ? 1 : 0, ctlogThreshold: 0, timestampThreshold: 0 });
  assertEntriesRecordSigner(entity.tlogEntries, { kind: 'key', spki: pinned.spki });
  const signedAt = earliestTime(entity);
  const logIndex = firstLogIndex(entity);
  return {
    signer: pinned.id,
    evidence: { format: 'cosign', signer: pinned.id, key: pinned.id, ...(signedAt ? { signedAt } : {}), ...(logIndex === undefined ? {} : { logIndex }) },
    ...(logIndex === undefined ? {} : { logIndex }),
  };
}

function verifyKeyless(entity: SignedEntity, certificate: X509Certificate, der: Buffer, policy: CosignPolicy): VerifiedSignature {
  if (policy.identities.length === 0 || policy.root === undefined) {
    const claimed = certificate.subjectAltName ?? 'an unnamed subject';
    throw new Denial('untrusted_signer', `it is signed keylessly (a certificate for ${claimed}), and ${policy.path} trusts pinned keys only`);
  }
  requireLogEntry(entity, policy);
  dropUnverifiableTimestamps(entity, policy.root, createPublicKey({ key: certificate.publicKey, format: 'der', type: 'spki' }));
  // Fulcio certificates live ten minutes: only a verified time says the key was used inside them.
  const times = entity.timestamps.filter((t) => t.$case === 'timestamp-authority' || t.tlogEntry.inclusionPromise !== undefined).length;
  if (times === 0) {
    throw new Denial(
      'untrusted_signer',
      `nothing proves when it was made (no transparency-log integrated time with a signed entry timestamp, no RFC 3161 timestamp), so its short-lived certificate (valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()}) cannot be checked`,
    );
  }
  const signer = runVerifier(entity, policy.root, { tlogThreshold: policy.tlog ? 1 : 0, ctlogThreshold: 1, timestampThreshold: 1 });
  assertEntriesRecordSigner(entity.tlogEntries, { kind: 'certificate', der });
  const seen = seenIdentity(certificate, signer);
  const matched = policy.identities.find((m) => m.matches(seen));
  if (!matched) {
    const wanted = policy.identities.map((m) => `[${m.description}]`).join(' or ');
    const near = policy.identities.map((m) => m.extensionMismatch(seen)).find((why) => why !== undefined);
    throw new Denial(
      'identity_mismatch',
      `it is signed by ${describeSeen(seen)}${near ? ` (whose certificate's ${near})` : ''}, which is not an identity ${policy.path} trusts: ${wanted}`,
    );
  }
  const signedAt = earliestTime(entity);
  const logIndex = firstLogIndex(entity);
  const evidence: Evidence = {
    format: 'cosign',
    signer: matched.signer,
    key: describeSeen(seen),
    ...(seen.issuer === undefined ? {} : { issuer: seen.issuer }),
    ...(signedAt ? { signedAt } : {}),
    ...(logIndex === undefined ? {} : { logIndex }),
  };
  return { signer: matched.signer, evidence, ...(logIndex === undefined ? {} : { logIndex }) };
}

function requireLogEntry(entity: SignedEntity, policy: CosignPolicy): void {
  if (policy.tlog && entity.tlogEntries.length === 0) {
    throw new Denial(
      'no_tlog_entry',
      `it has no transparency-log entry (signed with --tlog-upload=false?) and ${policy.path} requires one: upload it to the log, or set tlog: false for key-based signatures`,
    );
  }
}

function runVerifier(entity: SignedEntity, material: TrustMaterial, options: VerifierOptions): Signer {
  return new Verifier(material, options).verify(entity);
}

/** The bytes the signature is over: a DSSE envelope's pre-authentication encoding, or the artifact. */
function signedBytesOf(bundle: Bundle, artifact: Buffer | undefined): Buffer {
  if (bundle.content.$case === 'dsseEnvelope') return dsse.preAuthEncoding(bundle.content.dsseEnvelope.payloadType, bundle.content.dsseEnvelope.payload);
  if (artifact === undefined) throw new Denial('claim_mismatch', 'it is a message signature, and Signet has no artifact to check it over');
  return artifact;
}

function certificateDer(bundle: Bundle): Buffer {
  const content = bundle.verificationMaterial.content;
  const raw =
    content.$case === 'certificate'
      ? content.certificate.rawBytes
      : content.$case === 'x509CertificateChain'
        ? content.x509CertificateChain.certificates[0]?.rawBytes
        : undefined;
  return Buffer.from(raw ?? []);
}

/** A key hint names a pinned key when it is its ID (hex) or cosign's hint (base64 sha256 of the DER SubjectPublicKeyInfo). */
function namesKey(hint: string, key: PinnedKey): boolean {
  return hint !== '' && (hint === key.id || hint === Buffer.from(key.id, 'hex').toString('base64'));
}

/** The earliest verified signing time (all of the entity's timestamps were verified by now). */
function earliestTime(entity: SignedEntity): Date | undefined {
  const times = entity.timestamps.flatMap((t) => {
    if (t.$case === 'timestamp-authority') return [t.timestamp.signingTime.getTime()];
    return t.tlogEntry.inclusionPromise ? [Number(t.tlogEntry.integratedTime) * 1000] : [];
  });
  return times.length > 0 ? new Date(Math.min(...times)) : undefined;
}

function firstLogIndex(entity: SignedEntity): number | undefined {
  const entry = entity.tlogEntries[0];
  return entry === undefined ? undefined : Number(entry.logIndex);
}
