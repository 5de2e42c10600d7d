/**
 * A typed view of asn1js's parse of DER bytes, refusing what a DER parser refuses.
 *
 * asn1js (the ASN.1 engine under @peculiar/x509) reads BER, which is laxer than DER. Go's
 * crypto/x509 reads certificates with golang.org/x/crypto/cryptobyte, which is strict: so that a
 * certificate Go refuses is refused here too, the tree asn1js returns is checked for DER form
 * (definite, minimal lengths; single-byte tags; primitive strings; minimal INTEGERs and OID arcs;
 * BOOLEAN 0x00/0xFF; BIT STRING padding, as cryptobyte's ReadASN1* functions check) and for
 * strings Go cannot decode (invalid UTF-8, odd-length BMPString: encoding/asn1 parseASN1String).
 * Contents of OCTET and BIT STRINGs (extension values, keys) are not descended into.
 */
import { fromBER, Integer, ObjectIdentifier, type BaseBlock } from 'asn1js';
import { X509Error } from './errors.js';

/** ASN.1 identifier bytes (class | constructed | number) used by the X.509 modules. */
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
  /** [0] EXPLICIT (certificate version) */
  CONTEXT_0: 0xa0,
  /** [3] EXPLICIT (certificate extensions) */
  CONTEXT_3: 0xa3,
} as const;

/** One DER element: its identifier byte, its whole encoding, its content and its children. */
export interface DerElement {
  readonly tag: number;
  /** the whole TLV */
  readonly raw: Buffer;
  /** the content octets */
  readonly content: Buffer;
  /** the elements inside a constructed element; empty for primitives */
  readonly children: readonly DerElement[];
  /** asn1js's decoded block */
  readonly block: BaseBlock;
}

/** Universal tags whose DER encoding is always primitive (X.690 10.2). */
const PRIMITIVE_ONLY: ReadonlySet<number> = new Set([1, 2, 3, 4, 5, 6, 12, 18, 19, 20, 22, 23, 24, 30]);
const utf8 = new TextDecoder('utf-8', { fatal: true });

function malformed(message: string): X509Error {
  return new X509Error('malformed', `DER: ${message}`);
}

/**
 * Parses `bytes` as exactly one DER element (nothing may follow it, unless `allowTrailing`:
 * Go's extension parsers read one element and ignore what follows). Throws
 * X509Error('malformed') for anything that is not strict DER.
 */
export function parseDer(bytes: Uint8Array, options: { readonly allowTrailing?: boolean } = {}): DerElement {
  if (bytes.length === 0) throw malformed('empty input');
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let parsed: ReturnType<typeof fromBER>;
  try {
    parsed = fromBER(buf, { parseEmbedded: false, copyInput: false });
  } catch (err) {
    // asn1js decodes string contents while parsing and may throw (an odd-length BMPString does).
    throw new X509Error('malformed', 'DER: unparsable', { cause: err });
  }
  if (parsed.offset === -1 || parsed.result.error !== '') {
    throw malformed(parsed.result.error === '' ? 'unparsable' : parsed.result.error);
  }
  if (parsed.offset !== bytes.length && options.allowTrailing !== true) throw malformed('trailing data after the element');
  return view(parsed.result, buf, 0);
}

function view(node: BaseBlock, source: Buffer, offset: number): DerElement {
  const { idBlock, lenBlock } = node;
  if (idBlock.blockLength !== 1 || idBlock.tagNumber >= 31) throw malformed('multi-byte tags are not supported');
  if (lenBlock.isIndefiniteForm) throw malformed('indefinite length');
  const lengthBytes = lenBlock.blockLength - 1;
  if (lenBlock.longFormUsed && (lenBlock.length < 0x80 || lengthBytes !== byteCount(lenBlock.length))) {
    throw malformed('non-minimal length');
  }
  const headerLength = 1 + lenBlock.blockLength;
  const end = offset + headerLength + lenBlock.length;
  if (end > source.length) throw malformed('content runs past its container');
  const tag = ((idBlock.tagClass - 1) << 6) | (idBlock.isConstructed ? 0x20 : 0) | idBlock.tagNumber;
  const raw = source.subarray(offset, end);
  const content = raw.subarray(headerLength);
  const universal = idBlock.tagClass === 1;
  if (universal && idBlock.isConstructed && PRIMITIVE_ONLY.has(idBlock.tagNumber)) {
    throw malformed(`constructed encoding of universal tag ${idBlock.tagNumber}`);
  }
  if (!idBlock.isConstructed) {
    if (universal) checkPrimitive(tag, content);
    return { tag, raw, content, children: [], block: node };
  }
  const inner = (node.valueBlock as { value?: unknown }).value;
  const children: DerElement[] = [];
  let at = offset + headerLength;
  for (const child of Array.isArray(inner) ? (inner as BaseBlock[]) : []) {
    const element = view(child, source, at);
    children.push(element);
    at += element.raw.length;
  }
  if (at !== end) throw malformed('children do not fill their container');
  return { tag, raw, content, children, block: node };
}

function byteCount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 256)) count++;
  return count;
}

/** cryptobyte ReadASN1Boolean / Integer / ObjectIdentifier / BitString checks, and string checks. */
function checkPrimitive(tag: number, content: Buffer): void {
  switch (tag) {
    case TAG.BOOLEAN:
      if (content.length !== 1 || (content[0] !== 0x00 && content[0] !== 0xff)) throw malformed('BOOLEAN is not 0x00 or 0xFF');
      return;
    case TAG.INTEGER: {
      const [b0, b1] = content;
      if (b0 === undefined) throw malformed('empty INTEGER');
      if (b1 !== undefined && ((b0 === 0 && (b1 & 0x80) === 0) || (b0 === 0xff && (b1 & 0x80) !== 0))) {
        throw malformed('INTEGER not minimally encoded');
      }
      return;
    }
    case TAG.OID:
      if (content.length === 0 || ((content[content.length - 1] ?? 0) & 0x80) !== 0) throw malformed('truncated OID');
      for (let i = 0; i < content.length; i++) {
        if (content[i] === 0x80 && (i === 0 || ((content[i - 1] ?? 0) & 0x80) === 0)) throw malformed('non-minimal OID arc');
      }
      return;
    case TAG.BIT_STRING: {
      const unused = content[0];
      const last = content[content.length - 1] ?? 0;
      if (unused === undefined || unused > 7 || (content.length === 1 && unused > 0) || (last & ((1 << unused) - 1)) !== 0) {
        throw malformed('invalid BIT STRING padding');
      }
      return;
    }
    case TAG.NULL:
      if (content.length !== 0) throw malformed('NULL with content');
      return;
    case TAG.UTF8_STRING:
      try {
        utf8.decode(content);
      } catch (err) {
        throw new X509Error('malformed', 'DER: invalid UTF-8 string', { cause: err });
      }
      return;
    case TAG.BMP_STRING:
      if (content.length % 2 !== 0) throw malformed('odd-length BMPString');
      return;
    default:
      return;
  }
}

/** The element's children, which must have the expected identifier bytes (undefined: any). */
export function expectChildren(element: DerElement | undefined, tag: number, what: string): readonly DerElement[] {
  return expect(element, tag, what).children;
}

export function expect(element: DerElement | undefined, tag: number, what: string): DerElement {
  if (element === undefined || element.tag !== tag) throw malformed(`expected ${what}`);
  return element;
}

/** Dotted-decimal text of an OBJECT IDENTIFIER element. */
export function oidText(element: DerElement | undefined): string {
  const { block } = expect(element, TAG.OID, 'OBJECT IDENTIFIER');
  if (!(block instanceof ObjectIdentifier)) throw malformed('expected OBJECT IDENTIFIER');
  return block.getValue();
}

/** A DER INTEGER element as a bigint (two's complement). */
export function integerValue(element: DerElement | undefined): bigint {
  const { block } = expect(element, TAG.INTEGER, 'INTEGER');
  if (!(block instanceof Integer)) throw malformed('expected INTEGER');
  return block.toBigInt();
}
