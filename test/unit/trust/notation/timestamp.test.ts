// @peculiar/x509 needs a Reflect metadata polyfill evaluated before it.
import 'reflect-metadata';
import { createHash, generateKeyPairSync, randomBytes, sign, webcrypto, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import { Integer, Null, ObjectIdentifier, OctetString, Sequence, Set as Asn1Set } from 'asn1js';
import {
  Accuracy,
  AlgorithmIdentifier,
  Attribute,
  Certificate,
  ContentInfo,
  EncapsulatedContentInfo,
  IssuerAndSerialNumber,
  MessageImprint,
  SignedAndUnsignedAttributes,
  SignedData,
  SignerInfo,
  TSTInfo,
} from 'pkijs';
import { parseCertificate, parseCertificatePem, type CertificateInfo } from '../../../../src/trust/x509/index.js';
import { NotationError } from '../../../../src/trust/notation/errors.js';
import { timestampRange, verifyTimestampToken } from '../../../../src/trust/notation/timestamp.js';

const HOUR = 60 * 60 * 1000;
const DAY = 24 * HOUR;
const T0 = new Date('2025-03-01T12:00:00Z');
const OID = {
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  signedData: '1.2.840.113549.1.7.2',
  tstInfo: '1.2.840.113549.1.9.16.1.4',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingCertificateV2: '1.2.840.113549.1.9.16.2.47',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  codeSigning: '1.3.6.1.5.5.7.3.3',
};

interface Issued {
  der: Buffer;
  key: KeyObject;
  name: string;
  info: CertificateInfo;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SIGNING = { name: 'ECDSA', hash: 'SHA-256' } as const;

/** A P-256 certificate made by @peculiar/x509; self-signed when `issuer` is undefined. */
async function issue(
  name: string,
  extensions: x509.Extension[],
  issuer?: Issued,
  validity = { from: T0.getTime() - DAY, to: T0.getTime() + 365 * DAY },
): Promise<Issued> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const signer = issuer?.key ?? pair.privateKey;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      subject: name,
      issuer: issuer?.name ?? name,
      notBefore: new Date(validity.from),
      notAfter: new Date(validity.to),
      signingAlgorithm: SIGNING,
      publicKey: pair.publicKey.toCryptoKey(EC, true, ['verify']),
      signingKey: signer.toCryptoKey(EC, false, ['sign']),
      extensions,
    },
    webcrypto,
  );
  const der = Buffer.from(cert.rawData);
  return { der, key: pair.privateKey, name, info: parseCertificate(der) };
}

const caExtensions = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];
const tsaExtensions = (eku = [OID.timeStamping], critical = true): x509.Extension[] => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
  new x509.ExtendedKeyUsageExtension(eku, critical),
];

function attribute(type: string, value: unknown): Attribute {
  return new Attribute({ type, values: [value] });
}

interface TokenOptions {
  tsa: Issued;
  certs: Issued[];
  message: Uint8Array;
  imprintDigest?: 'sha1' | 'sha256';
  genTime?: Date;
  accuracy?: { seconds?: number; millis?: number };
  /** leave out signing-certificate-v2 */
  noSigningCertificate?: boolean;
  /** change the signed attributes after the signature was made */
  tamper?: (attributes: Attribute[]) => void;
}

/** An RFC 3161 TimeStampToken made as a TSA makes one: pkijs structures, node:crypto ECDSA signature. */
function makeToken(o: TokenOptions): Buffer {
  const digest = o.imprintDigest ?? 'sha256';
  const tst = new TSTInfo({
    version: 1,
    policy: '1.2.3.4.1',
    messageImprint: new MessageImprint({
      hashAlgorithm: new AlgorithmIdentifier({ algorithmId: OID[digest], algorithmParams: new Null() }),
      hashedMessage: new OctetString({ valueHex: createHash(digest).update(o.message).digest() }),
    }),
    serialNumber: new Integer({ value: 42 }),
    genTime: o.genTime ?? T0,
    ...(o.accuracy === undefined ? {} : { accuracy: new Accuracy(o.accuracy) }),
  });
  const tstDer = Buffer.from(tst.toSchema().toBER());
  const pkiTsa = Certificate.fromBER(o.tsa.der);
  const attributes = [
    attribute(OID.contentType, new ObjectIdentifier({ value: OID.tstInfo })),
    attribute(OID.messageDigest, new OctetString({ valueHex: createHash('sha256').update(tstDer).digest() })),
  ];
  if (o.noSigningCertificate !== true) {
    // SigningCertificateV2 { certs SEQUENCE OF ESSCertIDv2 { certHash } } with the default SHA-256 hash (RFC 5035).
    const essCertId = new Sequence({ value: [new OctetString({ valueHex: createHash('sha256').update(o.tsa.der).digest() })] });
    attributes.push(attribute(OID.signingCertificateV2, new Sequence({ value: [new Sequence({ value: [essCertId] })] })));
  }
  const signedBytes = new Asn1Set({ value: attributes.map((a) => a.toSchema()) }).toBER();
  const signature = sign('sha256', Buffer.from(signedBytes), { key: o.tsa.key, dsaEncoding: 'der' });
  o.tamper?.(attributes);
  const signer = new SignerInfo({
    version: 1,
    sid: new IssuerAndSerialNumber({ issuer: pkiTsa.issuer, serialNumber: pkiTsa.serialNumber }),
    digestAlgorithm: new AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new Null() }),
    signedAttrs: new SignedAndUnsignedAttributes({ type: 0, attributes }),
    signatureAlgorithm: new AlgorithmIdentifier({ algorithmId: OID.ecdsaSha256 }),
    signature: new OctetString({ valueHex: signature }),
  });
  const signed = new SignedData({
    version: 3,
    digestAlgorithms: [new AlgorithmIdentifier({ algorithmId: OID.sha256, algorithmParams: new Null() })],
    encapContentInfo: new EncapsulatedContentInfo({ eContentType: OID.tstInfo, eContent: new OctetString({ valueHex: tstDer }) }),
    certificates: o.certs.map((c) => Certificate.fromBER(c.der)),
    signerInfos: [signer],
  });
  const info = new ContentInfo({ contentType: OID.signedData, content: signed.toSchema(true) });
  return Buffer.from(info.toSchema().toBER());
}

const rejects = (pattern: RegExp) => (err: unknown) => {
  assert.ok(err instanceof NotationError, `expected a NotationError, got ${String(err)}`);
  assert.equal(err.code, 'timestamp');
  assert.match(err.message, pattern);
  return true;
};

describe('verifyTimestampToken (tspclient-go rules)', () => {
  const message = Buffer.from('the signature bytes of an envelope');
  const now = new Date(T0.getTime() + HOUR);
  let root: Issued;
  let otherRoot: Issued;
  let tsa: Issued;

  before(async () => {
    root = await issue('CN=Test TSA Root,O=Signet', caExtensions());
    otherRoot = await issue('CN=Other Root,O=Signet', caExtensions());
    tsa = await issue('CN=Test TSA,O=Signet', tsaExtensions(), root);
  });

  it('accepts a valid token and reports genTime, accuracy, chain and TSA', () => {
    const token = makeToken({ tsa, certs: [tsa, root], message, accuracy: { seconds: 1, millis: 500 } });
    const stamped = verifyTimestampToken(token, message, [root.info], { now });
    assert.equal(stamped.genTime.toISOString(), T0.toISOString());
    assert.equal(stamped.accuracyMs, 1500);
    assert.deepEqual(
      stamped.chain.map((c) => c.subject.commonName),
      ['Test TSA', 'Test TSA Root'],
    );
    assert.equal(stamped.tsa, tsa.info.subject.text);
    const range = timestampRange(stamped);
    assert.equal(range.earliest.getTime(), T0.getTime() - 1500);
    assert.equal(range.latest.getTime(), T0.getTime() + 1500);
  });

  it('accepts a token that carries only the TSA certificate (the root comes from the trust store)', () => {
    const stamped = verifyTimestampToken(makeToken({ tsa, certs: [tsa], message }), message, [root.info], { now });
    assert.equal(stamped.accuracyMs, 0);
    assert.equal(stamped.chain.length, 2);
  });

  it('refuses a token over other bytes', () => {
    const token = makeToken({ tsa, certs: [tsa], message });
    assert.throws(() => verifyTimestampToken(token, Buffer.from('other bytes'), [root.info], { now }), rejects(/messageImprint does not match/));
  });

  it('refuses a TSA that does not chain to the tsa trust store', () => {
    const token = makeToken({ tsa, certs: [tsa, root], message });
    assert.throws(() => verifyTimestampToken(token, message, [otherRoot.info], { now }), rejects(/does not chain to a certificate of the tsa trust store/));
    assert.throws(() => verifyTimestampToken(token, message, [], { now }), rejects(/no trusted TSA certificate/));
  });

  it('refuses a TSA certificate without the timeStamping EKU, or with it non-critical', async () => {
    const codeSigner = await issue('CN=Code Signer', tsaExtensions([OID.codeSigning]), root);
    assert.throws(
      () => verifyTimestampToken(makeToken({ tsa: codeSigner, certs: [codeSigner], message }), message, [root.info], { now }),
      rejects(/allowing timeStamping/),
    );
    const lax = await issue('CN=Lax TSA', tsaExtensions([OID.timeStamping], false), root);
    assert.throws(() => verifyTimestampToken(makeToken({ tsa: lax, certs: [lax], message }), message, [root.info], { now }), rejects(/marked critical/));
    const extra = await issue('CN=Extra TSA', tsaExtensions([OID.timeStamping, OID.codeSigning]), root);
    assert.throws(
      () => verifyTimestampToken(makeToken({ tsa: extra, certs: [extra], message }), message, [root.info], { now }),
      rejects(/timeStamping as its only extended key usage/),
    );
  });

  it('refuses a SHA-1 message imprint', () => {
    const token = makeToken({ tsa, certs: [tsa], message, imprintDigest: 'sha1' });
    assert.throws(() => verifyTimestampToken(token, message, [root.info], { now }), rejects(/SHA-1/));
  });

  it('refuses signed attributes changed after signing', () => {
    const token = makeToken({
      tsa,
      certs: [tsa],
      message,
      tamper: (attributes) => {
        attributes[1] = attribute(OID.messageDigest, new OctetString({ valueHex: Buffer.alloc(32, 7) }));
      },
    });
    assert.throws(() => verifyTimestampToken(token, message, [root.info], { now }), rejects(/signature does not verify/));
  });

  it('refuses a token without signing-certificate-v2', () => {
    const token = makeToken({ tsa, certs: [tsa], message, noSigningCertificate: true });
    assert.throws(() => verifyTimestampToken(token, message, [root.info], { now }), rejects(/signing-certificate-v2 attribute is missing/));
  });

  it('checks the TSA chain at genTime, not at the verification time', async () => {
    const shortLived = await issue('CN=Short TSA', tsaExtensions(), root, { from: T0.getTime() - HOUR, to: T0.getTime() + HOUR });
    // Verified long after the TSA certificate expired: genTime is what counts.
    const later = new Date(T0.getTime() + 100 * DAY);
    assert.equal(verifyTimestampToken(makeToken({ tsa: shortLived, certs: [shortLived], message }), message, [root.info], { now: later }).chain.length, 2);
    const token = makeToken({ tsa: shortLived, certs: [shortLived], message, genTime: new Date(T0.getTime() + 2 * HOUR) });
    assert.throws(() => verifyTimestampToken(token, message, [root.info], { now: later }), rejects(/not valid at the timestamp's genTime/));
  });

  it('refuses a genTime ahead of the verification time and input that is not a token', () => {
    const token = makeToken({ tsa, certs: [tsa], message, genTime: new Date(T0.getTime() + DAY) });
    assert.throws(() => verifyTimestampToken(token, message, [root.info], { now }), rejects(/in the future/));
    assert.throws(() => verifyTimestampToken(Buffer.from('not a token'), message, [root.info], { now }), rejects(/not a DER\/BER encoded CMS/));
  });
});

/**
 * A real RFC 3161 token from GlobalSign's TSA over the bytes "notation", and the GlobalSign Root CA - R3
 * it chains to: notaryproject/tspclient-go testdata/TimeStampToken.p7s and testdata/GlobalSignRootCA.crt,
 * copied as data. Copyright The Notary Project Authors, Apache License 2.0
 * (http://www.apache.org/licenses/LICENSE-2.0).
 */
const GLOBALSIGN_TOKEN_B64 = [
  'MIIZvwYJKoZIhvcNAQcCoIIZsDCCGawCAQMxDzANBglghkgBZQMEAgEFADCB3AYLKoZIhvcNAQkQAQSggcwEgckwgcYCAQEGCSsGAQQBoDICAzAxMA0GCWCG',
  'SAFlAwQCAQUABCCDJvRwnUAd+r+ngwL7HN6g8YBIpEBAwhK9jijaa8ZRxwIUWQYO7oc8JmcqlADyTaCUdHmImA4YDzIwMjEwOTE3MTQwOTEwWjADAgEBoFek',
  'VTBTMQswCQYDVQQGEwJCRTEZMBcGA1UECgwQR2xvYmFsU2lnbiBudi1zYTEpMCcGA1UEAwwgR2xvYmFsc2lnbiBUU0EgZm9yIEFkdmFuY2VkIC0gRzSgghVk',
  'MIIGVTCCBD2gAwIBAgIQAQBGaVCmBKnZcOgd0k1BnzANBgkqhkiG9w0BAQsFADBbMQswCQYDVQQGEwJCRTEZMBcGA1UEChMQR2xvYmFsU2lnbiBudi1zYTEx',
  'MC8GA1UEAxMoR2xvYmFsU2lnbiBUaW1lc3RhbXBpbmcgQ0EgLSBTSEEzODQgLSBHNDAeFw0yMTA1MjcwOTU1MjNaFw0zMjA2MjgwOTU1MjJaMFMxCzAJBgNV',
  'BAYTAkJFMRkwFwYDVQQKDBBHbG9iYWxTaWduIG52LXNhMSkwJwYDVQQDDCBHbG9iYWxzaWduIFRTQSBmb3IgQWR2YW5jZWQgLSBHNDCCAaIwDQYJKoZIhvcN',
  'AQEBBQADggGPADCCAYoCggGBAN8waZh7lw1uo1S0OV9kWXUEIv5OaW/oF3R0pX1RGA5GIB9oLrrlZdbJ0pGh7KT3Veqq7TvM+2KbhEKSejJM+fTyHPiY0bkx',
  'gSWtrVZnMqb+hzLzXMMtYvFNiQw3tH/rKuNgi29sPTHy7cldgJspnVXg4sT/6naTGB5sqat7yR4SYdXA56Dm+JApMyy4v25ast3HB0PRO9swC7R4w+zq8aJU',
  'z2CTOMz3ZEP1zwgEFnDItNsO1AqKCNy7k8EdbvKMnOshNZ7/j7ywfsKEOH7mnWR6JqDxILG84dgqJZ0YUuRt1EwwCnjMLUaO7VcLP3mVUKcDsDODMrdAnvS0',
  'kpcTDFC3nqq0QU4LmInM+8QhRJAyjkjyLEsMF+SEV1umrPuXg/mNZFTC7GpDHs8KdpKyEL/t1qMgD7XRMI4aQLE259COePMTwC8LiJA7CGHjD61Hsw5UcJV/',
  'oEPUWsbdF5+UywCHaA7hrpPuLHIEGzIXkEvXK4AlBR/lM/TowGgqeReg7wIDAQABo4IBmzCCAZcwDgYDVR0PAQH/BAQDAgeAMBYGA1UdJQEB/wQMMAoGCCsG',
  'AQUFBwMIMB0GA1UdDgQWBBSufnCBeCAUKa3yePhZANnMpiQCjjBMBgNVHSAERTBDMEEGCSsGAQQBoDIBHjA0MDIGCCsGAQUFBwIBFiZodHRwczovL3d3dy5n',
  'bG9iYWxzaWduLmNvbS9yZXBvc2l0b3J5LzAJBgNVHRMEAjAAMIGQBggrBgEFBQcBAQSBgzCBgDA5BggrBgEFBQcwAYYtaHR0cDovL29jc3AuZ2xvYmFsc2ln',
  'bi5jb20vY2EvZ3N0c2FjYXNoYTM4NGc0MEMGCCsGAQUFBzAChjdodHRwOi8vc2VjdXJlLmdsb2JhbHNpZ24uY29tL2NhY2VydC9nc3RzYWNhc2hhMzg0ZzQu',
  'Y3J0MB8GA1UdIwQYMBaAFOoWxmnn48tXRTkzpPBAvtDDvWWWMEEGA1UdHwQ6MDgwNqA0oDKGMGh0dHA6Ly9jcmwuZ2xvYmFsc2lnbi5jb20vY2EvZ3N0c2Fj',
  'YXNoYTM4NGc0LmNybDANBgkqhkiG9w0BAQsFAAOCAgEAf2Lo+tl3L0Jvaw/X3UVZPPR1egDsvfZvDiNtLTNCchRPRJSBveuMAohMrH/HXc23xCSau5kBaApa',
  '6kVh07As132gF+5dgPEa4uf8sd8dMgQoDzaE1wlGLbZ+wEAVIhp5YWeXthKP0E9mLC5UKlgGrJlO/XWtVCYKaP+SJ/g8uRltMIEmTIUs83Pcj+DlymRKe0cR',
  'TNqi1Lfx5FF65jmwIQcZ4PCMuXFwfZHtNJ+LMZ4NxMY+Nitm1sBB1bIjSSLTvl+JNoxa1sVQqj8OTlQJtv4Nkdlx2J82PDSOiYO35PNmSs43kItdeuo+o+MH',
  'Bz2UGRSe+rFnS+u2srcIb5KWRV1M7g5ZWotmc2FFNkqGzmNDGW4GOglGOZB0xnMLXkLRzS8ibCQnpwICUZKNAbRdhcf4w0F13WSM8vOY7um3hwmnvQoTMDdi',
  'H1nnKXJ3aXV4kLDNHDpcahCGcvcAsjKXWXieTvizZv2vK/yJtnWilAo3khNBdd31Pzqup6i0QtPZnFES8vJ61ivsnkwl2W2ckfQfAU9Ix+yP+Vuq7PpcEXJg',
  'ruw3cZS+XEmJTClt81c7GgBXvL6QLkJhgtXf/wCBlnwBVZO4YmToBoarVUpvM8Xz2lgFjd0B9TxVIYX+ezV5xX+y+9itvZ35VQokZHRhiiuXNl9WvfLX4Ox8',
  '/fnrktQwggZZMIIEQaADAgECAg0B7BySQN79LkBdfEd0MA0GCSqGSIb3DQEBDAUAMEwxIDAeBgNVBAsTF0dsb2JhbFNpZ24gUm9vdCBDQSAtIFI2MRMwEQYD',
  'VQQKEwpHbG9iYWxTaWduMRMwEQYDVQQDEwpHbG9iYWxTaWduMB4XDTE4MDYyMDAwMDAwMFoXDTM0MTIxMDAwMDAwMFowWzELMAkGA1UEBhMCQkUxGTAXBgNV',
  'BAoTEEdsb2JhbFNpZ24gbnYtc2ExMTAvBgNVBAMTKEdsb2JhbFNpZ24gVGltZXN0YW1waW5nIENBIC0gU0hBMzg0IC0gRzQwggIiMA0GCSqGSIb3DQEBAQUA',
  'A4ICDwAwggIKAoICAQDwAuIwI/rgG+GadLOvdYNfqUdSx2E6Y3w5I3ltdPwx5HQSGZb6zidiW64HiifuV6PENe2zNMeswwzrgGZt0ShKwSy7uXDycq6M95la',
  'XXauv0SofEEkjo+6xU//NkGrpy39eE5DiP6TGRfZ7jHPvIo7bmrEiPDul/bc8xigS5kcDoenJuGIyaDlmeKe9JxMP11b7Lbv0mXPRQtUPbFUUweLmW64VJmK',
  'qDGSO/J6ffwOWN+BauGwbB5lgirUIceU/kKWO/ELsX9/RpgOhz16ZevRVqkuvftYPbWF+lOZTVt07XJLog2CNxkM0KvqWsHvD9WZuT/0TzXxnA/TNxNS2SU0',
  '7Zbv+GfqCL6PSXr/kLHU9ykV1/kNXdaHQx50xHAotIB7vSqbu4ThDqxvDbm19m1W/oodCT4kDmcmx/yyDaCUsLKUzHvmZ/6mWLLU2EESwVX9bpHFu7FMCEue',
  '1EIGbxsY1TbqZK7O/fUF5uJm0A4FIayxEQYjGeT7BTRE6giunUlnEYuC5a1ahqdm/TMDAd6ZJflxbumcXQJMYDzPAo8B/XLukvGnEt5CEk3sqSbldwKsDlcM',
  'CdFhniaI/MiyTdtk8EWfusE/VKPYdgKVbGqNyiJc9gwE4yn6S7Ac0zd0hNkdZqs0c48efXxeltY9GbCX6oxQkW2vV4Z+EDcdaxoU3wIDAQABo4IBKTCCASUw',
  'DgYDVR0PAQH/BAQDAgGGMBIGA1UdEwEB/wQIMAYBAf8CAQAwHQYDVR0OBBYEFOoWxmnn48tXRTkzpPBAvtDDvWWWMB8GA1UdIwQYMBaAFK5sBaOTE+Ki5+LX',
  'HNbH8H/IZ1OgMD4GCCsGAQUFBwEBBDIwMDAuBggrBgEFBQcwAYYiaHR0cDovL29jc3AyLmdsb2JhbHNpZ24uY29tL3Jvb3RyNjA2BgNVHR8ELzAtMCugKaAn',
  'hiVodHRwOi8vY3JsLmdsb2JhbHNpZ24uY29tL3Jvb3QtcjYuY3JsMEcGA1UdIARAMD4wPAYEVR0gADA0MDIGCCsGAQUFBwIBFiZodHRwczovL3d3dy5nbG9i',
  'YWxzaWduLmNvbS9yZXBvc2l0b3J5LzANBgkqhkiG9w0BAQwFAAOCAgEAf+KI2VdnK0JfgacJC7rEuygYVtZMv9sbB3DG+wsJrQA6YDMfOcYWaxlASSUIHuSb',
  '99akDY8elvKGohfeQb9P4byrze7AI4zGhf5LFST5GETsH8KkrNCyz+zCVmUdvX/23oLIt59h07VGSJiXAmd6FpVK22LG0LMCzDRIRVXd7OlKn14U7XIQcXZw',
  '0g+W8+o3V5SRGK/cjZk4GVjCqaF+om4VJuq0+X8q5+dIZGkv0pqhcvb3JEt0Wn1yhjWzAlcfi5z8u6xM3vreU0yD/RKxtklVT3WdrG9KyC5qucqIwxIwTrII',
  'c59eodaZzul9S5YszBZrGM3kWTeGCSziRdayzW6CdaXajR63Wy+ILj198fKRMAWcznt8oMWsr1EG8BHHHTDFUVZg6HyVPSLj1QokUyeXgPpIiScseeI85Zse',
  '46qEgok+wEr1If5iEO0dMPz2zOpIJ3yLdUJ/a8vzpWuVHwRYNAqJ7YJQ5NF7qMnmvkiqK1XZjbclIA4bUaDUY6qD6mxyYUrJ+kPExlfFnbY8sIuwuRwx773v',
  'FNgUQGwgHcIt6AvGjW2MtnHtUiH+PvafnzkarqzSL3ogsfSsqh3iLRSd+pZqHcY8yvPZHL9TTaRHWXyVxENB+SXiLBB+gfkNlKd98rUJ9dhgckBQlSDUQ0S+',
  '+qCV5yBZtnjGpGqqIpswggVHMIIEL6ADAgECAg0B8kBCQM79ItvpbHH8MA0GCSqGSIb3DQEBDAUAMEwxIDAeBgNVBAsTF0dsb2JhbFNpZ24gUm9vdCBDQSAt',
  'IFIzMRMwEQYDVQQKEwpHbG9iYWxTaWduMRMwEQYDVQQDEwpHbG9iYWxTaWduMB4XDTE5MDIyMDAwMDAwMFoXDTI5MDMxODEwMDAwMFowTDEgMB4GA1UECxMX',
  'R2xvYmFsU2lnbiBSb290IENBIC0gUjYxEzARBgNVBAoTCkdsb2JhbFNpZ24xEzARBgNVBAMTCkdsb2JhbFNpZ24wggIiMA0GCSqGSIb3DQEBAQUAA4ICDwAw',
  'ggIKAoICAQCVB+hzymb57BTKezz3DQjxtEULLIK0SMbrWzyug7hBkjMUpG9/6SrMxrCIa8W2idHGsv8UzlEUIexK3RtaxtaH7k06FQbtZGYLkoDKRN5zlE7z',
  'p4l/T3hjCMgSUG1CZi9NuXkoTVIaihqAtxmBDn7EirxkTCEcQ2jXPTyKxbJm1ZCatzEGxb7ibTIGph75ueuqo7i/voJjUNDwGInf5A959eqiHyrScC5757yT',
  'u21T4kh8jBAHOP9msndhfuDqjDyqtKT285VKEgdt/Yyyic/QoGF3yFh0sNQjOvddOsqi250J3l1ELZDxgc1Xkvp+vFAEYzTfa5MYvms2sjnkrCQ2t/DvthwT',
  'V5O23rL44oW3c6K4NapF8uCdNqFvVIrxclZuLojFUUJEFZTuo8U4lptOTloLR/MGNkl3MLxxN+Wm7CEIdfzmYRY/d9XZkZeECmzUAk10wBTt/Tn7g/JeFKEE',
  'sAvp/u6P4W4LsgizYWYJarEGOmWWWcDwNf3J2iiNGhGHcIEKqJp1HZ46hgUAntuA1iX53AWeJ1lMdjlb6vmlodiDD9H/3zAR+YXPM0j1ym1kFCx6WE/TSwhJ',
  'xZVkGmMOeT31s4zKWK2cQkV5bg6HGVxUsWW2v4yb3BPpDW+4LtxnbsmLEbWEFIoAGXCDeZGXkdQaJ783HjIH2BRjPChMrwIDAQABo4IBJjCCASIwDgYDVR0P',
  'AQH/BAQDAgEGMA8GA1UdEwEB/wQFMAMBAf8wHQYDVR0OBBYEFK5sBaOTE+Ki5+LXHNbH8H/IZ1OgMB8GA1UdIwQYMBaAFI/wS3+oLkUkrk1Q+mOai97i3Ru8',
  'MD4GCCsGAQUFBwEBBDIwMDAuBggrBgEFBQcwAYYiaHR0cDovL29jc3AyLmdsb2JhbHNpZ24uY29tL3Jvb3RyMzA2BgNVHR8ELzAtMCugKaAnhiVodHRwOi8v',
  'Y3JsLmdsb2JhbHNpZ24uY29tL3Jvb3QtcjMuY3JsMEcGA1UdIARAMD4wPAYEVR0gADA0MDIGCCsGAQUFBwIBFiZodHRwczovL3d3dy5nbG9iYWxzaWduLmNv',
  'bS9yZXBvc2l0b3J5LzANBgkqhkiG9w0BAQwFAAOCAQEASaxexYPzWsthKk2XShUpn+QUkKoJ+cR6nzUYigozFW1yhyJOQT9tCp4YrtviX/yV0SyYFDuOwfA2',
  'WXnzjYHPdPYYpOThaM/vf2VZQunKVTm808Um7nE4+tchAw+3TtlbYGpDtH0J0GBh3artAF5OMh7gsmyePLLCu5jTkHZqaa0a3KiJ2lhP0sKLMkrOVPs46TsH',
  'C3UKEdsLfCUn8awmzxFT5tzG4mE1MvTO3YPjGTrrwmijcgDIJDxOuFM8sRer5jUs+dNCKeZfYAOsQmGmsVdqM0LfNTGGyj43K9rE2iT1ThLytrm3R+q7IK1h',
  'FregM+Mtiae8szwBfyMagAk06TCCA18wggJHoAMCAQICCwQAAAAAASFYUwiiMA0GCSqGSIb3DQEBCwUAMEwxIDAeBgNVBAsTF0dsb2JhbFNpZ24gUm9vdCBD',
  'QSAtIFIzMRMwEQYDVQQKEwpHbG9iYWxTaWduMRMwEQYDVQQDEwpHbG9iYWxTaWduMB4XDTA5MDMxODEwMDAwMFoXDTI5MDMxODEwMDAwMFowTDEgMB4GA1UE',
  'CxMXR2xvYmFsU2lnbiBSb290IENBIC0gUjMxEzARBgNVBAoTCkdsb2JhbFNpZ24xEzARBgNVBAMTCkdsb2JhbFNpZ24wggEiMA0GCSqGSIb3DQEBAQUAA4IB',
  'DwAwggEKAoIBAQDMJXaQeQZ4Ihb1wIO2hMoonv0FdhHFrYhy/EYCQ8eyip0EXyTLLkvhYIJG4VKrDIFHcGzdZNHr9SyjD4I9DCuul9e2FIYQebs7E4B3jAjh',
  'SdJqYi8fXvqWaN+JJ5U4nwbXPsnLJlkNc96wyOkmDoMVxu9bi9IEYMpJpij2aTv2y8gokeWdimFXN6x0FNx04Druci8unPvQu7/1PQDhBjPogiuuU6Y6FnOM',
  '3UEOIDrAtKeh6bJPkC4yYOlXy7kEkmho5TgmYHWyn3f/kRTvriBJ/K1AFUjRAjFhGV64l++td7dkmnq/X8ET75ti+w1s4FRpFqkD2m7pg5NxdsZphYIXAgMB',
  'AAGjQjBAMA4GA1UdDwEB/wQEAwIBBjAPBgNVHRMBAf8EBTADAQH/MB0GA1UdDgQWBBSP8Et/qC5FJK5NUPpjmove4t0bvDANBgkqhkiG9w0BAQsFAAOCAQEA',
  'S0DbwFCq/sgM7/eWVEVJu5YACUGssxOGhigHM8pr5nS5ugAtrqQK0/Xx8Q+Kv3NnSoPHRHt44K9ubG8DKY4zOUXDjuS5V2yq/BKW7FPGLeQkbLmUY/vcU2hn',
  'Vj6DuM81IcPJaP7O2sJTqsyQiunwXUaMld16WCgaLx3ezQA3QY/tRG3XUyiXfvNnBB4V14qWtNPeTCekTBtzc3b0F5nCH3oO4y0IrQocLP88q1UOD5F+NuvD',
  'V0m+4S4tfGCLw0FREyOdzvcya5QBqJnnLDMfOjsl0oZAzjsshnjJYS8Uuu7bVW/fhO4FCU29KNhyztNiUGUe65KXgzHZs7XKR1g/XzGCA00wggNJAgEBMG8w',
  'WzELMAkGA1UEBhMCQkUxGTAXBgNVBAoTEEdsb2JhbFNpZ24gbnYtc2ExMTAvBgNVBAMTKEdsb2JhbFNpZ24gVGltZXN0YW1waW5nIENBIC0gU0hBMzg0IC0g',
  'RzQCEAEARmlQpgSp2XDoHdJNQZ8wDQYJYIZIAWUDBAIBBQCgggEvMBoGCSqGSIb3DQEJAzENBgsqhkiG9w0BCRABBDAtBgkqhkiG9w0BCTQxIDAeMA0GCWCG',
  'SAFlAwQCAQUAoQ0GCSqGSIb3DQEBCwUAMC8GCSqGSIb3DQEJBDEiBCB838sPErwCd7kzKVM7qjG1vOqA02wmPCmvk0l4dx1ahzCBsAYLKoZIhvcNAQkQAi8x',
  'gaAwgZ0wgZowgZcEIBPW6cQg/21OJ1RyjGjneIJlZGfbmhkPgWWX9n+2zMb5MHMwX6RdMFsxCzAJBgNVBAYTAkJFMRkwFwYDVQQKExBHbG9iYWxTaWduIG52',
  'LXNhMTEwLwYDVQQDEyhHbG9iYWxTaWduIFRpbWVzdGFtcGluZyBDQSAtIFNIQTM4NCAtIEc0AhABAEZpUKYEqdlw6B3STUGfMA0GCSqGSIb3DQEBCwUABIIB',
  'gNV5QEmZsF1ne+5rYJsu+NmXGg+rPlqhsc97S6PEZcVd/5zFBIoMwA//7/1JdxEYkfNem6xuMhuZqp11c02tdY8FsaJsYZG5BjsWntd6tKqkWltcoJM/KtEI',
  'WyM/FraREY+sM9EipatgzP1rkR6/Y9THOm77APaO4VSsKQ6StkAUbXEJ16HCt58989ii71/bj7MYOBiwxnKsRVIGBs/V0CmSzEkL1p8cZ/Z4MKvG4JbRygt/',
  'UsXiiXm9lWP6MakzKFvpGve5Y+KeSPUcscv1QoBP1L0B9MDt3jukPhILmK68S/iNzF6PYrLkLC271rAUVEVmFpW2k5vVYTaSlcvgvNLznc/EkxGyguzQbSTn',
  'NwSgdUywFDDElZVY1uRp6YgOtxtqxZ4g3+puX4cJzBtc6UuC+f/XP4zogIPfqS1mhprqLSAgpf7+/Z1LBsR0ZYpUEZwigDz3XyX57088WeGzsNa9TvSI287R',
  'u8AAsI57U5QcEppj3sTWXKSRjuDhbNYypQ==',
].join('');
const GLOBALSIGN_ROOT_PEM = `-----BEGIN CERTIFICATE-----
MIIDXzCCAkegAwIBAgILBAAAAAABIVhTCKIwDQYJKoZIhvcNAQELBQAwTDEgMB4G
A1UECxMXR2xvYmFsU2lnbiBSb290IENBIC0gUjMxEzARBgNVBAoTCkdsb2JhbFNp
Z24xEzARBgNVBAMTCkdsb2JhbFNpZ24wHhcNMDkwMzE4MTAwMDAwWhcNMjkwMzE4
MTAwMDAwWjBMMSAwHgYDVQQLExdHbG9iYWxTaWduIFJvb3QgQ0EgLSBSMzETMBEG
A1UEChMKR2xvYmFsU2lnbjETMBEGA1UEAxMKR2xvYmFsU2lnbjCCASIwDQYJKoZI
hvcNAQEBBQADggEPADCCAQoCggEBAMwldpB5BngiFvXAg7aEyiie/QV2EcWtiHL8
RgJDx7KKnQRfJMsuS+FggkbhUqsMgUdwbN1k0ev1LKMPgj0MK66X17YUhhB5uzsT
gHeMCOFJ0mpiLx9e+pZo34knlTifBtc+ycsmWQ1z3rDI6SYOgxXG71uL0gRgykmm
KPZpO/bLyCiR5Z2KYVc3rHQU3HTgOu5yLy6c+9C7v/U9AOEGM+iCK65TpjoWc4zd
QQ4gOsC0p6Hpsk+QLjJg6VfLuQSSaGjlOCZgdbKfd/+RFO+uIEn8rUAVSNECMWEZ
XriX7613t2Saer9fwRPvm2L7DWzgVGkWqQPabumDk3F2xmmFghcCAwEAAaNCMEAw
DgYDVR0PAQH/BAQDAgEGMA8GA1UdEwEB/wQFMAMBAf8wHQYDVR0OBBYEFI/wS3+o
LkUkrk1Q+mOai97i3Ru8MA0GCSqGSIb3DQEBCwUAA4IBAQBLQNvAUKr+yAzv95ZU
RUm7lgAJQayzE4aGKAczymvmdLm6AC2upArT9fHxD4q/c2dKg8dEe3jgr25sbwMp
jjM5RcOO5LlXbKr8EpbsU8Yt5CRsuZRj+9xTaGdWPoO4zzUhw8lo/s7awlOqzJCK
6fBdRoyV3XpYKBovHd7NADdBj+1EbddTKJd+82cEHhXXipa0095MJ6RMG3NzdvQX
mcIfeg7jLQitChws/zyrVQ4PkX4268NXSb7hLi18YIvDQVETI53O9zJrlAGomecs
Mx86OyXShkDOOyyGeMlhLxS67ttVb9+E7gUJTb0o2HLO02JQZR7rkpeDMdmztcpH
WD9f
-----END CERTIFICATE-----
`;

describe('verifyTimestampToken with a real TSA token (tspclient-go test vector)', () => {
  const token = Buffer.from(GLOBALSIGN_TOKEN_B64, 'base64');
  const root = parseCertificatePem(GLOBALSIGN_ROOT_PEM);
  const now = new Date('2025-01-01T00:00:00Z');

  it('verifies GlobalSign\'s token over "notation" through its four-certificate chain', () => {
    const stamped = verifyTimestampToken(token, Buffer.from('notation'), [root], { now });
    assert.equal(stamped.genTime.toISOString(), '2021-09-17T14:09:10.000Z');
    assert.equal(stamped.accuracyMs, 1000);
    assert.equal(stamped.tsa, 'C=BE, O=GlobalSign nv-sa, CN=Globalsign TSA for Advanced - G4');
    assert.equal(stamped.chain.length, 4);
    assert.ok(stamped.chain[3]?.der.equals(root.der));
  });

  it('refuses it over other bytes and without its root', async () => {
    assert.throws(() => verifyTimestampToken(token, Buffer.from('notation!'), [root], { now }), rejects(/messageImprint does not match/));
    const stranger = await issue('CN=Stranger', caExtensions());
    assert.throws(() => verifyTimestampToken(token, Buffer.from('notation'), [stranger.info], { now }), rejects(/does not chain/));
  });
});
