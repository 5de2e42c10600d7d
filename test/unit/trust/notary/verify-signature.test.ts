import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { verifySignature, verifySignatures, isValidSignature } from '../../../../src/trust/notary/verify-signature.js';
import { canonicalize } from '../../../../src/trust/notary/canonical-json.js';
import { parseJson, type JsonObject } from '../../../../src/trust/notary/json-parse.js';
import { isTrustError } from '../../../../src/trust/notary/errors.js';
import type { PublicKeyRecord } from '../../../../src/trust/notary/keys.js';
import { makeKey, type TestKey } from '../../../harness/notary-fixtures.js';
import * as v from './notary-vectors.js';

const rejects = (code: string) => (err: unknown) => isTrustError(err) && err.code === code;
const msg = Buffer.from(v.NOTARY_MESSAGE);
const fox = Buffer.from(v.FOX_MESSAGE);
const hex = (h: string) => Buffer.from(h, 'hex');
const b64 = (s: string) => Buffer.from(s, 'base64');
const rsaX509: PublicKeyRecord = { keytype: 'rsa-x509', public: b64(v.BASE_RSA_X509_PUBLIC) };
const ecdsaX509: PublicKeyRecord = { keytype: 'ecdsa-x509', public: b64(v.BASE_ECDSA_X509_PUBLIC) };
const baseEcdsa: PublicKeyRecord = { keytype: 'ecdsa', public: b64(v.BASE_ECDSA_PUBLIC) };
const baseRsa: PublicKeyRecord = { keytype: 'rsa', public: b64(v.BASE_RSA_PUBLIC) };

describe('known-answer vectors from notary tuf/signed/verifiers_test.go', () => {
  it('TestRSAPSSx509Verifier', () => {
    verifySignature('rsapss', rsaX509, hex(v.RSA_PSS_X509_SIG_HEX), msg);
  });

  it('TestRSAPKCS1v15x509Verifier', () => {
    verifySignature('rsapkcs1v15', rsaX509, hex(v.RSA_PKCS1V15_X509_SIG_HEX), msg);
  });

  it('TestECDSAx509Verifier', () => {
    verifySignature('ecdsa', ecdsaX509, hex(v.ECDSA_X509_SIG_HEX), msg);
  });

  it('TestPyCryptoRSAPSSCompat', () => {
    const key = { keytype: 'rsa', public: Buffer.from(v.PYCRYPTO_PUBLIC_PEM) };
    verifySignature('pycrypto-pkcs#1 pss', key, hex(v.PYCRYPTO_SIG_HEX), fox);
    assert.throws(() => verifySignature('pycrypto-pkcs#1 pss', key, hex(v.PYCRYPTO_SIG_HEX), msg), rejects('bad_signature'));
  });

  it('TestPyNaCled25519Compat and RFC 8032 test 1', () => {
    verifySignature('eddsa', { keytype: 'ed25519', public: hex(v.PYNACL_ED25519_PUBLIC_HEX) }, hex(v.PYNACL_ED25519_SIG_HEX), fox);
    verifySignature('eddsa', { keytype: 'ed25519', public: hex(v.RFC8032_TEST1_PUBLIC_HEX) }, hex(v.RFC8032_TEST1_SIG_HEX), Buffer.alloc(0));
  });

  it('the "invalid key type" vectors verify with the right type and fail with the wrong one', () => {
    // TestECDSAVerifierWithInvalidKeyType / TestRSAPSSVerifierWithInvalidKeyType
    verifySignature('ecdsa', baseEcdsa, hex(v.ECDSA_INVALID_KEY_SIG_HEX), msg);
    assert.throws(() => verifySignature('ecdsa', { ...baseEcdsa, keytype: 'ecdsa-invalid' }, hex(v.ECDSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
    verifySignature('rsapss', baseRsa, hex(v.RSA_INVALID_KEY_SIG_HEX), msg);
    assert.throws(() => verifySignature('rsapss', { ...baseRsa, keytype: 'rsa-invalid' }, hex(v.RSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('rsapkcs1v15', { ...baseRsa, keytype: 'rsa-invalid' }, hex(v.RSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
  });

  it('TestRSAPSSVerifierWithInvalidKey / TestECDSAVerifierWithInvalidKey: wrong method for the key type', () => {
    assert.throws(() => verifySignature('rsapss', baseEcdsa, hex(v.RSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('rsapkcs1v15', baseEcdsa, hex(v.RSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('ecdsa', baseRsa, hex(v.ECDSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('eddsa', baseEcdsa, hex(v.ECDSA_INVALID_KEY_SIG_HEX), msg), rejects('bad_signature'));
    // TestED25519VerifierInvalidKeyType / TestRSAPyCryptoVerifierInvalidKeyType
    assert.throws(() => verifySignature('eddsa', { keytype: 'bad_type', public: Buffer.alloc(0) }, Buffer.alloc(0), msg), rejects('bad_signature'));
    assert.throws(
      () => verifySignature('pycrypto-pkcs#1 pss', { keytype: 'bad_type', public: Buffer.alloc(0) }, Buffer.alloc(0), msg),
      rejects('bad_signature'),
    );
  });

  it('TestECDSAVerifier / TestRSA*VerifierWithInvalidSignature: one flipped byte fails', () => {
    const ecPriv = createPrivateKey({ key: b64(v.BASE_ECDSA_PRIVATE), format: 'der', type: 'sec1' });
    const sig = sign('sha256', msg, { key: ecPriv, dsaEncoding: 'ieee-p1363' });
    verifySignature('ecdsa', baseEcdsa, sig, msg);
    for (const [method, key, good] of [
      ['ecdsa', baseEcdsa, sig],
      ['ecdsa', ecdsaX509, hex(v.ECDSA_X509_SIG_HEX)],
      ['rsapss', rsaX509, hex(v.RSA_PSS_X509_SIG_HEX)],
      ['rsapkcs1v15', rsaX509, hex(v.RSA_PKCS1V15_X509_SIG_HEX)],
    ] as const) {
      const bad = Buffer.from(good);
      bad[0] = ((bad[0] ?? 0) + 1) & 0xff;
      assert.throws(() => verifySignature(method, key, bad, msg), rejects('bad_signature'), method);
    }
  });

  it('TestRSAPSSVerifierWithInvalidKeyLength: RSA keys under 2048 bits are refused', () => {
    const small = makeKey('rsa', { rsaBits: 1024 });
    assert.throws(() => verifySignature('rsapss', small.record, small.sign(msg), msg), rejects('bad_key'));
    const ok = makeKey('rsa', { rsaBits: 2048 });
    verifySignature('rsapss', ok.record, ok.sign(msg), msg);
  });

  it('TestECDSAVerifierOtherCurves: P-256, P-384, P-521 with SHA-256 always', () => {
    for (const curve of ['prime256v1', 'secp384r1', 'secp521r1']) {
      const key = makeKey('ecdsa', { curve });
      const sig = key.sign(msg);
      assert.equal(sig.length, { prime256v1: 64, secp384r1: 96, secp521r1: 132 }[curve]);
      verifySignature('ecdsa', key.record, sig, msg);
      sig[0] = ((sig[0] ?? 0) + 1) & 0xff;
      assert.throws(() => verifySignature('ecdsa', key.record, sig, msg), rejects('bad_signature'), curve);
    }
  });
});

describe('verifySignature rules', () => {
  it('compares the method lower-cased and refuses unknown methods', () => {
    verifySignature('ECDSA', ecdsaX509, hex(v.ECDSA_X509_SIG_HEX), msg);
    verifySignature('RsaPss', rsaX509, hex(v.RSA_PSS_X509_SIG_HEX), msg);
    assert.throws(() => verifySignature('ecdsa-sha256', ecdsaX509, hex(v.ECDSA_X509_SIG_HEX), msg), rejects('bad_signature'));
  });

  it('eddsa: the signature must be exactly 64 bytes and the key 32', () => {
    const key = makeKey('ed25519');
    const sig = key.sign(msg);
    verifySignature('eddsa', key.record, sig, msg);
    assert.throws(() => verifySignature('eddsa', key.record, sig.subarray(0, 63), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('eddsa', key.record, Buffer.concat([sig, Buffer.alloc(1)]), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('eddsa', { keytype: 'ed25519', public: key.record.public.subarray(0, 31) }, sig, msg), rejects('bad_key'));
  });

  it('eddsa: a non-canonical S (S + L) is refused, as by Go crypto/ed25519', () => {
    const key = makeKey('ed25519');
    const sig = key.sign(msg);
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const s = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex')) + L;
    const sBytes = Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse();
    const malleable = Buffer.concat([sig.subarray(0, 32), sBytes]);
    assert.throws(() => verifySignature('eddsa', key.record, malleable, msg), rejects('bad_signature'));
  });

  it('ecdsa: raw r||s must have the curve length; an ASN.1 signature is used as such', () => {
    const { publicKey, privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const record = { keytype: 'ecdsa', public: publicKey.export({ format: 'der', type: 'spki' }) };
    const raw = sign('sha256', msg, { key: privateKey, dsaEncoding: 'ieee-p1363' });
    assert.throws(() => verifySignature('ecdsa', record, raw.subarray(1), msg), rejects('bad_signature'));
    const der = sign('sha256', msg, { key: privateKey, dsaEncoding: 'der' });
    verifySignature('ecdsa', record, der, msg); // Go: asn1.Unmarshal succeeds first
    verifySignature('ecdsa', record, Buffer.concat([der, Buffer.from('trailing')]), msg); // Go allows rest
  });

  it('rsa: the signature must be exactly the modulus length', () => {
    const sig = hex(v.RSA_PSS_X509_SIG_HEX);
    assert.throws(() => verifySignature('rsapss', rsaX509, Buffer.concat([Buffer.alloc(1), sig]), msg), rejects('bad_signature'));
    assert.throws(() => verifySignature('rsapss', rsaX509, sig.subarray(1), msg), rejects('bad_signature'));
  });

  it('isValidSignature is the boolean form', () => {
    assert.equal(isValidSignature('ecdsa', ecdsaX509, hex(v.ECDSA_X509_SIG_HEX), msg), true);
    assert.equal(isValidSignature('ecdsa', ecdsaX509, hex(v.ECDSA_X509_SIG_HEX), fox), false);
  });
});

describe('verifySignatures counting (tuf/signed/verify.go)', () => {
  const signedValue = parseJson('{ "_type": "Targets", "version": 3, "name": "a<b" }') as JsonObject;
  const message = canonicalize(signedValue);
  const k1 = makeKey('ecdsa');
  const k2 = makeKey('ed25519');
  const k3 = makeKey('rsa');
  const keys = new Map([k1, k2, k3].map((k) => [k.id, k.record] as const));
  const sigOf = (k: TestKey, m: Uint8Array = message) => ({ keyid: k.id, method: k.method, sig: k.sign(m) });

  it('counts distinct valid keys against the threshold', () => {
    const valid = verifySignatures({ signedValue, signatures: [sigOf(k1), sigOf(k2), sigOf(k3)] }, { keyids: [k1.id, k2.id, k3.id], threshold: 3 }, keys);
    assert.deepEqual([...valid].sort(), [k1.id, k2.id, k3.id].sort());
  });

  it('signs the canonical form, not the raw text', () => {
    const raw = Buffer.from('{ "_type": "Targets", "version": 3, "name": "a<b" }');
    assert.throws(() => verifySignatures({ signedValue, signatures: [sigOf(k1, raw)] }, { keyids: [k1.id], threshold: 1 }, keys), rejects('threshold'));
  });

  it('counts a key once however many signatures it made', () => {
    const twice = [sigOf(k1), sigOf(k1)];
    assert.throws(() => verifySignatures({ signedValue, signatures: twice }, { keyids: [k1.id, k2.id], threshold: 2 }, keys), rejects('threshold'));
    assert.equal(verifySignatures({ signedValue, signatures: twice }, { keyids: [k1.id], threshold: 1 }, keys).size, 1);
  });

  it('skips signatures by keys outside the role, and invalid ones', () => {
    const outsider = makeKey('ecdsa');
    const bad = { ...sigOf(k2), sig: Buffer.alloc(64) };
    const sigs = [sigOf(outsider), bad, { ...sigOf(k3), method: 'unknown' }, sigOf(k1)];
    const allKeys = new Map([...keys, [outsider.id, outsider.record]]);
    assert.deepEqual([...verifySignatures({ signedValue, signatures: sigs }, { keyids: [k1.id, k2.id, k3.id], threshold: 1 }, allKeys)], [k1.id]);
    assert.throws(() => verifySignatures({ signedValue, signatures: sigs }, { keyids: [k1.id, k2.id, k3.id], threshold: 2 }, allKeys), rejects('threshold'));
  });

  it('fails without signatures, with a threshold below 1, and for role keys not in the key map', () => {
    assert.throws(() => verifySignatures({ signedValue, signatures: [] }, { keyids: [k1.id], threshold: 1 }, keys), rejects('threshold'));
    assert.throws(() => verifySignatures({ signedValue, signatures: [sigOf(k1)] }, { keyids: [k1.id], threshold: 0 }, keys), rejects('threshold'));
    assert.throws(() => verifySignatures({ signedValue, signatures: [sigOf(k1)] }, { keyids: ['f'.repeat(64)], threshold: 1 }, keys), rejects('malformed'));
  });

  it('fails outright when a signing role key is stored under an ID that is not its hash', () => {
    const wrongId = 'a'.repeat(64);
    const lying = new Map([
      [wrongId, k1.record],
      [k2.id, k2.record],
    ]);
    const sigs = [sigOf(k2), { ...sigOf(k1), keyid: wrongId }];
    assert.throws(() => verifySignatures({ signedValue, signatures: sigs }, { keyids: [wrongId, k2.id], threshold: 1 }, lying), rejects('bad_key'));
    // Not referenced by any signature: no failure (Go only checks keys it looks up).
    assert.equal(verifySignatures({ signedValue, signatures: [sigOf(k2)] }, { keyids: [wrongId, k2.id], threshold: 1 }, lying).size, 1);
  });

  it('accepts a plain record as the key map and refuses values it cannot canonicalise', () => {
    const record = Object.fromEntries(keys);
    assert.equal(verifySignatures({ signedValue, signatures: [sigOf(k2)] }, { keyids: [k2.id], threshold: 1 }, record).size, 1);
    assert.throws(
      () => verifySignatures({ signedValue: { x: 0.5 }, signatures: [sigOf(k2)] }, { keyids: [k2.id], threshold: 1 }, keys),
      rejects('canonical_json'),
    );
  });
});
