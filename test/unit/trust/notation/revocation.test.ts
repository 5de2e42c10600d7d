// @peculiar/x509 needs a Reflect metadata polyfill evaluated before it.
import 'reflect-metadata';
import { generateKeyPairSync, randomBytes, sign, webcrypto, createHash, type KeyObject } from 'node:crypto';
import { before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import * as x509 from '@peculiar/x509';
import { BitString, Constructed, Enumerated, GeneralizedTime, Integer, Null, ObjectIdentifier, OctetString, Primitive, Sequence, fromBER } from 'asn1js';
import {
  AlgorithmIdentifier,
  CertID,
  Certificate,
  CertificateRevocationList,
  Extension,
  Extensions,
  OCSPRequest,
  ResponseData,
  RevokedCertificate,
  SingleResponse,
  Time,
  TimeType,
} from 'pkijs';
import { parseCertificate, type CertificateInfo } from '../../../../src/trust/x509/index.js';
import { NotationError } from '../../../../src/trust/notation/errors.js';
import { createRevocationChecker, type RevocationFetch, type RevocationOptions } from '../../../../src/trust/notation/revocation/index.js';
import type { RevocationResult } from '../../../../src/trust/notation/types.js';

const MINUTE = 60 * 1000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const T0 = new Date('2025-03-01T12:00:00Z').getTime();
const OID = {
  sha1: '1.3.14.3.2.26',
  ecdsaSha256: '1.2.840.10045.4.3.2',
  ocspBasic: '1.3.6.1.5.5.7.48.1.1',
  ocspSigning: '1.3.6.1.5.5.7.3.9',
  codeSigning: '1.3.6.1.5.5.7.3.3',
  timeStamping: '1.3.6.1.5.5.7.3.8',
  crlNumber: '2.5.29.20',
  reasonCode: '2.5.29.21',
  deltaIndicator: '2.5.29.27',
  freshestCrl: '2.5.29.46',
};
const OCSP_URL = 'http://ocsp.example.test/';
const CRL_URL = 'http://crl.example.test/ca.crl';

interface Issued {
  der: Buffer;
  key: KeyObject;
  name: string;
  info: CertificateInfo;
  pki: Certificate;
}

const EC = { name: 'ECDSA', namedCurve: 'P-256' } as const;

async function issue(name: string, extensions: x509.Extension[], issuer?: Issued): Promise<Issued> {
  const pair = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: `01${randomBytes(8).toString('hex')}`,
      subject: name,
      issuer: issuer?.name ?? name,
      notBefore: new Date(T0 - DAY),
      notAfter: new Date(T0 + 365 * DAY),
      signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
      publicKey: pair.publicKey.toCryptoKey(EC, true, ['verify']),
      signingKey: (issuer?.key ?? pair.privateKey).toCryptoKey(EC, false, ['sign']),
      extensions,
    },
    webcrypto,
  );
  const der = Buffer.from(cert.rawData);
  return { der, key: pair.privateKey, name, info: parseCertificate(der), pki: Certificate.fromBER(der) };
}

const CA = (): x509.Extension[] => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
];

function leafExtensions(endpoints: { ocsp?: string[]; crl?: string[]; eku?: string[]; freshest?: string } = {}): x509.Extension[] {
  const list: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    new x509.ExtendedKeyUsageExtension(endpoints.eku ?? [OID.codeSigning]),
  ];
  if (endpoints.ocsp) list.push(new x509.AuthorityInfoAccessExtension({ ocsp: endpoints.ocsp }));
  if (endpoints.crl) list.push(new x509.CRLDistributionPointsExtension(endpoints.crl));
  if (endpoints.freshest) list.push(new x509.Extension(OID.freshestCrl, false, new x509.CRLDistributionPointsExtension([endpoints.freshest]).value));
  return list;
}

const ecdsaSha256 = (): AlgorithmIdentifier => new AlgorithmIdentifier({ algorithmId: OID.ecdsaSha256 });

/** Signs a TBS structure: SEQUENCE { tbs, signatureAlgorithm, BIT STRING signature, ...more }. */
function signed(tbsDer: ArrayBuffer, key: KeyObject, more: Array<Constructed> = []): Buffer {
  const signature = sign('sha256', Buffer.from(tbsDer), { key, dsaEncoding: 'der' });
  const tbs = fromBER(tbsDer).result;
  return Buffer.from(new Sequence({ value: [tbs, ecdsaSha256().toSchema(), new BitString({ valueHex: signature }), ...more] }).toBER());
}

type Status = { good: true } | { revoked: Date; reason?: number } | { unknown: true };

interface OcspOptions {
  cert: Issued;
  issuer: Issued;
  status: Status;
  /** who signs (default: the issuer) */
  signer?: Issued;
  /** responder certificate carried in the response */
  responderCert?: Issued;
  thisUpdate?: number;
  /** null: no nextUpdate */
  nextUpdate?: number | null;
}

/** An OCSPResponse (successful, BasicOCSPResponse) about `cert`, by pkijs and node:crypto. */
function ocspResponse(o: OcspOptions): Buffer {
  const issuerKeyBits = o.issuer.pki.subjectPublicKeyInfo.subjectPublicKey.valueBlock.valueHexView;
  const certID = new CertID({
    hashAlgorithm: new AlgorithmIdentifier({ algorithmId: OID.sha1, algorithmParams: new Null() }),
    issuerNameHash: new OctetString({ valueHex: createHash('sha1').update(Buffer.from(o.issuer.pki.subject.toSchema().toBER())).digest() }),
    issuerKeyHash: new OctetString({ valueHex: createHash('sha1').update(issuerKeyBits).digest() }),
    serialNumber: new Integer({ valueHex: o.cert.pki.serialNumber.valueBlock.valueHexView }),
  });
  let certStatus;
  if ('good' in o.status) certStatus = new Primitive({ idBlock: { tagClass: 3, tagNumber: 0 } });
  else if ('unknown' in o.status) certStatus = new Primitive({ idBlock: { tagClass: 3, tagNumber: 2 } });
  else {
    const revokedInfo = [new GeneralizedTime({ valueDate: o.status.revoked })];
    if (o.status.reason !== undefined) {
      revokedInfo.push(new Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new Enumerated({ value: o.status.reason })] }) as never);
    }
    certStatus = new Constructed({ idBlock: { tagClass: 3, tagNumber: 1 }, value: revokedInfo });
  }
  const single = new SingleResponse({
    certID,
    certStatus,
    thisUpdate: new Date(o.thisUpdate ?? T0 - HOUR),
    ...(o.nextUpdate === null ? {} : { nextUpdate: new Date(o.nextUpdate ?? T0 + DAY) }),
  });
  const signer = o.signer ?? o.issuer;
  const data = new ResponseData({ responderID: signer.pki.subject, producedAt: new Date(T0 - HOUR), responses: [single] });
  const certs = o.responderCert
    ? [new Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [new Sequence({ value: [fromBER(new Uint8Array(o.responderCert.der)).result] })] })]
    : [];
  const basic = signed((data.toSchema(true) as Sequence).toBER(), signer.key, certs);
  // OCSPResponse { responseStatus successful, [0] ResponseBytes { id-pkix-ocsp-basic, OCTET STRING } } (RFC 6960 4.2.1)
  const responseBytes = new Sequence({ value: [new ObjectIdentifier({ value: OID.ocspBasic }), new OctetString({ valueHex: basic })] });
  const response = new Sequence({ value: [new Enumerated({ value: 0 }), new Constructed({ idBlock: { tagClass: 3, tagNumber: 0 }, value: [responseBytes] })] });
  return Buffer.from(response.toBER());
}

interface CrlOptions {
  issuer: Issued;
  signer?: Issued;
  revoked?: Array<{ serial: Integer; at: number; reason?: number }>;
  thisUpdate?: number;
  nextUpdate?: number;
  number?: number;
  delta?: { baseNumber: number };
  freshest?: string;
}

/** A v2 CRL by pkijs, signed with node:crypto. */
function crl(o: CrlOptions): Buffer {
  const extensions = [new Extension({ extnID: OID.crlNumber, critical: false, extnValue: new Integer({ value: o.number ?? 1 }).toBER() })];
  if (o.delta) extensions.push(new Extension({ extnID: OID.deltaIndicator, critical: true, extnValue: new Integer({ value: o.delta.baseNumber }).toBER() }));
  if (o.freshest)
    extensions.push(new Extension({ extnID: OID.freshestCrl, critical: false, extnValue: new x509.CRLDistributionPointsExtension([o.freshest]).value }));
  const list = new CertificateRevocationList({
    version: 1,
    signature: ecdsaSha256(),
    issuer: o.issuer.pki.subject,
    thisUpdate: new Time({ type: TimeType.UTCTime, value: new Date(o.thisUpdate ?? T0 - HOUR) }),
    nextUpdate: new Time({ type: TimeType.UTCTime, value: new Date(o.nextUpdate ?? T0 + DAY) }),
    ...(o.revoked?.length
      ? {
          revokedCertificates: o.revoked.map(
            (r) =>
              new RevokedCertificate({
                userCertificate: r.serial,
                revocationDate: new Time({ type: TimeType.UTCTime, value: new Date(r.at) }),
                ...(r.reason === undefined
                  ? {}
                  : {
                      crlEntryExtensions: new Extensions({
                        extensions: [new Extension({ extnID: OID.reasonCode, critical: false, extnValue: new Enumerated({ value: r.reason }).toBER() })],
                      }),
                    }),
              }),
          ),
        }
      : {}),
    crlExtensions: new Extensions({ extensions }),
    signatureAlgorithm: ecdsaSha256(),
  });
  const tbs = (list.toSchema(true) as Sequence).valueBlock.value[0] as Sequence;
  return signed(tbs.toBER(), (o.signer ?? o.issuer).key);
}

interface FakeCall {
  url: string;
  method: string;
  contentType: string | undefined;
  body: Uint8Array | undefined;
}

/** A RevocationFetch answering from a table; records calls; `gate` holds answers until released. */
function fakeFetch(answers: Map<string, () => { status: number; body: Buffer }>, gate?: Promise<void>): { fetch: RevocationFetch; calls: FakeCall[] } {
  const calls: FakeCall[] = [];
  const fetch: RevocationFetch = async (url, init) => {
    calls.push({ url: url.href, method: init.method, contentType: init.contentType, body: init.body });
    if (gate) await gate;
    const answer = answers.get(url.href);
    if (!answer) throw new Error(`connect ECONNREFUSED for ${url.href}`);
    return answer();
  };
  return { fetch, calls };
}

function checker(fetch: RevocationFetch, clock: { now: number }, overrides: Partial<RevocationOptions> = {}) {
  const warnings: string[] = [];
  const instance = createRevocationChecker({
    fetch,
    allowedHosts: ['ocsp.example.test', 'crl.example.test', '*.delta.test'],
    timeoutMs: 1000,
    maxResponseBytes: 1024 * 1024,
    cacheEntries: 100,
    clock: () => clock.now,
    logger: { warn: (_obj, msg) => warnings.push(msg), debug: () => undefined },
    ...overrides,
  });
  return { instance, warnings };
}

const ok = (method: 'ocsp' | 'crl'): RevocationResult => ({ status: 'ok', method });
const NON_REVOKABLE: RevocationResult = { status: 'nonRevokable' };

function unknownWhy(result: RevocationResult | undefined): string {
  assert.equal(result?.status, 'unknown', `expected unknown, got ${JSON.stringify(result)}`);
  return (result as { why: string }).why;
}

describe('revocation checker (notation-core-go revocation rules)', () => {
  let root: Issued;
  let otherKey: Issued;
  let ocspLeaf: Issued;
  let crlLeaf: Issued;
  let bothLeaf: Issued;
  let bareLeaf: Issued;
  const at = new Date(T0);

  before(async () => {
    root = await issue('CN=Revocation Test Root', CA());
    otherKey = await issue('CN=Revocation Test Root', CA()); // same name, another key
    ocspLeaf = await issue('CN=ocsp leaf', leafExtensions({ ocsp: [OCSP_URL] }), root);
    crlLeaf = await issue('CN=crl leaf', leafExtensions({ crl: [CRL_URL] }), root);
    bothLeaf = await issue('CN=both leaf', leafExtensions({ ocsp: [OCSP_URL], crl: [CRL_URL] }), root);
    bareLeaf = await issue('CN=bare leaf', leafExtensions(), root);
  });

  const answers = (table: Record<string, Buffer | number>) =>
    new Map(Object.entries(table).map(([url, v]) => [url, () => (typeof v === 'number' ? { status: v, body: Buffer.alloc(0) } : { status: 200, body: v })]));

  it('a certificate with no endpoint is nonRevokable, and so is the root', async () => {
    const { fetch, calls } = fakeFetch(new Map());
    assert.deepEqual(await checker(fetch, { now: T0 }).instance.check([bareLeaf.info, root.info], 'codeSigning', at), [NON_REVOKABLE, NON_REVOKABLE]);
    assert.equal(calls.length, 0);
  });

  it('OCSP good: POSTs a SHA-1 CertID request for the certificate', async () => {
    const { fetch, calls } = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true } }) }));
    assert.deepEqual(await checker(fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at), [ok('ocsp'), NON_REVOKABLE]);
    assert.equal(calls.length, 1);
    const [call] = calls;
    assert.ok(call?.body);
    assert.equal(call.method, 'POST');
    assert.equal(call.contentType, 'application/ocsp-request');
    const request = OCSPRequest.fromBER(call.body);
    const [single] = request.tbsRequest.requestList;
    assert.equal(single?.reqCert.hashAlgorithm.algorithmId, OID.sha1);
    assert.equal(single.reqCert.serialNumber.toBigInt(), ocspLeaf.info.serialNumber);
  });

  it('OCSP revoked carries revokedAt and the reason', async () => {
    const when = new Date(T0 - 2 * HOUR);
    const { fetch } = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { revoked: when, reason: 1 } }) }));
    const [result] = await checker(fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at);
    assert.deepEqual(result, { status: 'revoked', method: 'ocsp', revokedAt: when, reason: 'keyCompromise' });
  });

  it('OCSP unknown, without a CRL to fall back to, is unknown', async () => {
    const { fetch } = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { unknown: true } }) }));
    const [result] = await checker(fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at);
    assert.match(unknownWhy(result), /does not know the certificate/);
  });

  it('refuses an OCSP response signed by another key, and a delegated responder without OCSPSigning', async () => {
    const forged = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, signer: otherKey, status: { good: true } }) }));
    assert.match(unknownWhy((await checker(forged.fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0]), /bad OCSP signature/);

    const responder = await issue('CN=OCSP responder', [new x509.ExtendedKeyUsageExtension([OID.ocspSigning])], root);
    const delegated = fakeFetch(
      answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, signer: responder, responderCert: responder, status: { good: true } }) }),
    );
    assert.deepEqual((await checker(delegated.fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0], ok('ocsp'));

    const plain = await issue('CN=not a responder', [new x509.ExtendedKeyUsageExtension([OID.codeSigning])], root);
    const unauthorised = fakeFetch(
      answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, signer: plain, responderCert: plain, status: { good: true } }) }),
    );
    assert.match(
      unknownWhy((await checker(unauthorised.fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0]),
      /lacks the OCSPSigning/,
    );
  });

  it('refuses a stale OCSP response (nextUpdate passed, or none) and one from the future', async () => {
    const stale = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true }, nextUpdate: T0 - MINUTE }) }));
    assert.match(
      unknownWhy((await checker(stale.fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0]),
      /expired OCSP response/,
    );
    const none = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true }, nextUpdate: null }) }));
    assert.match(unknownWhy((await checker(none.fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0]), /no nextUpdate/);
    const early = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true }, thisUpdate: T0 + HOUR }) }));
    assert.match(unknownWhy((await checker(early.fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0]), /in the future/);
  });

  it('CRL good and revoked (with reason), serial lookup', async () => {
    const good = fakeFetch(answers({ [CRL_URL]: crl({ issuer: root, revoked: [{ serial: bareLeaf.pki.serialNumber, at: T0 - DAY }] }) }));
    assert.deepEqual(await checker(good.fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at), [ok('crl'), NON_REVOKABLE]);
    assert.equal(good.calls[0]?.method, 'GET');

    const when = T0 - 3 * HOUR;
    const revoked = fakeFetch(answers({ [CRL_URL]: crl({ issuer: root, revoked: [{ serial: crlLeaf.pki.serialNumber, at: when, reason: 4 }] }) }));
    const [result] = await checker(revoked.fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at);
    assert.deepEqual(result, { status: 'revoked', method: 'crl', revokedAt: new Date(when), reason: 'superseded' });
  });

  it('certificateHold revokes until a later removeFromCRL lifts it', async () => {
    const held = fakeFetch(answers({ [CRL_URL]: crl({ issuer: root, revoked: [{ serial: crlLeaf.pki.serialNumber, at: T0 - DAY, reason: 6 }] }) }));
    assert.equal((await checker(held.fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at))[0]?.status, 'revoked');
    const lifted = fakeFetch(
      answers({
        [CRL_URL]: crl({
          issuer: root,
          revoked: [
            { serial: crlLeaf.pki.serialNumber, at: T0 - DAY, reason: 6 },
            { serial: crlLeaf.pki.serialNumber, at: T0 - HOUR, reason: 8 },
          ],
        }),
      }),
    );
    assert.deepEqual((await checker(lifted.fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at))[0], ok('crl'));
  });

  it('refuses an expired CRL and one not signed by the issuer', async () => {
    const expired = fakeFetch(answers({ [CRL_URL]: crl({ issuer: root, thisUpdate: T0 - 2 * DAY, nextUpdate: T0 - DAY }) }));
    assert.match(unknownWhy((await checker(expired.fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at))[0]), /expired CRL/);
    const forged = fakeFetch(answers({ [CRL_URL]: crl({ issuer: root, signer: otherKey }) }));
    assert.match(
      unknownWhy((await checker(forged.fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at))[0]),
      /not signed by the issuer/,
    );
  });

  it('merges a delta CRL named by the base CRL', async () => {
    const deltaUrl = 'http://crl.delta.test/delta.crl';
    const { fetch, calls } = fakeFetch(
      answers({
        [CRL_URL]: crl({ issuer: root, number: 5, freshest: deltaUrl }),
        [deltaUrl]: crl({ issuer: root, number: 6, delta: { baseNumber: 5 }, revoked: [{ serial: crlLeaf.pki.serialNumber, at: T0 - MINUTE, reason: 1 }] }),
      }),
    );
    const [result] = await checker(fetch, { now: T0 }).instance.check([crlLeaf.info, root.info], 'codeSigning', at);
    assert.equal(result?.status, 'revoked');
    assert.deepEqual(
      calls.map((c) => c.url),
      [CRL_URL, deltaUrl],
    );
  });

  it('does not contact an endpoint whose host is not allowed, nor a non-http one', async () => {
    const { fetch, calls } = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true } }) }));
    const [result] = await checker(fetch, { now: T0 }, { allowedHosts: ['crl.example.test'] }).instance.check([ocspLeaf.info, root.info], 'codeSigning', at);
    assert.equal(unknownWhy(result), `revocation endpoint ${OCSP_URL} is not in trust.revocation.allowedHosts`);
    assert.equal(calls.length, 0);

    const httpsLeaf = await issue('CN=https leaf', leafExtensions({ ocsp: ['https://ocsp.example.test/'] }), root);
    assert.match(unknownWhy((await checker(fetch, { now: T0 }).instance.check([httpsLeaf.info, root.info], 'codeSigning', at))[0]), /only http URLs/);
    assert.equal(calls.length, 0);
  });

  it('falls back from a failing OCSP responder to the CRL, and says why when both fail', async () => {
    const { fetch, calls } = fakeFetch(
      answers({ [OCSP_URL]: 503, [CRL_URL]: crl({ issuer: root, revoked: [{ serial: bothLeaf.pki.serialNumber, at: T0 - DAY }] }) }),
    );
    const { instance, warnings } = checker(fetch, { now: T0 });
    const [result] = await instance.check([bothLeaf.info, root.info], 'codeSigning', at);
    assert.equal(result?.status, 'revoked');
    assert.deepEqual(
      calls.map((c) => c.url),
      [OCSP_URL, CRL_URL],
    );
    assert.equal(warnings.length, 1);

    const broken = fakeFetch(answers({ [OCSP_URL]: 503, [CRL_URL]: 404 }));
    const why = unknownWhy((await checker(broken.fetch, { now: T0 }).instance.check([bothLeaf.info, root.info], 'codeSigning', at))[0]);
    assert.match(why, /^OCSP: .*HTTP 503.*; CRL: .*HTTP 404/);
  });

  it('caches answers until their nextUpdate', async () => {
    const clock = { now: T0 };
    const { fetch, calls } = fakeFetch(
      answers({
        [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true }, nextUpdate: T0 + HOUR }),
        [CRL_URL]: crl({ issuer: root, nextUpdate: T0 + HOUR }),
      }),
    );
    const { instance } = checker(fetch, clock);
    for (let i = 0; i < 3; i++) {
      assert.deepEqual((await instance.check([ocspLeaf.info, root.info], 'codeSigning', at))[0], ok('ocsp'));
      assert.deepEqual((await instance.check([crlLeaf.info, root.info], 'codeSigning', at))[0], ok('crl'));
    }
    assert.equal(calls.length, 2);
    clock.now = T0 + HOUR + 1;
    await instance.check([ocspLeaf.info, root.info], 'codeSigning', at);
    assert.equal(calls.length, 3);
  });

  it('concurrent checks of one certificate share one request', async () => {
    let release = (): void => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const { fetch, calls } = fakeFetch(answers({ [OCSP_URL]: ocspResponse({ cert: ocspLeaf, issuer: root, status: { good: true } }) }), gate);
    const { instance } = checker(fetch, { now: T0 });
    const pending = [1, 2, 3].map(() => instance.check([ocspLeaf.info, root.info], 'codeSigning', at));
    release();
    for (const results of await Promise.all(pending)) assert.deepEqual(results, [ok('ocsp'), NON_REVOKABLE]);
    assert.equal(calls.length, 1);
  });

  it('refuses a chain that breaks the rules of its purpose', async () => {
    const tsaLeaf = await issue('CN=tsa leaf', leafExtensions({ ocsp: [OCSP_URL], eku: [OID.timeStamping] }), root);
    const { fetch, calls } = fakeFetch(new Map());
    await assert.rejects(checker(fetch, { now: T0 }).instance.check([tsaLeaf.info, root.info], 'codeSigning', at), (err: unknown) => {
      assert.ok(err instanceof NotationError);
      assert.equal(err.code, 'revocation_unknown');
      assert.match(err.message, /must not contain timeStamping/);
      return true;
    });
    await assert.rejects(
      checker(fetch, { now: T0 }).instance.check([ocspLeaf.info, root.info], 'timestamping', at),
      /timeStamping as its only extended key usage/,
    );
    assert.equal(calls.length, 0);
  });
});
