import { constants, sign as nodeSign, type KeyObject } from 'node:crypto';
import { encode as cborEncode, rfc8949EncodeOptions, Token, Type } from 'cborg';
import { goJson } from './cosign-oci.js';
import type { Tsa, TimestampHash } from './notation-pki.js';

/**
 * Notary Project signature envelopes as notation (notation-go signer.GenericSigner over
 * notation-core-go signature/jws and signature/cose) writes them, signed with Node's crypto:
 *
 * - payload `{"targetArtifact": <descriptor>}` (application/vnd.cncf.notary.payload.v1+json).
 *   COSE carries the bytes notation-go marshals (Go struct order mediaType, digest, size,
 *   annotations); JWS carries what golang-jwt re-marshals from jwt.MapClaims (keys sorted).
 * - JWS (application/jose+json): flattened JSON `{payload, protected, header, signature}`;
 *   the protected header is a Go map (keys sorted) with alg, cty, crit, signingScheme,
 *   signingTime (RFC 3339 with nanoseconds) or authenticSigningTime, optional expiry; the
 *   unprotected header holds timestampSignature (std base64), x5c (std base64 DER) and
 *   signingAgent, in that order (jws/types.go).
 * - COSE (application/cose): COSE_Sign1 tag 18, maps in RFC 8949 core deterministic order (go-cose
 *   encMode), times as tag 1 integer seconds (cose/envelope.go encodeTime), chain under label 33
 *   (always an array), signature over `["Signature1", protected, h'', payload]`.
 * - algorithm from the key (signature-specification.md "Algorithm Selection"): RSA 2048/3072/4096
 *   → PS256/384/512 with salt length = hash length; P-256/384/521 → ES256/384/512, r‖s.
 * - an RFC 3161 token over the signature bytes, hashed with the algorithm's hash, as the
 *   unprotected `io.cncf.notary.timestampSignature`.
 */

export const NOTATION_PAYLOAD_MEDIA_TYPE = 'application/vnd.cncf.notary.payload.v1+json';
export const NOTATION_ENVELOPE_MEDIA_TYPES = { jws: 'application/jose+json', cose: 'application/cose' } as const;
export type NotationEnvelopeMediaType = (typeof NOTATION_ENVELOPE_MEDIA_TYPES)[keyof typeof NOTATION_ENVELOPE_MEDIA_TYPES];
export type NotationSigningScheme = 'notary.x509' | 'notary.x509.signingAuthority';
export type NotationAlg = 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512';

/** notation-go signer.go's default signing agent (the notation CLI sets none of its own). */
export const NOTATION_SIGNING_AGENT = 'notation-go/1.3.0+unreleased';

/** COSE algorithm identifiers (IANA COSE Algorithms) of the Notation algorithms. */
export const COSE_ALGORITHMS: Readonly<Record<NotationAlg, number>> = {
  PS256: -37,
  PS384: -38,
  PS512: -39,
  ES256: -7,
  ES384: -35,
  ES512: -36,
};

export const NOTATION_HEADERS = {
  signingScheme: 'io.cncf.notary.signingScheme',
  signingTime: 'io.cncf.notary.signingTime',
  authenticSigningTime: 'io.cncf.notary.authenticSigningTime',
  expiry: 'io.cncf.notary.expiry',
  timestampSignature: 'io.cncf.notary.timestampSignature',
  signingAgent: 'io.cncf.notary.signingAgent',
} as const;

const COSE_LABEL = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;
const COSE_SIGN1_TAG = 0xd2; // major type 6, tag 18

/** The subject as notation signs it (SanitizeTargetArtifact keeps these four fields). */
export interface TargetArtifact {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

export interface SignNotationOptions {
  format: 'jws' | 'cose';
  target: TargetArtifact;
  /** The leaf's private key. */
  key: KeyObject;
  /** DER certificates, leaf first and root last (notation puts the complete chain in). */
  certChain: readonly Buffer[];
  /** Default notary.x509 (what notation's own signer uses; signingAuthority comes from plugins). */
  signingScheme?: NotationSigningScheme;
  /** signingTime / authenticSigningTime. Default now. */
  signingTime?: Date;
  /** io.cncf.notary.expiry (marked critical); a past date makes an expired signature. */
  expiry?: Date;
  /**
   * RFC 3161 countersignature over the signature bytes: from a TSA (genTime default now), or
   * given token bytes. notation-core-go timestamps only notary.x509 signatures; this harness
   * attaches it whatever the scheme.
   */
  timestamp?: { tsa: Tsa; genTime?: Date; hash?: TimestampHash } | { token: Buffer };
  /** io.cncf.notary.signingAgent; null leaves it out. */
  signingAgent?: string | null;
  tamper?: NotationTamper;
}

/** Ways to make a broken envelope, for negative tests. Each applies on top of a correct one. */
export interface NotationTamper {
  /** The header's alg (JWS name, COSE name or number); the signature still uses the key's algorithm. */
  alg?: string | number;
  /** Sign with this algorithm instead of the one the key implies (header says the same unless `alg` is set). */
  signWith?: NotationAlg;
  /** Extra protected headers (extended attributes), e.g. `{ 'io.cncf.notary.unknown': 'x' }`. */
  extraProtected?: Record<string, unknown>;
  /** Labels appended to crit (e.g. an extra header's name: an unknown critical header). */
  extraCrit?: readonly string[];
  /** crit exactly as given (replacing what notation would write). */
  crit?: readonly string[];
  /** The protected content type (cty / label 3). */
  contentType?: string;
  /** Signed payload bytes instead of the `{"targetArtifact": ...}` notation would sign. */
  signedPayload?: Buffer;
  /** Payload bytes put into the envelope after signing (the signature no longer covers them). */
  payloadAfterSigning?: Buffer;
  /** The chain the envelope carries (x5c / label 33) instead of `certChain`; null leaves it out. */
  certChain?: readonly Buffer[] | null;
  /** Leave signingTime / authenticSigningTime out of the protected header. */
  omitSigningTime?: boolean;
  /** Signature bytes replaced after signing (and after timestamping). */
  signature?: Buffer;
}

export interface NotationEnvelope {
  bytes: Buffer;
  mediaType: NotationEnvelopeMediaType;
  /** The algorithm the signature was made with. */
  alg: NotationAlg;
  /** The payload bytes that were signed. */
  payload: Buffer;
  /** JWS: the protected header JSON; COSE: the serialized protected header map (the bstr's content). */
  protectedHeader: Buffer;
  /** JWS: ASCII `b64(protected).b64(payload)`; COSE: the Sig_structure bytes. */
  signingInput: Buffer;
  signature: Buffer;
  /** The chain the envelope carries ([] when left out). */
  certChain: Buffer[];
  signingScheme: NotationSigningScheme;
  signingTime: Date;
  expiry: Date | undefined;
  timestampToken: Buffer | undefined;
}

interface AlgorithmParams {
  hash: TimestampHash;
  rsa: boolean;
}

const ALGORITHMS: Readonly<Record<NotationAlg, AlgorithmParams>> = {
  PS256: { hash: 'sha256', rsa: true },
  PS384: { hash: 'sha384', rsa: true },
  PS512: { hash: 'sha512', rsa: true },
  ES256: { hash: 'sha256', rsa: false },
  ES384: { hash: 'sha384', rsa: false },
  ES512: { hash: 'sha512', rsa: false },
};

/** The algorithm Notation prescribes for a key (signature-specification.md "Algorithm Selection"). */
export function notationAlgorithm(key: KeyObject): NotationAlg {
  const details = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'rsa') {
    const bits = details?.modulusLength;
    if (bits === 2048) return 'PS256';
    if (bits === 3072) return 'PS384';
    if (bits === 4096) return 'PS512';
    // notation refuses other sizes; a negative test gets the smallest suite and a verifier that must refuse the key.
    return 'PS256';
  }
  if (key.asymmetricKeyType === 'ec') {
    const curve = details?.namedCurve;
    if (curve === 'prime256v1') return 'ES256';
    if (curve === 'secp384r1') return 'ES384';
    if (curve === 'secp521r1') return 'ES512';
  }
  throw new Error(`no Notation algorithm for a ${key.asymmetricKeyType ?? 'unknown'} key`);
}

/** A raw signature as Notation's algorithms make them: RSASSA-PSS (salt = hash length) or ECDSA r‖s. */
export function notationRawSign(alg: NotationAlg, key: KeyObject, data: Buffer): Buffer {
  const { hash, rsa } = ALGORITHMS[alg];
  return rsa
    ? nodeSign(hash, data, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST })
    : nodeSign(hash, data, { key, dsaEncoding: 'ieee-p1363' });
}

function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value !== null && typeof value === 'object' && !Buffer.isBuffer(value)) {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
        .map(([k, v]) => [k, sortedKeys(v)]),
    );
  }
  return value;
}

/**
 * The payload bytes: `struct` is notation-go's json.Marshal of envelope.Payload (COSE carries
 * these); `sorted` is golang-jwt's re-marshal of the same JSON as a map (what a JWS carries).
 */
export function notationPayload(target: TargetArtifact, form: 'struct' | 'sorted'): Buffer {
  const annotations = target.annotations && Object.keys(target.annotations).length > 0 ? sortedKeys(target.annotations) : undefined;
  const descriptor = {
    mediaType: target.mediaType,
    digest: target.digest,
    size: target.size,
    ...(annotations ? { annotations } : {}),
  };
  return goJson(form === 'sorted' ? sortedKeys({ targetArtifact: descriptor }) : { targetArtifact: descriptor });
}

/** Go's time.RFC3339Nano of a UTC time: fraction without trailing zeros, none when zero. */
export function goRfc3339Nano(date: Date): string {
  const iso = date.toISOString(); // YYYY-MM-DDTHH:MM:SS.mmmZ
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 19)}${fraction ? `.${fraction}` : ''}Z`;
}

function b64url(data: Buffer): string {
  return data.toString('base64url');
}

function coseAlg(alg: string | number): number {
  if (typeof alg === 'number') return alg;
  const known = COSE_ALGORITHMS[alg as NotationAlg] as number | undefined;
  if (known === undefined) throw new Error(`no COSE algorithm number for ${alg}; give a number`);
  return known;
}

/** crit as notation-core-go writes it for each format (the orders differ). */
function critical(format: 'jws' | 'cose', scheme: NotationSigningScheme, expiry: boolean, extended: readonly string[]): string[] {
  const crit = [NOTATION_HEADERS.signingScheme];
  const authentic = scheme === 'notary.x509.signingAuthority' ? [NOTATION_HEADERS.authenticSigningTime] : [];
  const exp = expiry ? [NOTATION_HEADERS.expiry] : [];
  // jws/jws.go getSignedAttributes appends extended attributes first; cose/envelope.go last.
  return format === 'jws' ? [...crit, ...extended, ...authentic, ...exp] : [...crit, ...authentic, ...exp, ...extended];
}

/** Signs `target` as notation does; see SignNotationOptions and NotationTamper for the knobs. */
export async function signNotation(options: SignNotationOptions): Promise<NotationEnvelope> {
  const tamper = options.tamper ?? {};
  const alg = tamper.signWith ?? notationAlgorithm(options.key);
  const scheme = options.signingScheme ?? 'notary.x509';
  const signingTime = options.signingTime ?? new Date();
  const timeHeader = scheme === 'notary.x509' ? NOTATION_HEADERS.signingTime : NOTATION_HEADERS.authenticSigningTime;
  const contentType = tamper.contentType ?? NOTATION_PAYLOAD_MEDIA_TYPE;
  const extra = tamper.extraProtected ?? {};
  const crit = tamper.crit ? [...tamper.crit] : [...critical(options.format, scheme, options.expiry !== undefined, []), ...(tamper.extraCrit ?? [])];
  const chain = tamper.certChain === undefined ? [...options.certChain] : tamper.certChain === null ? null : [...tamper.certChain];
  const agent = options.signingAgent === undefined ? NOTATION_SIGNING_AGENT : options.signingAgent;

  const timestampOf = async (signature: Buffer): Promise<Buffer | undefined> => {
    const ts = options.timestamp;
    if (!ts) return undefined;
    if ('token' in ts) return ts.token;
    return ts.tsa.timestamp(signature, { hash: ts.hash ?? ALGORITHMS[alg].hash, ...(ts.genTime ? { genTime: ts.genTime } : {}) });
  };

  if (options.format === 'jws') {
    const payload = tamper.signedPayload ?? notationPayload(options.target, 'sorted');
    const header: Record<string, unknown> = {
      alg: tamper.alg === undefined ? alg : tamper.alg,
      cty: contentType,
      crit,
      [NOTATION_HEADERS.signingScheme]: scheme,
      ...(tamper.omitSigningTime ? {} : { [timeHeader]: goRfc3339Nano(signingTime) }),
      ...(options.expiry ? { [NOTATION_HEADERS.expiry]: goRfc3339Nano(options.expiry) } : {}),
      ...extra,
    };
    // golang-jwt marshals the header map: Go sorts map keys.
    const protectedHeader = goJson(sortedKeys(header));
    const signingInput = Buffer.from(`${b64url(protectedHeader)}.${b64url(payload)}`, 'ascii');
    const signed = notationRawSign(alg, options.key, signingInput);
    const timestampToken = await timestampOf(signed);
    const signature = tamper.signature ?? signed;
    // jwsUnprotectedHeader field order; []byte marshals as standard base64.
    const unprotected = {
      ...(timestampToken ? { [NOTATION_HEADERS.timestampSignature]: timestampToken.toString('base64') } : {}),
      ...(chain === null ? {} : { x5c: chain.map((c) => c.toString('base64')) }),
      ...(agent === null ? {} : { [NOTATION_HEADERS.signingAgent]: agent }),
    };
    const envelope = {
      payload: b64url(tamper.payloadAfterSigning ?? payload),
      protected: b64url(protectedHeader),
      header: unprotected,
      signature: b64url(signature),
    };
    return {
      bytes: goJson(envelope),
      mediaType: NOTATION_ENVELOPE_MEDIA_TYPES.jws,
      alg,
      payload,
      protectedHeader,
      signingInput,
      signature,
      certChain: chain ?? [],
      signingScheme: scheme,
      signingTime,
      expiry: options.expiry,
      timestampToken,
    };
  }

  const payload = tamper.signedPayload ?? notationPayload(options.target, 'struct');
  const protectedMap = new Map<number | string, unknown>([
    [COSE_LABEL.alg, coseAlg(tamper.alg ?? alg)],
    [COSE_LABEL.crit, crit],
    [COSE_LABEL.contentType, contentType],
    [NOTATION_HEADERS.signingScheme, scheme],
  ]);
  if (!tamper.omitSigningTime) protectedMap.set(timeHeader, signingTime);
  if (options.expiry) protectedMap.set(NOTATION_HEADERS.expiry, options.expiry);
  for (const [k, v] of Object.entries(extra)) protectedMap.set(k, v);
  const protectedHeader = coseEncode(protectedMap);
  const signingInput = coseEncode(['Signature1', protectedHeader, new Uint8Array(0), payload]);
  const signed = notationRawSign(alg, options.key, signingInput);
  const timestampToken = await timestampOf(signed);
  const signature = tamper.signature ?? signed;
  const unprotected = new Map<number | string, unknown>();
  if (chain !== null) unprotected.set(COSE_LABEL.x5chain, chain);
  if (agent !== null) unprotected.set(NOTATION_HEADERS.signingAgent, agent);
  if (timestampToken) unprotected.set(NOTATION_HEADERS.timestampSignature, timestampToken);
  const message = coseEncode([protectedHeader, unprotected, tamper.payloadAfterSigning ?? payload, signature]);
  return {
    bytes: Buffer.concat([Buffer.from([COSE_SIGN1_TAG]), message]),
    mediaType: NOTATION_ENVELOPE_MEDIA_TYPES.cose,
    alg,
    payload,
    protectedHeader,
    signingInput,
    signature,
    certChain: chain ?? [],
    signingScheme: scheme,
    signingTime,
    expiry: options.expiry,
    timestampToken,
  };
}

/**
 * CBOR as go-cose encodes it (fxamacker/cbor, SortCoreDeterministic: map keys in bytewise order
 * of their encodings) with notation-core-go's time encoding (cbor.TimeUnix + EncTagRequired:
 * tag 1 over integer seconds, rounded down as Go's Time.Unix does). Buffers become byte strings.
 */
export function coseEncode(value: unknown): Buffer {
  const bytes = cborEncode(value, {
    ...rfc8949EncodeOptions,
    typeEncoders: {
      Date: (date: unknown) => {
        const seconds = Math.floor((date as Date).getTime() / 1000);
        return [new Token(Type.tag, 1), seconds >= 0 ? new Token(Type.uint, seconds) : new Token(Type.negint, seconds)];
      },
      Buffer: (buf: unknown) => [new Token(Type.bytes, new Uint8Array(buf as Buffer))],
    },
  });
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
