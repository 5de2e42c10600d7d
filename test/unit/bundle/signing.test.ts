import assert from 'node:assert/strict';
import { createHash, createPrivateKey, generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { inspect } from 'node:util';
import { describe, it } from 'node:test';
import * as ed from '@noble/ed25519';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { BundleError } from '../../../src/bundle/bundle-manifest.js';
import {
  generateBundleKeyPair,
  readBundlePrivateKey,
  readBundlePublicKey,
  signBundleManifest,
  verifyBundleSignature,
  type BundlePublicKey,
} from '../../../src/bundle/signing.js';

const MANIFEST = Buffer.from('{"schemaVersion":1}\n');

async function keys(): Promise<{ priv: ReturnType<typeof readBundlePrivateKey>; pub: BundlePublicKey; keyId: string; privatePem: string; publicPem: string }> {
  const pair = await generateBundleKeyPair();
  return {
    ...pair,
    priv: readBundlePrivateKey(pair.privatePem, 'bundle.key'),
    pub: readBundlePublicKey(pair.publicPem, 'bundle.pub'),
  };
}

async function rejects(promise: Promise<unknown>, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof BundleError, String(err));
    assert.equal(err.code, 'BUNDLE_INVALID');
    assert.match(err.message, pattern);
    return true;
  });
}

function throws(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof BundleError, String(err));
    assert.match(err.message, pattern);
    return true;
  });
}

describe('bundle keys', () => {
  it('generates PEM keys whose key ID is the SHA-256 of the raw public key', async () => {
    const k = await keys();
    assert.match(k.privatePem, /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=]+\n-----END PRIVATE KEY-----\n$/);
    assert.match(k.publicPem, /^-----BEGIN PUBLIC KEY-----\n[A-Za-z0-9+/=]+\n-----END PUBLIC KEY-----\n$/);
    assert.match(k.keyId, /^[a-f0-9]{64}$/);
    assert.equal(k.priv.keyId, k.keyId);
    assert.equal(k.pub.keyId, k.keyId);
    assert.equal(createHash('sha256').update(k.pub.publicKey).digest('hex'), k.keyId);
    assert.deepEqual(k.priv.publicKey, k.pub.publicKey);
    assert.notEqual((await generateBundleKeyPair()).keyId, k.keyId);
  });

  it('reads keys made by OpenSSL (Node crypto) and agrees with it on the public key', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const privPem = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    const pubPem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    const priv = readBundlePrivateKey(privPem, 'k');
    const pub = readBundlePublicKey(pubPem, 'p');
    assert.equal(priv.keyId, pub.keyId);
    // noble derives the same public key from the seed as the OpenSSL derivation readBundlePrivateKey uses.
    const seed = privateKey.export({ format: 'der', type: 'pkcs8' }).subarray(16);
    assert.deepEqual(await ed.getPublicKeyAsync(seed), pub.publicKey);
  });

  it('accepts CRLF line ends and surrounding whitespace', async () => {
    const k = await keys();
    assert.equal(readBundlePublicKey(`\n${k.publicPem.replaceAll('\n', '\r\n')}  `, 'p').keyId, k.keyId);
  });

  it('never shows the private seed when logged or serialised', async () => {
    const k = await keys();
    const seedHex = createPrivateKey(k.privatePem).export({ format: 'der', type: 'pkcs8' }).subarray(16).toString('hex');
    assert.ok(!JSON.stringify(k.priv).includes(seedHex));
    assert.ok(!inspect(k.priv, { depth: 10, showHidden: true }).includes(seedHex.slice(0, 16)));
  });

  it('refuses other key types, naming the file and saying how to make one', async () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const x25519 = generateKeyPairSync('x25519');
    throws(
      () => readBundlePrivateKey(ec.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString(), '/etc/ec.key'),
      /\/etc\/ec\.key is not an Ed25519 private key.*signet bundle keygen/,
    );
    throws(
      () => readBundlePrivateKey(ec.privateKey.export({ format: 'pem', type: 'sec1' }).toString(), 'ec.key'),
      /ec\.key holds a "EC PRIVATE KEY" PEM block.*signet bundle keygen/,
    );
    throws(() => readBundlePublicKey(rsa.publicKey.export({ format: 'pem', type: 'spki' }).toString(), 'rsa.pub'), /rsa\.pub is not an Ed25519 public key/);
    throws(() => readBundlePublicKey(x25519.publicKey.export({ format: 'pem', type: 'spki' }).toString(), 'x.pub'), /x\.pub is not an Ed25519 public key/);
    const k = await keys();
    throws(() => readBundlePublicKey(k.privatePem, 'mixed-up.pem'), /mixed-up\.pem holds a private key; pin the public key/);
    throws(() => readBundlePrivateKey(k.publicPem, 'pub.pem'), /pub\.pem holds a public key/);
    throws(
      () => readBundlePrivateKey('-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n', 'enc.pem'),
      /encrypted private key/,
    );
    throws(() => readBundlePublicKey('not a pem', 'junk'), /junk is not a PEM file/);
    throws(() => readBundlePublicKey(`${k.publicPem}${k.publicPem}`, 'two'), /two is not a PEM file with one PUBLIC KEY block/);
    throws(() => readBundlePublicKey(k.publicPem.replace(/\n(.)/, '\n!$1'), 'bad64'), /bad64/);
    throws(() => readBundlePublicKey(' '.repeat(DEFAULTS.bundle.keyMaxBytes + 1), 'big'), /big is \d+ bytes, over the limit/);
    // The right prefix with a byte too many.
    const der = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), Buffer.alloc(33, 1)]);
    throws(
      () => readBundlePublicKey(`-----BEGIN PUBLIC KEY-----\n${der.toString('base64')}\n-----END PUBLIC KEY-----\n`, 'long'),
      /long is not an Ed25519 public key/,
    );
  });
});

describe('bundle signatures', () => {
  it('sign then verify answers the key that signed', async () => {
    const k = await keys();
    const other = await keys();
    const sig = await signBundleManifest(MANIFEST, k.priv);
    const parsed = JSON.parse(sig.toString('utf8')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['algorithm', 'keyId', 'signature']);
    assert.equal(parsed['algorithm'], 'ed25519');
    assert.equal(parsed['keyId'], k.keyId);
    assert.deepEqual(await verifyBundleSignature(MANIFEST, sig, [other.pub, k.pub]), { keyId: k.keyId });
  });

  it('signs a domain-separated message, not the manifest bytes alone', async () => {
    const k = await keys();
    const sig = Buffer.from((JSON.parse((await signBundleManifest(MANIFEST, k.priv)).toString()) as { signature: string }).signature, 'base64');
    assert.ok(!(await ed.verifyAsync(sig, MANIFEST, k.pub.publicKey)));
    assert.ok(await ed.verifyAsync(sig, Buffer.concat([Buffer.from('signet-bundle-v1\n'), MANIFEST]), k.pub.publicKey));
    // And a plain Ed25519 signature of the manifest bytes (as another tool would make) is refused.
    const seed = createPrivateKey(k.privatePem);
    const plain = nodeSign(null, MANIFEST, seed).toString('base64');
    const forged = Buffer.from(JSON.stringify({ algorithm: 'ed25519', keyId: k.keyId, signature: plain }));
    await rejects(verifyBundleSignature(MANIFEST, forged, [k.pub]), /signature does not verify/);
  });

  it('refuses a manifest changed by one byte', async () => {
    const k = await keys();
    const sig = await signBundleManifest(MANIFEST, k.priv);
    for (let i = 0; i < MANIFEST.length; i++) {
      const tampered = Buffer.from(MANIFEST);
      tampered[i] = (tampered[i] ?? 0) ^ 0x01;
      await rejects(verifyBundleSignature(tampered, sig, [k.pub]), /signature does not verify: the bundle manifest was changed or signed by another key/);
    }
  });

  it('refuses a signature made by another key claiming the pinned key ID', async () => {
    const k = await keys();
    const other = await keys();
    const sig = JSON.parse((await signBundleManifest(MANIFEST, other.priv)).toString()) as Record<string, string>;
    const lying = Buffer.from(JSON.stringify({ ...sig, keyId: k.keyId }));
    await rejects(verifyBundleSignature(MANIFEST, lying, [k.pub]), /signature does not verify: the bundle manifest was changed or signed by another key/);
  });

  it('refuses a signature by a key that is not pinned, naming it and the pinned keys', async () => {
    const k = await keys();
    const other = await keys();
    const sig = await signBundleManifest(MANIFEST, other.priv);
    await rejects(
      verifyBundleSignature(MANIFEST, sig, [k.pub]),
      new RegExp(`signed by key ${other.keyId}, which is not pinned: pinned keys are ${k.keyId} \\(bundle\\.pub\\).*bundles\\.keys / --key`),
    );
  });

  it('needs at least one pinned key', async () => {
    const k = await keys();
    await rejects(verifyBundleSignature(MANIFEST, await signBundleManifest(MANIFEST, k.priv), []), /no bundle key is pinned.*bundles\.keys or pass --key/);
  });

  it('refuses malformed signature files', async () => {
    const k = await keys();
    const good = JSON.parse((await signBundleManifest(MANIFEST, k.priv)).toString()) as Record<string, string>;
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, algorithm: 'rsa' }, /algorithm/],
      [{ ...good, keyId: k.keyId.toUpperCase() }, /keyId/],
      [{ ...good, signature: good['signature']?.slice(4) }, /signature/],
      [{ ...good, signature: `${good['signature']?.slice(0, 86)}=A` }, /signature/],
      [{ ...good, extra: true }, /unknown key extra/],
      [[good], /\(top level\)/],
      [{ algorithm: 'ed25519' }, /keyId/],
    ];
    for (const [value, pattern] of cases) {
      await rejects(
        verifyBundleSignature(MANIFEST, Buffer.from(JSON.stringify(value)), [k.pub]),
        new RegExp(`signet-bundle\\.sig is malformed: .*${pattern.source}`),
      );
    }
    await rejects(verifyBundleSignature(MANIFEST, Buffer.from('{"algorithm":'), [k.pub]), /signet-bundle\.sig is malformed: not JSON/);
    await rejects(verifyBundleSignature(MANIFEST, Buffer.from([0xff, 0xfe]), [k.pub]), /not JSON/);
  });

  it('refuses an oversized signature file before parsing it', async () => {
    const k = await keys();
    await rejects(verifyBundleSignature(MANIFEST, Buffer.alloc(DEFAULTS.bundle.signatureMaxBytes + 1, 0x20), [k.pub]), /over the limit of 16384/);
  });
});
