/**
 * Where a certificate says its revocation status is published, read as Go's crypto/x509
 * parser reads it (parser.go, the Authority Information Access and CRL Distribution Points
 * cases), and which of those endpoints the operator lets Signet contact.
 */
import { Constructed, ObjectIdentifier, Primitive, Sequence, type BaseBlock } from 'asn1js';
import { parseHostPattern } from '../../../registry/host-guard.js';
import type { CertificateInfo } from '../../x509/index.js';
import { parseBlock } from './signatures.js';

const OID_AUTHORITY_INFO_ACCESS = '1.3.6.1.5.5.7.1.1';
const OID_AD_OCSP = '1.3.6.1.5.5.7.48.1';
const OID_CRL_DISTRIBUTION_POINTS = '2.5.29.31';
export const OID_FRESHEST_CRL = '2.5.29.46';

/** A GeneralName uniformResourceIdentifier: [6] IMPLICIT IA5String. */
function uriOf(block: BaseBlock | undefined): string | undefined {
  if (!(block instanceof Primitive) || block.idBlock.tagClass !== 3 || block.idBlock.tagNumber !== 6) return undefined;
  return Buffer.from(block.valueBlock.valueHexView).toString('latin1');
}

/**
 * The OCSP responder URLs of the AIA extension (RFC 5280 4.2.2.1): every id-ad-ocsp access
 * description whose location is a URI (Go: Certificate.OCSPServer). Throws on a malformed extension.
 */
export function ocspServers(cert: CertificateInfo): string[] {
  const ext = cert.extensions.find((e) => e.oid === OID_AUTHORITY_INFO_ACCESS);
  if (ext === undefined) return [];
  const top = parseBlock(ext.value);
  if (!(top instanceof Sequence)) throw new Error('malformed authority information access extension');
  const urls: string[] = [];
  for (const description of top.valueBlock.value) {
    const [method, location] = description instanceof Sequence ? description.valueBlock.value : [];
    if (!(method instanceof ObjectIdentifier)) throw new Error('malformed authority information access extension');
    const uri = uriOf(location);
    if (uri !== undefined && method.getValue() === OID_AD_OCSP) urls.push(uri);
  }
  return urls;
}

/**
 * The URIs of the fullName of every distribution point (RFC 5280 4.2.1.13), as Go's parser
 * collects them (reasons and cRLIssuer are not read; a fullName's URIs up to its first other
 * name). Used for the certificate's CRLDistributionPoints and a CRL's FreshestCRL alike.
 */
export function distributionPointUrls(value: Uint8Array): string[] {
  const top = parseBlock(value);
  if (!(top instanceof Sequence)) throw new Error('malformed CRL distribution points');
  const urls: string[] = [];
  for (const point of top.valueBlock.value) {
    if (!(point instanceof Sequence)) throw new Error('malformed CRL distribution point');
    const name = point.valueBlock.value.find((b) => b.idBlock.tagClass === 3 && b.idBlock.tagNumber === 0);
    if (name === undefined) continue;
    if (!(name instanceof Constructed)) throw new Error('malformed CRL distribution point');
    const fullName = name.valueBlock.value[0];
    if (fullName === undefined || fullName.idBlock.tagClass !== 3 || fullName.idBlock.tagNumber !== 0) continue;
    if (!(fullName instanceof Constructed)) throw new Error('malformed CRL distribution point');
    for (const general of fullName.valueBlock.value) {
      const uri = uriOf(general);
      if (uri === undefined) break;
      urls.push(uri);
    }
  }
  return urls;
}

/** The certificate's CRL distribution point URLs (Go: Certificate.CRLDistributionPoints). */
export function crlDistributionPoints(cert: CertificateInfo): string[] {
  const ext = cert.extensions.find((e) => e.oid === OID_CRL_DISTRIBUTION_POINTS);
  return ext === undefined ? [] : distributionPointUrls(ext.value);
}

/**
 * `trust.revocation.allowedHosts`: `host` (the scheme's default port), `host:port`, `*.domain`
 * (any name under the domain), `*.domain:port`, as the config schema validates
 * them (src/registry/host-guard.ts parseHostPattern).
 */
export function allowedHostMatcher(allowedHosts: readonly string[]): (url: URL) => boolean {
  const patterns = allowedHosts.map(parseHostPattern);
  return (url) => {
    const host = url.hostname.replace(/\.$/, '');
    const port = url.port === '' ? (url.protocol === 'https:' ? 443 : 80) : Number(url.port);
    // WHATWG URL leaves `port` empty exactly when it is the scheme's default.
    return patterns.some((p) => (p.port === undefined ? url.port === '' : p.port === port) && (p.wildcard ? host.endsWith(`.${p.host}`) : host === p.host));
  };
}
