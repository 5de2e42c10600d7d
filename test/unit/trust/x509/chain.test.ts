import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { EKU, buildChain, isX509Error, parseCertificatePem, type CertificateInfo } from '../../../../src/trust/x509/index.js';
import { OpenSsl } from './openssl.js';

const rejects = (code: string, pattern?: RegExp) => (err: unknown) =>
  isX509Error(err) && err.code === code && (pattern === undefined || pattern.test(err.message));

const CA = ['basicConstraints=critical,CA:TRUE', 'keyUsage=critical,keyCertSign,cRLSign', 'subjectKeyIdentifier=hash'];
const LEAF = ['basicConstraints=critical,CA:FALSE', 'keyUsage=critical,digitalSignature', 'extendedKeyUsage=codeSigning'];

describe('buildChain (Go x509 Verify rules)', () => {
  const ssl = new OpenSsl();
  const certs = new Map<string, CertificateInfo>();
  const c = (name: string): CertificateInfo => certs.get(name) as CertificateInfo;
  let now: Date;

  before(() => {
    const add = (name: string, pem: Buffer) => certs.set(name, parseCertificatePem(pem));
    add('root', ssl.selfSigned('root', ssl.key('root', 'p384'), 'Test Root', { digest: 'sha384', ext: CA }));
    add(
      'int',
      ssl.issue('int', ssl.key('int', 'rsa2048'), 'Test Intermediate', 'root', {
        digest: 'sha256',
        ext: [...CA, 'basicConstraints=critical,CA:TRUE,pathlen:0'],
      }),
    );
    add('leaf', ssl.issue('leaf', ssl.key('leaf', 'p256'), 'example.com/acme/app', 'int', { digest: 'sha256', ext: LEAF }));
    add('edleaf', ssl.issue('edleaf', ssl.key('edleaf', 'ed25519'), 'ed', 'int', { digest: 'sha256', ext: LEAF }));
    // A second intermediate under `int` breaks int's pathlen:0.
    add('sub', ssl.issue('sub', ssl.key('sub', 'p256'), 'Sub CA', 'int', { digest: 'sha256', ext: CA }));
    add('subleaf', ssl.issue('subleaf', ssl.key('subleaf', 'p256'), 'deep', 'sub', { digest: 'sha256', ext: LEAF }));
    // Same subject name as the real intermediate, another key: its leaves do not chain.
    add('rogue', ssl.selfSigned('rogue', ssl.key('rogue', 'rsa2048'), 'Test Intermediate', { digest: 'sha256', ext: CA }));
    add('forged', ssl.issue('forged', 'leaf.key', 'example.com/acme/app', 'rogue', { digest: 'sha256', ext: LEAF }));
    add('sha1leaf', ssl.issue('sha1leaf', 'leaf.key', 'sha1', 'int', { digest: 'sha1', ext: LEAF }));
    add('notca', ssl.issue('notca', ssl.key('notca', 'p256'), 'Not a CA', 'root', { digest: 'sha256', ext: ['basicConstraints=critical,CA:FALSE'] }));
    add('undernotca', ssl.issue('undernotca', 'leaf.key', 'under', 'notca', { digest: 'sha256', ext: LEAF }));
    now = new Date(c('leaf').notBefore.getTime() + 60_000);
  });
  after(() => ssl.dispose());

  const opts = (keyUsages: readonly string[] = [EKU.any]) => ({ now, keyUsages, maxDepth: 16 });

  it('builds CA → intermediate → leaf for ECDSA and Ed25519 leaves', () => {
    const chain = buildChain(c('leaf'), [c('int')], [c('root')], opts());
    assert.deepEqual(
      chain.map((x) => x.subject.commonName),
      ['example.com/acme/app', 'Test Intermediate', 'Test Root'],
    );
    assert.equal(buildChain(c('edleaf'), [c('int')], [c('root')], opts([EKU.codeSigning])).length, 3);
    // Any member of the roots anchors the chain, and a pinned leaf is a chain of one.
    assert.equal(buildChain(c('leaf'), [], [c('int')], opts()).length, 2);
    assert.equal(buildChain(c('root'), [], [c('root')], opts()).length, 1);
  });

  it('needs the intermediate and the right root', () => {
    assert.throws(() => buildChain(c('leaf'), [], [c('root')], opts()), rejects('no_chain'));
    assert.throws(() => buildChain(c('leaf'), [c('int')], [c('rogue')], opts()), rejects('no_chain'));
  });

  it('refuses a leaf whose signature is not the intermediate’s', () => {
    assert.equal(c('forged').isIssuedBy(c('int')), false);
    assert.equal(c('forged').isIssuedBy(c('rogue')), true);
    assert.throws(() => buildChain(c('forged'), [c('int')], [c('root')], opts()), rejects('no_chain'));
  });

  it('checks the requested extended key usages', () => {
    buildChain(c('leaf'), [c('int')], [c('root')], opts([EKU.codeSigning]));
    assert.throws(() => buildChain(c('leaf'), [c('int')], [c('root')], opts([EKU.serverAuth])), rejects('no_chain'));
  });

  it('honours pathLenConstraint and basicConstraints, and refuses SHA-1 signatures', () => {
    assert.throws(() => buildChain(c('subleaf'), [c('sub'), c('int')], [c('root')], opts()), rejects('no_chain'));
    // pathlen 0 binds a CA even as the anchor (Go isValid counts the intermediates under it).
    assert.throws(() => buildChain(c('subleaf'), [c('sub')], [c('int')], opts()), rejects('no_chain'));
    assert.equal(buildChain(c('subleaf'), [], [c('sub')], opts()).length, 2);
    assert.throws(() => buildChain(c('undernotca'), [c('notca')], [c('root')], opts()), rejects('no_chain'));
    assert.throws(() => buildChain(c('sha1leaf'), [c('int')], [c('root')], opts()), rejects('no_chain'));
  });

  it('checks validity at the injected time, with no leeway', () => {
    const leaf = c('leaf');
    const later = new Date(leaf.notAfter.getTime() + 1000);
    assert.throws(() => buildChain(leaf, [c('int')], [c('root')], { ...opts(), now: later }), rejects('expired'));
    const before = new Date(leaf.notBefore.getTime() - 1000);
    assert.throws(() => buildChain(leaf, [c('int')], [c('root')], { ...opts(), now: before }), rejects('expired'));
  });

  it('stops after its signature-check budget', () => {
    // Candidates are tried roots first: leaf←root (fails), leaf←int, int←root: three checks.
    const within = (maxSignatureChecks: number) => buildChain(c('leaf'), [c('int')], [c('root')], { ...opts(), maxSignatureChecks });
    assert.equal(within(3).length, 3);
    assert.throws(() => within(2), rejects('no_chain', /limit/));
  });
});
