import { createHash } from 'node:crypto';
import { bundleFromJSON, type Bundle } from '@sigstore/bundle';
import { SignetError, errorMessage } from '../../errors.js';
import { isObject } from '../../registry/descriptors.js';
import { SIGNATURE_MEDIA_TYPES } from '../../registry/media-types.js';
import { Denial } from '../source.js';
import { decodePemBlocks } from '../x509/pem.js';
import { checkSimpleSigningClaim } from './claims.js';
import { denialFor } from './denials.js';
import type { CosignPolicy } from './policy.js';
import type { LegacySignatureLayer } from './verifier-port.js';
import { verifySignedBundle, type VerifiedSignature } from './verify-entity.js';

/**
 * cosign's legacy signatures: one layer of the `sha256-<hex>.sig` manifest per signature, the
 * blob the simple-signing payload, the rest in annotations (cosign pkg/oci/static/signature.go
 * and options.go). Each is rewritten, without losing anything that is checked, as the v0.1
 * Sigstore bundle it is (a message signature over the payload with an inclusion promise) and
 * verified by the same code as bundles, the payload as the artifact:
 * - `dev.cosignproject.cosign/signature`: base64 signature over the raw payload bytes;
 * - `dev.sigstore.cosign/certificate`: the PEM leaf (keyless); `dev.sigstore.cosign/chain` is
 *   not needed: the chain is built from the trusted root's CAs only, as sigstore does;
 * - `dev.sigstore.cosign/bundle`: the Rekor bundle `{SignedEntryTimestamp, Payload: {body,
 *   integratedTime, logIndex, logID}}` (pkg/cosign/bundle/rekor.go) → a tlog entry whose
 *   inclusion promise is the SET over the canonical Payload (what @sigstore/verify re-creates
 *   and checks, tlog/set.ts) and whose body is checked against the signature, digest and key;
 * - `dev.sigstore.cosign/rfc3161timestamp`: `{SignedRFC3161Timestamp: b64}` over the signature
 *   bytes (pkg/cosign/verify.go VerifyRFC3161Timestamp) → the bundle's RFC 3161 timestamp.
 * The message digest is the payload's, with the algorithm the log body records (sha512 for
 * Ed25519ph entries), else SHA-256.
 */

export const LEGACY_ANNOTATIONS = {
  signature: 'dev.cosignproject.cosign/signature',
  certificate: 'dev.sigstore.cosign/certificate',
  chain: 'dev.sigstore.cosign/chain',
  bundle: 'dev.sigstore.cosign/bundle',
  rfc3161Timestamp: 'dev.sigstore.cosign/rfc3161timestamp',
} as const;

/** Digest algorithms of a hashedrekord body (Rekor's names) → protobuf-specs HashAlgorithm JSON names and node:crypto names. */
const BODY_HASHES: Readonly<Record<string, { proto: string; node: string }>> = {
  sha256: { proto: 'SHA2_256', node: 'sha256' },
  sha384: { proto: 'SHA2_384', node: 'sha384' },
  sha512: { proto: 'SHA2_512', node: 'sha512' },
};

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * Verifies one legacy signature layer as a signature of the image `claim.digest` under `policy`.
 * Throws the same Denials as verifyBundle; `claim_mismatch` when the payload names another digest
 * or is not a cosign container image signature.
 */
export function verifyLegacySignature(layer: LegacySignatureLayer, claim: { digest: string }, policy: CosignPolicy): VerifiedSignature {
  const what = `the legacy cosign signature (.sig) of ${claim.digest}`;
  try {
    const bundle = legacyBundle(layer);
    const verified = verifySignedBundle(bundle, layer.payload, policy);
    checkSimpleSigningClaim(layer.payload, claim.digest);
    return verified;
  } catch (err) {
    if (err instanceof SignetError && !(err instanceof Denial)) throw err;
    throw denialFor(err, what);
  }
}

/** The v0.1 bundle a legacy layer stands for; throws Denial('bad_signature') when an annotation is malformed. */
export function legacyBundle(layer: LegacySignatureLayer): Bundle {
  const annotations = layer.annotations;
  const signature = annotations[LEGACY_ANNOTATIONS.signature];
  if (signature === undefined || signature === '' || !BASE64.test(signature)) {
    throw new Denial('bad_signature', `its layer has no base64 ${LEGACY_ANNOTATIONS.signature} annotation`);
  }
  const rekor = annotations[LEGACY_ANNOTATIONS.bundle];
  const entry = rekor === undefined ? undefined : tlogEntry(rekor);
  const hash = BODY_HASHES[entry?.hashAlgorithm ?? 'sha256'] ?? BODY_HASHES['sha256'];
  if (!hash) throw new Denial('bad_signature', 'no digest algorithm for the payload');
  const certificate = annotations[LEGACY_ANNOTATIONS.certificate];
  const timestamp = annotations[LEGACY_ANNOTATIONS.rfc3161Timestamp];
  const json = {
    mediaType: SIGNATURE_MEDIA_TYPES.sigstoreBundleV01Legacy,
    verificationMaterial: {
      ...(certificate === undefined || certificate === ''
        ? { publicKey: { hint: '' } }
        : { x509CertificateChain: { certificates: [{ rawBytes: leafDer(certificate) }] } }),
      tlogEntries: entry === undefined ? [] : [entry.json],
      ...(timestamp === undefined ? {} : { timestampVerificationData: { rfc3161Timestamps: [{ signedTimestamp: rfc3161Token(timestamp) }] } }),
    },
    messageSignature: {
      messageDigest: { algorithm: hash.proto, digest: createHash(hash.node).update(layer.payload).digest('base64') },
      signature,
    },
  };
  try {
    return bundleFromJSON(json);
  } catch (err) {
    throw new Denial('bad_signature', `its annotations do not make a Sigstore bundle: ${errorMessage(err)}`, { cause: err });
  }
}

/** The certificate annotation's first PEM block, base64 DER. */
function leafDer(pem: string): string {
  const block = decodePemBlocks(pem, 1).blocks[0];
  if (block?.type !== 'CERTIFICATE') throw new Denial('bad_signature', `its ${LEGACY_ANNOTATIONS.certificate} annotation holds no PEM certificate`);
  return block.bytes.toString('base64');
}

/** `{"SignedRFC3161Timestamp": "<base64 DER>"}` → the base64 token. */
function rfc3161Token(annotation: string): string {
  const json = parseJson(annotation, LEGACY_ANNOTATIONS.rfc3161Timestamp);
  const token = isObject(json) ? json['SignedRFC3161Timestamp'] : undefined;
  if (typeof token !== 'string' || !BASE64.test(token))
    throw new Denial('bad_signature', `its ${LEGACY_ANNOTATIONS.rfc3161Timestamp} annotation has no base64 SignedRFC3161Timestamp`);
  return token;
}

/** The Rekor bundle annotation as a bundle tlog entry (JSON form), and the digest algorithm its body records. */
function tlogEntry(annotation: string): { json: Record<string, unknown>; hashAlgorithm: string | undefined } {
  const bad = (why: string): Denial => new Denial('bad_signature', `its ${LEGACY_ANNOTATIONS.bundle} annotation ${why}`);
  const json = parseJson(annotation, LEGACY_ANNOTATIONS.bundle);
  const set = isObject(json) ? json['SignedEntryTimestamp'] : undefined;
  const payload = isObject(json) ? json['Payload'] : undefined;
  if (typeof set !== 'string' || !BASE64.test(set) || !isObject(payload)) throw bad('needs a base64 SignedEntryTimestamp and a Payload');
  const { body, integratedTime, logIndex, logID } = payload;
  if (typeof body !== 'string' || !BASE64.test(body)) throw bad('has no base64 Payload.body');
  if (!isSafeNatural(integratedTime) || !isSafeNatural(logIndex)) throw bad('needs whole, non-negative Payload.integratedTime and Payload.logIndex');
  if (typeof logID !== 'string' || !/^(?:[0-9a-f]{2})+$/.test(logID)) throw bad('has no hex Payload.logID');
  const decoded = parseJson(Buffer.from(body, 'base64').toString('utf8'), `${LEGACY_ANNOTATIONS.bundle} Payload.body`);
  const kind = isObject(decoded) ? decoded['kind'] : undefined;
  const version = isObject(decoded) ? decoded['apiVersion'] : undefined;
  if (typeof kind !== 'string' || typeof version !== 'string') throw bad('has a log entry body without kind and apiVersion');
  const spec = isObject(decoded) ? decoded['spec'] : undefined;
  const data = isObject(spec) ? spec['data'] : undefined;
  const hash = isObject(data) ? data['hash'] : undefined;
  const algorithm = isObject(hash) && typeof hash['algorithm'] === 'string' ? hash['algorithm'] : undefined;
  return {
    hashAlgorithm: algorithm,
    json: {
      logIndex: String(logIndex),
      logId: { keyId: Buffer.from(logID, 'hex').toString('base64') },
      kindVersion: { kind, version },
      integratedTime: String(integratedTime),
      inclusionPromise: { signedEntryTimestamp: set },
      canonicalizedBody: body,
    },
  };
}

function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Denial('bad_signature', `its ${what} is not JSON`, { cause: err });
  }
}

function isSafeNatural(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}
