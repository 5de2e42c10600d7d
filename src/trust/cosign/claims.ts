import { createHash } from 'node:crypto';
import type { Envelope } from '@sigstore/bundle';
import { HashAlgorithm } from '@sigstore/protobuf-specs';
import { isObject } from '../../registry/descriptors.js';
import { SIGNATURE_MEDIA_TYPES } from '../../registry/media-types.js';
import { Denial } from '../source.js';

/**
 * What a signature must be ABOUT. @sigstore/verify checks that a signature is authentic; it does
 * not look at what was signed (a DSSE statement's subject, a message's digest): the caller must.
 * - An image (`{digest}`), as cosign signs one: cosign 3 signs an in-toto Statement whose subject
 *   lists the digest and whose predicate type is `https://sigstore.dev/cosign/sign/v1`
 *   (cmd/cosign/cli/sign/sign.go signDigestBundle); older cosign, and cosign 3 with
 *   --new-bundle-format=false, signs the simple-signing payload of a legacy `.sig` layer. Any
 *   other predicate type is an attestation (SBOM, provenance, ...), which `cosign verify` would
 *   accept but which does not say "this image is approved".
 * - A file (`{artifact}` or `{artifactDigest}`), as the Sigstore conformance suite's
 *   bundle-verify passes one: the message signature's digest must be the file's, or the
 *   statement must list it as a subject.
 */
export type CosignClaim = { digest: string } | { artifact: Buffer } | { artifactDigest: string };

/** cosign's predicate type for a signature (cosign pkg/types/predicate.go CosignSignPredicateType). */
export const COSIGN_SIGN_PREDICATE = 'https://sigstore.dev/cosign/sign/v1';

/** in-toto Statement types (in-toto/attestation spec/v1/statement.md; v0.1 is what `cosign attest` writes). */
const STATEMENT_TYPES: ReadonlySet<string> = new Set(['https://in-toto.io/Statement/v1', 'https://in-toto.io/Statement/v0.1']);

/** cosign's simple-signing payload type (sigstore/sigstore pkg/signature/payload CosignSignatureType). */
export const SIMPLE_SIGNING_TYPE = 'cosign container image signature';

/** Hashes a statement subject's or a message digest's algorithm may name, as node:crypto names them. */
const HASHES: Readonly<Record<string, string>> = { sha256: 'sha256', sha384: 'sha384', sha512: 'sha512' };

/**
 * A message signature's digest algorithm (protobuf-specs HashAlgorithm); unspecified is SHA-256,
 * as @sigstore/verify reads it (bundle/message.ts HASH_ALGORITHM_MAP).
 */
const MESSAGE_DIGEST_ALGORITHMS: Readonly<Partial<Record<HashAlgorithm, string>>> = {
  [HashAlgorithm.HASH_ALGORITHM_UNSPECIFIED]: 'sha256',
  [HashAlgorithm.SHA2_256]: 'sha256',
  [HashAlgorithm.SHA2_384]: 'sha384',
  [HashAlgorithm.SHA2_512]: 'sha512',
};

/** What `claim` is, for messages. */
export function describeClaim(claim: CosignClaim): string {
  if ('digest' in claim) return claim.digest;
  if ('artifactDigest' in claim) return claim.artifactDigest;
  return `the artifact (sha256:${createHash('sha256').update(claim.artifact).digest('hex')})`;
}

/** Checks a DSSE envelope's statement against `claim`; throws Denial('claim_mismatch' | 'bad_signature'). */
export function checkEnvelopeClaim(envelope: Envelope, claim: CosignClaim): void {
  if (envelope.payloadType !== SIGNATURE_MEDIA_TYPES.inToto) {
    throw new Denial('claim_mismatch', `the signed envelope holds "${envelope.payloadType}", not an in-toto statement about ${describeClaim(claim)}`);
  }
  const statement = parseStatement(envelope.payload);
  if ('digest' in claim && statement.predicateType !== COSIGN_SIGN_PREDICATE) {
    throw new Denial(
      'claim_mismatch',
      `it is an attestation (predicate type ${statement.predicateType}), not a signature: an attestation does not approve ${claim.digest}; sign the image itself (cosign sign)`,
    );
  }
  const wanted = wantedDigests(claim);
  const named = statement.subjects.some((subject) => Object.entries(wanted).some(([alg, hex]) => subject[alg]?.toLowerCase() === hex));
  if (!named) {
    const listed = statement.subjects.flatMap((s) => Object.entries(s).map(([alg, hex]) => `${alg}:${hex}`));
    throw new Denial('claim_mismatch', `it signs ${listed.length > 0 ? listed.join(', ') : 'no subject'}, not ${describeClaim(claim)}`);
  }
}

/**
 * Checks a message signature's digest against `claim`. cosign never signs an image as a bare
 * message signature in a bundle (images get a DSSE statement, or a legacy `.sig` payload), so for
 * an image it is a claim about something else.
 */
export function checkMessageClaim(messageDigest: { algorithm: HashAlgorithm; digest: Buffer }, claim: CosignClaim): void {
  if ('digest' in claim) {
    throw new Denial(
      'claim_mismatch',
      `it is a signature of a blob (a message signature), not of the image ${claim.digest}: cosign signs images with an in-toto statement`,
    );
  }
  const wanted = wantedDigests(claim);
  const alg = MESSAGE_DIGEST_ALGORITHMS[messageDigest.algorithm] ?? `algorithm ${messageDigest.algorithm}`;
  const got = messageDigest.digest.toString('hex');
  if (wanted[alg] !== got) {
    throw new Denial('claim_mismatch', `it signs the ${alg} digest ${got}, not ${describeClaim(claim)}`);
  }
}

/** Checks a legacy simple-signing payload (unknown bytes) against the image `digest` (cosign SimpleClaimVerifier). */
export function checkSimpleSigningClaim(payload: Buffer, digest: string): void {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new Denial('bad_signature', 'its payload is not JSON: not a cosign simple-signing payload', { cause: err });
  }
  const critical = isObject(json) ? json['critical'] : undefined;
  const image = isObject(critical) ? critical['image'] : undefined;
  const type = isObject(critical) ? critical['type'] : undefined;
  const signed = isObject(image) ? image['docker-manifest-digest'] : undefined;
  if (type !== SIMPLE_SIGNING_TYPE || typeof signed !== 'string') {
    throw new Denial('claim_mismatch', `its payload is not a cosign container image signature (critical.type "${String(type)}")`);
  }
  if (signed !== digest) throw new Denial('claim_mismatch', `it signs ${signed}, not ${digest}: a signature copied from another image`);
}

interface Statement {
  predicateType: string;
  /** Each subject's digests: algorithm → hex. */
  subjects: Array<Readonly<Record<string, string>>>;
}

function parseStatement(payload: Buffer): Statement {
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (err) {
    throw new Denial('bad_signature', 'its in-toto statement is not JSON', { cause: err });
  }
  if (!isObject(json) || typeof json['_type'] !== 'string' || !STATEMENT_TYPES.has(json['_type'])) {
    throw new Denial('claim_mismatch', 'its payload is not an in-toto statement (_type https://in-toto.io/Statement/v1)');
  }
  const predicateType = json['predicateType'];
  const subject = json['subject'];
  if (typeof predicateType !== 'string' || !Array.isArray(subject)) {
    throw new Denial('claim_mismatch', 'its in-toto statement has no predicateType or no subject list');
  }
  const subjects = (subject as unknown[]).map((s) => {
    const digest = isObject(s) ? s['digest'] : undefined;
    if (!isObject(digest)) return {};
    return Object.fromEntries(Object.entries(digest).filter((e): e is [string, string] => typeof e[1] === 'string'));
  });
  return { predicateType, subjects };
}

/** The digests `claim` stands for: algorithm → lowercase hex. */
function wantedDigests(claim: CosignClaim): Readonly<Record<string, string>> {
  if ('artifact' in claim) {
    return Object.fromEntries(Object.entries(HASHES).map(([alg, hash]) => [alg, createHash(hash).update(claim.artifact).digest('hex')]));
  }
  const text = 'digest' in claim ? claim.digest : claim.artifactDigest;
  const colon = text.indexOf(':');
  return { [text.slice(0, colon)]: text.slice(colon + 1).toLowerCase() };
}
