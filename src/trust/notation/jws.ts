import { flattenedVerify, errors as joseErrors } from 'jose';
import { isObject } from '../../registry/descriptors.js';
import { parseRfc3339 } from '../rfc3339.js';
import { checkSchemeHeaders, finishEnvelope, HEADER, leafAlgorithm, malformed, parseChain, type EnvelopeContent, type OpenedEnvelope } from './envelope.js';
import { NotationError } from './errors.js';

/**
 * The JWS envelope of Notation signatures (`application/jose+json`; signature-specification.md
 * "JWS JSON Serialization", notation-core-go signature/jws): flattened JSON serialisation only,
 * the signing scheme's headers protected, the certificate chain (`x5c`), signing agent and
 * timestamp countersignature unprotected. The signature is checked with `jose`, told which
 * critical headers exist so that it refuses any other (RFC 7515 §4.1.11); the signing scheme's
 * rules on those headers are checked here.
 */

/** The protected header names of the signing scheme (notation-core-go jws/types.go headerKeys). */
const SCHEME_HEADERS = ['alg', 'cty', 'crit', HEADER.expiry, HEADER.signingTime, HEADER.signingScheme, HEADER.authenticSigningTime];

export async function openJws(bytes: Uint8Array): Promise<EnvelopeContent> {
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch (err) {
    throw malformed('the JWS envelope is not JSON', err);
  }
  if (!isObject(json)) throw malformed('the JWS envelope is not a JSON object');
  const { payload, protected: protectedText, signature, header } = json;
  if (typeof payload !== 'string' || typeof protectedText !== 'string' || typeof signature !== 'string') {
    throw malformed('the JWS envelope is not in flattened JSON serialisation (payload, protected, header, signature)');
  }
  const unprotected = header === undefined ? {} : header;
  if (!isObject(unprotected)) throw malformed('the JWS unprotected header is not an object');

  const protectedHeader = decodeProtected(protectedText);
  const chainDer = base64List(unprotected['x5c'], 'x5c');
  const chain = parseChain(chainDer, 'JWS');
  const alg = stringField(protectedHeader, 'alg', true) ?? '';
  const algorithm = leafAlgorithm(chain[0] as (typeof chain)[number], alg);

  const critical = critList(protectedHeader['crit']);
  const opened: OpenedEnvelope = {
    format: 'jws',
    payload: base64Url(payload, 'payload'),
    payloadContentType: stringField(protectedHeader, 'cty', true) ?? '',
    signingScheme: (stringField(protectedHeader, HEADER.signingScheme, true) ?? '') as EnvelopeContent['signingScheme'],
    signingTime: timeField(protectedHeader, HEADER.signingTime),
    authenticSigningTime: timeField(protectedHeader, HEADER.authenticSigningTime),
    expiry: timeField(protectedHeader, HEADER.expiry),
    algorithm: alg,
    signature: base64Url(signature, 'signature'),
    chainDer,
    timestampToken: optionalBase64(unprotected[HEADER.timestampSignature], HEADER.timestampSignature),
    signingAgent: stringOrUndefined(unprotected[HEADER.signingAgent]),
    critical,
    extended: Object.keys(protectedHeader).filter((k) => !SCHEME_HEADERS.includes(k)),
    present: Object.keys(protectedHeader),
  };
  const { scheme, signingTime } = checkSchemeHeaders(opened, [HEADER.signingTime]);

  // The scheme's critical headers are the ones jose may accept; any other critical name fails there too.
  const crit: Record<string, boolean> = {
    [HEADER.signingScheme]: true,
    [HEADER.expiry]: false,
    [HEADER.authenticSigningTime]: false,
    [HEADER.signingTime]: false,
  };
  try {
    await flattenedVerify({ payload, protected: protectedText, signature, header: unprotected }, (chain[0] as (typeof chain)[number]).publicKey.key, {
      algorithms: [algorithm],
      crit,
    });
  } catch (err) {
    if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
      throw new NotationError('integrity', 'the JWS signature does not verify with the signing certificate: the envelope or its payload was altered', {
        cause: err,
      });
    }
    throw malformed(`the JWS envelope is invalid: ${err instanceof Error ? err.message : String(err)}`, err);
  }
  // golang-jwt, which notation-core-go verifies with, reads the payload as a JSON object of claims.
  if (!isJsonObject(opened.payload)) throw malformed('the JWS payload is not a JSON object');
  return finishEnvelope(opened, scheme, signingTime, chain);
}

function decodeProtected(text: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(base64Url(text, 'protected header').toString('utf8'));
  } catch (err) {
    if (err instanceof NotationError) throw err;
    throw malformed('the JWS protected header is not JSON', err);
  }
  if (!isObject(parsed)) throw malformed('the JWS protected header is not a JSON object');
  return parsed;
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Go base64.RawURLEncoding: no padding, URL alphabet. */
function base64Url(text: string, what: string): Buffer {
  if (!BASE64URL.test(text) || text.length % 4 === 1) throw malformed(`the JWS ${what} is not base64url`);
  return Buffer.from(text, 'base64url');
}

/** Go encoding/json []byte: standard padded base64. */
function base64(text: unknown, what: string): Buffer {
  if (typeof text !== 'string' || !BASE64.test(text)) throw malformed(`the JWS header ${what} is not standard base64`);
  return Buffer.from(text, 'base64');
}

function optionalBase64(value: unknown, what: string): Buffer | undefined {
  if (value === undefined || value === null) return undefined;
  const bytes = base64(value, what);
  return bytes.length === 0 ? undefined : bytes;
}

function base64List(value: unknown, what: string): Buffer[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw malformed(`the JWS header ${what} is not an array`);
  return value.map((v: unknown, i) => base64(v, `${what}[${i}]`));
}

function stringField(header: Record<string, unknown>, key: string, required: boolean): string | undefined {
  const value = header[key];
  if (value === undefined) {
    if (required) throw malformed(`the JWS protected header has no "${key}"`);
    return undefined;
  }
  if (typeof value !== 'string') throw malformed(`the JWS protected header "${key}" is not a string`);
  return value;
}

function timeField(header: Record<string, unknown>, key: string): Date | undefined {
  const text = stringField(header, key, false);
  if (text === undefined) return undefined;
  const at = parseRfc3339(text);
  if (at === null) throw malformed(`the JWS protected header "${key}" is not an RFC 3339 time`);
  return at;
}

function critList(value: unknown): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string'))
    throw malformed('the JWS protected header "crit" is not a list of names');
  return value;
}

function stringOrUndefined(value: unknown): string | undefined {
  return typeof value === 'string' ? value : undefined;
}

function isJsonObject(bytes: Buffer): boolean {
  try {
    return isObject(JSON.parse(bytes.toString('utf8')));
  } catch {
    return false;
  }
}
