// @peculiar/x509 needs a Reflect metadata polyfill evaluated before it (see src/trust/x509/library.ts).
import 'reflect-metadata';
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, webcrypto } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { SignetError } from '../../../../src/errors.js';
import { loadTrustStoreDirectory, trustStoreFromInline } from '../../../../src/trust/notation/trust-store.js';
import type { TrustStoreSet } from '../../../../src/trust/notation/types.js';

const WHERE = 'policy.rules.0.require.notation.trustStore';
const crypto = webcrypto;
const EC_P256 = { name: 'ECDSA', namedCurve: 'P-256' };
const DAY_MS = 24 * 60 * 60 * 1000;

interface Made {
  der: Buffer;
  pem: string;
}

interface CertOptions {
  subject: string;
  /** defaults to subject */
  issuer?: string;
  /** signs with this key instead of the certificate's own */
  signingKey?: webcrypto.CryptoKey;
  extensions?: x509.Extension[];
  hash?: 'SHA-1' | 'SHA-256';
}

async function makeCert(options: CertOptions): Promise<Made & { keys: webcrypto.CryptoKeyPair }> {
  const pair = await crypto.subtle.generateKey(EC_P256, true, ['sign', 'verify']);
  const serial = randomBytes(8);
  serial[0] = (serial[0] ?? 0) & 0x7f;
  const cert = await x509.X509CertificateGenerator.create(
    {
      serialNumber: serial.toString('hex'),
      subject: options.subject,
      issuer: options.issuer ?? options.subject,
      notBefore: new Date(Date.now() - DAY_MS),
      notAfter: new Date(Date.now() + 30 * DAY_MS),
      signingAlgorithm: { name: 'ECDSA', hash: options.hash ?? 'SHA-256' },
      publicKey: pair.publicKey,
      signingKey: options.signingKey ?? pair.privateKey,
      extensions: options.extensions ?? [],
    },
    crypto,
  );
  return { der: Buffer.from(cert.rawData), pem: cert.toString('pem') + '\n', keys: pair };
}

const caExtensions = (certSign = true) => [
  new x509.BasicConstraintsExtension(true, undefined, true),
  new x509.KeyUsagesExtension(certSign ? x509.KeyUsageFlags.keyCertSign : x509.KeyUsageFlags.digitalSignature, true),
];
const leafExtensions = () => [
  new x509.BasicConstraintsExtension(false, undefined, true),
  new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
];

/** The certificates of the tests, made once. */
interface Fixtures {
  root: Made;
  root2: Made;
  intermediate: Made;
  issuedLeaf: Made;
  selfSignedLeaf: Made;
  selfSignedNoExtensions: Made;
  caWithoutCertSign: Made;
  sha1Leaf: Made;
  sha1Root: Made;
  renamedCa: Made;
}

let f: Fixtures;
let tmp: string;

before(async () => {
  const root = await makeCert({ subject: 'CN=Test Root, O=Signet, C=US', extensions: caExtensions() });
  const intermediate = await makeCert({
    subject: 'CN=Test Intermediate',
    issuer: 'CN=Test Root, O=Signet, C=US',
    signingKey: root.keys.privateKey,
    extensions: caExtensions(),
  });
  f = {
    root,
    root2: await makeCert({ subject: 'CN=Second Root', extensions: caExtensions() }),
    intermediate,
    issuedLeaf: await makeCert({
      subject: 'CN=Issued Leaf',
      issuer: 'CN=Test Root, O=Signet, C=US',
      signingKey: root.keys.privateKey,
      extensions: leafExtensions(),
    }),
    selfSignedLeaf: await makeCert({ subject: 'CN=Self Signed Leaf', extensions: leafExtensions() }),
    selfSignedNoExtensions: await makeCert({ subject: 'CN=No Extensions' }),
    caWithoutCertSign: await makeCert({ subject: 'CN=CA Without CertSign', extensions: caExtensions(false) }),
    sha1Leaf: await makeCert({ subject: 'CN=SHA1 Leaf', extensions: leafExtensions(), hash: 'SHA-1' }),
    sha1Root: await makeCert({ subject: 'CN=SHA1 Root', extensions: caExtensions(), hash: 'SHA-1' }),
    // self-signed with its own key, but its issuer name differs from its subject
    renamedCa: await makeCert({ subject: 'CN=Renamed CA', issuer: 'CN=Someone Else', extensions: caExtensions() }),
  };
  tmp = mkdtempSync(join(tmpdir(), 'signet-truststore-'));
});

after(() => rmSync(tmp, { recursive: true, force: true }));

let counter = 0;
/** A fresh trust store directory with `files` at their relative paths (a string or bytes each). */
function storeDir(files: Record<string, string | Buffer>): string {
  const dir = join(tmp, `t${counter++}`);
  mkdirSync(dir);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(join(dir, path, '..'), { recursive: true });
    writeFileSync(join(dir, path), content);
  }
  return dir;
}

function refused(run: () => unknown, pattern: RegExp): void {
  assert.throws(run, (err: unknown) => {
    assert.ok(err instanceof SignetError, `not a SignetError: ${String(err)}`);
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.ok(err.message.startsWith(`${WHERE}: `), err.message);
    assert.match(err.message, pattern);
    return true;
  });
}

const subjects = (set: TrustStoreSet, type: 'ca' | 'signingAuthority' | 'tsa', name: string) => set.get(type, name)?.map((c) => c.subject.commonName);

describe('loadTrustStoreDirectory: reading every store', () => {
  it('reads PEM bundles and concatenated DER files of each type, in file name order', () => {
    const dir = storeDir({
      'x509/ca/acme/b-root.pem': f.root.pem + 'text between blocks is ignored\n' + f.root2.pem,
      'x509/ca/acme/a-inter.der': Buffer.concat([f.intermediate.der, f.selfSignedLeaf.der]),
      'x509/ca/acme/c.any-extension': f.selfSignedNoExtensions.pem,
      'x509/ca/wabbit/root.crt': f.root.der,
      'x509/signingAuthority/sa/root.cer': f.root2.pem,
      'x509/tsa/tsa-root/root.pem': f.root.pem,
    });
    const set = loadTrustStoreDirectory(dir, WHERE);
    assert.deepEqual(subjects(set, 'ca', 'acme'), ['Test Intermediate', 'Self Signed Leaf', 'Test Root', 'Second Root', 'No Extensions']);
    assert.deepEqual(subjects(set, 'ca', 'wabbit'), ['Test Root']);
    assert.deepEqual(subjects(set, 'signingAuthority', 'sa'), ['Second Root']);
    assert.deepEqual(subjects(set, 'tsa', 'tsa-root'), ['Test Root']);
    assert.equal(set.get('ca', 'sa'), undefined);
    assert.equal(set.get('tsa', 'missing'), undefined);
    assert.deepEqual(
      [...set.names()].sort((a, b) => `${a.type}:${a.name}`.localeCompare(`${b.type}:${b.name}`)),
      [
        { type: 'ca', name: 'acme', count: 5 },
        { type: 'ca', name: 'wabbit', count: 1 },
        { type: 'signingAuthority', name: 'sa', count: 1 },
        { type: 'tsa', name: 'tsa-root', count: 1 },
      ],
    );
  });

  it('reads PEM blocks whatever their label, as notation-core-go does', () => {
    const relabelled = f.root.pem.replaceAll('CERTIFICATE', 'TRUSTED THING');
    const set = loadTrustStoreDirectory(storeDir({ 'x509/ca/s/root.pem': relabelled }), WHERE);
    assert.deepEqual(subjects(set, 'ca', 's'), ['Test Root']);
  });

  it('gives an empty set without x509/, and ignores other entries of x509/', () => {
    assert.deepEqual(loadTrustStoreDirectory(storeDir({ README: 'hello' }), WHERE).names(), []);
    const set = loadTrustStoreDirectory(storeDir({ 'x509/README': 'x', 'x509/other/s/root.pem': f.root.pem, 'x509/ca/s/root.pem': f.root.pem }), WHERE);
    assert.deepEqual(set.names(), [{ type: 'ca', name: 's', count: 1 }]);
  });

  it('accepts CA certificates and self-signed non-CA certificates (SHA-1 too) in ca stores', () => {
    const set = loadTrustStoreDirectory(
      storeDir({
        'x509/ca/s/1.pem': f.intermediate.pem,
        'x509/ca/s/2.pem': f.selfSignedLeaf.pem,
        'x509/ca/s/3.pem': f.sha1Leaf.pem,
        'x509/ca/s/4.pem': f.caWithoutCertSign.pem,
        'x509/ca/s/5.pem': f.renamedCa.pem,
      }),
      WHERE,
    );
    assert.equal(set.get('ca', 's')?.length, 5);
  });

  it('refuses a non-CA certificate that is not self-signed, in any store type', () => {
    for (const type of ['ca', 'signingAuthority', 'tsa']) {
      refused(
        () => loadTrustStoreDirectory(storeDir({ [`x509/${type}/s/leaf.pem`]: f.issuedLeaf.pem }), WHERE),
        /leaf\.pem: certificate "CN=Issued Leaf" is neither a CA certificate nor a self-signed signing certificate/,
      );
    }
  });

  it('accepts only root CA certificates in tsa stores', () => {
    assert.equal(loadTrustStoreDirectory(storeDir({ 'x509/tsa/t/root.pem': f.root.pem + f.root2.pem }), WHERE).get('tsa', 't')?.length, 2);
    const cases: Array<[Made, RegExp]> = [
      [f.selfSignedLeaf, /basicConstraints does not say cA=true/],
      [f.selfSignedNoExtensions, /basicConstraints does not say cA=true/],
      [f.caWithoutCertSign, /keyUsage lacks keyCertSign/],
      [f.sha1Root, /no MD5 or SHA-1/],
      [f.intermediate, /signature does not verify with its own key/],
      [f.renamedCa, /issuer and subject differ/],
    ];
    for (const [cert, why] of cases) {
      refused(
        () => loadTrustStoreDirectory(storeDir({ 'x509/tsa/t/c.pem': cert.pem }), WHERE),
        new RegExp(`c\\.pem: certificate .* is not a root CA certificate \\(.*${why.source}.*\\): a tsa store holds`),
      );
    }
  });

  it('refuses store directories and files notation-go refuses', () => {
    refused(() => loadTrustStoreDirectory(join(tmp, 'does-not-exist'), WHERE), /trust store directory .*does-not-exist does not exist/);
    const file = join(storeDir({ f: 'x' }), 'f');
    refused(() => loadTrustStoreDirectory(file, WHERE), /is not a directory/);
    refused(
      () => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/root.pem': f.root.pem, 'x509/ca/s/sub/other.pem': f.root.pem }), WHERE),
      /sub is not a regular file \(directories and symlinks are not supported/,
    );
    refused(() => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/empty.pem': '' }), WHERE), /empty\.pem is empty/);
    refused(() => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/notes.txt': 'just some text' }), WHERE), /notes\.txt is neither PEM nor DER certificates/);
    refused(
      () => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/bad.pem': '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n' }), WHERE),
      /bad\.pem: PEM block 1 is not a certificate notation can read/,
    );
    refused(
      () => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/bad.der': Buffer.concat([f.root.der, Buffer.from([0x30, 0x03, 0x02, 0x01, 0x00])]) }), WHERE),
      /bad\.der: DER certificate 2 is not a certificate/,
    );
    refused(() => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/cut.der': f.root.der.subarray(0, 100) }), WHERE), /cut\.der is neither PEM nor DER/);
    refused(() => loadTrustStoreDirectory(storeDir({ 'x509/ca/my store/root.pem': f.root.pem }), WHERE), /"my store" is not a valid trust store name/);
    refused(() => loadTrustStoreDirectory(storeDir({ 'x509/ca/loose.pem': f.root.pem }), WHERE), /loose\.pem is not a regular directory/);
    refused(() => loadTrustStoreDirectory(storeDir({ 'x509/tsa': 'a file' }), WHERE), /tsa is not a directory/);
    refused(() => loadTrustStoreDirectory(storeDir({ x509: 'a file' }), WHERE), /x509 is not a directory/);
  });

  it('refuses an empty store', () => {
    const dir = storeDir({});
    mkdirSync(join(dir, 'x509', 'ca', 'empty'), { recursive: true });
    refused(() => loadTrustStoreDirectory(dir, WHERE), /no certificates in the ca trust store "empty"/);
  });

  it('refuses symlinked stores and files, and follows symlinks above the store', () => {
    const real = storeDir({ 'x509/ca/real/root.pem': f.root.pem });
    const linkedStore = storeDir({});
    mkdirSync(join(linkedStore, 'x509', 'ca'), { recursive: true });
    symlinkSync(join(real, 'x509', 'ca', 'real'), join(linkedStore, 'x509', 'ca', 'link'));
    refused(() => loadTrustStoreDirectory(linkedStore, WHERE), /link is not a regular directory \(symlinks are not supported\)/);

    const linkedFile = storeDir({ 'x509/ca/s/root.pem': f.root.pem });
    symlinkSync(join(real, 'x509', 'ca', 'real', 'root.pem'), join(linkedFile, 'x509', 'ca', 's', 'link.pem'));
    refused(() => loadTrustStoreDirectory(linkedFile, WHERE), /link\.pem is not a regular file \(directories and symlinks are not supported/);

    const linkedRoot = join(tmp, `t${counter++}`);
    symlinkSync(real, linkedRoot);
    assert.equal(loadTrustStoreDirectory(linkedRoot, WHERE).get('ca', 'real')?.length, 1);
  });

  it('refuses a file over the size limit before reading it', () => {
    refused(
      () => loadTrustStoreDirectory(storeDir({ 'x509/ca/s/big.pem': Buffer.alloc(1024 * 1024 + 1, 0x41) }), WHERE),
      /big\.pem is larger than 1048576 bytes/,
    );
    assert.equal(
      loadTrustStoreDirectory(storeDir({ 'x509/ca/s/pad.pem': f.root.pem + ' '.repeat(1024 * 1024 - f.root.pem.length) }), WHERE).get('ca', 's')?.length,
      1,
    );
  });

  it('refuses more than 1000 certificates in all', () => {
    const many = (n: number) => f.root.pem.repeat(n);
    assert.equal(loadTrustStoreDirectory(storeDir({ 'x509/ca/a/roots.pem': many(600), 'x509/ca/b/roots.pem': many(400) }), WHERE).names().length, 2);
    refused(
      () => loadTrustStoreDirectory(storeDir({ 'x509/ca/a/roots.pem': many(600), 'x509/ca/b/roots.pem': many(401) }), WHERE),
      /more than 1000 certificates in the trust stores/,
    );
    refused(
      () => loadTrustStoreDirectory(storeDir({ 'x509/ca/a/roots.der': Buffer.concat(Array.from({ length: 1001 }, () => f.root.der)) }), WHERE),
      /more than 1000 certificates/,
    );
  });
});

describe('loadTrustStoreDirectory: reading the stores a policy references', () => {
  it('reads only the referenced stores, each once', () => {
    const dir = storeDir({
      'x509/ca/good/root.pem': f.root.pem,
      'x509/tsa/t/root.pem': f.root2.pem,
      'x509/ca/broken/leaf.pem': f.issuedLeaf.pem,
      'x509/ca/bad name/x': 'x',
      'x509/signingAuthority/empty-file/x.pem': '',
    });
    const set = loadTrustStoreDirectory(dir, WHERE, [
      { type: 'ca', name: 'good' },
      { type: 'tsa', name: 't' },
      { type: 'ca', name: 'good' },
    ]);
    assert.deepEqual(set.names(), [
      { type: 'ca', name: 'good', count: 1 },
      { type: 'tsa', name: 't', count: 1 },
    ]);
    refused(() => loadTrustStoreDirectory(dir, WHERE, [{ type: 'ca', name: 'broken' }]), /neither a CA certificate/);
  });

  it('refuses a missing store and bad references', () => {
    const dir = storeDir({ 'x509/ca/good/root.pem': f.root.pem });
    refused(
      () => loadTrustStoreDirectory(dir, WHERE, [{ type: 'signingAuthority', name: 'good' }]),
      /the signingAuthority trust store "good" does not exist: create .*x509\/signingAuthority\/good/,
    );
    refused(() => loadTrustStoreDirectory(dir, WHERE, [{ type: 'ca', name: '../ca' }]), /unsupported trust store name/);
    refused(() => loadTrustStoreDirectory(dir, WHERE, [{ type: 'x509' as 'ca', name: 'good' }]), /unsupported trust store type/);
    assert.deepEqual(loadTrustStoreDirectory(dir, WHERE, []).names(), []);
  });
});

describe('trustStoreFromInline', () => {
  it('reads the stores given inline', () => {
    const set = trustStoreFromInline(
      {
        ca: { acme: [{ path: '/etc/signet/acme.pem', pem: f.root.pem + f.intermediate.pem }], other: [{ path: 'a.pem', pem: f.root2.pem }] },
        signingAuthority: {},
        tsa: { t: [{ path: 't.pem', pem: f.root.pem }] },
      },
      WHERE,
    );
    assert.deepEqual(subjects(set, 'ca', 'acme'), ['Test Root', 'Test Intermediate']);
    assert.deepEqual(set.names(), [
      { type: 'ca', name: 'acme', count: 2 },
      { type: 'ca', name: 'other', count: 1 },
      { type: 'tsa', name: 't', count: 1 },
    ]);
  });

  it('applies the directory rules', () => {
    refused(
      () => trustStoreFromInline({ ca: { 'bad name': [{ path: 'a.pem', pem: f.root.pem }] } }, WHERE),
      /ca\.bad name: "bad name" is not a valid trust store name/,
    );
    refused(() => trustStoreFromInline({ ca: { s: [] } }, WHERE), /ca\.s: the store has no certificates/);
    refused(() => trustStoreFromInline({ ca: { s: [{ path: 'a.pem', pem: 'not pem' }] } }, WHERE), /ca\.s\[0\] \(a\.pem\): no PEM certificate in it/);
    refused(
      () => trustStoreFromInline({ ca: { s: [{ path: 'leaf.pem', pem: f.issuedLeaf.pem }] } }, WHERE),
      /ca\.s\[0\] \(leaf\.pem\): certificate "CN=Issued Leaf" is neither a CA certificate/,
    );
    refused(() => trustStoreFromInline({ tsa: { t: [{ path: 'i.pem', pem: f.intermediate.pem }] } }, WHERE), /is not a root CA certificate/);
    refused(() => trustStoreFromInline({ ca: { s: [{ path: 'big.pem', pem: 'x'.repeat(1024 * 1024 + 1) }] } }, WHERE), /larger than 1048576 bytes/);
    refused(() => trustStoreFromInline({ ca: { s: [{ path: 'many.pem', pem: f.root.pem.repeat(1001) }] } }, WHERE), /more than 1000 certificates/);
    refused(() => trustStoreFromInline({ x509: {} } as never, WHERE), /x509: unsupported trust store type/);
    refused(() => trustStoreFromInline({ ca: { s: [{ path: 'a.pem' }] } } as never, WHERE), /ca\.s\[0\]: must be a PEM file/);
  });
});
