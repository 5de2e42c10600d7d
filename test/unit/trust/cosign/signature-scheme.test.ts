import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync, sign } from 'node:crypto';
import { describe, it } from 'node:test';
import { cosignKeyPair, signWithKey } from '../../../harness/cosign-keys.js';
import { verifyEd25519ph } from '../../../../src/trust/cosign/ed25519ph.js';
import { verifyWithKeyScheme } from '../../../../src/trust/cosign/signature-scheme.js';

describe('Ed25519ph', () => {
  it('verifies the RFC 8032 §7.3 test vector and refuses it altered', () => {
    const publicKey = createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from('ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf', 'hex').toString('base64url') },
      format: 'jwk',
    });
    const signature = Buffer.from(
      '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
      'hex',
    );
    assert.ok(verifyEd25519ph(publicKey, Buffer.from('abc'), signature));
    assert.ok(!verifyEd25519ph(publicKey, Buffer.from('abd'), signature));
    const flipped = Buffer.from(signature);
    flipped[63] = (flipped[63] ?? 0) ^ 0x10;
    assert.ok(!verifyEd25519ph(publicKey, Buffer.from('abc'), flipped));
    assert.ok(!verifyEd25519ph(publicKey, Buffer.from('abc'), signature.subarray(1)));
    // Pure Ed25519 is another scheme: its signature of the same message is no Ed25519ph signature.
    const pair = generateKeyPairSync('ed25519');
    assert.ok(!verifyEd25519ph(pair.publicKey, Buffer.from('abc'), sign(null, Buffer.from('abc'), pair.privateKey)));
  });
});

describe('the signature scheme a key implies', () => {
  it('checks each key type as cosign signs with it', () => {
    const data = Buffer.from('payload');
    for (const kind of ['ecdsa-p256', 'ecdsa-p384', 'ed25519', 'rsa'] as const) {
      const key = cosignKeyPair(kind);
      assert.ok(verifyWithKeyScheme(key.publicKey, data, signWithKey(key, data)), kind);
      assert.ok(!verifyWithKeyScheme(key.publicKey, Buffer.from('other'), signWithKey(key, data)), kind);
      assert.ok(!verifyWithKeyScheme(cosignKeyPair(kind).publicKey, data, signWithKey(key, data)), `${kind}, another key`);
    }
  });

  it('requires SHA-384 with a P-384 key, as cosign signs', () => {
    const key = cosignKeyPair('ecdsa-p384');
    const data = Buffer.from('payload');
    assert.ok(!verifyWithKeyScheme(key.publicKey, data, sign('sha256', data, key.privateKey)));
  });

  it('refuses garbage and keys of other types without throwing', () => {
    const key = cosignKeyPair('ecdsa-p256');
    assert.ok(!verifyWithKeyScheme(key.publicKey, Buffer.from('x'), Buffer.from('not a signature')));
    const ed448 = generateKeyPairSync('ed448');
    assert.ok(!verifyWithKeyScheme(ed448.publicKey, Buffer.from('x'), sign(null, Buffer.from('x'), ed448.privateKey)));
  });
});
