import type { CertificateInfo } from '../x509/index.js';

/**
 * The shared vocabulary of Notation (Notary Project) verification
 * (notaryproject/specifications: signature-specification.md, trust-store-trust-policy.md,
 * signing-and-verification-workflow.md).
 */

/** The validation types a trust policy's `signatureVerification` names. */
export type NotationCheck = 'integrity' | 'authenticity' | 'authenticTimestamp' | 'expiry' | 'revocation';

/** What a level (or an override) does with a check's failure. */
export type CheckAction = 'enforce' | 'log' | 'skip';

export type VerificationLevelName = 'strict' | 'permissive' | 'audit' | 'skip';

/** Trust store types of a trust store directory `x509/<type>/<name>/`. */
export type TrustStoreType = 'ca' | 'signingAuthority' | 'tsa';

/** One trust policy statement as validated (trust-store-trust-policy.md, "Trust Policy Properties"). */
export interface TrustPolicyStatement {
  name: string;
  /** `<registry>/<repository>` scopes, or the single global scope "*". */
  registryScopes: readonly string[];
  level: VerificationLevelName;
  /** The action of each check after the level's defaults and `override` are applied. */
  actions: Readonly<Record<NotationCheck, CheckAction>>;
  /** `verifyTimestamp`: "always" (default) or "afterCertExpiry". */
  verifyTimestamp: 'always' | 'afterCertExpiry';
  /** `<type>:<name>` references, as written. */
  trustStores: readonly { type: TrustStoreType; name: string }[];
  /** `*` (any identity), or x509 subjects each given as attribute → value (a subset match). */
  trustedIdentities: '*' | readonly TrustedIdentity[];
}

export interface TrustedIdentity {
  /** As written in the policy, for messages ("x509.subject: C=US, ST=WA, O=acme, CN=builder"). */
  text: string;
  /** Attribute short name (C, ST, L, O, OU, CN, ...) → value; every one must equal the leaf's. */
  attributes: ReadonlyArray<readonly [string, string]>;
}

/** A trust policy document: its statements in order. */
export interface TrustPolicyDocument {
  version: string;
  statements: readonly TrustPolicyStatement[];
}

/** Trust stores by type and name: the certificates each holds. */
export interface TrustStoreSet {
  get(type: TrustStoreType, name: string): readonly CertificateInfo[] | undefined;
  /** Every named store, for messages and `trust inspect`. */
  names(): ReadonlyArray<{ type: TrustStoreType; name: string; count: number }>;
}

/** The revocation status of one certificate of a chain (revocation.md of notation-go's semantics). */
export type RevocationResult =
  | { status: 'ok'; method: 'ocsp' | 'crl' }
  /** The certificate has no OCSP or CRL endpoint: nothing can revoke it. */
  | { status: 'nonRevokable' }
  | { status: 'revoked'; method: 'ocsp' | 'crl'; revokedAt: Date | undefined; reason: string | undefined }
  /** Could not be determined (endpoint not allowed, unreachable, malformed or untrusted answer): `why` says what. */
  | { status: 'unknown'; why: string };

/**
 * Checks a chain, leaf first, root last, for revocation: OCSP first, CRL when the certificate has
 * no OCSP endpoint or OCSP is unknown. One result per certificate, in chain order.
 */
export interface RevocationChecker {
  check(chain: readonly CertificateInfo[], purpose: 'codeSigning' | 'timestamping', at: Date): Promise<RevocationResult[]>;
}
