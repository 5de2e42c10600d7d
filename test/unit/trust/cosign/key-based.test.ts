import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { cosignKeyPair, type CosignKeyKind } from '../../../harness/cosign-keys.js';
import { startMockSigstore, type MockSigstore } from '../../../harness/cosign-sigstore.js';
import { bundleToJSON } from '@sigstore/bundle';
import { verifyBundle } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { Denial } from '../../../../src/trust/source.js';
import { COSIGN_SIGN, SLSA_PROVENANCE, imageDigest, keyDsseBundle, keyMessageBundle, policy, statement } from './vectors.js';

/** The Denial `fn` throws (fails the test if it returns). */
function denied(fn: () => unknown): Denial {
  try {
    fn();
  } catch (err) {
    if (err instanceof Denial) return err;
    throw err;
  }
  assert.fail('expected a Denial');
}

describe('cosign key-based bundles', () => {
  let sigstore: MockSigstore;
  before(async () => {
    sigstore = await startMockSigstore();
  });
  after(async () => {
    await sigstore.stop();
  });

  const kinds: CosignKeyKind[] = ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa'];
  for (const kind of kinds) {
    it(`verifies a ${kind} DSSE signature with its log entry and names the key`, async () => {
      const key = cosignKeyPair(kind);
      const digest = imageDigest(kind);
      const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore });
      const verified = verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore }));
      assert.equal(verified.signer, key.keyId);
      assert.equal(verified.evidence.format, 'cosign');
      assert.equal(verified.evidence.key, key.keyId);
      assert.ok(verified.evidence.signedAt instanceof Date, 'the log time is the signing time');
      assert.equal(typeof verified.logIndex, 'number');
    });
  }

  it('verifies a pure Ed25519 signature (older cosign) without a log when the rule allows it', async () => {
    const key = cosignKeyPair('ed25519', { pureEd25519: true });
    const digest = imageDigest('pure');
    const verified = verifyBundle(await keyDsseBundle(key, statement(digest)), { digest }, policy({ keys: [key], tlog: false }));
    assert.equal(verified.signer, key.keyId);
    assert.equal(verified.evidence.signedAt, undefined);
  });

  it('tries every pinned key, whatever key hint the bundle carries', async () => {
    const [other, key] = [cosignKeyPair('ecdsa-p256'), cosignKeyPair('ecdsa-p256')];
    const digest = imageDigest('hint');
    const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore, hint: 'not-a-known-hint' });
    assert.equal(verifyBundle(bundle, { digest }, policy({ keys: [other, key], sigstore })).signer, key.keyId);
  });

  it('refuses a signature no pinned key made (untrusted_signer)', async () => {
    const [signer, pinned] = [cosignKeyPair('ecdsa-p256'), cosignKeyPair('ecdsa-p256')];
    const digest = imageDigest('wrong key');
    const bundle = await keyDsseBundle(signer, statement(digest), { tlog: sigstore });
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ keys: [pinned], sigstore })));
    assert.equal(denial.reason, 'untrusted_signer');
    assert.match(denial.message, new RegExp(pinned.keyId));
  });

  it('refuses a tampered payload signed by the key it names (bad_signature)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('tampered');
    const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore });
    const envelope = bundle['dsseEnvelope'] as { payload: string };
    envelope.payload = statement(imageDigest('something else')).toString('base64');
    const denial = denied(() => verifyBundle(bundle, { digest: imageDigest('something else') }, policy({ keys: [key], sigstore })));
    assert.equal(denial.reason, 'bad_signature');
  });

  it('refuses a signature of another digest (claim_mismatch)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const bundle = await keyDsseBundle(key, statement(imageDigest('signed')), { tlog: sigstore });
    const denial = denied(() => verifyBundle(bundle, { digest: imageDigest('served') }, policy({ keys: [key], sigstore })));
    assert.equal(denial.reason, 'claim_mismatch');
    assert.match(denial.message, /not sha256:/);
  });

  it('refuses an attestation of the digest: it is not a signature (claim_mismatch)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('attested');
    const bundle = await keyDsseBundle(key, statement(digest, SLSA_PROVENANCE), { tlog: sigstore });
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore })));
    assert.equal(denial.reason, 'claim_mismatch');
    assert.match(denial.message, /attestation/);
    assert.match(denial.message, /slsa\.dev/);
  });

  it('refuses a message signature offered as an image signature (claim_mismatch)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('blob');
    const bundle = bundleToJSON(await keyMessageBundle(key, Buffer.from(digest), { tlog: sigstore }));
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore })));
    assert.equal(denial.reason, 'claim_mismatch');
    assert.match(denial.message, /message signature/);
  });

  it('requires a log entry by default (no_tlog_entry), and not when the rule turns it off', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('no log');
    const bundle = await keyDsseBundle(key, statement(digest));
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore })));
    assert.equal(denial.reason, 'no_tlog_entry');
    assert.match(denial.message, /tlog: false/);
    assert.equal(verifyBundle(bundle, { digest }, policy({ keys: [key], tlog: false })).signer, key.keyId);
  });

  it('with the log off, ignores log entries and timestamps it has no keys for', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('ignored log');
    const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore, tsa: sigstore });
    const verified = verifyBundle(bundle, { digest }, policy({ keys: [key], tlog: false }));
    assert.equal(verified.signer, key.keyId);
    assert.equal(verified.logIndex, undefined);
  });

  it('refuses a log entry the trusted root has no key for (no_tlog_entry)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('unknown log');
    const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore });
    const denial = denied(() => verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore, root: { omit: ['tlog'] } })));
    assert.equal(denial.reason, 'no_tlog_entry');
  });

  it('uses a timestamp as the signing time, and the log time when the TSA is not in the root', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('stamped');
    const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore, tsa: sigstore });
    assert.ok(verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore })).evidence.signedAt instanceof Date);
    const withoutTsa = verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore, root: { omit: ['tsa'] } }));
    assert.ok(withoutTsa.evidence.signedAt instanceof Date);
  });

  it('refuses malformed and oversized bundles', () => {
    const key = cosignKeyPair('ecdsa-p256');
    const p = policy({ keys: [key], tlog: false });
    const digest = imageDigest('malformed');
    for (const junk of [
      null,
      'bundle',
      [],
      { mediaType: 'application/vnd.dev.sigstore.bundle+json;version=9.9' },
      { mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' },
    ]) {
      assert.equal(denied(() => verifyBundle(junk, { digest }, p)).reason, 'bad_signature');
    }
  });

  it('refuses more log entries than Signet reads (too_large)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('many');
    const bundle = await keyDsseBundle(key, statement(digest), { tlog: sigstore });
    const material = bundle['verificationMaterial'] as { tlogEntries: unknown[] };
    const [entry] = material.tlogEntries;
    material.tlogEntries = Array.from({ length: 65 }, () => entry);
    assert.equal(denied(() => verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore }))).reason, 'too_large');
  });

  it('accepts the statement only with the cosign sign predicate', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('predicate');
    const bundle = await keyDsseBundle(key, statement(digest, COSIGN_SIGN), { tlog: sigstore });
    assert.equal(verifyBundle(bundle, { digest }, policy({ keys: [key], sigstore })).signer, key.keyId);
  });
});
