import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  certBundleKey,
  checkRootCertificate,
  matchCommonNameToGun,
  parseCertificateBundle,
  rootCertificateKeys,
  validateCertificate,
  type CertificateInfo,
} from '../../../../src/trust/notary/certificates.js';
import { EKU_ANY, EKU_CODE_SIGNING, verifyCertificateChain } from '../../../../src/trust/notary/certificate-chain.js';
import { keyId, type PublicKeyRecord } from '../../../../src/trust/notary/keys.js';
import { parseSigned } from '../../../../src/trust/notary/metadata.js';
import { isTrustError } from '../../../../src/trust/notary/errors.js';
import { fixtureBytes, fixtureInfo, fixtureNow } from '../../../harness/notary-fixtures.js';

const rejects = (code: string) => (err: unknown) => isTrustError(err) && err.code === code;
const GUN = fixtureInfo('certs').gun;
const now = fixtureNow('certs');
const HOUR = 3_600_000;
const pem = (name: string): Buffer => fixtureBytes(`certs/${name}.pem`);
const cert = (name: string): CertificateInfo => parseCertificateBundle(pem(name))[0] as CertificateInfo;
const x509Key = (bytes: Buffer, keytype = 'ecdsa-x509'): PublicKeyRecord => ({ keytype, public: bytes });
const check = (bytes: Buffer, gun = GUN, at = now, checkExpiry = true) => checkRootCertificate('id', x509Key(bytes), gun, { now: at, checkExpiry });

describe('matchCommonNameToGun (trustpinning/certs.go MatchCNToGun)', () => {
  it('needs equality, or a prefix before trailing stars', () => {
    assert.equal(matchCommonNameToGun('docker.io/library/hello', 'docker.io/library/hello'), true);
    assert.equal(matchCommonNameToGun('docker.io/library/hello', 'docker.io/library/hello2'), false);
    assert.equal(matchCommonNameToGun('docker.io/library/*', 'docker.io/library/hello'), true);
    assert.equal(matchCommonNameToGun('docker.io/library/**', 'docker.io/library/hello'), true);
    assert.equal(matchCommonNameToGun('docker.io/lib*', 'docker.io/library/hello'), true);
    assert.equal(matchCommonNameToGun('docker.io/library/*', 'docker.io/other/hello'), false);
    assert.equal(matchCommonNameToGun('*', 'anything'), true);
    assert.equal(matchCommonNameToGun('docker.io/*/hello', 'docker.io/library/hello'), false);
  });
});

describe('root certificate rules (certs.go, tuf/utils/x509.go ValidateCertificate)', () => {
  it('accepts a non-CA leaf whose CN is the GUN, and refuses it for another GUN', () => {
    const found = check(pem('ecdsa-gun'));
    assert.equal(found.leaf.subject.commonName, GUN);
    assert.equal(found.intermediates.length, 0);
    assert.throws(() => check(pem('ecdsa-gun'), 'docker.io/library/other'), rejects('bad_certificate'));
    assert.throws(() => check(pem('ecdsa-other-gun')), rejects('bad_certificate'));
  });

  it('accepts a wildcard CN for GUNs under its prefix', () => {
    check(pem('ecdsa-wildcard'));
    check(pem('ecdsa-wildcard'), 'docker.io/library/anything');
    assert.throws(() => check(pem('ecdsa-wildcard'), 'docker.io/acme/app'), rejects('bad_certificate'));
  });

  it('refuses SHA-1 signatures and RSA keys under 2048 bits', () => {
    for (const name of ['ecdsa-sha1', 'rsa-sha1', 'rsa-1024']) {
      assert.throws(() => validateCertificate(cert(name), { now, checkExpiry: false }), rejects('bad_certificate'), name);
    }
    validateCertificate(cert('rsa-2048'), { now, checkExpiry: true });
    check(pem('rsa-2048'));
  });

  it('refuses a CA certificate as the leaf, a CA first, and two leaves', () => {
    assert.throws(() => check(pem('ca-leaf')), rejects('bad_certificate'));
    assert.throws(() => check(Buffer.concat([pem('ca-leaf'), pem('ecdsa-gun')])), rejects('bad_certificate'));
    assert.throws(() => check(Buffer.concat([pem('ecdsa-gun'), pem('ecdsa-wildcard')])), rejects('bad_certificate'));
    const withCa = check(Buffer.concat([pem('ecdsa-gun'), pem('ca-leaf')]));
    assert.equal(withCa.intermediates.length, 1);
  });

  it('refuses bundles with other PEM blocks or no certificate', () => {
    const publicKey = Buffer.from('-----BEGIN PUBLIC KEY-----\nQUI=\n-----END PUBLIC KEY-----\n');
    assert.throws(() => check(Buffer.concat([pem('ecdsa-gun'), publicKey])), rejects('bad_certificate'));
    assert.throws(() => check(Buffer.from('no pem here')), rejects('bad_certificate'));
  });

  it('checks validity against the injected clock: NotBefore ≤ now + 24h, now ≤ NotAfter', () => {
    const c = cert('ecdsa-gun');
    const opts = (t: number, checkExpiry = true) => ({ now: new Date(t), checkExpiry });
    validateCertificate(c, opts(c.notAfter.getTime()));
    assert.throws(() => validateCertificate(c, opts(c.notAfter.getTime() + 1000)), rejects('expired'));
    validateCertificate(c, opts(c.notBefore.getTime() - 23 * HOUR));
    assert.throws(() => validateCertificate(c, opts(c.notBefore.getTime() - 25 * HOUR)), rejects('expired'));
    // A previously trusted root's certificates are not checked for expiry.
    validateCertificate(c, opts(c.notAfter.getTime() + 1000, false));
    assert.throws(() => check(pem('ecdsa-gun'), GUN, new Date(c.notAfter.getTime() + 1000)), rejects('expired'));
    check(pem('ecdsa-gun'), GUN, new Date(c.notAfter.getTime() + 1000), false);
  });
});

describe('rootCertificateKeys and certBundleKey on real root.json files', () => {
  for (const name of ['ecdsa-delegation', 'rsa-ca-root']) {
    it(`${name}: rebuilds the root key with the same ID notary used, for its GUN only`, () => {
      const { gun } = fixtureInfo(name);
      const root = parseSigned(fixtureBytes(`${name}/root.json`), 'root').signed;
      const rootId = root.roles.get('root')?.keyids[0] ?? '';
      const result = rootCertificateKeys(root, gun, { now: fixtureNow(name), checkExpiry: true, filterIntermediates: true });
      assert.deepEqual([...result.certificates.keys()], [rootId]);
      assert.deepEqual([...result.keys.keys()], [rootId]); // Go's PEM re-encoding is byte-identical
      assert.equal(result.rejected.size, 0);
      assert.throws(
        () => rootCertificateKeys(root, 'docker.io/someone/else', { now: fixtureNow(name), checkExpiry: true, filterIntermediates: true }),
        rejects('bad_certificate'),
      );
    });
  }

  it('skips invalid root keys but keeps the valid ones, and reports why', () => {
    const good = x509Key(pem('ecdsa-gun'));
    const bad = x509Key(pem('ecdsa-sha1'));
    const view = {
      keys: new Map([
        [keyId(good), good],
        [keyId(bad), bad],
      ]),
      roles: new Map([['root', { keyids: [keyId(bad), keyId(good)] }]]),
    };
    const result = rootCertificateKeys(view, GUN, { now, checkExpiry: true, filterIntermediates: true });
    assert.deepEqual([...result.certificates.keys()], [keyId(good)]);
    assert.equal(result.rejected.get(keyId(bad))?.code, 'bad_certificate');
  });

  it('drops expired intermediates from the rebuilt key when asked (new roots), not otherwise', () => {
    const bundle = x509Key(Buffer.concat([pem('ecdsa-gun'), pem('ca-leaf')]));
    const view = { keys: new Map([[keyId(bundle), bundle]]), roles: new Map([['root', { keyids: [keyId(bundle)] }]]) };
    const later = new Date(cert('ca-leaf').notAfter.getTime() + 1000);
    const kept = rootCertificateKeys(view, GUN, { now: later, checkExpiry: false, filterIntermediates: false });
    assert.deepEqual([...kept.keys.keys()], [keyId(bundle)]);
    const dropped = rootCertificateKeys(view, GUN, { now: later, checkExpiry: false, filterIntermediates: true });
    const leafOnly = certBundleKey(cert('ecdsa-gun'), []);
    assert.ok(leafOnly !== null);
    assert.deepEqual([...dropped.keys.keys()], [keyId(leafOnly)]);
  });
});

describe('verifyCertificateChain (trustpin.go caCheck / Go x509 Verify)', () => {
  const root = parseSigned(fixtureBytes('rsa-ca-root/root.json'), 'root').signed;
  const rootKey = root.keys.get(root.roles.get('root')?.keyids[0] ?? '') as PublicKeyRecord;
  const leaf = parseCertificateBundle(rootKey.public)[0] as CertificateInfo;
  const intermediate = parseCertificateBundle(fixtureBytes('rsa-ca-root/intermediate.crt'));
  const ca = parseCertificateBundle(fixtureBytes('rsa-ca-root/ca.crt'));
  const at = fixtureNow('rsa-ca-root');

  it('builds leaf → intermediate → pinned CA', () => {
    const chain = verifyCertificateChain(leaf, intermediate, ca, { now: at, keyUsages: [EKU_ANY] });
    assert.deepEqual(
      chain.map((c) => c.subject.commonName),
      [fixtureInfo('rsa-ca-root').gun, 'Signet Test Intermediate CA', 'Signet Test Root CA'],
    );
    verifyCertificateChain(leaf, intermediate, ca, { now: at, keyUsages: [EKU_CODE_SIGNING] });
    verifyCertificateChain(leaf, [], intermediate, { now: at, keyUsages: [EKU_ANY] }); // any pool member anchors
  });

  it("keeps Go's default serverAuth request: a codeSigning-only leaf is refused", () => {
    assert.throws(() => verifyCertificateChain(leaf, intermediate, ca, { now: at }), rejects('bad_certificate'));
  });

  it('fails without the intermediate, with another CA, or outside the validity period', () => {
    assert.throws(() => verifyCertificateChain(leaf, [], ca, { now: at, keyUsages: [EKU_ANY] }), rejects('bad_certificate'));
    assert.throws(() => verifyCertificateChain(leaf, intermediate, [cert('ecdsa-gun')], { now: at, keyUsages: [EKU_ANY] }), rejects('bad_certificate'));
    const later = new Date(leaf.notAfter.getTime() + 1000);
    assert.throws(() => verifyCertificateChain(leaf, intermediate, ca, { now: later, keyUsages: [EKU_ANY] }), rejects('expired'));
  });

  it('accepts a self-signed leaf that is itself pinned', () => {
    const self = cert('ecdsa-gun');
    assert.equal(verifyCertificateChain(self, [], [self], { now }).length, 1);
  });
});
