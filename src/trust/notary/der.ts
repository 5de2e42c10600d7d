/**
 * ECDSA signatures the way Go's encoding/asn1 reads and writes them (Notary:
 * tuf/signed/verifiers.go ECDSAVerifier tries asn1.Unmarshal first, then raw r||s). Certificates
 * are read by the shared ../x509 modules; only this lenient-after-the-SEQUENCE Unmarshal
 * behaviour, which no general ASN.1 library reproduces, stays hand-written. Only definite,
 * minimally encoded lengths and single-byte tags are accepted, as in Go.
 */
import { TrustError } from './errors.js';

interface DerNode {
  /** the full identifier byte (class, constructed bit, tag number) */
  readonly tag: number;
  /** offset of the identifier byte */
  readonly start: number;
  /** offset of the first content byte */
  readonly contentStart: number;
  /** offset just after the last content byte */
  readonly end: number;
}

const TAG = {
  INTEGER: 0x02,
  SEQUENCE: 0x30,
} as const;

function derError(message: string): TrustError {
  return new TrustError('bad_signature', `DER: ${message}`);
}

/** Reads the node starting at `offset`, which must end at or before `limit`. */
function readNode(buf: Uint8Array, offset: number, limit: number = buf.length): DerNode {
  const tag = buf[offset];
  if (tag === undefined || offset + 2 > limit) throw derError('truncated');
  if ((tag & 0x1f) === 0x1f) throw derError('multi-byte tags are not supported');
  let lengthByte = buf[offset + 1] ?? 0;
  let pos = offset + 2;
  let length = lengthByte;
  if (lengthByte & 0x80) {
    const count = lengthByte & 0x7f;
    if (count === 0 || count > 4) throw derError('indefinite or huge length');
    length = 0;
    for (let i = 0; i < count; i++) {
      lengthByte = buf[pos] ?? -1;
      if (lengthByte < 0) throw derError('truncated length');
      if (i === 0 && lengthByte === 0) throw derError('non-minimal length');
      length = length * 256 + lengthByte;
      pos++;
    }
    if (length < 0x80) throw derError('non-minimal length');
  }
  const end = pos + length;
  if (end > limit) throw derError('content runs past its container');
  return { tag, start: offset, contentStart: pos, end };
}

function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined || node.tag !== tag) throw derError(`expected ${what}`);
  return node;
}

function content(buf: Uint8Array, node: DerNode): Buffer {
  return Buffer.from(buf.subarray(node.contentStart, node.end));
}

/**
 * A DER INTEGER as a bigint, refusing non-minimal encodings like Go's encoding/asn1
 * checkInteger ("integer not minimally-encoded").
 */
function integerValue(buf: Uint8Array, node: DerNode): bigint {
  const bytes = content(buf, expectTag(node, TAG.INTEGER, 'INTEGER'));
  const b0 = bytes[0];
  const b1 = bytes[1];
  if (b0 === undefined) throw derError('empty INTEGER');
  if (b1 !== undefined && ((b0 === 0 && (b1 & 0x80) === 0) || (b0 === 0xff && (b1 & 0x80) !== 0))) {
    throw derError('INTEGER not minimally encoded');
  }
  let value = BigInt('0x' + bytes.toString('hex'));
  if (b0 & 0x80) value -= 1n << BigInt(bytes.length * 8);
  return value;
}

/**
 * Go's `asn1.Unmarshal(sig, &struct{R, S *big.Int})`: a SEQUENCE starting the buffer (trailing
 * bytes after it are allowed, and so are extra elements inside it after R and S) holding two
 * INTEGERs. Returns null when Go's Unmarshal would fail, i.e. when Notary falls back to raw r||s.
 */
export function parseAsn1EcdsaSignature(sig: Uint8Array): { r: bigint; s: bigint } | null {
  try {
    const seq = expectTag(readNode(sig, 0), TAG.SEQUENCE, 'SEQUENCE');
    const rNode = readNode(sig, seq.contentStart, seq.end);
    const sNode = readNode(sig, rNode.end, seq.end);
    return { r: integerValue(sig, rNode), s: integerValue(sig, sNode) };
  } catch {
    return null;
  }
}

/** Minimal DER encoding of SEQUENCE { INTEGER r, INTEGER s } for non-negative r and s. */
export function encodeEcdsaDer(r: bigint, s: bigint): Buffer {
  const int = (v: bigint): Buffer => {
    let hex = v.toString(16);
    if (hex.length % 2) hex = '0' + hex;
    let bytes = Buffer.from(hex, 'hex');
    if ((bytes[0] ?? 0) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return Buffer.concat([Buffer.from([TAG.INTEGER]), derLength(bytes.length), bytes]);
  };
  const body = Buffer.concat([int(r), int(s)]);
  return Buffer.concat([Buffer.from([TAG.SEQUENCE]), derLength(body.length), body]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
