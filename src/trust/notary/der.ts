/**
 * A minimal strict DER reader: enough to read the certificate fields Go's crypto/x509 exposes
 * and Node's X509Certificate does not (signature algorithm OID, basic constraints, extended key
 * usage, the CommonName as Go picks it), and to recognise ASN.1 ECDSA signatures the way Go's
 * encoding/asn1 does (Notary: tuf/signed/verifiers.go ECDSAVerifier tries asn1.Unmarshal first).
 * Only definite, minimally encoded lengths and single-byte tags are accepted, as in DER.
 */
import { TrustError } from './errors.js';

export interface DerNode {
  /** the full identifier byte (class, constructed bit, tag number) */
  readonly tag: number;
  /** offset of the identifier byte */
  readonly start: number;
  /** offset of the first content byte */
  readonly contentStart: number;
  /** offset just after the last content byte */
  readonly end: number;
}

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  NUMERIC_STRING: 0x12,
  PRINTABLE_STRING: 0x13,
  T61_STRING: 0x14,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

function derError(message: string): TrustError {
  return new TrustError('bad_certificate', `DER: ${message}`);
}

/** Reads the node starting at `offset`, which must end at or before `limit`. */
export function readNode(buf: Uint8Array, offset: number, limit: number = buf.length): DerNode {
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

/** The children of a constructed node, which must exactly fill it. */
export function children(buf: Uint8Array, node: DerNode): DerNode[] {
  const out: DerNode[] = [];
  let pos = node.contentStart;
  while (pos < node.end) {
    const child = readNode(buf, pos, node.end);
    out.push(child);
    pos = child.end;
  }
  return out;
}

export function expectTag(node: DerNode | undefined, tag: number, what: string): DerNode {
  if (node === undefined || node.tag !== tag) throw derError(`expected ${what}`);
  return node;
}

export function content(buf: Uint8Array, node: DerNode): Buffer {
  return Buffer.from(buf.subarray(node.contentStart, node.end));
}

/** Dotted-decimal text of an OBJECT IDENTIFIER node. */
export function oidText(buf: Uint8Array, node: DerNode): string {
  const bytes = content(buf, expectTag(node, TAG.OID, 'OBJECT IDENTIFIER'));
  if (bytes.length === 0) throw derError('empty OID');
  const arcs: bigint[] = [];
  let value = 0n;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] ?? 0;
    if (value === 0n && b === 0x80) throw derError('non-minimal OID arc');
    value = (value << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    } else if (i === bytes.length - 1) {
      throw derError('truncated OID');
    }
  }
  const first = arcs.shift() ?? 0n;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join('.');
}

/**
 * A DER INTEGER as a bigint, refusing non-minimal encodings like Go's encoding/asn1
 * checkInteger ("integer not minimally-encoded").
 */
export function integerValue(buf: Uint8Array, node: DerNode): bigint {
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
