/**
 * The certificate fields whose meaning follows Go's crypto/x509 parser rather than the bare
 * ASN.1: names (parser.go parseName with parseASN1String; pkix.Name.FillFromRDNSequence) and
 * validity times (cryptobyte ReadASN1UTCTime / ReadASN1GeneralizedTime). Notary, cosign and
 * Notation are Go programs, and a trust decision must not depend on which parser read the bytes.
 */
import { Name } from './library.js';
import { TAG, expectChildren, oidText, type DerElement } from './der.js';
import { X509Error } from './errors.js';

export interface DistinguishedName {
  /** Go pkix.Name.CommonName: the value of the last CN attribute, or '' */
  readonly commonName: string;
  /** RFC 4514 text as @peculiar/x509 prints it, e.g. "CN=example.com/app, O=Acme" */
  readonly text: string;
  /** the Name's DER */
  readonly der: Buffer;
}

const OID_COMMON_NAME = '2.5.4.3';

function malformed(message: string): X509Error {
  return new X509Error('malformed', message);
}

/** Go parseName: every attribute value must be a string type Go decodes; CN is the last one. */
export function readName(element: DerElement | undefined, what: string): DistinguishedName {
  let commonName = '';
  for (const rdn of expectChildren(element, TAG.SEQUENCE, `${what} Name`)) {
    for (const atv of expectChildren(rdn, TAG.SET, 'RelativeDistinguishedName')) {
      const [type, value, extra] = expectChildren(atv, TAG.SEQUENCE, 'AttributeTypeAndValue');
      if (value === undefined || extra !== undefined) throw malformed(`${what}: bad name attribute`);
      const text = readString(value, what);
      if (oidText(type) === OID_COMMON_NAME) commonName = text;
    }
  }
  return new ParsedName((element as DerElement).raw, commonName);
}

/** A frozen DistinguishedName whose RFC 4514 text is made on first use (few callers need it). */
class ParsedName implements DistinguishedName {
  readonly commonName: string;
  readonly der: Buffer;
  #text: string | undefined;

  constructor(der: Buffer, commonName: string) {
    this.der = der;
    this.commonName = commonName;
    Object.freeze(this);
  }

  get text(): string {
    if (this.#text === undefined) {
      try {
        this.#text = new Name(this.der).toString();
      } catch {
        // As RFC 4514 2.4 writes a value it cannot show as a string: '#' and the hex of its DER.
        this.#text = `#${this.der.toString('hex')}`;
      }
    }
    return this.#text;
  }
}

/**
 * Go's parseASN1String. UTF-8 validity and BMPString length are already checked by parseDer;
 * PrintableString allows '*' and '&' as Go does (common in real certificates).
 */
function readString(element: DerElement, what: string): string {
  const bytes = element.content;
  switch (element.tag) {
    case TAG.UTF8_STRING:
      return bytes.toString('utf8');
    case TAG.PRINTABLE_STRING:
      if (!/^[A-Za-z0-9 '()+,\-./:=?*&]*$/.test(bytes.toString('latin1'))) throw malformed(`${what}: invalid PrintableString`);
      return bytes.toString('latin1');
    case TAG.IA5_STRING:
      if (bytes.some((b) => b > 0x7f)) throw malformed(`${what}: invalid IA5String`);
      return bytes.toString('latin1');
    case TAG.NUMERIC_STRING:
      if (!/^[0-9 ]*$/.test(bytes.toString('latin1'))) throw malformed(`${what}: invalid NumericString`);
      return bytes.toString('latin1');
    case TAG.T61_STRING:
      return bytes.toString('latin1');
    case TAG.BMP_STRING: {
      const units: number[] = [];
      for (let i = 0; i < bytes.length; i += 2) units.push(bytes.readUInt16BE(i));
      return String.fromCharCode(...units);
    }
    default:
      throw malformed(`${what}: unsupported string type 0x${element.tag.toString(16)} in name`);
  }
}

const UTC_TIME = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;
const GENERALIZED_TIME = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/;

/**
 * A validity time: UTCTime YYMMDDHHMMSSZ (years 50-99 are 19xx, RFC 5280 4.1.2.5.1) or
 * GeneralizedTime YYYYMMDDHHMMSSZ, with no fraction or offset, and a real calendar date.
 */
export function readTime(element: DerElement | undefined): Date {
  const text = element?.content.toString('latin1') ?? '';
  let m: RegExpExecArray | null = null;
  let year = 0;
  if (element?.tag === TAG.UTC_TIME && (m = UTC_TIME.exec(text)) !== null) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy;
  } else if (element?.tag === TAG.GENERALIZED_TIME && (m = GENERALIZED_TIME.exec(text)) !== null) {
    year = Number(m[1]);
  }
  if (m === null) throw malformed(`unsupported certificate time ${JSON.stringify(text)}`);
  const [month, day, hour, minute, second] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw malformed(`invalid certificate time ${JSON.stringify(text)}`);
  }
  return d;
}
