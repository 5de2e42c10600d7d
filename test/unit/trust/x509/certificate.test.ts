import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPublicKey } from 'node:crypto';
import {
  CertificateInfo,
  EKU,
  KEY_USAGE,
  isX509Error,
  parseCertificate,
  parseCertificateBundle,
  parseCertificatePem,
  type CertificateInfo as Info,
} from '../../../../src/trust/x509/index.js';
import { OpenSsl, pemToDer } from './openssl.js';

const rejects = (code: string) => (err: unknown) => isX509Error(err) && err.code === code;

describe('parseCertificate on openssl certificates', () => {
  const ssl = new OpenSsl();
  let rsa: Buffer;
  let p256: Buffer;
  let p384: Buffer;
  let ed25519: Buffer;
  let sha1: Buffer;
  let expired: Buffer;
  let longLived: Buffer;

  before(() => {
    rsa = ssl.selfSigned('rsa', ssl.key('rsa', 'rsa2048'), 'example.com/acme/app', {
      digest: 'sha256',
      serial: '0x1234abcd',
      ext: [
        'basicConstraints=critical,CA:TRUE,pathlen:2',
        'keyUsage=critical,digitalSignature,keyCertSign',
        'extendedKeyUsage=codeSigning,serverAuth',
        'subjectAltName=DNS:example.com,email:dev@example.com,URI:https://example.com/ci,IP:192.0.2.7',
      ],
    });
    p256 = ssl.selfSigned('p256', ssl.key('p256', 'p256'), 'p256', { digest: 'sha256', ext: ['basicConstraints=critical,CA:FALSE'] });
    p384 = ssl.selfSigned('p384', ssl.key('p384', 'p384'), 'p384', { digest: 'sha384' });
    ed25519 = ssl.selfSigned('ed', ssl.key('ed', 'ed25519'), 'ed25519');
    sha1 = ssl.selfSigned('sha1', 'p256.key', 'sha1', { digest: 'sha1' });
    expired = ssl.expired('old', 'p256.key', 'old', '20200101000000Z', '20200201000000Z');
    longLived = ssl.selfSigned('long', 'p256.key', 'long', { digest: 'sha256', days: 40 * 365 });
  });
  after(() => ssl.dispose());

  it('reads every field of an RSA certificate', () => {
    const cert = parseCertificatePem(rsa);
    const node = new X509Certificate(rsa);
    assert.equal(cert.version, 3);
    assert.equal(cert.serialNumber, 0x1234abcdn);
    assert.equal(cert.subject.commonName, 'example.com/acme/app');
    assert.equal(cert.subject.text, 'CN=example.com/acme/app');
    assert.equal(cert.issuer.commonName, 'example.com/acme/app');
    assert.deepEqual(cert.notBefore, node.validFromDate);
    assert.deepEqual(cert.notAfter, node.validToDate);
    assert.equal(cert.publicKey.algorithm, 'rsa');
    assert.equal(cert.publicKey.bits, 2048);
    assert.equal(cert.publicKey.curve, undefined);
    assert.ok(cert.publicKey.spki.equals(node.publicKey.export({ format: 'der', type: 'spki' })));
    assert.ok(cert.publicKey.key.equals(createPublicKey(rsa)));
    assert.deepEqual({ ...cert.signatureAlgorithm }, { oid: '1.2.840.113549.1.1.11', name: 'sha256WithRSAEncryption', hash: 'sha256', sha1: false });
    assert.deepEqual({ ...cert.basicConstraints }, { ca: true, pathLen: 2 });
    assert.equal(cert.isCA, true);
    assert.equal(cert.keyUsage, KEY_USAGE.digitalSignature | KEY_USAGE.keyCertSign);
    assert.deepEqual(cert.extKeyUsage, [EKU.codeSigning, EKU.serverAuth]);
    assert.deepEqual(
      cert.subjectAltNames.map((n) => `${n.type}:${n.value}`),
      ['dns:example.com', 'email:dev@example.com', 'uri:https://example.com/ci', 'ip:192.0.2.7'],
    );
    const byOid = new Map(cert.extensions.map((e) => [e.oid, e.critical]));
    assert.equal(byOid.get('2.5.29.19'), true);
    assert.equal(byOid.get('2.5.29.37'), false);
    assert.ok(cert.der.equals(pemToDer(rsa)));
  });

  it('is immutable and made only by the parser', () => {
    const cert = parseCertificatePem(p256);
    assert.ok(Object.isFrozen(cert) && Object.isFrozen(cert.subject) && Object.isFrozen(cert.extKeyUsage));
    assert.throws(() => {
      (cert as { version: number }).version = 1;
    }, TypeError);
    assert.throws(() => {
      (cert.extKeyUsage as string[]).push(EKU.any);
    }, TypeError);
    const Ctor = CertificateInfo as unknown as new (...args: unknown[]) => Info;
    assert.throws(() => new Ctor(Symbol('CertificateInfo'), {}, {}), TypeError);
    // Changing the caller's bytes afterwards does not change the parsed certificate.
    const der = pemToDer(p256);
    const parsed = parseCertificate(der);
    der.fill(0);
    assert.ok(parsed.der.equals(cert.der));
  });

  it('describes ECDSA P-256 / P-384 and Ed25519 keys and signatures', () => {
    const a = parseCertificatePem(p256);
    assert.deepEqual([a.publicKey.algorithm, a.publicKey.curve, a.publicKey.bits], ['ecdsa', 'P-256', 256]);
    assert.equal(a.signatureAlgorithm.name, 'ecdsa-with-SHA256');
    assert.deepEqual(a.basicConstraints, { ca: false, pathLen: undefined });
    assert.equal(a.keyUsage, undefined);
    assert.deepEqual(a.extKeyUsage, []);
    const b = parseCertificatePem(p384);
    assert.deepEqual([b.publicKey.algorithm, b.publicKey.curve, b.publicKey.bits], ['ecdsa', 'P-384', 384]);
    assert.equal(b.signatureAlgorithm.hash, 'sha384');
    const c = parseCertificatePem(ed25519);
    assert.deepEqual([c.publicKey.algorithm, c.publicKey.curve, c.publicKey.bits], ['ed25519', undefined, undefined]);
    assert.deepEqual([c.signatureAlgorithm.name, c.signatureAlgorithm.hash], ['Ed25519', undefined]);
    for (const cert of [a, b, c]) {
      assert.equal(cert.verifySignature(cert.publicKey.key), true, cert.subject.commonName);
      assert.equal(cert.isIssuedBy(cert), true, cert.subject.commonName);
    }
    assert.equal(a.verifySignature(b.publicKey.key), false);
    assert.equal(a.verifySignature(c.publicKey.key), false);
  });

  it('flags SHA-1 signatures', () => {
    const cert = parseCertificatePem(sha1);
    assert.deepEqual({ ...cert.signatureAlgorithm }, { oid: '1.2.840.10045.4.1', name: 'ecdsa-with-SHA1', hash: 'sha1', sha1: true });
  });

  it('reads past validity periods and GeneralizedTime dates after 2049', () => {
    const old = parseCertificatePem(expired);
    assert.equal(old.notBefore.toISOString(), '2020-01-01T00:00:00.000Z');
    assert.equal(old.notAfter.toISOString(), '2020-02-01T00:00:00.000Z');
    const long = parseCertificatePem(longLived);
    assert.ok(long.notAfter.getUTCFullYear() >= 2050);
    assert.deepEqual(long.notAfter, new X509Certificate(longLived).validToDate);
  });

  it('refuses garbage, truncated and padded DER', () => {
    const der = pemToDer(p256);
    for (const bad of [Buffer.alloc(0), Buffer.from('garbage'), der.subarray(0, der.length - 1), der.subarray(0, 40), Buffer.concat([der, Buffer.from([0])])]) {
      assert.throws(() => parseCertificate(bad), rejects('malformed'));
    }
  });

  it('refuses what Go refuses: non-minimal lengths, algorithm mismatch, bad name strings', () => {
    const der = pemToDer(rsa);
    // 30 82 LL LL → 30 83 00 LL LL: the same length, not minimally encoded.
    assert.equal(der[1], 0x82);
    const longForm = Buffer.concat([Buffer.from([0x30, 0x83, 0x00]), der.subarray(2)]);
    assert.throws(() => parseCertificate(longForm), rejects('malformed'));
    // The outer signatureAlgorithm says SHA-384 while the TBSCertificate says SHA-256.
    const oid = Buffer.from('2a864886f70d01010b', 'hex');
    const outer = der.lastIndexOf(oid);
    assert.ok(outer > der.indexOf(oid));
    const mismatch = Buffer.from(der);
    mismatch[outer + oid.length - 1] = 0x0c;
    assert.throws(() => parseCertificate(mismatch), rejects('malformed'));
    // CN "a_b" re-tagged as PrintableString ('_' is not printable) or UniversalString.
    const underscore = pemToDer(ssl.selfSigned('underscore', 'p256.key', 'a_b', { digest: 'sha256' }));
    const cn = underscore.indexOf(Buffer.from('0603550403 0c03 615f62'.replace(/ /g, ''), 'hex'));
    assert.ok(cn > 0);
    assert.equal(parseCertificate(underscore).subject.commonName, 'a_b');
    for (const tag of [0x13, 0x1c]) {
      const retagged = Buffer.from(underscore);
      retagged[cn + 5] = tag;
      assert.throws(() => parseCertificate(retagged), rejects('malformed'), `tag ${tag}`);
    }
  });

  it('reads extension values and versions as Go does', () => {
    const ca = pemToDer(ssl.selfSigned('ca', 'p256.key', 'ca', { digest: 'sha256', ext: ['basicConstraints=critical,CA:TRUE'] }));
    const patched = (from: string, to: string): Buffer => {
      const at = ca.indexOf(Buffer.from(from, 'hex'));
      assert.ok(at >= 0, from);
      return Buffer.concat([ca.subarray(0, at), Buffer.from(to, 'hex'), ca.subarray(at + from.length / 2)]);
    };
    assert.equal(parseCertificate(ca).isCA, true);
    // basicConstraints value SEQUENCE { BOOLEAN TRUE }: cA must be 0xFF (cryptobyte ReadASN1Boolean)...
    assert.throws(() => parseCertificate(patched('0603551d130101ff040530030101ff', '0603551d130101ff04053003010101')), rejects('malformed'));
    // ...the value must be a SEQUENCE, not [0]...
    assert.throws(() => parseCertificate(patched('0603551d130101ff040530030101ff', '0603551d130101ff0405a0030101ff')), rejects('malformed'));
    // ...and what follows it is ignored: SEQUENCE {} then a stray BOOLEAN reads as cA FALSE.
    assert.equal(parseCertificate(patched('0603551d130101ff040530030101ff', '0603551d130101ff040530000101ff')).isCA, false);
    // The critical flag is a DER BOOLEAN too.
    assert.throws(() => parseCertificate(patched('0603551d130101ff', '0603551d13010101')), rejects('malformed'));
    // Version 4 does not exist (parser.go "invalid version").
    assert.throws(() => parseCertificate(patched('a003020102', 'a003020103')), rejects('malformed'));
  });

  it('detects a signature that is not the issuer’s', () => {
    const der = Buffer.from(pemToDer(p256));
    const self = parseCertificate(der);
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff; // inside the signature value
    const tampered = parseCertificate(der);
    assert.equal(tampered.verifySignature(self.publicKey.key), false);
    assert.equal(tampered.isIssuedBy(self), false);
  });

  it('reads PEM bundles within their limits', () => {
    const bundle = Buffer.concat([Buffer.from('leading text\n'), p256, p384, ed25519]);
    assert.deepEqual(
      parseCertificateBundle(bundle, { maxCertificates: 3 }).map((c) => c.subject.commonName),
      ['p256', 'p384', 'ed25519'],
    );
    assert.throws(() => parseCertificateBundle(bundle, { maxCertificates: 2 }), rejects('too_large'));
    assert.throws(() => parseCertificateBundle(bundle, { maxCertificates: 3, maxBytes: 100 }), rejects('too_large'));
    const oversized = Buffer.concat(Array.from({ length: 40 }, () => p256));
    assert.throws(() => parseCertificateBundle(oversized, { maxCertificates: 16 }), rejects('too_large'));
    const key = Buffer.from('-----BEGIN PUBLIC KEY-----\nQUI=\n-----END PUBLIC KEY-----\n');
    assert.throws(() => parseCertificateBundle(Buffer.concat([p256, key]), { maxCertificates: 3 }), rejects('malformed'));
    assert.throws(() => parseCertificateBundle('no pem here', { maxCertificates: 3 }), rejects('malformed'));
    const broken = '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n';
    assert.throws(() => parseCertificateBundle(broken, { maxCertificates: 3 }), rejects('malformed'));
  });
});
