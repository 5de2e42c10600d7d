/**
 * The certificate chain rules of the Notary Project for a chain given leaf first, root last
 * (notaryproject/specifications signature-specification.md, "Certificate Requirements";
 * notation-core-go x509 ValidateCodeSigningCertChain and ValidateTimestampingCertChain, which
 * its revocation package applies before any OCSP or CRL request). Times are not checked here:
 * the callers check validity at the time that applies to them.
 */
import { isInsecureSignature, KEY_USAGE, EKU, type CertificateInfo } from '../x509/index.js';
import { algorithmForKey } from './key-spec.js';

export type ChainPurpose = 'codeSigning' | 'timestamping';

const OID_KEY_USAGE = '2.5.29.15';
const OID_BASIC_CONSTRAINTS = '2.5.29.19';
const OID_EXT_KEY_USAGE = '2.5.29.37';
export const EKU_OCSP_SIGNING = '1.3.6.1.5.5.7.3.9';

/** Why the chain breaks a rule of `purpose`, or undefined when it keeps them all. */
export function chainProblem(chain: readonly CertificateInfo[], purpose: ChainPurpose): string | undefined {
  const first = chain[0];
  if (first === undefined) return 'certificate chain must contain at least one certificate';
  if (chain.length === 1) {
    // A self-signed signing certificate that is not a CA (notation-core-go: the chain of one).
    // notation-core-go checks the signature alone here (cert.CheckSignature), not the CA constraints of CheckSignatureFrom.
    if (isInsecureSignature(first.signatureAlgorithm)) {
      return `certificate ${subject(first)} is signed with ${first.signatureAlgorithm.name}: MD2, MD5 and SHA-1 signatures are not accepted`;
    }
    if (!first.verifySignature(first.publicKey.key)) {
      return `invalid self-signed certificate ${subject(first)}: its signature does not verify with its own key`;
    }
    if (!first.issuer.der.equals(first.subject.der)) return `invalid self-signed certificate ${subject(first)}: issuer and subject differ`;
    return leafProblem(first, purpose);
  }
  for (let i = 0; i < chain.length; i++) {
    const cert = chain[i] as CertificateInfo;
    const parent = chain[i + 1];
    // Said plainly, rather than as "not issued by" (Go's CheckSignatureFrom refuses these).
    if (isInsecureSignature(cert.signatureAlgorithm)) {
      return `certificate ${subject(cert)} is signed with ${cert.signatureAlgorithm.name}: MD2, MD5 and SHA-1 signatures are not accepted`;
    }
    if (parent === undefined) {
      if (!issuedBy(cert, cert)) {
        return `root certificate ${subject(cert)} is not self-signed: a certificate chain must end with a valid self-signed root certificate`;
      }
    } else {
      if (issuedBy(cert, cert)) {
        return `${i === 0 ? 'leaf' : 'intermediate'} certificate ${subject(cert)} is self-signed: only the root of a chain may be`;
      }
      if (!issuedBy(cert, parent)) return `certificate ${subject(cert)} is not issued by ${subject(parent)}`;
    }
    const problem = i === 0 ? leafProblem(cert, purpose) : caProblem(cert, i - 1, purpose);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

/**
 * Go's isIssuedBy (notation-core-go x509/helper.go): CheckSignatureFrom (the parent may sign
 * certificates: a CA when it is v3 or has basicConstraints, keyCertSign when it has a keyUsage;
 * no MD5 or SHA-1 signature) and the child's issuer equal to the parent's subject.
 */
export function issuedBy(child: CertificateInfo, parent: CertificateInfo): boolean {
  return signatureFrom(child, parent) && child.issuer.der.equals(parent.subject.der);
}

function signatureFrom(child: CertificateInfo, parent: CertificateInfo): boolean {
  const bc = parent.basicConstraints;
  if ((parent.version === 3 && bc === undefined) || (bc !== undefined && !bc.ca)) return false;
  if (parent.keyUsage !== undefined && parent.keyUsage !== 0 && (parent.keyUsage & KEY_USAGE.keyCertSign) === 0) return false;
  if (isInsecureSignature(child.signatureAlgorithm)) return false;
  return child.verifySignature(parent.publicKey.key);
}

/** The subject as messages show it. */
export function subject(cert: CertificateInfo): string {
  return JSON.stringify(cert.subject.text);
}

function keyUsageExtension(cert: CertificateInfo): { critical: boolean } | undefined {
  return cert.extensions.find((e) => e.oid === OID_KEY_USAGE);
}

function caProblem(cert: CertificateInfo, expectedPathLen: number, purpose: ChainPurpose): string | undefined {
  if (cert.basicConstraints?.ca !== true) return `certificate ${subject(cert)}: basic constraints must be present with cA set to true`;
  // signature-specification.md "Root and Intermediate CA Certificates": basicConstraints MUST be
  // critical (notation-core-go checks only cA; the specification is the stricter rule here).
  if (purpose === 'codeSigning' && cert.extensions.find((e) => e.oid === OID_BASIC_CONSTRAINTS)?.critical !== true) {
    return `certificate ${subject(cert)}: the basic constraints extension must be marked critical`;
  }
  const pathLen = cert.basicConstraints.pathLen;
  if (pathLen !== undefined && pathLen < expectedPathLen) {
    return `certificate ${subject(cert)}: expected path length of ${expectedPathLen} but the certificate allows ${pathLen}`;
  }
  const problem = keyUsagePresence(cert, purpose);
  if (problem !== undefined) return problem;
  if (((cert.keyUsage ?? 0) & KEY_USAGE.keyCertSign) === 0) return `certificate ${subject(cert)}: key usage must include keyCertSign`;
  return undefined;
}

/** Code signing certificates need a critical keyUsage (signature-specification.md); timestamping ones only a keyUsage. */
function keyUsagePresence(cert: CertificateInfo, purpose: ChainPurpose): string | undefined {
  const ext = keyUsageExtension(cert);
  if (ext === undefined) return `certificate ${subject(cert)}: the key usage extension must be present`;
  if (purpose === 'codeSigning' && !ext.critical) return `certificate ${subject(cert)}: the key usage extension must be marked critical`;
  return undefined;
}

const LEAF_FORBIDDEN_KEY_USAGE: ReadonlyArray<readonly [number, string]> = [
  [KEY_USAGE.keyEncipherment, 'keyEncipherment'],
  [KEY_USAGE.dataEncipherment, 'dataEncipherment'],
  [KEY_USAGE.keyAgreement, 'keyAgreement'],
  [KEY_USAGE.keyCertSign, 'keyCertSign'],
  [KEY_USAGE.cRLSign, 'cRLSign'],
  [KEY_USAGE.encipherOnly, 'encipherOnly'],
  [KEY_USAGE.decipherOnly, 'decipherOnly'],
];

/**
 * EKUs a code signing leaf must not have (notation-core-go validateCodeSigningExtendedKeyUsage,
 * and anyExtendedKeyUsage, which signature-specification.md "Leaf Certificates" also forbids).
 */
const CODE_SIGNING_EXCLUDED_EKU: ReadonlyArray<readonly [string, string]> = [
  [EKU.any, 'anyExtendedKeyUsage'],
  [EKU.serverAuth, 'serverAuth'],
  [EKU.clientAuth, 'clientAuth'],
  [EKU.emailProtection, 'emailProtection'],
  [EKU.timeStamping, 'timeStamping'],
  [EKU_OCSP_SIGNING, 'OCSPSigning'],
];

function leafProblem(cert: CertificateInfo, purpose: ChainPurpose): string | undefined {
  if (cert.basicConstraints?.ca === true) return `certificate ${subject(cert)}: a leaf certificate must not have cA set to true`;
  const presence = keyUsagePresence(cert, purpose);
  if (presence !== undefined) return presence;
  const usage = cert.keyUsage ?? 0;
  if ((usage & KEY_USAGE.digitalSignature) === 0) return `certificate ${subject(cert)}: key usage must include digitalSignature`;
  const forbidden = LEAF_FORBIDDEN_KEY_USAGE.filter(([bit]) => (usage & bit) !== 0).map(([, name]) => name);
  if (forbidden.length > 0) return `certificate ${subject(cert)}: key usage must be digitalSignature only, but it also has ${forbidden.join(', ')}`;
  const eku = purpose === 'codeSigning' ? codeSigningEkuProblem(cert) : timestampingEkuProblem(cert);
  if (eku !== undefined) return eku;
  return keySpecProblem(cert);
}

function codeSigningEkuProblem(cert: CertificateInfo): string | undefined {
  for (const [oid, name] of CODE_SIGNING_EXCLUDED_EKU) {
    if (cert.extKeyUsage.includes(oid)) return `certificate ${subject(cert)}: extended key usage must not contain ${name}`;
  }
  return undefined;
}

/** RFC 3161 2.3: exactly the timeStamping EKU, in a critical extension. */
export function timestampingEkuProblem(cert: CertificateInfo): string | undefined {
  if (cert.extKeyUsage.length !== 1 || cert.extKeyUsage[0] !== EKU.timeStamping) {
    return `timestamp signing certificate ${subject(cert)} must have timeStamping as its only extended key usage`;
  }
  if (cert.extensions.find((e) => e.oid === OID_EXT_KEY_USAGE)?.critical !== true) {
    return `timestamp signing certificate ${subject(cert)} must have its extended key usage extension marked critical`;
  }
  return undefined;
}

/** notation-core-go ExtractKeySpec: RSA 2048/3072/4096 or ECDSA P-256/P-384/P-521. */
function keySpecProblem(cert: CertificateInfo): string | undefined {
  const key = algorithmForKey(cert.publicKey);
  return key.ok ? undefined : `certificate ${subject(cert)}: ${key.problem}`;
}

/** The first certificate of `chain` not valid at `at`, as a sentence; undefined when all are. */
export function validityProblem(chain: readonly CertificateInfo[], at: Date, what: string): string | undefined {
  for (const cert of chain) {
    if (at.getTime() < cert.notBefore.getTime())
      return `${what} (${at.toISOString()}) is before certificate ${subject(cert)} is valid (from ${cert.notBefore.toISOString()})`;
    if (at.getTime() > cert.notAfter.getTime())
      return `${what} (${at.toISOString()}) is after certificate ${subject(cert)} expired (${cert.notAfter.toISOString()})`;
  }
  return undefined;
}
