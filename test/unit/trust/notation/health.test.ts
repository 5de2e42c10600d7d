/**
 * Notation trust health: the certificates of a requirement's trust stores, and the signing chains
 * of signatures that admitted a digest, remembered by the trust source. The stores and the signed
 * envelope are notation-go's own test vectors (test/fixtures/notation-go).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { NotationRequirements } from '../../../../src/config/load.js';
import { notationHealth, SigningChains } from '../../../../src/trust/notation/health.js';
import { NotationTrustSource } from '../../../../src/trust/notation/notation-source.js';
import { prepareNotation } from '../../../../src/trust/notation/prepare.js';
import { parseCertificatePem } from '../../../../src/trust/x509/index.js';
import { deniedWith } from '../../../harness/denials.js';
import { FakeSignatureRegistry, nonRevokable, VECTOR_IMAGE } from '../../../harness/notation-fake-registry.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'notation-go');
const TRUST_STORE = join(FIXTURES, 'verifier', 'testdata', 'truststore');
const CA_STORE = join(TRUST_STORE, 'x509', 'ca', 'valid-trust-store');
/** Signed with a leaf "Notation Test Root" issued by the root of the same name (a chain of two). */
const VALID = readFileSync(join(FIXTURES, 'internal', 'mock', 'testdata', 'ca_valid_sig_env.json'));
const INVALID = readFileSync(join(FIXTURES, 'internal', 'mock', 'testdata', 'ca_invalid_sig_env.json'));
const TEST_ROOT = 'C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root';
const PATH = 'policy.rules[0].require.notation';

function requirement(trustStores: string[], threshold = 1): NotationRequirements {
  return {
    trustPolicy: {
      path: 'inline',
      json: {
        version: '1.0',
        trustPolicies: [{ name: 'all', registryScopes: ['*'], signatureVerification: { level: 'strict' }, trustStores, trustedIdentities: ['*'] }],
      },
    },
    trustStore: { kind: 'directory', path: TRUST_STORE },
    threshold,
    repository: undefined,
    path: PATH,
  };
}

function registryWith(...envelopes: Buffer[]): FakeSignatureRegistry {
  const registry = new FakeSignatureRegistry();
  for (const envelope of envelopes) registry.add(envelope);
  return registry;
}

function source(registry: FakeSignatureRegistry): NotationTrustSource {
  return new NotationTrustSource({
    fetcherFor: () => registry,
    revocation: nonRevokable,
    logger: pino({ level: 'silent' }),
    freshnessSeconds: 60,
    deniedCacheSeconds: 30,
    clock: () => Date.parse('2026-12-02T00:00:00Z'),
  });
}

function storeCertificate(file: string): ReturnType<typeof parseCertificatePem> {
  return parseCertificatePem(readFileSync(join(CA_STORE, file)));
}

describe('notationHealth: the trust stores of a requirement', () => {
  it('lists every certificate of every store, by store type then name, with its validity', () => {
    const prepared = prepareNotation(
      requirement(['tsa:test-timestamp', 'signingAuthority:valid-trust-store', 'ca:valid-trust-store', 'ca:valid-trust-store-2']),
    );
    const items = notationHealth(prepared, PATH);

    const counts = new Map(prepared.stores.names().map((s) => [`${PATH} trust store ${s.type}/${s.name}`, s.count]));
    const scopes = [...new Set(items.map((i) => i.scope))];
    assert.deepEqual(scopes, [
      `${PATH} trust store ca/valid-trust-store`,
      `${PATH} trust store ca/valid-trust-store-2`,
      `${PATH} trust store signingAuthority/valid-trust-store`,
      `${PATH} trust store tsa/test-timestamp`,
    ]);
    for (const scope of scopes) assert.equal(items.filter((i) => i.scope === scope).length, counts.get(scope), scope);

    for (const item of items) {
      assert.equal(item.format, 'notation');
      assert.equal(item.kind, 'certificate');
      assert.equal(item.position, /trust store (\w+)\//.exec(item.scope)?.[1]);
      assert.ok(item.notBefore && item.expires && item.notBefore < item.expires, item.name);
    }
    const root = storeCertificate('NotationTestRoot.pem');
    assert.deepEqual(
      items.filter((i) => i.name === TEST_ROOT).map((i) => i.scope),
      [`${PATH} trust store ca/valid-trust-store`, `${PATH} trust store signingAuthority/valid-trust-store`],
    );
    assert.deepEqual(
      items.find((i) => i.name === TEST_ROOT),
      {
        format: 'notation',
        scope: `${PATH} trust store ca/valid-trust-store`,
        kind: 'certificate',
        name: TEST_ROOT,
        position: 'ca',
        notBefore: root.notBefore.toISOString(),
        expires: root.notAfter.toISOString(),
      },
    );
    assert.ok(items.some((i) => i.position === 'tsa' && /GlobalSign/.test(i.name)));
  });

  it('lists the stores given inline', () => {
    const pem = readFileSync(join(CA_STORE, 'NotationTestRoot.pem'), 'utf8');
    const prepared = prepareNotation({
      ...requirement(['ca:acme']),
      trustStore: { kind: 'inline', stores: { ca: { acme: [{ path: 'acme.pem', pem }] }, signingAuthority: {}, tsa: {} } },
    });
    assert.deepEqual(
      notationHealth(prepared, PATH).map((i) => [i.scope, i.name, i.position]),
      [[`${PATH} trust store ca/acme`, TEST_ROOT, 'ca']],
    );
  });
});

describe('signing chains of verified signatures', () => {
  const subject = { registry: 'registry.test', repository: 'library/app', digest: VECTOR_IMAGE };

  it('remembers the chain of a signature that admitted a digest: leaf and root, under the repository', async () => {
    const notation = source(registryWith(VALID));
    assert.deepEqual(notation.signingChains(), []);
    await notation.verify(subject, requirement(['ca:valid-trust-store']));

    const items = notation.signingChains();
    assert.deepEqual(
      items.map((i) => [i.format, i.scope, i.kind, i.name, i.position]),
      [
        ['notation', 'signatures of registry.test/library/app', 'certificate', TEST_ROOT, 'leaf'],
        ['notation', 'signatures of registry.test/library/app', 'certificate', TEST_ROOT, 'root'],
      ],
    );
    // The leaf and the root of ca_valid_sig_env.json differ in validity (openEnvelope's chain, leaf first).
    const [leaf, root] = items;
    assert.ok(leaf && root);
    assert.deepEqual([leaf.notBefore, leaf.expires], ['2020-10-09T07:00:00.000Z', '2122-08-06T20:38:45.000Z']);
    assert.deepEqual([root.notBefore, root.expires], ['2020-09-09T07:00:00.000Z', '2122-09-05T20:38:45.000Z']);
  });

  it('one leaf is one chain, shown under the repository it signed last', async () => {
    const notation = source(registryWith(VALID));
    await notation.verify(subject, requirement(['ca:valid-trust-store']));
    await notation.verify({ ...subject, repository: 'library/other' }, requirement(['ca:valid-trust-store']));
    assert.deepEqual([...new Set(notation.signingChains().map((i) => i.scope))], ['signatures of registry.test/library/other']);
    assert.equal(notation.signingChains().length, 2);
  });

  it('remembers nothing of a denied digest: a signature that does not verify, or too few signers', async () => {
    const invalid = source(registryWith(INVALID));
    await deniedWith(invalid.verify(subject, requirement(['ca:valid-trust-store'])), 'bad_signature');
    assert.deepEqual(invalid.signingChains(), []);

    const short = source(registryWith(VALID));
    await deniedWith(short.verify(subject, requirement(['ca:valid-trust-store'], 2)), 'threshold');
    assert.deepEqual(short.signingChains(), []);
  });

  it('keeps a bounded number of chains, the least recently seen dropped first', () => {
    const chains = new SigningChains(2);
    const [a, b, c] = ['NotationTestRoot.pem', 'wabbit-networks.io.crt', 'TestTimestamp.crt'].map(storeCertificate);
    assert.ok(a && b && c);
    chains.record('registry.test/a', [a]);
    chains.record('registry.test/b', [b]);
    chains.record('registry.test/a', [a]);
    chains.record('registry.test/c', [c]);
    assert.deepEqual(
      chains.items().map((i) => [i.scope, i.name, i.position]),
      [
        ['signatures of registry.test/c', c.subject.text, 'leaf'],
        ['signatures of registry.test/a', a.subject.text, 'leaf'],
      ],
    );
  });

  it('names a three-certificate chain leaf, intermediate, root', () => {
    const chains = new SigningChains(10);
    const [a, b, c] = ['wabbit-networks.io.crt', 'TestTimestamp.crt', 'NotationTestRoot.pem'].map(storeCertificate);
    assert.ok(a && b && c);
    chains.record('registry.test/x', [a, b, c]);
    assert.deepEqual(
      chains.items().map((i) => i.position),
      ['leaf', 'intermediate', 'root'],
    );
  });
});
