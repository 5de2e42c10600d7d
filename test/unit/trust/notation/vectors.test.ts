import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { NotationError } from '../../../../src/trust/notation/errors.js';
import { parseTrustPolicy } from '../../../../src/trust/notation/trust-policy.js';
import { loadTrustStoreDirectory, trustStoreFromInline } from '../../../../src/trust/notation/trust-store.js';
import type { RevocationChecker, TrustStoreSet, TrustStoreType } from '../../../../src/trust/notation/types.js';
import { openEnvelope, verifySignature, type TargetDescriptor, type VerifiedSignature } from '../../../../src/trust/notation/verifier.js';
import { encodePem } from '../../../../src/trust/x509/index.js';

// The notation-go test vectors (test/fixtures/notation-go, Apache-2.0; what each is and the verdict
// notation-go's own tests expect are in its README), each verified as Signet verifies a pulled
// image's signature, with the verdict the specification requires. The clock is fixed; the
// timestamp authority's chain (GlobalSign, with OCSP and CRL endpoints on the internet) is
// reported unrevoked by a stand-in checker, where notation-go's tests ask the real responders.

const ROOT = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'notation-go');
const MOCK = join(ROOT, 'internal', 'mock', 'testdata');
const TIMESTAMP = join(ROOT, 'verifier', 'testdata', 'timestamp', 'sigEnv');
const STORES = join(ROOT, 'verifier', 'testdata', 'truststore');
const JWS = 'application/jose+json';
const COSE = 'application/cose';
const NOW = new Date('2026-12-02T00:00:00Z');

const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
const D1: TargetDescriptor = { mediaType: DOCKER_MANIFEST, digest: 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e', size: 528 };
const D4: TargetDescriptor = {
  mediaType: 'application/vnd.oci.image.manifest.v1+json',
  digest: 'sha256:19dbd2e48e921426ee8ace4dc892edfb2ecdc1d1a72d5416c83670c30acecef0',
  size: 481,
};
const D5: TargetDescriptor = { mediaType: DOCKER_MANIFEST, digest: 'sha256:c0669ef34cdc14332c0f1ab0c2c01acb91d96014b172f1a76f3a39e63d1f0bda', size: 528 };

const REFERENCES: ReadonlyArray<{ type: TrustStoreType; name: string }> = [
  { type: 'ca', name: 'valid-trust-store' },
  { type: 'ca', name: 'valid-trust-store-2' },
  { type: 'signingAuthority', name: 'valid-trust-store' },
  { type: 'signingAuthority', name: 'valid-trust-store-2' },
  { type: 'tsa', name: 'test-timestamp' },
  { type: 'tsa', name: 'test-mismatch' },
];
const stores = loadTrustStoreDirectory(STORES, 'notation-go truststore', REFERENCES);

/** Every certificate reported good: what the live responders answer for the GlobalSign TSA chain. */
const unrevoked: RevocationChecker = { check: (chain) => Promise.resolve(chain.map(() => ({ status: 'ok' as const, method: 'ocsp' as const }))) };

interface Case {
  level?: string;
  stores?: string[];
  identities?: string[];
  verifyTimestamp?: string;
  override?: Record<string, string>;
  trust?: TrustStoreSet;
}

function statement(c: Case): ReturnType<typeof parseTrustPolicy>['statements'][number] {
  const doc = parseTrustPolicy(
    {
      version: '1.0',
      trustPolicies: [
        {
          name: 'test-statement-name',
          registryScopes: ['*'],
          signatureVerification: {
            level: c.level ?? 'strict',
            ...(c.verifyTimestamp ? { verifyTimestamp: c.verifyTimestamp } : {}),
            ...(c.override ? { override: c.override } : {}),
          },
          trustStores: c.stores ?? ['ca:valid-trust-store', 'signingAuthority:valid-trust-store'],
          trustedIdentities: c.identities ?? ['x509.subject:CN=Notation Test Root,O=Notary,L=Seattle,ST=WA,C=US'],
        },
      ],
    },
    'test policy',
  );
  const s = doc.statements[0];
  assert.ok(s);
  return s;
}

function verify(file: string, mediaType: string, target: TargetDescriptor, c: Case = {}): Promise<VerifiedSignature> {
  return verifySignature(readFileSync(file), mediaType, target, { statement: statement(c), stores: c.trust ?? stores, revocation: unrevoked, now: NOW });
}

async function refused(promise: Promise<unknown>, code: string, message: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof NotationError, String(err));
    assert.equal(err.code, code, err.message);
    assert.match(err.message, message);
    return true;
  });
}

/** The fixture stores plus an inline `ca:leaf` store holding the envelope's own leaf (for vectors whose leaf is in no store). */
async function withLeaf(file: string, mediaType: string): Promise<TrustStoreSet> {
  const content = await openEnvelope(readFileSync(file), mediaType);
  const leaf = content.chain[0];
  assert.ok(leaf);
  const inline = trustStoreFromInline({ ca: { leaf: [{ path: 'leaf.pem', pem: encodePem('CERTIFICATE', leaf.der) }] } }, 'test');
  return {
    get: (type, name) => (type === 'ca' && name === 'leaf' ? inline.get(type, name) : stores.get(type, name)),
    names: () => [...stores.names(), ...inline.names()],
  };
}

describe('notation-go mock envelopes (internal/mock/testdata)', () => {
  for (const [scheme, prefix] of [
    ['notary.x509', 'ca'],
    ['notary.x509.signingAuthority', 'sa'],
  ] as const) {
    test(`${prefix}_valid_sig_env: admitted at strict, permissive and audit (${scheme})`, async () => {
      for (const level of ['strict', 'permissive', 'audit']) {
        const v = await verify(join(MOCK, `${prefix}_valid_sig_env.json`), JWS, D1, { level });
        assert.equal(v.scheme, scheme);
        assert.equal(v.subject, 'C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root');
        assert.equal(v.signingTime.toISOString(), '2020-11-09T07:00:00.000Z');
        assert.deepEqual(v.logged, []);
      }
    });

    test(`${prefix}_valid_sig_env: a trust store without its root fails authenticity, only logged under audit`, async () => {
      const untrusted = { stores: ['ca:valid-trust-store-2', 'signingAuthority:valid-trust-store-2'] };
      for (const level of ['strict', 'permissive']) {
        await refused(verify(join(MOCK, `${prefix}_valid_sig_env.json`), JWS, D1, { ...untrusted, level }), 'authenticity', /does not meet any certificate/);
      }
      const audited = await verify(join(MOCK, `${prefix}_valid_sig_env.json`), JWS, D1, { ...untrusted, level: 'audit' });
      assert.deepEqual(
        audited.logged.map((l) => l.check),
        ['authenticity'],
      );
    });

    test(`${prefix}_valid_sig_env: an identity outside trustedIdentities is refused, only logged under audit`, async () => {
      const other = { identities: ['x509.subject:CN=LOL,O=DummyOrg,L=Hyderabad,ST=TG,C=IN'] };
      for (const level of ['strict', 'permissive']) {
        await refused(verify(join(MOCK, `${prefix}_valid_sig_env.json`), JWS, D1, { ...other, level }), 'identity', /not one of the trusted identities/);
      }
      const audited = await verify(join(MOCK, `${prefix}_valid_sig_env.json`), JWS, D1, { ...other, level: 'audit' });
      assert.match(audited.logged[0]?.message ?? '', /not one of the trusted identities/);
    });

    test(`${prefix}_invalid_sig_env: integrity fails at every level`, async () => {
      for (const level of ['strict', 'permissive', 'audit']) {
        await refused(verify(join(MOCK, `${prefix}_invalid_sig_env.json`), JWS, D1, { level }), 'malformed', /base64/);
      }
    });

    test(`${prefix}_expired_sig_env: expired under strict, logged under permissive and audit`, async () => {
      await refused(verify(join(MOCK, `${prefix}_expired_sig_env.json`), JWS, D1), 'expiry', /expired at 2022-07-29T23:59:00.000Z/);
      for (const level of ['permissive', 'audit']) {
        const v = await verify(join(MOCK, `${prefix}_expired_sig_env.json`), JWS, D1, { level });
        assert.deepEqual(
          v.logged.map((l) => l.check),
          ['expiry'],
        );
      }
    });

    test(`${prefix}_plugin_sig_env: a signature that needs a verification plugin is refused`, async () => {
      await refused(verify(join(MOCK, `${prefix}_plugin_sig_env.json`), JWS, D1), 'malformed', /verification plugin/);
    });
  }

  test('the signature must name the artifact served: digest, media type and size', async () => {
    await refused(verify(join(MOCK, 'ca_valid_sig_env.json'), JWS, { ...D1, size: 529 }), 'target_mismatch', /not for the/);
    await refused(verify(join(MOCK, 'ca_valid_sig_env.json'), JWS, { ...D1, mediaType: D4.mediaType }), 'target_mismatch', /not for the/);
    await refused(verify(join(MOCK, 'ca_valid_sig_env.json'), JWS, { ...D1, digest: D5.digest }), 'target_mismatch', /not for the/);
  });

  test('an override changes one check: expiry only logged, revocation skipped', async () => {
    const v = await verify(join(MOCK, 'ca_expired_sig_env.json'), JWS, D1, { override: { expiry: 'log' } });
    assert.deepEqual(
      v.logged.map((l) => l.check),
      ['expiry'],
    );
    const revoked: RevocationChecker = {
      check: (chain) => Promise.resolve(chain.map(() => ({ status: 'revoked' as const, method: 'crl' as const, revokedAt: undefined, reason: undefined }))),
    };
    const file = readFileSync(join(MOCK, 'ca_valid_sig_env.json'));
    await assert.rejects(
      verifySignature(file, JWS, D1, { statement: statement({}), stores, revocation: revoked, now: NOW }),
      (err: unknown) => err instanceof NotationError && err.code === 'revoked',
    );
    const skipped = await verifySignature(file, JWS, D1, { statement: statement({ override: { revocation: 'skip' } }), stores, revocation: revoked, now: NOW });
    assert.deepEqual(skipped.logged, []);
    const logged = await verifySignature(file, JWS, D1, { statement: statement({ override: { revocation: 'log' } }), stores, revocation: revoked, now: NOW });
    assert.match(logged.logged[0]?.message ?? '', /is revoked \(crl\)/);
  });
});

describe('notation-go envelopes of the OCI layout (internal/testdata)', () => {
  for (const [file, mediaType] of [
    ['jws_signature.sig', JWS],
    ['cose_signature.sig', COSE],
  ] as const) {
    test(`${file}: opens and verifies; its self-signed leaf is in no trust store`, async () => {
      const content = await openEnvelope(readFileSync(join(ROOT, 'internal', 'testdata', file)), mediaType);
      assert.equal(content.algorithm, 'PS256');
      assert.equal(content.chain.length, 1);
      assert.match(content.chain[0]?.subject.text ?? '', /CN=alpine/);
      assert.equal((JSON.parse(content.payload.toString()) as { targetArtifact: { digest: string } }).targetArtifact.digest, D4.digest);
      await refused(verify(join(ROOT, 'internal', 'testdata', file), mediaType, D4, { identities: ['*'] }), 'authenticity', /does not meet/);
    });
  }
});

describe('notation-go timestamp envelopes (verifier/testdata/timestamp/sigEnv)', () => {
  const tsaCase = { stores: ['ca:valid-trust-store', 'tsa:test-timestamp'], identities: ['*'] };

  for (const [file, mediaType] of [
    ['jwsWithTimestamp.sig', JWS],
    ['coseWithTimestamp.sig', COSE],
  ] as const) {
    test(`${file}: the RFC 3161 countersignature verifies against the tsa store`, async () => {
      const v = await verify(join(TIMESTAMP, file), mediaType, D5, tsaCase);
      assert.ok(v.timestamp);
      assert.match(v.timestamp.tsa, /Globalsign TSA for Advanced - G4/);
      assert.equal(v.timestamp.genTime.toISOString().slice(0, 10), '2024-06-18');
    });
  }

  test('coseWithTimestamp.sig: a tsa store the TSA chain does not reach refuses it; afterCertExpiry does not look while the chain is valid', async () => {
    await refused(
      verify(join(TIMESTAMP, 'coseWithTimestamp.sig'), COSE, D5, { ...tsaCase, stores: ['ca:valid-trust-store', 'tsa:test-mismatch'] }),
      'timestamp',
      /./,
    );
    const v = await verify(join(TIMESTAMP, 'coseWithTimestamp.sig'), COSE, D5, {
      ...tsaCase,
      stores: ['ca:valid-trust-store', 'tsa:test-mismatch'],
      verifyTimestamp: 'afterCertExpiry',
    });
    assert.equal(v.timestamp, undefined);
  });

  for (const [file, mediaType] of [
    ['jwsExpiredWithTimestamp.sig', JWS],
    ['coseExpiredWithTimestamp.sig', COSE],
  ] as const) {
    test(`${file}: an expired signing certificate is accepted on the timestamp from its validity`, async () => {
      const trust = await withLeaf(join(TIMESTAMP, file), mediaType);
      const v = await verify(join(TIMESTAMP, file), mediaType, D5, { ...tsaCase, stores: ['ca:leaf', 'tsa:test-timestamp'], trust });
      assert.ok(v.timestamp);
      assert.deepEqual(v.logged, []);
    });
  }

  test('coseExpiredWithTimestamp.sig: without a tsa store the chain must be valid now, and is not', async () => {
    const trust = await withLeaf(join(TIMESTAMP, 'coseExpiredWithTimestamp.sig'), COSE);
    await refused(
      verify(join(TIMESTAMP, 'coseExpiredWithTimestamp.sig'), COSE, D5, { ...tsaCase, stores: ['ca:leaf'], trust }),
      'expiry',
      /after certificate "C=US, ST=WA, L=Seattle, O=Notary, CN=testTSA" expired \(2024-06-18T07:30:31.000Z\)/,
    );
  });

  test('timestampBeforeNotBefore.sig: a timestamp before the certificate is valid is refused', async () => {
    await refused(
      verify(join(TIMESTAMP, 'timestampBeforeNotBefore.sig'), JWS, D5, tsaCase),
      'expiry',
      /may be before certificate .*CN=testTSA.* \(from 2099-09-18T11:54:34.000Z\)/,
    );
  });

  test('timestampAfterNotAfter.sig: a timestamp after the certificate expired is refused', async () => {
    const trust = await withLeaf(join(TIMESTAMP, 'timestampAfterNotAfter.sig'), COSE);
    await refused(
      verify(join(TIMESTAMP, 'timestampAfterNotAfter.sig'), COSE, D5, { ...tsaCase, stores: ['ca:leaf', 'tsa:test-timestamp'], trust }),
      'expiry',
      /may be after certificate .*CN=testTSA.* expired \(2001-09-18T11:54:34.000Z\)/,
    );
  });

  test('withoutTimestamp.sig: a policy with a tsa store requires a countersignature; without one the chain valid now suffices', async () => {
    await refused(verify(join(TIMESTAMP, 'withoutTimestamp.sig'), JWS, D5, tsaCase), 'timestamp', /no timestamp countersignature/);
    const v = await verify(join(TIMESTAMP, 'withoutTimestamp.sig'), JWS, D5, { ...tsaCase, stores: ['ca:valid-trust-store'] });
    assert.equal(v.timestamp, undefined);
  });

  test('a revoked or unknown TSA chain fails the authentic timestamp', async () => {
    const revoked: RevocationChecker = {
      check: (chain, purpose) =>
        Promise.resolve(
          chain.map((_, i) =>
            purpose === 'timestamping' && i === 0
              ? { status: 'revoked' as const, method: 'ocsp' as const, revokedAt: undefined, reason: 'keyCompromise' }
              : { status: 'nonRevokable' as const },
          ),
        ),
    };
    await assert.rejects(
      verifySignature(readFileSync(join(TIMESTAMP, 'jwsWithTimestamp.sig')), JWS, D5, { statement: statement(tsaCase), stores, revocation: revoked, now: NOW }),
      (err: unknown) => err instanceof NotationError && err.code === 'timestamp' && /timestamping certificate .* is revoked/.test(err.message),
    );
  });
});
