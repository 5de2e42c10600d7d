/**
 * Bundle keys are files OpenSSL reads and writes: `signet bundle keygen`'s PEMs open in
 * `openssl pkey`, a key made by `openssl genpkey -algorithm ed25519` signs bundles, and a bundle
 * signature is a plain RFC 8032 Ed25519 signature OpenSSL verifies over the domain-separated message.
 */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateBundleKeyPair, readBundlePrivateKey, readBundlePublicKey, signBundleManifest, verifyBundleSignature } from '../../../src/bundle/signing.js';
import { run, runOk } from '../../harness/process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

const TIMEOUT = { timeoutMs: 30_000 };
let dir: string;

before(async () => {
  dir = await makeTempDir('keyssl');
});
after(async () => {
  await removeDir(dir);
});

describe('bundle keys and OpenSSL', () => {
  it('openssl reads the generated private and public keys, and derives the same public key', async () => {
    const pair = await generateBundleKeyPair();
    const key = join(dir, 'bundle.key');
    const pub = join(dir, 'bundle.pub');
    await writeFile(key, pair.privatePem);
    await writeFile(pub, pair.publicPem);
    await runOk('openssl', ['pkey', '-in', key, '-noout'], TIMEOUT);
    await runOk('openssl', ['pkey', '-pubin', '-in', pub, '-noout'], TIMEOUT);
    const text = await runOk('openssl', ['pkey', '-in', key, '-noout', '-text'], TIMEOUT);
    assert.match(text.stdout, /ED25519 Private-Key/);
    const derived = await runOk('openssl', ['pkey', '-in', key, '-pubout'], TIMEOUT);
    assert.equal(derived.stdout, pair.publicPem);
  });

  it('a key made by openssl genpkey signs bundles, and openssl verifies the signature', async () => {
    const key = join(dir, 'openssl.key');
    const pub = join(dir, 'openssl.pub');
    await runOk('openssl', ['genpkey', '-algorithm', 'ed25519', '-out', key], TIMEOUT);
    await runOk('openssl', ['pkey', '-in', key, '-pubout', '-out', pub], TIMEOUT);
    const privateKey = readBundlePrivateKey(await readFile(key, 'utf8'), key);
    const publicKey = readBundlePublicKey(await readFile(pub, 'utf8'), pub);
    assert.equal(privateKey.keyId, publicKey.keyId);

    const manifest = Buffer.from('{"schemaVersion":1}\n');
    const sigFile = await signBundleManifest(manifest, privateKey);
    assert.deepEqual(await verifyBundleSignature(manifest, sigFile, [publicKey]), { keyId: publicKey.keyId });

    const { signature } = JSON.parse(sigFile.toString('utf8')) as { signature: string };
    const sig = join(dir, 'sig.bin');
    const message = join(dir, 'message.bin');
    await writeFile(sig, Buffer.from(signature, 'base64'));
    await writeFile(message, Buffer.concat([Buffer.from('signet-bundle-v1\n'), manifest]));
    const ok = await runOk('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', message, '-sigfile', sig], TIMEOUT);
    assert.match(ok.stdout, /Signature Verified Successfully/);
    // Over the manifest bytes alone (no domain prefix) the signature does not verify.
    await writeFile(message, manifest);
    const bad = await run('openssl', ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', message, '-sigfile', sig], TIMEOUT);
    assert.notEqual(bad.code, 0);
  });
});
