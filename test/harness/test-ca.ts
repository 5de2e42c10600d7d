// @peculiar/x509 needs a Reflect metadata polyfill evaluated before it (see src/trust/x509/library.ts).
import 'reflect-metadata';
import { randomBytes, webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/**
 * A throwaway certificate authority for TLS tests: a self-signed root (EC P-256), issuing
 * server certificates (SAN 127.0.0.1 and localhost) and client certificates (a commonName,
 * optionally an email SAN) for mTLS. Everything is PEM, as Signet's config files hold it.
 */

export interface IssuedCertificate {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
}

export interface TestCa {
  readonly certPem: string;
  server(): Promise<IssuedCertificate>;
  client(subject: { commonName: string; email?: string }): Promise<IssuedCertificate>;
}

const crypto = webcrypto;
const EC_P256: webcrypto.EcKeyGenParams = { name: 'ECDSA', namedCurve: 'P-256' };
const SIGN_SHA256: webcrypto.EcdsaParams = { name: 'ECDSA', hash: 'SHA-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

function serialNumber(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f; // positive INTEGER
  return bytes.toString('hex');
}

function pem(label: string, der: ArrayBuffer): string {
  const lines =
    Buffer.from(der)
      .toString('base64')
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

export async function createTestCa(name = 'Signet test CA'): Promise<TestCa> {
  const now = Date.now();
  const validity = { notBefore: new Date(now - DAY_MS), notAfter: new Date(now + 30 * DAY_MS) };
  const caName = `CN=${name}`;
  const caKeys = await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const caSki = await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey, false, crypto);
  const root = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: serialNumber(),
      name: caName,
      ...validity,
      signingAlgorithm: SIGN_SHA256,
      keys: caKeys,
      extensions: [
        new x509.BasicConstraintsExtension(true, 0, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
        caSki,
      ],
    },
    crypto,
  );

  const issue = async (subject: string, usage: string, names: x509.JsonGeneralName[]): Promise<IssuedCertificate> => {
    const keys = await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
    const cert = await x509.X509CertificateGenerator.create(
      {
        serialNumber: serialNumber(),
        subject,
        issuer: caName,
        ...validity,
        signingAlgorithm: SIGN_SHA256,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([usage]),
          new x509.AuthorityKeyIdentifierExtension(caSki.keyId, false),
          ...(names.length > 0 ? [new x509.SubjectAlternativeNameExtension(names, false)] : []),
        ],
      },
      crypto,
    );
    return { certPem: cert.toString('pem'), keyPem: pem('PRIVATE KEY', await crypto.subtle.exportKey('pkcs8', keys.privateKey)) };
  };

  return {
    certPem: root.toString('pem'),
    server: () =>
      issue('CN=127.0.0.1', x509.ExtendedKeyUsage.serverAuth, [
        { type: 'ip', value: '127.0.0.1' },
        { type: 'dns', value: 'localhost' },
      ]),
    client: ({ commonName, email }) =>
      issue(`CN=${commonName}`, x509.ExtendedKeyUsage.clientAuth, email === undefined ? [] : [{ type: 'email', value: email }]),
  };
}
