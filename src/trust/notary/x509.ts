/**
 * X.509 certificate facts in the form Go's crypto/x509 gives them to Notary
 * (Notary: tuf/utils/x509.go, trustpinning/certs.go read Subject.CommonName, NotBefore/NotAfter,
 * SignatureAlgorithm, IsCA, PublicKeyAlgorithm and the RSA modulus). Node's X509Certificate does
 * the parsing and the signature math; the DER reader adds the fields Node 20 does not expose.
 */
import { X509Certificate } from 'node:crypto';
import { children, content, expectTag, integerValue, oidText, readNode, TAG, type DerNode } from './der.js';
import { TrustError } from './errors.js';
import { NOTARY_LIMITS } from './limits.js';
import { decodePemBlocks } from './pem.js';

export interface CertificateInfo {
  /** the DER bytes */
  readonly der: Buffer;
  /** Node's view, for signature checks (verify / checkIssued) */
  readonly x509: X509Certificate;
  /** Go pkix.Name.CommonName: the last CN attribute of the subject, or '' */
  readonly commonName: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** OID of the outer signatureAlgorithm */
  readonly signatureAlgorithmOid: string;
  /** basicConstraints present (Go BasicConstraintsValid) and its cA flag (Go IsCA) */
  readonly basicConstraintsValid: boolean;
  readonly isCA: boolean;
  /** basicConstraints pathLenConstraint, or -1 when absent (Go MaxPathLen semantics) */
  readonly maxPathLen: number;
  /** X.509 version: 1 when the [0] version field is absent, else its value + 1 */
  readonly version: number;
  /** keyUsage extension present (Go KeyUsage != 0) and whether keyCertSign (bit 5) is set */
  readonly keyUsagePresent: boolean;
  readonly keyUsageCertSign: boolean;
  /** extendedKeyUsage OIDs; empty when the extension is absent */
  readonly extKeyUsageOids: readonly string[];
  readonly publicKeyAlgorithm: 'rsa' | 'ecdsa' | 'ed25519' | 'other';
  /** RSA modulus size in bits, when publicKeyAlgorithm is 'rsa' */
  readonly rsaModulusBits: number | undefined;
}

const OID_COMMON_NAME = '2.5.4.3';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_KEY_USAGE = '2.5.29.15';

/** Parses one DER certificate. Throws TrustError('bad_certificate') if Go or Node would refuse it. */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  const bytes = Buffer.from(der);
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(bytes);
  } catch (err) {
    throw new TrustError('bad_certificate', 'not a parsable X.509 certificate', { cause: err });
  }
  const top = expectTag(readNode(bytes, 0), TAG.SEQUENCE, 'Certificate');
  if (top.end !== bytes.length) throw new TrustError('bad_certificate', 'trailing data after certificate');
  const [tbs, outerAlg] = children(bytes, top);
  const tbsFields = children(bytes, expectTag(tbs, TAG.SEQUENCE, 'TBSCertificate'));
  const versionNode = tbsFields[0]?.tag === 0xa0 ? tbsFields[0] : undefined; // [0] EXPLICIT version
  const version = versionNode === undefined ? 1 : Number(integerValue(bytes, children(bytes, versionNode)[0] as DerNode)) + 1;
  let i = versionNode === undefined ? 0 : 1;
  i++; // serialNumber
  const innerAlg = tbsFields[i++];
  i++; // issuer
  const validity = tbsFields[i++];
  const subject = tbsFields[i++];
  i++; // subjectPublicKeyInfo
  const outerAlgDer = algorithmDer(bytes, outerAlg);
  // Go's x509 parser: "signature algorithm identifier mismatch" between TBS and outer field.
  if (!outerAlgDer.equals(algorithmDer(bytes, innerAlg))) {
    throw new TrustError('bad_certificate', 'inner and outer signature algorithms differ');
  }
  const [notBefore, notAfter] = children(bytes, expectTag(validity, TAG.SEQUENCE, 'Validity')).map(
    (n) => readTime(bytes, n),
  );
  if (notBefore === undefined || notAfter === undefined) {
    throw new TrustError('bad_certificate', 'validity needs notBefore and notAfter');
  }
  const extensions = readExtensions(bytes, tbsFields.slice(i));
  const bc = extensions.get(OID_BASIC_CONSTRAINTS);
  const basic = bc === undefined ? undefined : readBasicConstraints(bc);
  const eku = extensions.get(OID_EXT_KEY_USAGE);
  const keyUsage = extensions.get(OID_KEY_USAGE);
  const keyUsageBits = keyUsage === undefined ? 0 : readKeyUsage(keyUsage);
  const keyType = x509.publicKey.asymmetricKeyType;
  return {
    der: bytes,
    x509,
    commonName: readCommonName(bytes, expectTag(subject, TAG.SEQUENCE, 'subject Name')),
    notBefore,
    notAfter,
    signatureAlgorithmOid: oidText(bytes, children(bytes, expectTag(outerAlg, TAG.SEQUENCE, 'AlgorithmIdentifier'))[0] as DerNode),
    basicConstraintsValid: basic !== undefined,
    isCA: basic?.isCA ?? false,
    maxPathLen: basic?.maxPathLen ?? -1,
    version,
    keyUsagePresent: keyUsageBits !== 0,
    keyUsageCertSign: (keyUsageBits & (1 << 5)) !== 0,
    extKeyUsageOids: eku === undefined ? [] : readExtKeyUsage(eku),
    publicKeyAlgorithm: keyType === 'rsa' ? 'rsa' : keyType === 'ec' ? 'ecdsa' : keyType === 'ed25519' ? 'ed25519' : 'other',
    rsaModulusBits: keyType === 'rsa' ? x509.publicKey.asymmetricKeyDetails?.modulusLength : undefined,
  };
}

/**
 * Go's tuf/utils/x509.go LoadCertBundleFromPEM: every PEM block must be a CERTIFICATE that
 * parses; at least one is required. Throws TrustError('bad_certificate') otherwise.
 */
export function parseCertificateBundle(pem: Uint8Array | string): CertificateInfo[] {
  const { blocks, truncated } = decodePemBlocks(pem, NOTARY_LIMITS.maxCertificatesPerBundle);
  if (truncated) throw new TrustError('too_large', 'too many certificates in one PEM bundle');
  if (blocks.length === 0) throw new TrustError('bad_certificate', 'no valid certificates found');
  return blocks.map((block) => {
    if (block.type !== 'CERTIFICATE') {
      throw new TrustError('bad_certificate', `invalid pem block type: ${block.type}`);
    }
    return parseCertificate(block.bytes);
  });
}

function algorithmDer(buf: Buffer, node: DerNode | undefined): Buffer {
  const n = expectTag(node, TAG.SEQUENCE, 'AlgorithmIdentifier');
  return buf.subarray(n.start, n.end);
}

function readTime(buf: Buffer, node: DerNode): Date {
  const text = content(buf, node).toString('latin1');
  let m: RegExpExecArray | null;
  let year: number;
  if (node.tag === TAG.UTC_TIME && (m = /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    const yy = Number(m[1]);
    year = yy < 50 ? 2000 + yy : 1900 + yy; // RFC 5280 4.1.2.5.1
  } else if (node.tag === TAG.GENERALIZED_TIME && (m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/.exec(text))) {
    year = Number(m[1]);
  } else {
    throw new TrustError('bad_certificate', `unsupported certificate time ${JSON.stringify(text)}`);
  }
  const [month, day, hour, minute, second] = m.slice(2, 7).map(Number) as [number, number, number, number, number];
  const d = new Date(0);
  d.setUTCFullYear(year, month - 1, day);
  d.setUTCHours(hour, minute, second, 0);
  if (d.getUTCMonth() !== month - 1 || d.getUTCDate() !== day || hour > 23 || minute > 59 || second > 59) {
    throw new TrustError('bad_certificate', `invalid certificate time ${JSON.stringify(text)}`);
  }
  return d;
}

/** Go pkix.Name.FillFromRDNSequence: every CN attribute overwrites the previous one. */
function readCommonName(buf: Buffer, name: DerNode): string {
  let cn = '';
  for (const rdn of children(buf, name)) {
    for (const atv of children(buf, expectTag(rdn, TAG.SET, 'RelativeDistinguishedName'))) {
      const [type, value] = children(buf, expectTag(atv, TAG.SEQUENCE, 'AttributeTypeAndValue'));
      if (type === undefined || value === undefined) throw new TrustError('bad_certificate', 'bad name attribute');
      if (oidText(buf, type) === OID_COMMON_NAME) cn = readString(buf, value);
    }
  }
  return cn;
}

/** Go's x509 parseASN1String string types. */
function readString(buf: Buffer, node: DerNode): string {
  const bytes = content(buf, node);
  switch (node.tag) {
    case TAG.UTF8_STRING:
      return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    case TAG.PRINTABLE_STRING:
    case TAG.IA5_STRING:
    case TAG.NUMERIC_STRING:
    case TAG.T61_STRING:
      return bytes.toString('latin1');
    case TAG.BMP_STRING: {
      if (bytes.length % 2) throw new TrustError('bad_certificate', 'odd BMPString');
      const units: number[] = [];
      for (let j = 0; j < bytes.length; j += 2) units.push(bytes.readUInt16BE(j));
      return String.fromCharCode(...units);
    }
    default:
      throw new TrustError('bad_certificate', `unsupported string type 0x${node.tag.toString(16)} in name`);
  }
}

/** extensions [3] EXPLICIT SEQUENCE OF Extension → extnID → extnValue contents. */
function readExtensions(buf: Buffer, rest: DerNode[]): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const wrapper = rest.find((n) => n.tag === 0xa3);
  if (wrapper === undefined) return out;
  const [list] = children(buf, wrapper);
  for (const ext of children(buf, expectTag(list, TAG.SEQUENCE, 'Extensions'))) {
    const parts = children(buf, expectTag(ext, TAG.SEQUENCE, 'Extension'));
    const id = oidText(buf, parts[0] as DerNode);
    const value = expectTag(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue');
    if (out.has(id)) throw new TrustError('bad_certificate', `duplicate extension ${id}`);
    out.set(id, content(buf, value));
  }
  return out;
}

function readBasicConstraints(value: Buffer): { isCA: boolean; maxPathLen: number } {
  const seq = expectTag(readNode(value, 0), TAG.SEQUENCE, 'BasicConstraints');
  let isCA = false;
  let maxPathLen = -1;
  for (const field of children(value, seq)) {
    if (field.tag === TAG.BOOLEAN) isCA = (value[field.contentStart] ?? 0) !== 0;
    else if (field.tag === TAG.INTEGER) maxPathLen = Number(integerValue(value, field));
  }
  return { isCA, maxPathLen };
}

function readExtKeyUsage(value: Buffer): string[] {
  const seq = expectTag(readNode(value, 0), TAG.SEQUENCE, 'ExtKeyUsageSyntax');
  return children(value, seq).map((n) => oidText(value, n));
}

/** Go's x509 parseKeyUsage: BIT STRING bit i (MSB first) → usage bit 1 << i, for i < 9. */
function readKeyUsage(value: Buffer): number {
  const bits = content(value, expectTag(readNode(value, 0), TAG.BIT_STRING, 'KeyUsage'));
  let usage = 0;
  for (let i = 0; i < 9; i++) {
    const byte = bits[1 + (i >> 3)] ?? 0;
    if (byte & (0x80 >> (i & 7))) usage |= 1 << i;
  }
  return usage;
}
