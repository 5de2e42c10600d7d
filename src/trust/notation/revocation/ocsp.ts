/**
 * OCSP (RFC 6960) requests and responses for one certificate, as notation-core-go's
 * revocation/internal/ocsp uses golang.org/x/crypto/ocsp:
 * - the request names the certificate by a SHA-1 CertID (issuer name hash, issuer key hash,
 *   serial; notation-core-go uses SHA-1 because many public responders answer nothing else),
 *   without a nonce;
 * - the response must be `successful` with a BasicOCSPResponse signed by the issuer or by a
 *   responder certificate the issuer issued (RFC 6960 4.2.2.2: with the id-kp-OCSPSigning EKU,
 *   valid now), and hold a SingleResponse for this CertID (any of SHA-1/256/384/512) without an
 *   unknown critical extension;
 * - it must be current: a nextUpdate that has not passed (a response without one counts as
 *   expired, as in notation-core-go) and a thisUpdate that is not ahead of the clock.
 */
import { DEFAULTS } from '../../../config/defaults.js';
import { Enumerated, GeneralizedTime, Integer, Null, OctetString, Sequence, Constructed, type BaseBlock } from 'asn1js';
import { AlgorithmIdentifier, BasicOCSPResponse, CertID, OCSPRequest, OCSPResponse, Request, TBSRequest, type SingleResponse } from 'pkijs';
import { parseCertificate, type CertificateInfo } from '../../x509/index.js';
import { EKU_OCSP_SIGNING } from '../cert-chain.js';
import { DIGEST_OID, digestByOid, hashBytes, parseBlock, rawBytes, signatureScheme, verifySignature, type DigestName } from './signatures.js';

/** A verified, current answer of an OCSP responder about one certificate. */
export interface OcspAnswer {
  readonly status: 'good' | 'revoked' | 'unknown';
  readonly revokedAt: Date | undefined;
  /** CRLReason code (RFC 5280 5.3.1) */
  readonly reason: number | undefined;
  /** the invalidityDate single extension (RFC 5280 5.3.2), when present */
  readonly invalidityDate: Date | undefined;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date;
}

const OID_OCSP_BASIC = '1.3.6.1.5.5.7.48.1.1';
const OID_INVALIDITY_DATE = '2.5.29.24';

const RESPONSE_STATUS: Readonly<Record<number, string>> = {
  1: 'malformedRequest',
  2: 'internalError',
  3: 'tryLater',
  5: 'sigRequired',
  6: 'unauthorized',
};

/** The subjectPublicKey BIT STRING's bits of an SPKI: what the issuer key hash covers (RFC 6960 4.1.1). */
export function subjectPublicKeyBits(spki: Uint8Array): Buffer {
  const top = parseBlock(spki);
  const bits = top instanceof Sequence ? top.valueBlock.value[1] : undefined;
  if (bits === undefined || bits.idBlock.tagClass !== 1 || bits.idBlock.tagNumber !== 3) throw new Error('malformed SubjectPublicKeyInfo');
  return Buffer.from((bits as unknown as { valueBlock: { valueHexView: Uint8Array } }).valueBlock.valueHexView);
}

function certIdHashes(issuer: CertificateInfo, digest: DigestName): { name: Buffer; key: Buffer } {
  return { name: hashBytes(digest, issuer.subject.der), key: hashBytes(digest, subjectPublicKeyBits(issuer.publicKey.spki)) };
}

/** The DER of an OCSPRequest for `cert` (SHA-1 CertID, no nonce, unsigned). */
export function buildOcspRequest(cert: CertificateInfo, issuer: CertificateInfo): Buffer {
  const { name, key } = certIdHashes(issuer, 'sha1');
  const reqCert = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithmId: DIGEST_OID.sha1, algorithmParams: new Null() }),
    issuerNameHash: new OctetString({ valueHex: name }),
    issuerKeyHash: new OctetString({ valueHex: key }),
    serialNumber: Integer.fromBigInt(cert.serialNumber),
  });
  const request = new OCSPRequest({ tbsRequest: new TBSRequest({ requestList: [new Request({ reqCert })] }) });
  return Buffer.from(request.toSchema(true).toBER(false));
}

/** Reads and verifies a responder's answer about `cert`. Throws Error saying why it cannot be used. */
export function readOcspResponse(body: Uint8Array, cert: CertificateInfo, issuer: CertificateInfo, now: number): OcspAnswer {
  let response: OCSPResponse;
  try {
    response = OCSPResponse.fromBER(body);
  } catch (err) {
    throw new Error('the answer is not an OCSP response', { cause: err });
  }
  const status = response.responseStatus.valueBlock.valueDec;
  if (status !== 0) throw new Error(`the responder answered ${RESPONSE_STATUS[status] ?? `status ${status}`}`);
  const bytes = response.responseBytes;
  if (bytes === undefined) throw new Error('the response has no responseBytes');
  if (bytes.responseType !== OID_OCSP_BASIC) throw new Error(`unsupported response type ${bytes.responseType}`);
  const basicDer = bytes.response.valueBlock.valueHexView;
  let basic: BasicOCSPResponse;
  try {
    basic = BasicOCSPResponse.fromBER(basicDer);
  } catch (err) {
    throw new Error('malformed BasicOCSPResponse', { cause: err });
  }

  checkResponseSignature(basic, basicDer, issuer, now);
  const single = matchingResponse(basic.tbsResponseData.responses, cert, issuer);
  for (const ext of single.singleExtensions ?? []) {
    // x/crypto/ocsp refuses every critical single extension (invalidityDate is never critical).
    if (ext.critical) throw new Error(`unsupported critical extension ${ext.extnID} in the response`);
  }
  const { thisUpdate, nextUpdate } = single;
  if (nextUpdate === undefined) throw new Error('the response has no nextUpdate, so it cannot be known to be current');
  if (now > nextUpdate.getTime()) throw new Error(`expired OCSP response: nextUpdate ${nextUpdate.toISOString()} has passed`);
  if (thisUpdate.getTime() > now + DEFAULTS.revocationClockSkewMs) throw new Error(`the response's thisUpdate ${thisUpdate.toISOString()} is in the future`);
  return { ...certStatus(single.certStatus as unknown), invalidityDate: invalidityDate(single), thisUpdate, nextUpdate };
}

/**
 * The response signature: by the issuer's key, else by a responder certificate of the response
 * that the issuer signed, that has the OCSPSigning EKU and is valid now (RFC 6960 4.2.2.2).
 */
function checkResponseSignature(basic: BasicOCSPResponse, basicDer: Uint8Array, issuer: CertificateInfo, now: number): void {
  const scheme = signatureScheme(basic.signatureAlgorithm.algorithmId, basic.signatureAlgorithm.algorithmParams as BaseBlock | undefined);
  if (typeof scheme === 'string') throw new Error(`the response is signed with an ${scheme}`);
  const tbs = basic.tbsResponseData.tbsView;
  const signature = basic.signature.valueBlock.valueHexView;
  if (verifySignature(scheme, issuer.publicKey.key, tbs, signature)) return;

  for (const responder of responderCertificates(basicDer)) {
    if (!responder.issuer.der.equals(issuer.subject.der) || !responder.verifySignature(issuer.publicKey.key)) continue;
    if (!verifySignature(scheme, responder.publicKey.key, tbs, signature)) continue;
    if (!responder.extKeyUsage.includes(EKU_OCSP_SIGNING)) {
      throw new Error(`the responder certificate ${JSON.stringify(responder.subject.text)} lacks the OCSPSigning extended key usage`);
    }
    if (now < responder.notBefore.getTime() || now > responder.notAfter.getTime()) {
      throw new Error(`the responder certificate ${JSON.stringify(responder.subject.text)} is not valid now`);
    }
    return;
  }
  throw new Error(`bad OCSP signature: the response is signed neither by the issuer ${JSON.stringify(issuer.subject.text)} nor by a responder it authorised`);
}

/** The certs [0] EXPLICIT SEQUENCE OF Certificate of a BasicOCSPResponse, exactly as encoded. */
function responderCertificates(basicDer: Uint8Array): CertificateInfo[] {
  const top = parseBlock(basicDer);
  const wrapper = top instanceof Sequence ? top.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0) : undefined;
  const list = wrapper instanceof Constructed ? wrapper.valueBlock.value[0] : undefined;
  if (!(list instanceof Sequence)) return [];
  const certs: CertificateInfo[] = [];
  for (const block of list.valueBlock.value.slice(0, 8)) {
    try {
      certs.push(parseCertificate(rawBytes(block)));
    } catch {
      // an unparsable certificate cannot authorise anything: skip it
    }
  }
  return certs;
}

/** The SingleResponse about `cert`: same serial, and issuer hashes that match under its CertID hash. */
function matchingResponse(responses: readonly SingleResponse[], cert: CertificateInfo, issuer: CertificateInfo): SingleResponse {
  for (const single of responses) {
    const id = single.certID;
    if (id.serialNumber.toBigInt() !== cert.serialNumber) continue;
    const digest = digestByOid(id.hashAlgorithm.algorithmId);
    if (digest === undefined) continue;
    const expected = certIdHashes(issuer, digest);
    if (
      expected.name.equals(Buffer.from(id.issuerNameHash.valueBlock.valueHexView)) &&
      expected.key.equals(Buffer.from(id.issuerKeyHash.valueBlock.valueHexView))
    ) {
      return single;
    }
  }
  throw new Error('no response matching the certificate');
}

/** CertStatus ::= CHOICE { good [0] NULL, revoked [1] RevokedInfo, unknown [2] UnknownInfo }. */
function certStatus(block: unknown): Pick<OcspAnswer, 'status' | 'revokedAt' | 'reason'> {
  const id = (block as { idBlock?: { tagClass?: number; tagNumber?: number } } | null)?.idBlock;
  if (id?.tagClass !== 3) throw new Error('malformed certStatus');
  if (id.tagNumber === 0) return { status: 'good', revokedAt: undefined, reason: undefined };
  if (id.tagNumber === 2) return { status: 'unknown', revokedAt: undefined, reason: undefined };
  if (id.tagNumber !== 1 || !(block instanceof Constructed)) throw new Error('malformed certStatus');
  const [time, reasonWrapper] = block.valueBlock.value;
  if (!(time instanceof GeneralizedTime)) throw new Error('malformed RevokedInfo');
  let reason: number | undefined;
  if (reasonWrapper instanceof Constructed) {
    const value = reasonWrapper.valueBlock.value[0];
    if (!(value instanceof Enumerated)) throw new Error('malformed revocationReason');
    reason = value.valueBlock.valueDec;
  }
  return { status: 'revoked', revokedAt: time.toDate(), reason };
}

function invalidityDate(single: SingleResponse): Date | undefined {
  const ext = single.singleExtensions?.find((e) => e.extnID === OID_INVALIDITY_DATE);
  if (ext === undefined) return undefined;
  const value = parseBlock(ext.extnValue.valueBlock.valueHexView);
  // notation-core-go ignores an invalidityDate it cannot read.
  return value instanceof GeneralizedTime ? value.toDate() : undefined;
}
