import { decode, encode } from 'cborg';
import { checkSchemeHeaders, finishEnvelope, HEADER, leafAlgorithm, malformed, parseChain, type EnvelopeContent, type OpenedEnvelope } from './envelope.js';
import { NotationError } from './errors.js';
import { verifyRawSignature, type NotationAlgorithm } from './key-spec.js';

/**
 * The COSE envelope of Notation signatures (`application/cose`; signature-specification.md
 * "COSE Sign1", notation-core-go signature/cose over go-cose): a tagged COSE_Sign1 (RFC 9052 §4.2,
 * tag 18) whose protected header holds alg (label 1), crit (2), content type (3) and the signing
 * scheme's text labels with times as CBOR tag 1 epoch date/times; the unprotected header holds
 * the chain as x5chain (label 33, RFC 9360: an array of DER certificates), the signing agent
 * and the timestamp countersignature. The signature is checked over Sig_structure
 * `["Signature1", protected, h'', payload]` built from the protected header bytes exactly as
 * received (a re-encoded header could differ from what was signed), with ECDSA signatures as
 * raw r‖s and PSS salts as long as the digest (RFC 9053 §2.1, RFC 8230 §2).
 */

const LABEL = { alg: 1, crit: 2, contentType: 3, x5chain: 33 } as const;
const COSE_SIGN1_TAG = 18;
/** RFC 9053 / RFC 8230 algorithm identifiers of the algorithms Notation uses. */
const COSE_ALGORITHMS: ReadonlyMap<number, NotationAlgorithm> = new Map([
  [-37, 'PS256'],
  [-38, 'PS384'],
  [-39, 'PS512'],
  [-7, 'ES256'],
  [-35, 'ES384'],
  [-36, 'ES512'],
]);
/** Labels of the protected header that are the envelope's own (notation-core-go cose validateCritHeaders systemHeaders). */
const SCHEME_LABELS: readonly unknown[] = [
  LABEL.alg,
  LABEL.crit,
  LABEL.contentType,
  HEADER.expiry,
  HEADER.signingScheme,
  HEADER.signingTime,
  HEADER.authenticSigningTime,
];

class EpochTime {
  constructor(readonly date: Date) {}
}

export function openCose(bytes: Uint8Array): EnvelopeContent {
  let message: unknown;
  try {
    message = decode(bytes, {
      useMaps: true,
      rejectDuplicateMapKeys: true,
      tags: { [COSE_SIGN1_TAG]: (content) => new Sign1(content()) },
    });
  } catch (err) {
    throw malformed(`the COSE envelope is not valid CBOR: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (!(message instanceof Sign1)) throw malformed('the COSE envelope is not a tagged COSE_Sign1 message (CBOR tag 18)');
  const parts = message.content;
  if (!Array.isArray(parts) || parts.length !== 4) throw malformed('the COSE_Sign1 message is not an array of four elements');
  const [protectedBytes, unprotected, payload, signature] = parts as [unknown, unknown, unknown, unknown];
  if (!(protectedBytes instanceof Uint8Array)) throw malformed('the COSE protected header is not a byte string');
  if (!(unprotected instanceof Map)) throw malformed('the COSE unprotected header is not a map');
  const unprotectedHeader = unprotected as Map<unknown, unknown>;
  if (payload === null || payload === undefined) throw malformed('the COSE payload is detached; Notation signatures carry it');
  if (!(payload instanceof Uint8Array)) throw malformed('the COSE payload is not a byte string');
  if (!(signature instanceof Uint8Array)) throw malformed('the COSE signature is not a byte string');

  const header = decodeProtected(protectedBytes);
  for (const label of header.keys())
    if (unprotectedHeader.has(label)) throw malformed(`COSE header ${String(label)} is in both the protected and the unprotected header`);

  const chainDer = x5chain(unprotectedHeader.get(LABEL.x5chain));
  const chain = parseChain(chainDer, 'COSE');
  const algId = header.get(LABEL.alg);
  if (typeof algId !== 'number' || !COSE_ALGORITHMS.has(algId))
    throw malformed(`COSE signature algorithm ${String(algId)} is not supported (PS256/384/512, ES256/384/512)`);
  const claimed = COSE_ALGORITHMS.get(algId) as NotationAlgorithm;
  const leaf = chain[0] as (typeof chain)[number];
  const algorithm = leafAlgorithm(leaf, claimed);

  const cty = header.get(LABEL.contentType);
  if (typeof cty !== 'string') throw malformed('the COSE content type is missing or not a text string');
  const scheme = header.get(HEADER.signingScheme);
  if (typeof scheme !== 'string') throw malformed(`the COSE protected header has no text "${HEADER.signingScheme}"`);
  const token = unprotectedHeader.get(HEADER.timestampSignature);
  if (token !== undefined && !(token instanceof Uint8Array)) throw malformed(`the COSE header "${HEADER.timestampSignature}" is not a byte string`);
  const agent = unprotectedHeader.get(HEADER.signingAgent);

  const opened: OpenedEnvelope = {
    format: 'cose',
    payload: Buffer.from(payload),
    payloadContentType: cty,
    signingScheme: scheme as EnvelopeContent['signingScheme'],
    signingTime: timeLabel(header, HEADER.signingTime),
    authenticSigningTime: timeLabel(header, HEADER.authenticSigningTime),
    expiry: timeLabel(header, HEADER.expiry),
    algorithm,
    signature: Buffer.from(signature),
    chainDer,
    timestampToken: token instanceof Uint8Array && token.length > 0 ? Buffer.from(token) : undefined,
    signingAgent: typeof agent === 'string' ? agent : undefined,
    critical: critLabels(header.get(LABEL.crit)),
    extended: [...header.keys()].filter((k) => !SCHEME_LABELS.includes(k)).map(labelKey),
    present: [...header.keys()].map(labelKey),
  };
  const { scheme: signingScheme, signingTime } = checkSchemeHeaders(opened, SCHEME_LABELS.map(labelKey));

  const toBeSigned = encode(['Signature1', protectedBytes, new Uint8Array(0), payload]);
  if (!verifyRawSignature(algorithm, leaf.publicKey.key, toBeSigned, signature)) {
    throw new NotationError('integrity', 'the COSE signature does not verify with the signing certificate: the envelope or its payload was altered');
  }
  return finishEnvelope(opened, signingScheme, signingTime, chain);
}

class Sign1 {
  constructor(readonly content: unknown) {}
}

function decodeProtected(bytes: Uint8Array): Map<unknown, unknown> {
  if (bytes.length === 0) throw malformed('the COSE protected header is empty');
  let header: unknown;
  try {
    header = decode(bytes, {
      useMaps: true,
      rejectDuplicateMapKeys: true,
      tags: {
        1: (content) => {
          const seconds: unknown = content();
          if (typeof seconds !== 'number' || !Number.isFinite(seconds)) throw new Error('tag 1 date/time is not a number of seconds');
          return new EpochTime(new Date(Math.trunc(seconds * 1000)));
        },
      },
    });
  } catch (err) {
    throw malformed(`the COSE protected header is not valid CBOR: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  if (!(header instanceof Map)) throw malformed('the COSE protected header is not a map');
  return header;
}

/** A time header of the signing scheme: only a CBOR tag 1 date/time (notation-core-go parseTime). */
function timeLabel(header: Map<unknown, unknown>, label: string): Date | undefined {
  const value = header.get(label);
  if (value === undefined) return undefined;
  if (!(value instanceof EpochTime)) throw malformed(`the COSE header "${label}" is not a CBOR tag 1 date/time`);
  return value.date;
}

function critLabels(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.length === 0 || !value.every((v) => typeof v === 'string' || typeof v === 'number')) {
    throw malformed('the COSE "crit" header is not a non-empty list of labels');
  }
  return value.map(labelKey);
}

/** A label as messages and comparisons see it: an integer as its number, a text that reads as one marked as text (label 1 is alg, "1" is not). */
function labelKey(label: unknown): string {
  if (typeof label === 'number') return String(label);
  const text = String(label);
  return /^-?\d+$/.test(text) ? `${text} (text)` : text;
}

/** x5chain as notation-core-go reads it: an array of DER certificates (a lone byte string is not accepted). */
function x5chain(value: unknown): Uint8Array[] {
  if (!Array.isArray(value) || value.length === 0) throw malformed('the COSE envelope carries no certificate chain (x5chain, label 33, as an array)');
  return value.map((v: unknown, i) => {
    if (!(v instanceof Uint8Array)) throw malformed(`certificate ${i} of the COSE x5chain is not a byte string`);
    return v;
  });
}
