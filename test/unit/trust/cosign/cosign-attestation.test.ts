import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { prepareCosignPolicy, verifyBundle, type CosignPolicy } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { Denial } from '../../../../src/trust/source.js';

/**
 * cosign's own OCI attestation bundle (test/fixtures/cosign/README.md): a real, logged, keyless
 * `cosign attest` bundle about the image in subject-image/. `cosign verify` would report it as a
 * verified signature of that image; Signet must not count it as one.
 */

const FIXTURES = fileURLToPath(new URL('../../../fixtures/cosign/', import.meta.url));
const read = (file: string): Buffer => readFileSync(`${FIXTURES}${file}`);
const bundle: unknown = JSON.parse(read('oci-attestation.sigstore.json').toString('utf8'));
const subjectDigest = `sha256:${createHash('sha256').update(read('subject-image/manifest.json')).digest('hex')}`;
const ISSUER = 'https://github.com/login/oauth';
const SIGNER = 'cody@soyland.com';

function policyFor(subject: string): CosignPolicy {
  return prepareCosignPolicy({
    keys: [],
    identities: [{ issuer: ISSUER, subject: { kind: 'exact', value: subject }, extensions: {} }],
    trustedRoot: { path: 'trusted_root_pgi.json', json: JSON.parse(read('trusted_root_pgi.json').toString('utf8')) },
    tlog: true,
    path: 'policy.rules.0.require.cosign',
  });
}

function denied(fn: () => unknown): Denial {
  try {
    fn();
  } catch (err) {
    if (err instanceof Denial) return err;
    throw err;
  }
  assert.fail('expected a Denial');
}

describe("cosign's OCI attestation bundle", () => {
  it('is authentic (it verifies as a statement about its subject file digest)', () => {
    const verified = verifyBundle(bundle, { artifactDigest: subjectDigest }, policyFor(SIGNER));
    assert.equal(verified.signer, `${ISSUER} ${SIGNER}`);
    assert.deepEqual(verified.evidence.signedAt, new Date(1740770291 * 1000));
    assert.equal(verified.logIndex, 175508996);
  });

  it('is not a signature of the image it is about (claim_mismatch: an attestation)', () => {
    const denial = denied(() => verifyBundle(bundle, { digest: subjectDigest }, policyFor(SIGNER)));
    assert.equal(denial.reason, 'claim_mismatch');
    assert.match(denial.message, /attestation/);
    assert.match(denial.message, /https:\/\/cosign\.sigstore\.dev\/attestation\/v1/);
  });

  it('is refused for another identity before its claim is considered (identity_mismatch)', () => {
    assert.equal(denied(() => verifyBundle(bundle, { digest: subjectDigest }, policyFor('wrong'))).reason, 'identity_mismatch');
  });

  it('says nothing about another image', () => {
    const other = `sha256:${'0'.repeat(64)}`;
    assert.equal(denied(() => verifyBundle(bundle, { artifactDigest: other }, policyFor(SIGNER))).reason, 'claim_mismatch');
  });
});
