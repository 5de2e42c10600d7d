import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { cosignKeyPair, signWithKey, type CosignKeyKind } from '../../../harness/cosign-keys.js';
import { startMockSigstore, type MockSigstore } from '../../../harness/cosign-sigstore.js';
import { LEGACY_ANNOTATIONS } from '../../../../src/trust/cosign/legacy-signature.js';
import { verifyLegacySignature, type LegacySignatureLayer } from '../../../../src/trust/cosign/sigstore-verifier.js';
import { Denial } from '../../../../src/trust/source.js';
import { GITHUB_ISSUER, RELEASE_WORKFLOW, exact, imageDigest, keyMessageBundle, keylessMessageBundle, legacyLayer, policy, simpleSigning } from './vectors.js';

function denied(fn: () => unknown): Denial {
  try {
    fn();
  } catch (err) {
    if (err instanceof Denial) return err;
    throw err;
  }
  assert.fail('expected a Denial');
}

/** A legacy layer signed with `key`, without a log entry (cosign sign --tlog-upload=false). */
function unlogged(kind: CosignKeyKind, payload: Buffer): { layer: LegacySignatureLayer; key: ReturnType<typeof cosignKeyPair> } {
  const key = cosignKeyPair(kind);
  return { key, layer: { payload, annotations: { [LEGACY_ANNOTATIONS.signature]: signWithKey(key, payload).toString('base64') } } };
}

describe('cosign legacy signatures (.sig layers)', () => {
  let sigstore: MockSigstore;
  before(async () => {
    sigstore = await startMockSigstore();
  });
  after(async () => {
    await sigstore.stop();
  });

  for (const kind of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa'] as const) {
    it(`verifies a ${kind} signature made without a log when the rule turns the log off`, () => {
      const digest = imageDigest(`legacy ${kind}`);
      const { key, layer } = unlogged(kind, simpleSigning(digest));
      const verified = verifyLegacySignature(layer, { digest }, policy({ keys: [key], tlog: false }));
      assert.equal(verified.signer, key.keyId);
      assert.equal(verified.evidence.key, key.keyId);
    });
  }

  it('verifies a key signature with its Rekor bundle: the SET, the body and the integrated time', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('legacy logged');
    const payload = simpleSigning(digest);
    const layer = legacyLayer(await keyMessageBundle(key, payload, { tlog: sigstore }), payload);
    const rekor = JSON.parse(layer.annotations[LEGACY_ANNOTATIONS.bundle] ?? '') as { Payload: { integratedTime: number; logIndex: number } };
    const verified = verifyLegacySignature(layer, { digest }, policy({ keys: [key], sigstore }));
    assert.equal(verified.signer, key.keyId);
    assert.deepEqual(verified.evidence.signedAt, new Date(rekor.Payload.integratedTime * 1000));
    assert.equal(verified.logIndex, rekor.Payload.logIndex);
  });

  it('requires the Rekor bundle when the rule requires a log (no_tlog_entry)', () => {
    const digest = imageDigest('legacy no log');
    const { key, layer } = unlogged('ecdsa-p256', simpleSigning(digest));
    assert.equal(denied(() => verifyLegacySignature(layer, { digest }, policy({ keys: [key], sigstore }))).reason, 'no_tlog_entry');
  });

  it('refuses a Rekor bundle whose signed entry timestamp does not cover it (no_tlog_entry)', async () => {
    const key = cosignKeyPair('ecdsa-p256');
    const digest = imageDigest('legacy set');
    const payload = simpleSigning(digest);
    const layer = legacyLayer(await keyMessageBundle(key, payload, { tlog: sigstore }), payload);
    const rekor = JSON.parse(layer.annotations[LEGACY_ANNOTATIONS.bundle] ?? '') as { Payload: { integratedTime: number } };
    rekor.Payload.integratedTime -= 3600;
    const moved = { payload, annotations: { ...layer.annotations, [LEGACY_ANNOTATIONS.bundle]: JSON.stringify(rekor) } };
    assert.equal(denied(() => verifyLegacySignature(moved, { digest }, policy({ keys: [key], sigstore }))).reason, 'no_tlog_entry');
  });

  it('refuses a log entry that records another key for the same signature (bad_signature)', async () => {
    const [key, other] = [cosignKeyPair('ecdsa-p256'), cosignKeyPair('ecdsa-p256')];
    const digest = imageDigest('legacy entry key');
    const payload = simpleSigning(digest);
    const signature = signWithKey(key, payload);
    const entry = await sigstore.rekor.log({
      apiVersion: '0.0.1',
      kind: 'hashedrekord',
      spec: {
        data: { hash: { algorithm: 'sha256', value: createHash('sha256').update(payload).digest('hex') } },
        signature: { content: signature.toString('base64'), publicKey: { content: Buffer.from(other.publicKeyPem).toString('base64') } },
      },
    });
    const rekor = {
      SignedEntryTimestamp: entry.verification.signedEntryTimestamp,
      Payload: { body: entry.body, integratedTime: entry.integratedTime, logIndex: entry.logIndex, logID: entry.logID },
    };
    const layer = {
      payload,
      annotations: { [LEGACY_ANNOTATIONS.signature]: signature.toString('base64'), [LEGACY_ANNOTATIONS.bundle]: JSON.stringify(rekor) },
    };
    const denial = denied(() => verifyLegacySignature(layer, { digest }, policy({ keys: [key], sigstore })));
    assert.equal(denial.reason, 'bad_signature');
    assert.match(denial.message, /records another key/);
  });

  it('refuses a payload naming another digest: a signature copied from another image (claim_mismatch)', () => {
    const { key, layer } = unlogged('ecdsa-p256', simpleSigning(imageDigest('other image')));
    const denial = denied(() => verifyLegacySignature(layer, { digest: imageDigest('served') }, policy({ keys: [key], tlog: false })));
    assert.equal(denial.reason, 'claim_mismatch');
    assert.match(denial.message, /another image/);
  });

  it('refuses a payload that is not a cosign container image signature (claim_mismatch)', () => {
    const digest = imageDigest('typed');
    const { key, layer } = unlogged('ecdsa-p256', simpleSigning(digest, 'atomic container signature'));
    assert.equal(denied(() => verifyLegacySignature(layer, { digest }, policy({ keys: [key], tlog: false }))).reason, 'claim_mismatch');
  });

  it('refuses a tampered payload (no pinned key verifies it)', () => {
    const digest = imageDigest('legacy tampered');
    const { key, layer } = unlogged('ecdsa-p256', simpleSigning(digest));
    const tampered = { payload: Buffer.from(layer.payload.toString('utf8').replace('"optional":null', '"optional":{}')), annotations: layer.annotations };
    assert.equal(denied(() => verifyLegacySignature(tampered, { digest }, policy({ keys: [key], tlog: false }))).reason, 'untrusted_signer');
  });

  it('refuses malformed annotations (bad_signature)', () => {
    const digest = imageDigest('legacy junk');
    const { key, layer } = unlogged('ecdsa-p256', simpleSigning(digest));
    const p = policy({ keys: [key], sigstore });
    const variants: Array<Record<string, string>> = [
      {},
      { [LEGACY_ANNOTATIONS.signature]: 'not base64!' },
      { ...layer.annotations, [LEGACY_ANNOTATIONS.bundle]: '{' },
      {
        ...layer.annotations,
        [LEGACY_ANNOTATIONS.bundle]: JSON.stringify({ SignedEntryTimestamp: 'AA==', Payload: { body: 'e30=', integratedTime: -1, logIndex: 0, logID: 'aa' } }),
      },
      { ...layer.annotations, [LEGACY_ANNOTATIONS.certificate]: 'no certificate here' },
      { ...layer.annotations, [LEGACY_ANNOTATIONS.rfc3161Timestamp]: '{"SignedRFC3161Timestamp":7}' },
    ];
    for (const annotations of variants) {
      assert.equal(
        denied(() => verifyLegacySignature({ payload: layer.payload, annotations }, { digest }, p)).reason,
        'bad_signature',
        JSON.stringify(annotations),
      );
    }
    const notJson = {
      payload: Buffer.from('not json'),
      annotations: { [LEGACY_ANNOTATIONS.signature]: signWithKey(key, Buffer.from('not json')).toString('base64') },
    };
    assert.equal(denied(() => verifyLegacySignature(notJson, { digest }, policy({ keys: [key], tlog: false }))).reason, 'bad_signature');
  });

  it('verifies a keyless signature: certificate, Rekor bundle and RFC 3161 timestamp annotations', async () => {
    const digest = imageDigest('legacy keyless');
    const payload = simpleSigning(digest);
    const layer = legacyLayer(await keylessMessageBundle(sigstore, RELEASE_WORKFLOW, payload, { tsa: true }), payload);
    assert.ok(layer.annotations[LEGACY_ANNOTATIONS.rfc3161Timestamp]);
    const verified = verifyLegacySignature(layer, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }));
    assert.equal(verified.signer, `${GITHUB_ISSUER} ${RELEASE_WORKFLOW}`);
    assert.ok(verified.evidence.signedAt instanceof Date);
    const other = denied(() =>
      verifyLegacySignature(
        layer,
        { digest },
        policy({ sigstore, identities: [exact('https://github.com/acme/other/.github/workflows/release.yml@refs/tags/v1')] }),
      ),
    );
    assert.equal(other.reason, 'identity_mismatch');
  });

  it('requires a log entry for a keyless signature that carries a timestamp only (no_tlog_entry)', async () => {
    const digest = imageDigest('legacy keyless tsa');
    const payload = simpleSigning(digest);
    const layer = legacyLayer(await keylessMessageBundle(sigstore, RELEASE_WORKFLOW, payload, { tlog: false, tsa: true }), payload);
    assert.equal(denied(() => verifyLegacySignature(layer, { digest }, policy({ sigstore, identities: [exact(RELEASE_WORKFLOW)] }))).reason, 'no_tlog_entry');
  });
});
