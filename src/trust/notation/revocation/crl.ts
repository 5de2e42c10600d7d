/**
 * Certificate revocation lists (RFC 5280 5) as notation-core-go's revocation/internal/crl and
 * revocation/crl read them:
 * - a CRL is parsed once into a compact form (entries by serial) and kept while it is current;
 * - it is valid for a certificate when the certificate's issuer signed it (Go
 *   RevocationList.CheckSignatureFrom: the issuer is a CA, has cRLSign when it has a keyUsage),
 *   it has a nextUpdate that has not passed, and no critical extension other than
 *   issuingDistributionPoint and deltaCRLIndicator. An indirect CRL (one signed by another CRL
 *   issuer) therefore does not verify, and an entry carrying the critical certificateIssuer
 *   extension of an indirect CRL makes the status unknown, as in notation-core-go;
 * - a delta CRL is the one the base CRL's FreshestCRL extension names (RFC 5280 5.2.6): valid
 *   like the base, with a greater CRL number and a deltaCRLIndicator not above the base's
 *   number (RFC 5280 5.2.4). A certificate that names a freshest CRL its base CRL does not is
 *   not supported (notation-core-go: the delta's scope cannot be checked);
 * - the status: a matching entry revokes, except certificateHold/removeFromCRL pairs, where the
 *   latest decides; an invalidityDate after the signing time means the signature predates it.
 */
import { DEFAULTS } from '../../../config/defaults.js';
import { Enumerated, GeneralizedTime, Integer, type BaseBlock } from 'asn1js';
import { CertificateRevocationList, type Extension } from 'pkijs';
import { KEY_USAGE, type CertificateInfo } from '../../x509/index.js';
import { distributionPointUrls, OID_FRESHEST_CRL } from './endpoints.js';
import { hashBytes, parseBlock, signatureScheme, verifySignature, type SignatureScheme } from './signatures.js';

const OID_CRL_NUMBER = '2.5.29.20';
const OID_DELTA_CRL_INDICATOR = '2.5.29.27';
const OID_ISSUING_DISTRIBUTION_POINT = '2.5.29.28';
const OID_REASON_CODE = '2.5.29.21';
const OID_INVALIDITY_DATE = '2.5.29.24';

const REASON_CERTIFICATE_HOLD = 6;
const REASON_REMOVE_FROM_CRL = 8;

interface RawExtension {
  readonly oid: string;
  readonly critical: boolean;
  readonly value: Buffer;
}

export interface CrlEntry {
  readonly revokedAt: Date;
  readonly reason: number | undefined;
  /** entry extensions, kept only when there are any besides the reason code */
  readonly extensions: readonly RawExtension[];
}

/** A parsed CRL: what validation and lookups need, without the ASN.1 tree. */
export interface ParsedCrl {
  readonly tbs: Buffer;
  readonly scheme: SignatureScheme | string;
  readonly signature: Buffer;
  readonly thisUpdate: Date;
  readonly nextUpdate: Date | undefined;
  readonly number: bigint | undefined;
  readonly deltaIndicator: bigint | undefined;
  /** FreshestCRL URLs of a base CRL */
  readonly freshest: readonly string[];
  readonly criticalExtensions: readonly string[];
  readonly entries: ReadonlyMap<bigint, readonly CrlEntry[]>;
  /** signature results by issuer key (SPKI SHA-256 hex): a cached CRL is checked once per issuer */
  readonly verified: Map<string, boolean>;
}

/** A base CRL and the delta CRL its FreshestCRL extension named, if any. */
export interface CrlBundle {
  readonly base: ParsedCrl;
  readonly delta: ParsedCrl | undefined;
}

function extensionsOf(list: readonly Extension[] | undefined): RawExtension[] {
  return (list ?? []).map((e) => ({ oid: e.extnID, critical: e.critical, value: Buffer.from(e.extnValue.valueBlock.valueHexView) }));
}

function integerExtension(extensions: readonly RawExtension[], oid: string): bigint | undefined {
  const ext = extensions.find((e) => e.oid === oid);
  if (ext === undefined) return undefined;
  const value = parseBlock(ext.value);
  if (!(value instanceof Integer)) throw new Error(`malformed extension ${oid}`);
  return value.toBigInt();
}

/** Parses a DER CRL (Go x509.ParseRevocationList's structural checks). Throws Error. */
export function parseCrl(der: Uint8Array): ParsedCrl {
  let crl: CertificateRevocationList;
  try {
    crl = CertificateRevocationList.fromBER(der);
  } catch (err) {
    throw new Error('the answer is not a DER certificate revocation list', { cause: err });
  }
  if (crl.signature.algorithmId !== crl.signatureAlgorithm.algorithmId) throw new Error('inner and outer signature algorithm identifiers differ');
  if (crl.version !== 0 && crl.version !== 1) throw new Error(`unsupported CRL version ${crl.version + 1}`);
  const extensions = extensionsOf(crl.crlExtensions?.extensions);
  const freshestExt = extensions.find((e) => e.oid === OID_FRESHEST_CRL);
  const entries = new Map<bigint, CrlEntry[]>();
  for (const revoked of crl.revokedCertificates ?? []) {
    const entryExtensions = extensionsOf(revoked.crlEntryExtensions?.extensions);
    let reason: number | undefined;
    const reasonExt = entryExtensions.find((e) => e.oid === OID_REASON_CODE);
    if (reasonExt !== undefined) {
      const value = parseBlock(reasonExt.value);
      if (!(value instanceof Enumerated)) throw new Error('malformed CRL entry reason code');
      reason = value.valueBlock.valueDec;
    }
    const serial = revoked.userCertificate.toBigInt();
    const list = entries.get(serial) ?? [];
    list.push({ revokedAt: revoked.revocationDate.value, reason, extensions: entryExtensions.filter((e) => e.oid !== OID_REASON_CODE) });
    entries.set(serial, list);
  }
  return {
    tbs: Buffer.from(crl.tbsView),
    scheme: signatureScheme(crl.signatureAlgorithm.algorithmId, crl.signatureAlgorithm.algorithmParams as BaseBlock | undefined),
    signature: Buffer.from(crl.signatureValue.valueBlock.valueHexView),
    thisUpdate: crl.thisUpdate.value,
    nextUpdate: crl.nextUpdate?.value,
    number: integerExtension(extensions, OID_CRL_NUMBER),
    deltaIndicator: integerExtension(extensions, OID_DELTA_CRL_INDICATOR),
    freshest: freshestExt === undefined ? [] : distributionPointUrls(freshestExt.value),
    criticalExtensions: extensions.filter((e) => e.critical && e.oid !== OID_ISSUING_DISTRIBUTION_POINT && e.oid !== OID_DELTA_CRL_INDICATOR).map((e) => e.oid),
    entries,
    verified: new Map(),
  };
}

/** Whether the CRL is still current at `now` (a cached one is fetched again once it is not). */
export function crlCurrent(crl: ParsedCrl, now: number): boolean {
  return crl.nextUpdate !== undefined && now <= crl.nextUpdate.getTime();
}

/** notation-core-go validateCRL: why this CRL cannot be used for certificates of `issuer`, or undefined. */
function crlProblem(crl: ParsedCrl, issuer: CertificateInfo, now: number): string | undefined {
  const bc = issuer.basicConstraints;
  if ((issuer.version === 3 && bc === undefined) || (bc !== undefined && !bc.ca)) return `the issuer ${JSON.stringify(issuer.subject.text)} is not a CA`;
  if (issuer.keyUsage !== undefined && issuer.keyUsage !== 0 && (issuer.keyUsage & KEY_USAGE.cRLSign) === 0) {
    return `the issuer ${JSON.stringify(issuer.subject.text)} may not sign CRLs (no cRLSign key usage)`;
  }
  if (typeof crl.scheme === 'string') return `the CRL is signed with an ${crl.scheme}`;
  const key = hashBytes('sha256', issuer.publicKey.spki).toString('hex');
  let valid = crl.verified.get(key);
  if (valid === undefined) {
    valid = verifySignature(crl.scheme, issuer.publicKey.key, crl.tbs, crl.signature);
    crl.verified.set(key, valid);
  }
  if (!valid) return `the CRL is not signed by the issuer ${JSON.stringify(issuer.subject.text)}`;
  if (crl.nextUpdate === undefined) return 'the CRL has no nextUpdate';
  if (now > crl.nextUpdate.getTime()) return `expired CRL: nextUpdate ${crl.nextUpdate.toISOString()} has passed`;
  if (crl.thisUpdate.getTime() > now + DEFAULTS.revocationClockSkewMs) return `the CRL's thisUpdate ${crl.thisUpdate.toISOString()} is in the future`;
  const critical = crl.criticalExtensions[0];
  if (critical !== undefined) return `unsupported critical extension ${critical} in the CRL`;
  return undefined;
}

/** notation-core-go validate: the base CRL, and the delta CRL against it (RFC 5280 5.2.4). */
export function bundleProblem(bundle: CrlBundle, issuer: CertificateInfo, now: number): string | undefined {
  const { base, delta } = bundle;
  if (base.deltaIndicator !== undefined) return 'the CRL at a distribution point is a delta CRL, not a base CRL';
  const baseProblem = crlProblem(base, issuer, now);
  if (baseProblem !== undefined) return `base CRL: ${baseProblem}`;
  if (delta === undefined) return undefined;
  const deltaProblem = crlProblem(delta, issuer, now);
  if (deltaProblem !== undefined) return `delta CRL: ${deltaProblem}`;
  if (delta.number === undefined || base.number === undefined || delta.number <= base.number) {
    return `delta CRL number ${String(delta.number)} is not greater than the base CRL number ${String(base.number)}`;
  }
  if (delta.deltaIndicator === undefined) return 'the delta CRL has no delta CRL indicator extension';
  if (delta.deltaIndicator > base.number) return `the delta CRL indicator ${delta.deltaIndicator} is above the base CRL number ${base.number}`;
  return undefined;
}

export type CrlStatus = { status: 'ok' } | { status: 'revoked'; revokedAt: Date; reason: number | undefined };

/**
 * notation-core-go checkRevocation over the base and delta entries for `serial`. `signingTime`
 * (undefined: none) is compared with an entry's invalidityDate. Throws Error for an entry with
 * an unsupported critical extension or a malformed invalidityDate.
 */
export function crlLookup(bundle: CrlBundle, serial: bigint, signingTime: Date | undefined): CrlStatus {
  const entries = [...(bundle.base.entries.get(serial) ?? []), ...(bundle.delta?.entries.get(serial) ?? [])];
  let latestTemporary: CrlEntry | undefined;
  for (const entry of entries) {
    let invalidity: Date | undefined;
    for (const ext of entry.extensions) {
      if (ext.oid === OID_INVALIDITY_DATE) {
        const value = parseBlock(ext.value);
        if (!(value instanceof GeneralizedTime)) throw new Error('malformed invalidity date in a CRL entry');
        invalidity = value.toDate();
      } else if (ext.critical) {
        throw new Error(`unsupported critical extension ${ext.oid} in a CRL entry (indirect CRLs are not supported)`);
      }
    }
    // The key was good until the invalidity date: a signature made before it stands.
    if (signingTime !== undefined && invalidity !== undefined && signingTime.getTime() < invalidity.getTime()) return { status: 'ok' };
    if (entry.reason === REASON_CERTIFICATE_HOLD || entry.reason === REASON_REMOVE_FROM_CRL) {
      if (latestTemporary === undefined || latestTemporary.revokedAt.getTime() < entry.revokedAt.getTime()) latestTemporary = entry;
      continue;
    }
    return { status: 'revoked', revokedAt: entry.revokedAt, reason: entry.reason };
  }
  if (latestTemporary?.reason === REASON_CERTIFICATE_HOLD) return { status: 'revoked', revokedAt: latestTemporary.revokedAt, reason: REASON_CERTIFICATE_HOLD };
  return { status: 'ok' };
}
