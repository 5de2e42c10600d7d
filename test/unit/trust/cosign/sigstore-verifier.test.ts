import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cosignKeyPair } from '../../../harness/cosign-keys.js';
import { mockTrustedRoot, startMockSigstore, type MockSigstore } from '../../../harness/cosign-sigstore.js';
import { SignetError } from '../../../../src/errors.js';
import { createSigstoreVerifier } from '../../../../src/trust/cosign/sigstore-verifier.js';
import type { CosignVerifier } from '../../../../src/trust/cosign/verifier-port.js';
import { Denial } from '../../../../src/trust/source.js';
import { RELEASE_WORKFLOW, exact, imageDigest, keyDsseBundle, keyMessageBundle, keylessDsseBundle, legacyLayer, simpleSigning, statement } from './vectors.js';

type Requirement = Parameters<CosignVerifier['prepare']>[0];

describe('the cosign verifier as the trust source uses it', () => {
  let sigstore: MockSigstore;
  before(async () => {
    sigstore = await startMockSigstore();
  });
  after(async () => {
    await sigstore.stop();
  });

  function requirement(overrides: Partial<Requirement>): Requirement {
    return {
      keys: [],
      identities: [],
      trustedRoot: { path: '/etc/signet/trusted_root.json', json: mockTrustedRoot(sigstore) },
      tlog: true,
      threshold: 1,
      repository: undefined,
      path: 'policy.rules.0.require.cosign',
      ...overrides,
    };
  }

  it('verifies bundles and legacy layers of a digest with a prepared requirement', async () => {
    const verifier = createSigstoreVerifier();
    const key = cosignKeyPair('ecdsa-p256');
    const prepared = verifier.prepare(requirement({ keys: [{ path: 'cosign.pub', pem: key.publicKeyPem }], identities: [exact(RELEASE_WORKFLOW)] }));
    const digest = imageDigest('port');
    const keyed = verifier.verifyBundle(await keyDsseBundle(key, statement(digest), { tlog: sigstore }), digest, prepared);
    assert.equal(keyed.signer, key.keyId);
    const keyless = verifier.verifyBundle(await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest)), digest, prepared);
    assert.notEqual(keyless.signer, keyed.signer, 'a key and an identity are two signers');
    const payload = simpleSigning(digest);
    const legacy = verifier.verifyLegacy(legacyLayer(await keyMessageBundle(key, payload, { tlog: sigstore }), payload), digest, prepared);
    assert.equal(legacy.signer, key.keyId, 'the same key signing twice is one signer');
    assert.throws(() => verifier.verifyBundle({}, digest, prepared), Denial);
  });

  it('reports an unusable key or root when preparing, as a configuration error', () => {
    const verifier = createSigstoreVerifier();
    assert.throws(
      () => verifier.prepare(requirement({ keys: [{ path: '/etc/signet/cosign.pub', pem: 'junk' }] })),
      (err: unknown) => err instanceof SignetError && err.code === 'CONFIG_INVALID' && err.message.includes('/etc/signet/cosign.pub'),
    );
    assert.throws(
      () => verifier.prepare(requirement({ identities: [exact(RELEASE_WORKFLOW)], trustedRoot: { path: '/etc/signet/trusted_root.json', json: {} } })),
      (err: unknown) => err instanceof SignetError && err.code === 'CONFIG_INVALID' && err.message.includes('/etc/signet/trusted_root.json'),
    );
  });

  it('refuses a requirement it did not prepare', () => {
    const verifier = createSigstoreVerifier();
    const foreign = { requirement: requirement({ keys: [{ path: 'k.pub', pem: cosignKeyPair('ed25519').publicKeyPem }] }) };
    assert.throws(
      () => verifier.verifyBundle({}, imageDigest('x'), foreign),
      (err: unknown) => err instanceof SignetError && err.code === 'INTERNAL',
    );
  });
});
