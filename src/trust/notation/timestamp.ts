/**
 * RFC 3161 timestamp tokens as Notation verifies them (notation-go verifier.go verifyTimestamp
 * with tspclient-go ParseSignedToken, TSTInfo.Validate and SignedToken.Verify, then
 * notation-core-go x509 ValidateTimestampingCertChain):
 *
 * 1. the token is a CMS ContentInfo of type signedData (RFC 5652 5), SignedData version 3,
 *    encapsulating an id-ct-TSTInfo (RFC 3161 2.4.2); every certificate it carries is X.509;
 * 2. the TSTInfo is version 1 and its messageImprint is the SHA-256/384/512 digest of the
 *    stamped bytes (the signature bytes of the envelope);
 * 3. the one SignerInfo (RFC 3161 2.4.2: no signature but the TSA's) is version 1; its
 *    signing-certificate-v2 attribute (RFC 5816, RFC 5035) names a certificate of the token by
 *    hash (and issuer/serial); that certificate chains, through the token's certificates, to a
 *    certificate of the `tsa` trust store with every certificate valid at genTime and the
 *    timeStamping EKU allowed; the signature over the signed attributes verifies; the
 *    contentType and messageDigest attributes match (RFC 5652 5.4, 5.6), and signingTime, when
 *    present, is inside the chain's validity;
 * 4. the TSA certificate has the critical EKU extension with timeStamping only (RFC 3161 2.3),
 *    and the chain keeps the Notary Project certificate rules for timestamping.
 *
 * Synchronous: everything is local (node:crypto does the signature checks).
 */
import { DEFAULTS } from '../../config/defaults.js';
import { ContentInfo, SignedData, TSTInfo, type Attribute, type SignerInfo } from 'pkijs';
import { Constructed, GeneralizedTime, Integer, ObjectIdentifier, OctetString, Sequence, UTCTime, type BaseBlock } from 'asn1js';
import { EKU, buildChain, isX509Error, parseCertificate, type CertificateInfo } from '../x509/index.js';
import { NotationError } from './errors.js';
import { chainProblem, timestampingEkuProblem } from './cert-chain.js';
import { digestByOid, hashBytes, parseBlock, rawBytes, tokenSignatureScheme, verifySignature, type DigestName } from './revocation/signatures.js';

export interface VerifiedTimestamp {
  /** TSTInfo genTime */
  genTime: Date;
  /** TSTInfo accuracy in milliseconds (1 s for the RFC 3628 baseline policy without one, else 0 when absent) */
  accuracyMs: number;
  /** the TSA certificate chain, TSA leaf first, trust store certificate last */
  chain: CertificateInfo[];
  /** the TSA leaf certificate's subject (RFC 4514 text) */
  tsa: string;
}

export interface TimestampVerifyOptions {
  /**
   * The verification time. The chain is checked at genTime, as notation-go does; `now` only
   * refuses a token whose earliest possible time is still ahead of it (beyond a small skew).
   */
  now: Date;
}

const OID_SIGNED_DATA = '1.2.840.113549.1.7.2';
const OID_TST_INFO = '1.2.840.113549.1.9.16.1.4';
const OID_CONTENT_TYPE = '1.2.840.113549.1.9.3';
const OID_MESSAGE_DIGEST = '1.2.840.113549.1.9.4';
const OID_SIGNING_TIME = '1.2.840.113549.1.9.5';
const OID_SIGNING_CERTIFICATE_V1 = '1.2.840.113549.1.9.16.2.12';
const OID_SIGNING_CERTIFICATE_V2 = '1.2.840.113549.1.9.16.2.47';
/** RFC 3628 5.2 baseline time-stamp policy: without an accuracy it means ±1 s (trust-store-trust-policy.md). */
const OID_BASELINE_TIMESTAMP_POLICY = '0.4.0.2023.1.1';

function fail(message: string, cause?: unknown): NotationError {
  return new NotationError('timestamp', `timestamp token: ${message}`, cause === undefined ? {} : { cause });
}

/**
 * Verifies `token` (the DER or BER bytes of a TimeStampToken) over `stampedBytes` against the
 * TSA roots. Throws NotationError('timestamp') saying what failed.
 */
export function verifyTimestampToken(
  token: Uint8Array,
  stampedBytes: Uint8Array,
  tsaRoots: readonly CertificateInfo[],
  options: TimestampVerifyOptions,
): VerifiedTimestamp {
  const parsed = parseToken(token);
  const { genTime, accuracyMs } = validateTstInfo(parsed.content, stampedBytes);
  if (tsaRoots.length === 0) throw fail('no trusted TSA certificate: the trust policy names no tsa trust store with certificates');

  if (parsed.signerInfos.length !== 1) {
    throw fail(`it has ${parsed.signerInfos.length} signer infos; RFC 3161 2.4.2 allows only the TSA's signature`);
  }
  const signer = parsed.signerInfos[0] as ParsedSigner;
  const signingCert = signingCertificate(parsed, signer);
  if (signer.info.version !== 1) throw fail(`signer info version ${signer.info.version} is not supported: only 1 (issuerAndSerialNumber) is`);

  let chain: CertificateInfo[];
  try {
    chain = buildChain(signingCert, parsed.certificates, tsaRoots, { now: genTime, keyUsages: [EKU.timeStamping], maxDepth: DEFAULTS.timestampChainMaxDepth });
  } catch (err) {
    if (!isX509Error(err)) throw err;
    const when = genTime.toISOString();
    throw fail(
      err.code === 'expired'
        ? `the TSA certificate ${JSON.stringify(signingCert.subject.text)} was not valid at the timestamp's genTime ${when}`
        : `the TSA certificate ${JSON.stringify(signingCert.subject.text)} does not chain to a certificate of the tsa trust store (valid at ${when}, allowing timeStamping): add the TSA's root certificate to the trust store the policy names`,
      err,
    );
  }

  verifySignerSignature(signer, signingCert);
  verifySignedAttributes(parsed, signer, chain);
  const eku = timestampingEkuProblem(signingCert);
  if (eku !== undefined) throw fail(eku);
  const rules = chainProblem(chain, 'timestamping');
  if (rules !== undefined) throw fail(`invalid TSA certificate chain: ${rules}`);

  if (genTime.getTime() - accuracyMs > options.now.getTime() + DEFAULTS.revocationClockSkewMs) {
    throw fail(`genTime ${genTime.toISOString()} is in the future (now ${options.now.toISOString()})`);
  }
  return { genTime, accuracyMs, chain, tsa: signingCert.subject.text };
}

/** The interval a verified timestamp vouches for: genTime ± accuracy (tspclient-go Timestamp bounds). */
export function timestampRange(t: VerifiedTimestamp): { earliest: Date; latest: Date } {
  return { earliest: new Date(t.genTime.getTime() - t.accuracyMs), latest: new Date(t.genTime.getTime() + t.accuracyMs) };
}

interface ParsedSigner {
  info: SignerInfo;
  /** the sid's issuer Name DER and serial number */
  sidIssuer: Buffer | undefined;
  sidSerial: bigint | undefined;
}

interface ParsedToken {
  /** the TSTInfo DER (eContent) */
  content: Buffer;
  certificates: CertificateInfo[];
  signerInfos: ParsedSigner[];
}

/** tspclient-go ParseSignedToken: ContentInfo → SignedData v3 → id-ct-TSTInfo, X.509 certificates only. */
function parseToken(token: Uint8Array): ParsedToken {
  const top = parseBlock(token);
  if (top === undefined) throw fail('not a DER/BER encoded CMS ContentInfo');
  let signed: SignedData;
  let signedBlock: BaseBlock;
  try {
    const info = new ContentInfo({ schema: top });
    if (info.contentType !== OID_SIGNED_DATA) throw fail(`content type ${info.contentType} is not signedData`);
    signedBlock = info.content as BaseBlock;
    signed = new SignedData({ schema: signedBlock });
  } catch (err) {
    if (err instanceof NotationError) throw err;
    throw fail('not a CMS SignedData structure', err);
  }
  if (signed.version !== 3) throw fail(`unsupported signed data version ${signed.version}: want 3`);
  const { eContentType, eContent } = signed.encapContentInfo;
  if (eContentType !== OID_TST_INFO) throw fail(`unexpected content type ${eContentType}: expected id-ct-TSTInfo (${OID_TST_INFO})`);
  if (eContent === undefined) throw fail('the TSTInfo content is missing');

  if (!(signedBlock instanceof Sequence)) throw fail('not a CMS SignedData structure');
  const children = signedBlock.valueBlock.value;
  const certificates: CertificateInfo[] = [];
  const certSet = children.find((c) => c.idBlock.tagClass === 3 && c.idBlock.tagNumber === 0);
  if (certSet instanceof Constructed) {
    if (certSet.valueBlock.value.length > DEFAULTS.timestampTokenMaxCertificates)
      throw fail(`more than ${DEFAULTS.timestampTokenMaxCertificates} certificates`);
    for (const cert of certSet.valueBlock.value) {
      try {
        certificates.push(parseCertificate(rawBytes(cert)));
      } catch (err) {
        throw fail('failed to parse the X.509 certificates it carries (only X.509 certificates are supported)', err);
      }
    }
  }

  // The SignerInfos are the last field; their sid is read from the encoding itself (names compare by DER).
  const signerSet = children[children.length - 1];
  const signerBlocks = signerSet instanceof Constructed ? signerSet.valueBlock.value : [];
  const signerInfos = signed.signerInfos.map((info, i) => {
    const sid = (signerBlocks[i] as Sequence | undefined)?.valueBlock.value[1];
    const [issuer, serial] = sid instanceof Sequence ? sid.valueBlock.value : [];
    return {
      info,
      sidIssuer: issuer instanceof Sequence ? rawBytes(issuer) : undefined,
      sidSerial: serial instanceof Integer ? serial.toBigInt() : undefined,
    };
  });
  return { content: octets(eContent), certificates, signerInfos };
}

/** An OCTET STRING's content, primitive or (BER) constructed. */
function octets(block: BaseBlock): Buffer {
  if (block instanceof Constructed || (block instanceof OctetString && block.idBlock.isConstructed)) {
    const parts = (block.valueBlock as unknown as { value: BaseBlock[] }).value;
    return Buffer.concat(parts.map(octets));
  }
  if (block instanceof OctetString) return Buffer.from(block.valueBlock.valueHexView);
  throw fail('expected an OCTET STRING');
}

/** tspclient-go TSTInfo.Validate: version 1, a SHA-2 imprint of the stamped bytes; the accuracy. */
function validateTstInfo(content: Buffer, stampedBytes: Uint8Array): { genTime: Date; accuracyMs: number } {
  let info: TSTInfo;
  try {
    info = TSTInfo.fromBER(content);
  } catch (err) {
    throw fail('cannot parse its TSTInfo', err);
  }
  if (info.version !== 1) throw fail(`TSTInfo version must be 1, but it is ${info.version}`);
  const algorithm = info.messageImprint.hashAlgorithm.algorithmId;
  const digest = digestByOid(algorithm);
  if (digest === undefined || digest === 'sha1') {
    throw fail(`unsupported messageImprint hash algorithm ${digest === 'sha1' ? 'SHA-1' : algorithm}: only SHA-256, SHA-384 and SHA-512 are accepted`);
  }
  const imprint = Buffer.from(info.messageImprint.hashedMessage.valueBlock.valueHexView);
  if (!imprint.equals(hashBytes(digest, stampedBytes))) {
    throw fail('its messageImprint does not match the signature it timestamps (the token belongs to other bytes)');
  }
  const genTime = info.genTime;
  if (!(genTime instanceof Date) || Number.isNaN(genTime.getTime())) throw fail('invalid genTime');
  const seconds = info.accuracy?.seconds ?? 0;
  const millis = info.accuracy?.millis ?? 0;
  const micros = info.accuracy?.micros ?? 0;
  if (seconds < 0 || millis < 0 || millis > 999 || micros < 0 || micros > 999) throw fail('invalid accuracy');
  let accuracyMs = seconds * 1000 + millis + micros / 1000;
  if (accuracyMs === 0 && info.policy === OID_BASELINE_TIMESTAMP_POLICY) accuracyMs = 1000;
  return { genTime, accuracyMs };
}

/** The first value of the first attribute of that type, as Go's Attributes.Get reads it. */
function attributeValue(signer: SignerInfo, oid: string): BaseBlock | undefined {
  const attribute: Attribute | undefined = signer.signedAttrs?.attributes.find((a) => a.type === oid);
  return attribute === undefined ? undefined : (attribute.values[0] as BaseBlock | undefined);
}

/**
 * tspclient-go SigningCertificate: the first ESSCertIDv2 of signing-certificate-v2 names the
 * certificate by issuer/serial (or, without IssuerSerial, the SignerInfo's sid does) and its
 * hash (SHA-256 unless the attribute names SHA-384/512) must match.
 */
function signingCertificate(parsed: ParsedToken, signer: ParsedSigner): CertificateInfo {
  const attribute = attributeValue(signer.info, OID_SIGNING_CERTIFICATE_V2);
  if (attribute === undefined) {
    const v1 = attributeValue(signer.info, OID_SIGNING_CERTIFICATE_V1) !== undefined;
    throw fail(
      v1
        ? 'it identifies the TSA certificate with a SHA-1 signing-certificate attribute; Notation requires signing-certificate-v2 (RFC 5816)'
        : 'the signing-certificate-v2 attribute is missing',
    );
  }
  const certs = attribute instanceof Sequence ? attribute.valueBlock.value[0] : undefined;
  const first = certs instanceof Sequence ? certs.valueBlock.value[0] : undefined;
  if (!(first instanceof Sequence)) throw fail('signing-certificate-v2 does not contain any certificate');
  const fields = [...first.valueBlock.value];
  let digest: DigestName = 'sha256';
  if (fields[0] instanceof Sequence) {
    const oid = fields[0].valueBlock.value[0];
    const named = oid instanceof ObjectIdentifier ? digestByOid(oid.getValue()) : undefined;
    if (named === undefined || named === 'sha1') throw fail('unsupported certificate hash algorithm in signing-certificate-v2');
    digest = named;
    fields.shift();
  }
  const [certHash, issuerSerial] = fields;
  if (!(certHash instanceof OctetString)) throw fail('malformed signing-certificate-v2 attribute');

  let issuer: Buffer | undefined = signer.sidIssuer;
  let serial: bigint | undefined = signer.sidSerial;
  if (issuerSerial !== undefined) {
    const [names, serialField] = issuerSerial instanceof Sequence ? issuerSerial.valueBlock.value : [];
    if (!(serialField instanceof Integer)) throw fail('malformed IssuerSerial in signing-certificate-v2');
    const firstName = names instanceof Sequence ? names.valueBlock.value[0] : undefined;
    const directoryName =
      firstName instanceof Constructed && firstName.idBlock.tagClass === 3 && firstName.idBlock.tagNumber === 4 ? firstName.valueBlock.value[0] : undefined;
    if (directoryName === undefined) throw fail('issuer name is missing in the IssuerSerial of signing-certificate-v2');
    issuer = rawBytes(directoryName);
    serial = serialField.toBigInt();
  }
  const candidate = parsed.certificates.find((c) => issuer !== undefined && c.issuer.der.equals(issuer) && c.serialNumber === serial);
  if (candidate === undefined) throw fail('the TSA signing certificate is not among the certificates of the token');
  if (!hashBytes(digest, candidate.der).equals(Buffer.from(certHash.valueBlock.valueHexView))) {
    throw fail('the TSA signing certificate hash does not match the certHash of signing-certificate-v2');
  }
  return candidate;
}

/** RFC 5652 5.4: with signed attributes the signature covers their DER with the SET OF tag. */
function verifySignerSignature(signer: ParsedSigner, cert: CertificateInfo): void {
  const scheme = tokenSignatureScheme(signer.info.digestAlgorithm.algorithmId, signer.info.signatureAlgorithm.algorithmId);
  if (typeof scheme === 'string') throw fail(scheme);
  const attrs = signer.info.signedAttrs;
  if (attrs === undefined || attrs.attributes.length === 0) throw fail('missing signed attributes');
  const signed = Buffer.from(attrs.encodedValue);
  signed[0] = 0x31;
  const signature = signer.info.signature.valueBlock.valueHexView;
  if (!verifySignature(scheme, cert.publicKey.key, signed, signature)) {
    throw fail(`its signature does not verify with the key of the TSA certificate ${JSON.stringify(cert.subject.text)}`);
  }
}

/** tspclient-go verifySignedAttributes: contentType, messageDigest, and signingTime when present. */
function verifySignedAttributes(parsed: ParsedToken, signer: ParsedSigner, chain: readonly CertificateInfo[]): void {
  const contentType = attributeValue(signer.info, OID_CONTENT_TYPE);
  if (!(contentType instanceof ObjectIdentifier)) throw fail('invalid or missing content-type signed attribute');
  if (contentType.getValue() !== OID_TST_INFO) throw fail(`content-type signed attribute ${contentType.getValue()} is not id-ct-TSTInfo`);
  const messageDigest = attributeValue(signer.info, OID_MESSAGE_DIGEST);
  if (!(messageDigest instanceof OctetString)) throw fail('invalid or missing message-digest signed attribute');
  const digest = digestByOid(signer.info.digestAlgorithm.algorithmId);
  if (digest === undefined || digest === 'sha1') throw fail('unsupported digest algorithm in the signer info');
  if (!Buffer.from(messageDigest.valueBlock.valueHexView).equals(hashBytes(digest, parsed.content))) {
    throw fail('the message-digest signed attribute does not match the TSTInfo');
  }
  const signingTime = attributeValue(signer.info, OID_SIGNING_TIME);
  if (signingTime === undefined) return;
  if (!(signingTime instanceof UTCTime || signingTime instanceof GeneralizedTime)) throw fail('invalid signing-time signed attribute');
  const when = signingTime.toDate().getTime();
  for (const cert of chain) {
    if (when < cert.notBefore.getTime() || when > cert.notAfter.getTime()) {
      throw fail(`its signing time ${signingTime.toDate().toISOString()} is outside the validity of certificate ${JSON.stringify(cert.subject.text)}`);
    }
  }
}
