import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { keyId, parsePublicKey, publicKeyRecordSchema } from '../../../../src/trust/notary/keys.js';
import { canonicalKeyId } from '../../../../src/trust/notary/certificates.js';
import { decodeGoBase64, goBytesSchema } from '../../../../src/trust/notary/encoding.js';
import { parseSigned } from '../../../../src/trust/notary/metadata.js';
import { isTrustError } from '../../../../src/trust/notary/errors.js';
import { fixtureBytes, fixtureInfo } from '../../../harness/notary-fixtures.js';

const rejects = (code: string) => (err: unknown) => isTrustError(err) && err.code === code;

describe('keyId', () => {
  it('is the hex SHA-256 of {"keytype","keyval":{"private":null,"public"}} in canonical form', () => {
    const record = { keytype: 'ed25519', public: Buffer.alloc(32, 7) };
    const literal = `{"keytype":"ed25519","keyval":{"private":null,"public":"${record.public.toString('base64')}"}}`;
    assert.equal(keyId(record), createHash('sha256').update(literal).digest('hex'));
  });

  it('matches every key ID that the real notary wrote (root keys and delegation keys)', () => {
    let count = 0;
    for (const name of ['ecdsa-delegation', 'rsa-ca-root']) {
      const root = parseSigned(fixtureBytes(`${name}/root.json`), 'root');
      for (const [id, key] of root.signed.keys) {
        assert.equal(keyId(key), id, `${name} ${key.keytype}`);
        count++;
      }
    }
    const targets = parseSigned(fixtureBytes('ecdsa-delegation/targets.json'), 'targets');
    const releases = parseSigned(fixtureBytes('ecdsa-delegation/targets/releases.json'), 'targets/releases');
    for (const keys of [targets.signed.delegations.keys, releases.signed.delegations.keys]) {
      for (const [id, key] of keys) {
        assert.equal(keyId(key), id, key.keytype);
        count++;
      }
    }
    assert.equal(count, 10);
  });

  it('canonicalKeyId of an x509 root key is the name `notary key list` gives it', () => {
    for (const name of ['ecdsa-delegation', 'rsa-ca-root']) {
      const info = fixtureInfo(name);
      const root = parseSigned(fixtureBytes(`${name}/root.json`), 'root');
      const rootKeyId = root.signed.roles.get('root')?.keyids[0] ?? '';
      const key = root.signed.keys.get(rootKeyId);
      assert.ok(key !== undefined && key.keytype.endsWith('-x509'));
      assert.equal(canonicalKeyId(key), info.rootCanonicalKeyId, name);
      assert.notEqual(canonicalKeyId(key), rootKeyId);
    }
    const plain = { keytype: 'ed25519', public: Buffer.alloc(32, 1) };
    assert.equal(canonicalKeyId(plain), keyId(plain));
  });
});

describe('parsePublicKey', () => {
  const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
  const ecDer = ec.export({ format: 'der', type: 'spki' });
  const rsaDer = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' });

  it('reads each key type', () => {
    assert.equal(parsePublicKey({ keytype: 'ed25519', public: Buffer.alloc(32) }).kind, 'ed25519');
    const e = parsePublicKey({ keytype: 'ecdsa', public: ecDer });
    assert.ok(e.kind === 'ecdsa' && e.curveBits === 256);
    const r = parsePublicKey({ keytype: 'rsa', public: rsaDer });
    assert.ok(r.kind === 'rsa' && r.modulusBits === 2048);
    const root = parseSigned(fixtureBytes('rsa-ca-root/root.json'), 'root');
    const x509 = [...root.signed.keys.values()].find((k) => k.keytype === 'rsa-x509');
    assert.ok(x509 !== undefined);
    assert.equal(parsePublicKey(x509).kind, 'rsa');
  });

  it('refuses keys Go would refuse', () => {
    // The same P-256 key with a compressed point: Go's x509.ParsePKIXPublicKey refuses it.
    const point = ecDer.subarray(ecDer.length - 65);
    const compressedPoint = Buffer.concat([Buffer.from([((point[64] ?? 0) & 1) === 1 ? 3 : 2]), point.subarray(1, 33)]);
    const algorithm = ecDer.subarray(2, 2 + 21); // SEQUENCE { id-ecPublicKey, prime256v1 }
    const compressed = Buffer.concat([Buffer.from([0x30, 0x39]), algorithm, Buffer.from([0x03, 0x22, 0x00]), compressedPoint]);
    const bad = [
      { keytype: 'ed25519', public: Buffer.alloc(31) },
      { keytype: 'ed25519', public: Buffer.alloc(33) },
      { keytype: 'rsa', public: ecDer }, // type mismatch
      { keytype: 'ecdsa', public: rsaDer },
      { keytype: 'ecdsa', public: Buffer.concat([ecDer, Buffer.from([0])]) }, // trailing data
      { keytype: 'ecdsa', public: compressed },
      { keytype: 'ecdsa', public: generateKeyPairSync('ec', { namedCurve: 'secp256k1' }).publicKey.export({ format: 'der', type: 'spki' }) },
      { keytype: 'rsa', public: generateKeyPairSync('rsa-pss', { modulusLength: 2048 }).publicKey.export({ format: 'der', type: 'spki' }) },
      { keytype: 'ecdsa-x509', public: Buffer.from('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n') },
      { keytype: 'ecdsa-x509', public: Buffer.from('not pem') },
      { keytype: 'dsa', public: Buffer.alloc(10) },
    ];
    for (const key of bad) assert.throws(() => parsePublicKey(key), rejects('bad_key'), key.keytype);
  });
});

describe('key and byte-string schemas', () => {
  it('decodes base64 the way Go encoding/base64 StdEncoding does', () => {
    assert.deepEqual(decodeGoBase64('QUI='), Buffer.from('AB'));
    assert.deepEqual(decodeGoBase64('QU\r\nI='), Buffer.from('AB')); // \r and \n are ignored
    assert.deepEqual(decodeGoBase64(''), Buffer.alloc(0));
    for (const bad of ['QUI', 'QU I=', 'QU-=', 'QUI=QUI=', '=', 'Q===']) assert.equal(decodeGoBase64(bad), null, bad);
    assert.deepEqual(goBytesSchema.parse(null), Buffer.alloc(0));
    assert.equal(goBytesSchema.safeParse('QUI').success, false);
  });

  it('reads a key object and refuses private material', () => {
    const ok = publicKeyRecordSchema.parse({ keytype: 'ecdsa', keyval: { private: null, public: 'QUI=' } });
    assert.deepEqual(ok, { keytype: 'ecdsa', public: Buffer.from('AB') });
    assert.equal(publicKeyRecordSchema.safeParse({ keytype: 'ecdsa', keyval: { public: 'QUI=' } }).success, true);
    assert.equal(publicKeyRecordSchema.safeParse({ keytype: 'ecdsa', keyval: { private: 'QUI=', public: 'QUI=' } }).success, false);
    assert.equal(publicKeyRecordSchema.safeParse({ keytype: 'ecdsa', keyval: { private: null } }).success, false);
  });
});
