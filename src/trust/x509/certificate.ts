/**
 * X.509 certificates for every trust format (Notary v1, cosign, Notation): DER or PEM in, one
 * immutable, validated CertificateInfo out.
 *
 * asn1js (under @peculiar/x509) parses the DER, checked for strict DER form as Go's crypto/x509
 * requires (der.ts); @peculiar/x509 decodes the names and extensions; node:crypto's
 * X509Certificate (OpenSSL) must accept the certificate too, and supplies the public key and the
 * signature checks. A certificate Go would refuse to parse is refused here (parser.go:
 * "signature algorithm identifier mismatch", "invalid version", "duplicate extensions", strict
 * times and name strings). Trust rules (expiry, key sizes, names) belong to the callers.
 */
import { X509Certificate as NodeX509Certificate, type KeyObject } from 'node:crypto';
import { BasicConstraintsExtension, ExtendedKeyUsageExtension, KeyUsagesExtension, SubjectAlternativeNameExtension, type Extension } from './library.js';
import { describePublicKey, describeSignatureAlgorithm, type CertificatePublicKey, type SignatureAlgorithm } from './algorithms.js';
import { TAG, expect, expectChildren, integerValue, oidText, parseDer, type DerElement } from './der.js';
import { X509Error } from './errors.js';
import { readName, readTime, type DistinguishedName } from './names.js';
import { decodePemBlocks } from './pem.js';

/** Go x509.KeyUsage bits (bit i of the keyUsage BIT STRING is 1 << i), as @peculiar/x509's KeyUsageFlags. */
export const KEY_USAGE = {
  digitalSignature: 1 << 0,
  contentCommitment: 1 << 1,
  keyEncipherment: 1 << 2,
  dataEncipherment: 1 << 3,
  keyAgreement: 1 << 4,
  keyCertSign: 1 << 5,
  cRLSign: 1 << 6,
  encipherOnly: 1 << 7,
  decipherOnly: 1 << 8,
} as const;

/** Extended key usage OIDs (RFC 5280 4.2.1.12). */
export const EKU = {
  any: '2.5.29.37.0',
  serverAuth: '1.3.6.1.5.5.7.3.1',
  clientAuth: '1.3.6.1.5.5.7.3.2',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  emailProtection: '1.3.6.1.5.5.7.3.4',
  timeStamping: '1.3.6.1.5.5.7.3.8',
} as const;

export interface BasicConstraints {
  readonly ca: boolean;
  /** pathLenConstraint; undefined when absent */
  readonly pathLen: number | undefined;
}

export interface SubjectAltName {
  readonly type: 'dns' | 'email' | 'uri' | 'ip' | 'dn' | 'other';
  readonly value: string;
}

export interface CertificateExtension {
  readonly oid: string;
  readonly critical: boolean;
  /** extnValue's content (the extension's own DER) */
  readonly value: Buffer;
}

const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_KEY_USAGE = '2.5.29.15';
const OID_EXT_KEY_USAGE = '2.5.29.37';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

const CONSTRUCT: unique symbol = Symbol('CertificateInfo');

type CertificateFields = Omit<CertificateInfo, 'isCA' | 'verifySignature' | 'isIssuedBy'>;

/** An extension with its whole DER, which @peculiar/x509's extension classes take. */
interface RawExtension extends CertificateExtension {
  readonly raw: Buffer;
}

/** Everything parseCertificate found, frozen. */
export class CertificateInfo {
  /** the certificate's DER (owned by this object: do not modify) */
  readonly der: Buffer;
  /** 1, 2 or 3 */
  readonly version: number;
  readonly serialNumber: bigint;
  readonly subject: DistinguishedName;
  readonly issuer: DistinguishedName;
  readonly notBefore: Date;
  readonly notAfter: Date;
  readonly publicKey: CertificatePublicKey;
  readonly signatureAlgorithm: SignatureAlgorithm;
  /** undefined when the extension is absent (Go: BasicConstraintsValid false) */
  readonly basicConstraints: BasicConstraints | undefined;
  /** KEY_USAGE bits; undefined when the extension is absent */
  readonly keyUsage: number | undefined;
  /** extendedKeyUsage OIDs; empty when the extension is absent */
  readonly extKeyUsage: readonly string[];
  readonly subjectAltNames: readonly SubjectAltName[];
  /** every extension, in order */
  readonly extensions: readonly CertificateExtension[];
  readonly #node: NodeX509Certificate;

  /** Only parseCertificate constructs these (the token keeps unvalidated objects out). */
  constructor(token: typeof CONSTRUCT, fields: CertificateFields, node: NodeX509Certificate) {
    if (token !== CONSTRUCT) throw new TypeError('use parseCertificate');
    this.der = fields.der;
    this.version = fields.version;
    this.serialNumber = fields.serialNumber;
    this.subject = fields.subject;
    this.issuer = fields.issuer;
    this.notBefore = fields.notBefore;
    this.notAfter = fields.notAfter;
    this.publicKey = fields.publicKey;
    this.signatureAlgorithm = fields.signatureAlgorithm;
    this.basicConstraints = fields.basicConstraints;
    this.keyUsage = fields.keyUsage;
    this.extKeyUsage = Object.freeze([...fields.extKeyUsage]);
    this.subjectAltNames = Object.freeze(fields.subjectAltNames.map((n) => Object.freeze({ type: n.type, value: n.value })));
    this.extensions = Object.freeze(fields.extensions.map((e) => Object.freeze({ oid: e.oid, critical: e.critical, value: e.value })));
    this.#node = node;
    Object.freeze(this);
  }

  /** Go IsCA: basicConstraints present with cA true. */
  get isCA(): boolean {
    return this.basicConstraints?.ca === true;
  }

  /** Whether `key` verifies this certificate's signature over its TBSCertificate. */
  verifySignature(key: KeyObject): boolean {
    try {
      return this.#node.verify(key);
    } catch {
      return false;
    }
  }

  /**
   * Whether `issuer` issued this certificate: OpenSSL's X509_check_issued (issuer name, key
   * identifiers, the issuer's keyUsage) and a valid signature by the issuer's key.
   */
  isIssuedBy(issuer: CertificateInfo): boolean {
    try {
      return this.#node.checkIssued(issuer.#node) && this.verifySignature(issuer.publicKey.key);
    } catch {
      return false;
    }
  }
}

/** Parses one DER certificate. Throws X509Error('malformed') when a strict parser would refuse it. */
export function parseCertificate(der: Uint8Array): CertificateInfo {
  const bytes = Buffer.from(der); // a private copy: the info object is immutable
  const top = parseDer(bytes);
  const [tbs, outerAlg, signature, extra] = expectChildren(top, TAG.SEQUENCE, 'Certificate');
  expect(signature, TAG.BIT_STRING, 'signatureValue');
  if (extra !== undefined) throw malformed('extra fields after signatureValue');
  const fields = expectChildren(tbs, TAG.SEQUENCE, 'TBSCertificate');
  let i = 0;
  let version = 1;
  if (fields[0]?.tag === TAG.CONTEXT_0) {
    const [value, more] = fields[0].children;
    if (more !== undefined) throw malformed('bad version field');
    version = Number(integerValue(value)) + 1;
    i++;
  }
  if (version < 1 || version > 3) throw malformed('invalid version'); // Go parser.go
  const serialNumber = integerValue(fields[i++]);
  const innerAlg = expect(fields[i++], TAG.SEQUENCE, 'signature AlgorithmIdentifier');
  const issuerElement = fields[i++];
  const [notBeforeElement, notAfterElement, extraTime] = expectChildren(fields[i++], TAG.SEQUENCE, 'Validity');
  if (extraTime !== undefined) throw malformed('bad Validity');
  const subjectElement = fields[i++];
  const spki = expect(fields[i++], TAG.SEQUENCE, 'SubjectPublicKeyInfo').raw;
  const outerAlgElement = expect(outerAlg, TAG.SEQUENCE, 'signatureAlgorithm');
  if (!outerAlgElement.raw.equals(innerAlg.raw)) throw malformed('inner and outer signature algorithms differ');
  const rawExtensions = readExtensions(fields.slice(i));

  let node: NodeX509Certificate;
  let publicKey: KeyObject;
  try {
    node = new NodeX509Certificate(bytes);
    publicKey = node.publicKey;
  } catch (err) {
    throw new X509Error('malformed', 'not a parsable X.509 certificate', { cause: err });
  }
  return new CertificateInfo(
    CONSTRUCT,
    {
      der: bytes,
      version,
      serialNumber,
      subject: readName(subjectElement, 'subject'),
      issuer: readName(issuerElement, 'issuer'),
      notBefore: readTime(notBeforeElement),
      notAfter: readTime(notAfterElement),
      publicKey: describePublicKey(publicKey, spki),
      signatureAlgorithm: describeSignatureAlgorithm(oidText(outerAlgElement.children[0])),
      ...interpretExtensions(rawExtensions),
      extensions: rawExtensions,
    },
    node,
  );
}

export interface BundleOptions {
  /** most certificates accepted in one bundle; more is X509Error('too_large') */
  readonly maxCertificates: number;
  /** most bytes of PEM text accepted; more is X509Error('too_large') before decoding */
  readonly maxBytes?: number;
}

/**
 * A PEM bundle as Go's LoadCertBundleFromPEM reads it (Notary tuf/utils/x509.go): every PEM
 * block must be a CERTIFICATE that parses, and there must be at least one.
 * Throws X509Error('malformed' | 'too_large').
 */
export function parseCertificateBundle(pem: Uint8Array | string, options: BundleOptions): CertificateInfo[] {
  const size = typeof pem === 'string' ? Buffer.byteLength(pem) : pem.length;
  if (options.maxBytes !== undefined && size > options.maxBytes) {
    throw new X509Error('too_large', `PEM bundle larger than ${options.maxBytes} bytes`);
  }
  const { blocks, truncated } = decodePemBlocks(pem, options.maxCertificates);
  if (truncated) throw new X509Error('too_large', `more than ${options.maxCertificates} certificates in one PEM bundle`);
  if (blocks.length === 0) throw malformed('no valid certificates found');
  return blocks.map((block) => {
    if (block.type !== 'CERTIFICATE') throw malformed(`invalid pem block type: ${block.type}`);
    return parseCertificate(block.bytes);
  });
}

/** One PEM CERTIFICATE block (text around it is ignored, as by Go's pem.Decode). */
export function parseCertificatePem(pem: Uint8Array | string): CertificateInfo {
  return parseCertificateBundle(pem, { maxCertificates: 1 })[0] as CertificateInfo;
}

function malformed(message: string): X509Error {
  return new X509Error('malformed', message);
}

/** extensions [3] EXPLICIT SEQUENCE OF Extension; issuer/subject unique IDs are skipped. */
function readExtensions(rest: readonly DerElement[]): RawExtension[] {
  const wrapper = rest.find((n) => n.tag === TAG.CONTEXT_3);
  if (wrapper === undefined) return [];
  const [list, more] = wrapper.children;
  if (more !== undefined) throw malformed('bad extensions field');
  const seen = new Set<string>();
  return expectChildren(list, TAG.SEQUENCE, 'Extensions').map((ext) => {
    const parts = expectChildren(ext, TAG.SEQUENCE, 'Extension');
    const oid = oidText(parts[0]);
    if (parts.length !== 2 && parts.length !== 3) throw malformed(`bad extension ${oid}`);
    const critical = parts.length === 3 && expect(parts[1], TAG.BOOLEAN, 'critical').content[0] === 0xff;
    const value = expect(parts[parts.length - 1], TAG.OCTET_STRING, 'extnValue').content;
    if (seen.has(oid)) throw malformed(`duplicate extension ${oid}`);
    seen.add(oid);
    return { oid, critical, value, raw: ext.raw };
  });
}

type Interpreted = Pick<CertificateInfo, 'basicConstraints' | 'keyUsage' | 'extKeyUsage' | 'subjectAltNames'>;

/**
 * The extensions trust rules read, decoded by @peculiar/x509 after a strict DER check of the
 * value's element, whose tag must be the one Go's parser reads (parser.go
 * parseBasicConstraintsExtension, parseKeyUsageExtension, parseExtKeyUsageExtension,
 * parseSANExtension); like Go, bytes after that element are ignored.
 */
function interpretExtensions(extensions: readonly RawExtension[]): Interpreted {
  const decode = <T extends Extension>(oid: string, tag: number, Type: new (raw: Uint8Array) => T): T | undefined => {
    const ext = extensions.find((e) => e.oid === oid);
    if (ext === undefined) return undefined;
    try {
      expect(parseDer(ext.value, { allowTrailing: true }), tag, `extension ${oid} value`);
      return new Type(ext.raw);
    } catch (err) {
      throw new X509Error('malformed', `invalid extension ${oid}`, { cause: err });
    }
  };
  const bc = decode(OID_BASIC_CONSTRAINTS, TAG.SEQUENCE, BasicConstraintsExtension);
  const ku = decode(OID_KEY_USAGE, TAG.BIT_STRING, KeyUsagesExtension);
  const eku = decode(OID_EXT_KEY_USAGE, TAG.SEQUENCE, ExtendedKeyUsageExtension);
  const san = decode(OID_SUBJECT_ALT_NAME, TAG.SEQUENCE, SubjectAlternativeNameExtension);
  return {
    basicConstraints: bc === undefined ? undefined : Object.freeze({ ca: bc.ca, pathLen: bc.pathLength }),
    keyUsage: ku === undefined ? undefined : ku.usages,
    extKeyUsage: eku === undefined ? [] : eku.usages.map(String),
    subjectAltNames: san === undefined ? [] : san.names.items.map((n) => ({ type: sanType(n.type), value: n.value })),
  };
}

function sanType(type: string): SubjectAltName['type'] {
  switch (type) {
    case 'dns':
    case 'email':
    case 'ip':
    case 'dn':
      return type;
    case 'url':
      return 'uri';
    default:
      return 'other';
  }
}
