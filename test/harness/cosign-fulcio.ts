// @peculiar/x509 needs a Reflect metadata polyfill evaluated before it (see src/trust/x509/library.ts).
import 'reflect-metadata';
import { createHash, randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';
import type { CTLog } from '@sigstore/mock/dist/fulcio/index.js';

/**
 * A Fulcio-shaped certificate authority for @sigstore/mock's Fulcio request handler: a root and
 * an intermediate (public-good Fulcio's chain shape), issuing 10-minute leaf certificates for an
 * ephemeral key, with the SAN an email address or a URI as Fulcio does, the OIDC claims as the
 * Fulcio extensions the handler derives (issuer in 1.3.6.1.4.1.57264.1.1 and .1.8, GitHub
 * workflow data in the others), and an SCT from the mock CT log embedded (RFC 6962 §3.3). The
 * mock's own CA cannot issue an email SAN nor a certificate valid at another time than now.
 */

/** An extension the mock Fulcio handler derives from a token claim (its fulcio/ca.ts ExtensionValue). */
interface ExtensionValue {
  oid: string;
  value: string;
  legacy?: boolean;
}

/** @sigstore/mock's CA interface (fulcioHandler's argument). */
export interface FulcioCA {
  rootCertificate: ArrayBufferView<ArrayBuffer>;
  issueCertificate: (options: {
    publicKey: ArrayBufferView<ArrayBuffer>;
    subjectAltName: string;
    extensions?: ExtensionValue[];
  }) => Promise<ArrayBufferView<ArrayBuffer>>;
}

export interface ValidityWindow {
  notBefore: Date;
  notAfter: Date;
}

export interface FulcioAuthority {
  /** DER: intermediate first, then the root (a trusted root's `certChain`). */
  readonly chain: Buffer[];
  /** Whole-chain validity (what a trusted root's `validFor` may claim at most). */
  readonly validity: ValidityWindow;
  /** A CA for the mock handler whose leaves are valid over `window` (default: now for 10 minutes, as Fulcio). */
  withLeafWindow(window?: ValidityWindow): FulcioCA;
}

const crypto = webcrypto;
const ECDSA_P384: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-384' };
const SIGN_SHA384: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-384' };
const OID_SCT_LIST = '1.3.6.1.4.1.11129.2.4.2';
const LEAF_MINUTES = 10;
const DAY_MS = 24 * 60 * 60 * 1000;

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = Buffer.from(n.toString(16).padStart(n > 0xff ? 4 : 2, '0'), 'hex');
  return Buffer.concat([Buffer.from([0x80 | bytes.length]), bytes]);
}

function derTagged(tag: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([tag]), derLength(content.length), content]);
}

/** Fulcio encodes the newer extensions as DER UTF8String, the legacy (.1.1–.1.6) ones as raw bytes. */
function claimExtension(ext: ExtensionValue): x509.Extension {
  const value = ext.legacy === true ? Buffer.from(ext.value) : derTagged(0x0c, Buffer.from(ext.value, 'utf8'));
  return new x509.Extension(ext.oid, false, value);
}

/** RFC 6962 §3.3: the extension value is an OCTET STRING holding the TLS-encoded SCT list. */
function sctListExtension(sct: ArrayBuffer): x509.Extension {
  const serialized = Buffer.from(sct); // already carries its own 2-byte length
  const list = Buffer.concat([Buffer.from([serialized.length >> 8, serialized.length & 0xff]), serialized]);
  return new x509.Extension(OID_SCT_LIST, false, derTagged(0x04, list));
}

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return bytes.toString('hex');
}

/** Fulcio's SAN: an email for email identities, else a URI (workflow, SPIFFE, ...). */
function subjectAltName(identity: string): x509.SubjectAlternativeNameExtension {
  const email = /^[^@\s:/]+@[^@\s:/]+$/.test(identity);
  return new x509.SubjectAlternativeNameExtension([{ type: email ? 'email' : 'url', value: identity }], true);
}

/** Starts a CA whose root and intermediate are valid from a day ago for a year. */
export async function startFulcioAuthority(ctLog: CTLog): Promise<FulcioAuthority> {
  const now = Date.now();
  const validity: ValidityWindow = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 365 * DAY_MS) };
  const rootKeys = await crypto.subtle.generateKey(ECDSA_P384, true, ['sign', 'verify']);
  const intermediateKeys = await crypto.subtle.generateKey(ECDSA_P384, true, ['sign', 'verify']);
  const caUsage = (x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign) as x509.KeyUsageFlags;
  const rootName = 'CN=sigstore,O=sigstore.mock';
  const intermediateName = 'CN=sigstore-intermediate,O=sigstore.mock';
  const rootSki = await x509.SubjectKeyIdentifierExtension.create(rootKeys.publicKey, false, crypto);
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: rootName,
      ...validity,
      signingAlgorithm: SIGN_SHA384,
      keys: rootKeys,
      extensions: [new x509.BasicConstraintsExtension(true, 1, true), new x509.KeyUsagesExtension(caUsage, true), rootSki],
    },
    crypto,
  );
  const intermediateSki = await x509.SubjectKeyIdentifierExtension.create(intermediateKeys.publicKey, false, crypto);
  const intermediate = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serialNumber(),
      subject: intermediateName,
      issuer: rootName,
      ...validity,
      signingAlgorithm: SIGN_SHA384,
      publicKey: intermediateKeys.publicKey,
      signingKey: rootKeys.privateKey,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(caUsage, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
        intermediateSki,
        new x509.AuthorityKeyIdentifierExtension(rootSki.keyId, false),
      ],
    },
    crypto,
  );
  const intermediateSpki = Buffer.from(await crypto.subtle.exportKey('spki', intermediateKeys.publicKey));
  // RFC 6962 §3.2: a precertificate SCT names its issuer by the sha256 of the issuer's key.
  const issuerKeyHash = createHash('sha256').update(intermediateSpki).digest();
  const rootDer = Buffer.from(root.rawData);

  const issue = async (window: ValidityWindow, request: Parameters<FulcioCA['issueCertificate']>[0]): Promise<Buffer<ArrayBuffer>> => {
    const publicKey = await crypto.subtle.importKey(
      'spki',
      Buffer.from(request.publicKey.buffer, request.publicKey.byteOffset, request.publicKey.byteLength),
      { name: 'ECDSA', namedCurve: 'P-256' },
      true,
      ['verify'],
    );
    const params = {
      serialNumber: serialNumber(),
      issuer: intermediateName,
      ...window,
      signingAlgorithm: SIGN_SHA384,
      publicKey,
      signingKey: intermediateKeys.privateKey,
      extensions: [
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.codeSigning]),
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, crypto),
        new x509.AuthorityKeyIdentifierExtension(intermediateSki.keyId, false),
        subjectAltName(request.subjectAltName),
        ...(request.extensions ?? []).map(claimExtension),
      ],
    };
    // The precertificate is the same TBS without the SCT extension (RFC 6962 §3.2).
    const precert = await x509.X509CertificateGenerator.create(params, crypto);
    const sct = await ctLog.log(precert.rawData, issuerKeyHash.buffer.slice(issuerKeyHash.byteOffset, issuerKeyHash.byteOffset + issuerKeyHash.byteLength));
    const leaf = await x509.X509CertificateGenerator.create({ ...params, extensions: [...params.extensions, sctListExtension(sct)] }, crypto);
    return Buffer.from(leaf.rawData);
  };

  return {
    chain: [Buffer.from(intermediate.rawData), rootDer],
    validity,
    withLeafWindow: (window) => ({
      rootCertificate: rootDer,
      issueCertificate: (request) => {
        const start = new Date();
        return issue(window ?? { notBefore: start, notAfter: new Date(start.getTime() + LEAF_MINUTES * 60 * 1000) }, request);
      },
    }),
  };
}
