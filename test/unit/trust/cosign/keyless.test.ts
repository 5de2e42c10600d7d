import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cosignKeyPair } from '../../../harness/cosign-keys.js';
import { startMockSigstore, type MockSigstore } from '../../../harness/cosign-sigstore.js';
import { verifyBundle } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { Denial } from '../../../../src/trust/source.js';
import { GITHUB_ISSUER, RELEASE_WORKFLOW, SLSA_PROVENANCE, exact, imageDigest, keyDsseBundle, keylessDsseBundle, policy, statement } from './vectors.js';

function denied(fn: () => unknown): Denial {
  try {
    fn();
  } catch (err) {
    if (err instanceof Denial) return err;
    throw err;
  }
  assert.fail('expected a Denial');
}

const MINUTE = 60 * 1000;

describe('cosign keyless bundles', () => {
  let sigstore: MockSigstore;
  before(async () => {
    sigstore = await startMockSigstore();
  });
  after(async () => {
    await sigstore.stop();
  });

  it('verifies a Fulcio-certified signature with its log entry, and names the identity', async () => {
    const digest = imageDigest('keyless');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest));
    const verified = verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }));
    assert.equal(verified.signer, `${GITHUB_ISSUER} ${RELEASE_WORKFLOW}`);
    assert.equal(verified.evidence.issuer, GITHUB_ISSUER);
    assert.equal(verified.evidence.key, `${GITHUB_ISSUER} ${RELEASE_WORKFLOW}`);
    assert.ok(verified.evidence.signedAt instanceof Date);
    assert.equal(typeof verified.evidence.logIndex, 'number');
  });

  it('matches a subject glob within path segments, and ** across them', async () => {
    const digest = imageDigest('glob');
    const glob = (value: string) => ({ issuer: GITHUB_ISSUER, subject: { kind: 'glob' as const, value }, extensions: {} });
    const rule = glob('https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*');
    const ok = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest));
    assert.equal(verifyBundle(ok, { digest }, policy({ sigstore, identities: [rule] })).signer, `${GITHUB_ISSUER} ${rule.subject.value}`);
    const nested = await keylessDsseBundle(sigstore, 'https://github.com/acme/team/app/.github/workflows/release.yml@refs/tags/v1', statement(digest));
    assert.equal(denied(() => verifyBundle(nested, { digest }, policy({ sigstore, identities: [rule] }))).reason, 'identity_mismatch');
    const across = glob('https://github.com/acme/**/release.yml@refs/tags/*');
    assert.ok(verifyBundle(nested, { digest }, policy({ sigstore, identities: [across] })));
    // Every other character is literal: "." in the glob does not match "x".
    const dotted = await keylessDsseBundle(sigstore, 'https://githubxcom/acme/app/.github/workflows/release.yml@refs/tags/v1', statement(digest));
    assert.equal(denied(() => verifyBundle(dotted, { digest }, policy({ sigstore, identities: [rule] }))).reason, 'identity_mismatch');
  });

  it('anchors subject regular expressions: app.evil.com and prefixed SANs do not match', async () => {
    const digest = imageDigest('regexp');
    const rule = {
      issuer: GITHUB_ISSUER,
      subject: { kind: 'regexp' as const, value: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/.*' },
      extensions: {},
    };
    const p = policy({ sigstore, identities: [rule] });
    assert.ok(verifyBundle(await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest)), { digest }, p));
    for (const san of [
      'https://github.com/acme/app.evil.com/.github/workflows/release.yml@refs/tags/v1',
      'https://evil.example/x?https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
    ]) {
      const bundle = await keylessDsseBundle(sigstore, san, statement(digest));
      const denial = denied(() => verifyBundle(bundle, { digest }, p));
      assert.equal(denial.reason, 'identity_mismatch', san);
      assert.match(denial.message, /subject regexp/);
      assert.ok(denial.message.includes(san), 'the message shows the identity seen');
    }
    const prefixed = await keylessDsseBundle(sigstore, `${RELEASE_WORKFLOW}.evil`, statement(digest));
    assert.equal(denied(() => verifyBundle(prefixed, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }))).reason, 'identity_mismatch');
  });

  it('compares the issuer exactly', async () => {
    const digest = imageDigest('issuer');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest), { issuer: 'https://token.actions.githubusercontent.com.evil' });
    assert.equal(denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }))).reason, 'identity_mismatch');
  });

  it('compares Fulcio extensions by name and by OID', async () => {
    const digest = imageDigest('extensions');
    const claims = { repository: 'acme/app', ref: 'refs/tags/v1.2.3', event_name: 'push' };
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest), { claims });
    const withExtensions = (extensions: Record<string, string>) => policy({ sigstore, identities: [exact(RELEASE_WORKFLOW, GITHUB_ISSUER, extensions)] });
    assert.ok(verifyBundle(bundle, { digest }, withExtensions({ githubWorkflowRepository: 'acme/app', sourceRepositoryURI: 'https://github.com/acme/app' })));
    assert.ok(verifyBundle(bundle, { digest }, withExtensions({ '1.3.6.1.4.1.57264.1.14': 'refs/tags/v1.2.3', buildtrigger: 'push' })));
    const denial = denied(() => verifyBundle(bundle, { digest }, withExtensions({ sourceRepositoryURI: 'https://github.com/acme/other' })));
    assert.equal(denial.reason, 'identity_mismatch');
    assert.match(denial.message, /sourceRepositoryURI=https:\/\/github.com\/acme\/other/);
    assert.equal(denied(() => verifyBundle(bundle, { digest }, withExtensions({ deploymentEnvironment: 'prod' }))).reason, 'identity_mismatch');
  });

  it('refuses a certificate that was not valid at the log time (untrusted_signer)', async () => {
    const digest = imageDigest('expired at log time');
    const now = Date.now();
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest), {
      certificateWindow: { notBefore: new Date(now - 30 * MINUTE), notAfter: new Date(now - 20 * MINUTE) },
    });
    assert.equal(denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }))).reason, 'untrusted_signer');
  });

  it('refuses an expired certificate when nothing proves when it was used (untrusted_signer)', async () => {
    const digest = imageDigest('no time');
    const now = Date.now();
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest), {
      certificateWindow: { notBefore: new Date(now - 30 * MINUTE), notAfter: new Date(now - 20 * MINUTE) },
    });
    // As a Rekor v2 entry: an inclusion proof, no signed integrated time.
    for (const entry of (bundle['verificationMaterial'] as { tlogEntries: Array<Record<string, unknown>> }).tlogEntries) {
      delete entry['inclusionPromise'];
      entry['integratedTime'] = '0';
    }
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] })));
    assert.equal(denial.reason, 'untrusted_signer');
    assert.match(denial.message, /nothing proves when it was made/);
  });

  it('verifies with an RFC 3161 timestamp as well as the log time', async () => {
    const digest = imageDigest('tsa');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest), { tsa: true });
    const verified = verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }));
    assert.ok(verified.evidence.signedAt instanceof Date);
  });

  it('requires a log entry (no_tlog_entry)', async () => {
    const digest = imageDigest('keyless no log');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest), { tlog: false, tsa: true });
    assert.equal(denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }))).reason, 'no_tlog_entry');
  });

  it('refuses a certificate from a CA the root does not list (untrusted_signer)', async () => {
    const digest = imageDigest('other ca');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest));
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, root: { omit: ['ca'] }, identities: [exact(RELEASE_WORKFLOW)] })));
    assert.equal(denial.reason, 'untrusted_signer');
  });

  it('refuses a certificate without an SCT from a trusted CT log (untrusted_signer)', async () => {
    const digest = imageDigest('no ct');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest));
    assert.equal(
      denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, root: { omit: ['ctlog'] }, identities: [exact(RELEASE_WORKFLOW)] }))).reason,
      'untrusted_signer',
    );
  });

  it('refuses keyless signatures under a rule that pins keys only, and key signatures under identities only', async () => {
    const digest = imageDigest('kinds');
    const key = cosignKeyPair('ecdsa-p256');
    const keyless = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest));
    const keyed = await keyDsseBundle(key, statement(digest), { tlog: sigstore });
    const denial = denied(() => verifyBundle(keyless, { digest }, policy({ sigstore, keys: [key] })));
    assert.equal(denial.reason, 'untrusted_signer');
    assert.match(denial.message, /keylessly/);
    assert.equal(denied(() => verifyBundle(keyed, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }))).reason, 'untrusted_signer');
  });

  it('refuses a keyless attestation (claim_mismatch)', async () => {
    const digest = imageDigest('keyless attestation');
    const bundle = await keylessDsseBundle(sigstore, RELEASE_WORKFLOW, statement(digest, SLSA_PROVENANCE));
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] })));
    assert.equal(denial.reason, 'claim_mismatch');
    assert.match(denial.message, /attestation/);
  });
});
