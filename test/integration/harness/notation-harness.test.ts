import assert from 'node:assert/strict';
import { createHash, verify as nodeVerify, constants } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode as cborDecode, type TagDecoder } from 'cborg';
import { flattenedVerify } from 'jose';
import { EKU, KEY_USAGE, parseCertificate, type CertificateInfo } from '../../../src/trust/x509/index.js';
import { stopAll } from '../../harness/cleanup.js';
import { MEDIA_TYPES, pushImage, type PushedImage } from '../../harness/images.js';
import {
  DEFAULT_LEAF_SUBJECT,
  certificateChain,
  createNotationPki,
  createTsa,
  serveCrl,
  startOcspResponder,
  writeTrustStore,
  type NotationKeyType,
  type NotationPki,
  type PkiCertificate,
  type Tsa,
} from '../../harness/notation-pki.js';
import {
  NOTATION_ANNOTATIONS,
  NOTATION_ARTIFACT_TYPE,
  OCI_EMPTY_MEDIA_TYPE,
  envelopeFacts,
  pushNotationSignature,
  x509ChainThumbprints,
} from '../../harness/notation-oci.js';
import {
  NOTATION_PAYLOAD_MEDIA_TYPE,
  coseEncode,
  notationAlgorithm,
  signNotation,
  type NotationEnvelope,
  type TargetArtifact,
} from '../../harness/notation-sign.js';
import { freePort } from '../../harness/ports.js';
import { runOk } from '../../harness/process.js';
import { expectStatus, registryRequest } from '../../harness/registry-client.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The Notation harness made real: certificates by `openssl ca` checked with Signet's own X.509
// parser and `openssl x509 -text`, envelopes checked with jose (JWS) and node:crypto over the
// COSE Sig_structure, RFC 3161 tokens parsed and verified by `openssl ts`, signatures pushed to
// distribution 2.8 and read back through its API, and `openssl ocsp` answering for index.txt.

const OID = { basicConstraints: '2.5.29.19', keyUsage: '2.5.29.15', extKeyUsage: '2.5.29.37' };

let pki: NotationPki | undefined;
let tsa: Tsa | undefined;
let registry: Registry | undefined;
let dir = '';

function need<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} not set up`);
  return value;
}

function extension(cert: CertificateInfo, oid: string): { critical: boolean } {
  const ext = cert.extensions.find((e) => e.oid === oid);
  assert.ok(ext, `extension ${oid} present`);
  return ext;
}

async function x509Text(cert: PkiCertificate): Promise<string> {
  return (await runOk('openssl', ['x509', '-in', cert.certFile, '-noout', '-text'])).stdout;
}

function target(image: PushedImage): TargetArtifact {
  return { mediaType: image.mediaType, digest: image.digest, size: image.size };
}

before(async () => {
  dir = await makeTempDir('notation-harness');
  pki = await createNotationPki({ intermediate: true });
  tsa = await createTsa();
  registry = await startRegistry();
});

after(async () => {
  await stopAll(registry);
  await pki?.dispose();
  await tsa?.dispose();
  if (dir) await removeDir(dir);
});

describe('notation-pki', () => {
  test('root and intermediate are CAs with critical basicConstraints and keyCertSign', () => {
    const p = need(pki, 'pki');
    const root = parseCertificate(p.root.certDer);
    const intermediate = parseCertificate(need(p.intermediate, 'intermediate').certDer);
    for (const ca of [root, intermediate]) {
      assert.equal(ca.basicConstraints?.ca, true);
      assert.equal(extension(ca, OID.basicConstraints).critical, true);
      assert.equal(extension(ca, OID.keyUsage).critical, true);
      assert.equal(ca.keyUsage, KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign);
    }
    assert.ok(root.isIssuedBy(root), 'root is self-signed');
    assert.ok(intermediate.isIssuedBy(root), 'intermediate issued by the root');
    assert.equal(p.issuer, p.intermediate);
  });

  test('a default leaf: rsa2048, the default DN, critical digitalSignature, codeSigning EKU, chain to the root', async () => {
    const p = need(pki, 'pki');
    const leaf = await p.leaf();
    const info = parseCertificate(leaf.certDer);
    assert.equal(info.publicKey.algorithm, 'rsa');
    assert.equal(info.publicKey.bits, 2048);
    assert.equal(info.keyUsage, KEY_USAGE.digitalSignature);
    assert.equal(extension(info, OID.keyUsage).critical, true);
    assert.deepEqual(info.extKeyUsage, [EKU.codeSigning]);
    assert.equal(info.basicConstraints, undefined);
    assert.equal(info.signatureAlgorithm.hash, 'sha256');
    assert.match(await x509Text(leaf), /Subject: C = US, ST = WA, L = Seattle, O = Signet Test, CN = signer\n/);
    assert.equal(leaf.subject, DEFAULT_LEAF_SUBJECT);
    const chain = certificateChain(leaf).map(parseCertificate);
    assert.equal(chain.length, 3);
    assert.ok(chain[0]?.isIssuedBy(need(chain[1], 'intermediate')));
    assert.ok(chain[1]?.isIssuedBy(need(chain[2], 'root')));
    assert.ok(leaf.publicKey.equals(info.publicKey.key));
  });

  test('leaf options: EKU, keyUsage, validity, SHA-1, OCSP and CRL URLs, subject', async () => {
    const p = need(pki, 'pki');
    const notBefore = new Date('2021-03-04T05:06:07Z');
    const notAfter = new Date('2051-01-02T03:04:05Z');
    const leaf = await p.leaf({
      keyType: 'ec384',
      subject: 'C=US, ST=WA, O=acme, CN=builder',
      extendedKeyUsage: 'serverAuth',
      notBefore,
      notAfter,
      ocspUrl: 'http://127.0.0.1:1/ocsp',
      crlUrl: 'http://127.0.0.1:1/ca.crl',
    });
    const info = parseCertificate(leaf.certDer);
    assert.deepEqual(info.extKeyUsage, [EKU.serverAuth]);
    assert.equal(info.notBefore.getTime(), notBefore.getTime());
    assert.equal(info.notAfter.getTime(), notAfter.getTime());
    assert.equal(info.publicKey.curve, 'P-384');
    const text = await x509Text(leaf);
    assert.match(text, /Subject: C = US, ST = WA, O = acme, CN = builder\n/);
    assert.match(text, /OCSP - URI:http:\/\/127\.0\.0\.1:1\/ocsp/);
    assert.match(text, /URI:http:\/\/127\.0\.0\.1:1\/ca\.crl/);

    const bare = parseCertificate((await p.leaf({ keyType: 'ec256', extendedKeyUsage: 'none', keyUsage: 'none' })).certDer);
    assert.deepEqual(bare.extKeyUsage, []);
    assert.equal(bare.keyUsage, undefined);

    const sha1 = parseCertificate((await p.leaf({ keyType: 'ec256', hash: 'sha1' })).certDer);
    assert.equal(sha1.signatureAlgorithm.sha1, true);

    const expired = parseCertificate(
      (await p.leaf({ keyType: 'ec256', notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-06-01T00:00:00Z') })).certDer,
    );
    assert.ok(expired.notAfter.getTime() < Date.now());
  });

  test('every key type maps to the Notation algorithm that fits it', async () => {
    const p = need(pki, 'pki');
    const expected: Array<[NotationKeyType, string]> = [
      ['rsa2048', 'PS256'],
      ['rsa3072', 'PS384'],
      ['rsa4096', 'PS512'],
      ['ec256', 'ES256'],
      ['ec384', 'ES384'],
      ['ec521', 'ES512'],
    ];
    for (const [keyType, alg] of expected) {
      const leaf = await p.leaf({ keyType });
      assert.equal(notationAlgorithm(leaf.privateKey), alg, keyType);
    }
  });

  test('the TSA certificate has a critical timeStamping-only EKU; tokens carry the genTime asked for', async () => {
    const t = need(tsa, 'tsa');
    const cert = parseCertificate(t.cert.certDer);
    assert.deepEqual(cert.extKeyUsage, [EKU.timeStamping]);
    assert.equal(extension(cert, OID.extKeyUsage).critical, true);

    const content = Buffer.from('signature bytes');
    const genTime = new Date('2024-02-03T04:05:06Z');
    const token = await t.timestamp(content, { hash: 'sha384', genTime });
    const tokenFile = join(dir, 'token.tst');
    const dataFile = join(dir, 'token.data');
    await writeFile(tokenFile, token);
    await writeFile(dataFile, content);
    const text = (await runOk('openssl', ['ts', '-reply', '-in', tokenFile, '-token_in', '-text'])).stdout;
    assert.match(text, /Hash Algorithm: sha384/);
    assert.match(text, /Time stamp: Feb {2}3 04:05:06 2024 GMT/);
    assert.match(text, /Nonce: 0x/);
    const rootFile = join(dir, 'tsa-root.pem');
    await writeFile(rootFile, t.root.certPem);
    const verified = await runOk('openssl', [
      'ts',
      '-verify',
      '-in',
      tokenFile,
      '-token_in',
      '-data',
      dataFile,
      '-CAfile',
      rootFile,
      '-untrusted',
      t.cert.certFile,
    ]);
    assert.match(verified.stdout, /Verification: OK/);
  });

  test('writeTrustStore lays out x509/<type>/<name>/', async () => {
    const p = need(pki, 'pki');
    const store = await writeTrustStore(join(dir, 'truststore'), 'ca', 'acme', [p.root]);
    assert.equal(store, join(dir, 'truststore', 'x509', 'ca', 'acme'));
    const read = await runOk('openssl', ['x509', '-in', join(store, 'cert-1.pem'), '-noout', '-fingerprint', '-sha256']);
    const fingerprint = createHash('sha256').update(p.root.certDer).digest('hex').toUpperCase().match(/../g)?.join(':');
    assert.match(read.stdout, new RegExp(fingerprint ?? 'none'));
  });
});

describe('notation-sign', () => {
  const image: TargetArtifact = {
    mediaType: MEDIA_TYPES.ociManifest,
    digest: `sha256:${'ab'.repeat(32)}`,
    size: 1234,
    annotations: { 'b.key': 'x<y', 'a.key': 'z' },
  };

  test('JWS: flattened JSON that jose verifies with the leaf key, headers as notation writes them', async () => {
    const p = need(pki, 'pki');
    for (const keyType of ['rsa2048', 'ec384'] as const) {
      const leaf = await p.leaf({ keyType });
      const signingTime = new Date('2026-01-02T03:04:05.120Z');
      const expiry = new Date('2036-01-02T03:04:05Z');
      const env = await signNotation({ format: 'jws', target: image, key: leaf.privateKey, certChain: certificateChain(leaf), signingTime, expiry });
      assert.equal(env.mediaType, 'application/jose+json');
      const parsed = JSON.parse(env.bytes.toString('utf8')) as { payload: string; protected: string; header: Record<string, unknown>; signature: string };
      assert.deepEqual(Object.keys(parsed), ['payload', 'protected', 'header', 'signature']);
      const result = await flattenedVerify(parsed, leaf.publicKey, { crit: { 'io.cncf.notary.signingScheme': true, 'io.cncf.notary.expiry': true } });
      assert.deepEqual(result.protectedHeader, {
        alg: keyType === 'rsa2048' ? 'PS256' : 'ES384',
        crit: ['io.cncf.notary.signingScheme', 'io.cncf.notary.expiry'],
        cty: NOTATION_PAYLOAD_MEDIA_TYPE,
        'io.cncf.notary.expiry': '2036-01-02T03:04:05Z',
        'io.cncf.notary.signingScheme': 'notary.x509',
        'io.cncf.notary.signingTime': '2026-01-02T03:04:05.12Z',
      });
      // golang-jwt re-marshals the payload as a map: keys sorted, `<` escaped as Go does.
      assert.equal(
        Buffer.from(result.payload).toString('utf8'),
        `{"targetArtifact":{"annotations":{"a.key":"z","b.key":"x\\u003cy"},"digest":"${image.digest}","mediaType":"${image.mediaType}","size":1234}}`,
      );
      assert.deepEqual(Object.keys(parsed.header), ['x5c', 'io.cncf.notary.signingAgent']);
      assert.deepEqual(
        (parsed.header.x5c as string[]).map((c) => Buffer.from(c, 'base64')),
        certificateChain(leaf),
      );
      assert.deepEqual(envelopeFacts(env).certChain, certificateChain(leaf));
    }
  });

  test('JWS with an RFC 3161 countersignature over the signature bytes', async () => {
    const p = need(pki, 'pki');
    const t = need(tsa, 'tsa');
    const leaf = await p.leaf({ keyType: 'rsa3072' });
    const env = await signNotation({ format: 'jws', target: image, key: leaf.privateKey, certChain: certificateChain(leaf), timestamp: { tsa: t } });
    const parsed = JSON.parse(env.bytes.toString('utf8')) as { header: Record<string, unknown> };
    assert.deepEqual(Object.keys(parsed.header), ['io.cncf.notary.timestampSignature', 'x5c', 'io.cncf.notary.signingAgent']);
    const token = Buffer.from(parsed.header['io.cncf.notary.timestampSignature'] as string, 'base64');
    assert.deepEqual(token, env.timestampToken);
    await writeFile(join(dir, 'jws.tst'), token);
    await writeFile(join(dir, 'jws.sig'), env.signature);
    await writeFile(join(dir, 'tsa-root2.pem'), t.root.certPem);
    const text = (await runOk('openssl', ['ts', '-reply', '-in', join(dir, 'jws.tst'), '-token_in', '-text'])).stdout;
    assert.match(text, /Hash Algorithm: sha384/, 'PS384 signatures are stamped with SHA-384');
    const verified = await runOk('openssl', [
      'ts',
      '-verify',
      '-in',
      join(dir, 'jws.tst'),
      '-token_in',
      '-data',
      join(dir, 'jws.sig'),
      '-CAfile',
      join(dir, 'tsa-root2.pem'),
      '-untrusted',
      t.cert.certFile,
    ]);
    assert.match(verified.stdout, /Verification: OK/);
  });

  test('COSE_Sign1: tag 18, deterministic protected header, tag-1 times, signature over the Sig_structure', async () => {
    const p = need(pki, 'pki');
    for (const keyType of ['rsa2048', 'ec521'] as const) {
      const leaf = await p.leaf({ keyType });
      const signingTime = new Date('2026-01-02T03:04:05.999Z');
      const env = await signNotation({
        format: 'cose',
        target: image,
        key: leaf.privateKey,
        certChain: certificateChain(leaf),
        signingTime,
        signingScheme: 'notary.x509.signingAuthority',
      });
      assert.equal(env.mediaType, 'application/cose');
      assert.equal(env.bytes[0], 0xd2, 'tag 18');
      const seenTags: number[] = [];
      const epoch: TagDecoder = (control) => {
        seenTags.push(1);
        return { epoch: control() };
      };
      const sign1: TagDecoder = (control) => control();
      const opts = { useMaps: true, tags: { 1: epoch, 18: sign1 } };
      const [protectedBytes, unprotected, payload, signature] = cborDecode(env.bytes, opts) as [Uint8Array, Map<unknown, unknown>, Uint8Array, Uint8Array];
      const header = cborDecode(protectedBytes, opts) as Map<unknown, unknown>;
      assert.deepEqual(
        [...header.keys()],
        [1, 2, 3, 'io.cncf.notary.signingScheme', 'io.cncf.notary.authenticSigningTime'],
        'RFC 8949 core deterministic key order',
      );
      assert.equal(header.get(1), keyType === 'rsa2048' ? -37 : -36);
      assert.deepEqual(header.get(2), ['io.cncf.notary.signingScheme', 'io.cncf.notary.authenticSigningTime']);
      assert.equal(header.get(3), NOTATION_PAYLOAD_MEDIA_TYPE);
      assert.deepEqual(header.get('io.cncf.notary.authenticSigningTime'), { epoch: Math.floor(signingTime.getTime() / 1000) });
      assert.deepEqual(seenTags, [1]);
      assert.deepEqual(
        (unprotected.get(33) as Uint8Array[]).map((c) => Buffer.from(c)),
        certificateChain(leaf),
      );
      assert.equal(
        Buffer.from(payload).toString('utf8'),
        `{"targetArtifact":{"mediaType":"${image.mediaType}","digest":"${image.digest}","size":1234,"annotations":{"a.key":"z","b.key":"x\\u003cy"}}}`,
        'notation-go marshals the descriptor struct in field order',
      );
      const toBeSigned = coseEncode(['Signature1', Buffer.from(protectedBytes), Buffer.alloc(0), Buffer.from(payload)]);
      const ok =
        keyType === 'rsa2048'
          ? nodeVerify('sha256', toBeSigned, { key: leaf.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, signature)
          : nodeVerify('sha512', toBeSigned, { key: leaf.publicKey, dsaEncoding: 'ieee-p1363' }, signature);
      assert.ok(ok, `${keyType} COSE signature verifies`);
      if (keyType === 'ec521') assert.equal(signature.length, 132, 'P-521 r‖s: 66 bytes each');
      assert.equal(envelopeFacts(env).signingTime?.getTime(), Math.floor(signingTime.getTime() / 1000) * 1000);
    }
  });

  test('tampering options break exactly what they say', async () => {
    const p = need(pki, 'pki');
    const leaf = await p.leaf({ keyType: 'ec256' });
    const base = { format: 'jws' as const, target: image, key: leaf.privateKey, certChain: certificateChain(leaf) };
    const jws = (env: NotationEnvelope): { payload: string; protected: string; header: Record<string, unknown>; signature: string } =>
      JSON.parse(env.bytes.toString('utf8')) as { payload: string; protected: string; header: Record<string, unknown>; signature: string };
    const headerOf = (env: NotationEnvelope): Record<string, unknown> => JSON.parse(env.protectedHeader.toString('utf8')) as Record<string, unknown>;
    const crit = { 'io.cncf.notary.signingScheme': true };

    const mismatch = await signNotation({ ...base, tamper: { alg: 'ES384' } });
    assert.equal(headerOf(mismatch).alg, 'ES384');
    await assert.rejects(flattenedVerify(jws(mismatch), leaf.publicKey, { crit }));

    const unknown = await signNotation({ ...base, tamper: { extraProtected: { 'io.cncf.notary.unknown': 'x' }, extraCrit: ['io.cncf.notary.unknown'] } });
    assert.deepEqual(headerOf(unknown).crit, ['io.cncf.notary.signingScheme', 'io.cncf.notary.unknown']);
    assert.equal(headerOf(unknown)['io.cncf.notary.unknown'], 'x');
    await assert.rejects(flattenedVerify(jws(unknown), leaf.publicKey, { crit }), /io\.cncf\.notary\.unknown/);

    const altered = await signNotation({ ...base, tamper: { payloadAfterSigning: Buffer.from('{"targetArtifact":{}}') } });
    await assert.rejects(flattenedVerify(jws(altered), leaf.publicKey, { crit }));

    const noChain = await signNotation({ ...base, tamper: { certChain: null } });
    assert.equal(jws(noChain).header.x5c, undefined);
    const otherChain = await signNotation({ ...base, tamper: { certChain: [p.root.certDer] } });
    assert.deepEqual(jws(otherChain).header.x5c, [p.root.certDer.toString('base64')]);

    const expired = await signNotation({ ...base, expiry: new Date('2020-01-01T00:00:00Z'), signingTime: new Date('2019-12-01T00:00:00Z') });
    assert.equal(headerOf(expired)['io.cncf.notary.expiry'], '2020-01-01T00:00:00Z');
    assert.equal(headerOf(expired)['io.cncf.notary.signingTime'], '2019-12-01T00:00:00Z');
    await flattenedVerify(jws(expired), leaf.publicKey, { crit: { ...crit, 'io.cncf.notary.expiry': true } });

    const coseMismatch = await signNotation({ ...base, format: 'cose', tamper: { alg: 'PS256' } });
    const protectedBytes = (cborDecode(coseMismatch.bytes, { useMaps: true, tags: { 1: (c) => c(), 18: (c) => c() } }) as [Uint8Array])[0];
    assert.equal((cborDecode(protectedBytes, { useMaps: true, tags: { 1: (c) => c() } }) as Map<unknown, unknown>).get(1), -37);
  });
});

describe('notation-oci against distribution 2.8', () => {
  test('signatures push as notation pushes them and are listed in the referrers tag index', async () => {
    const p = need(pki, 'pki');
    const reg = need(registry, 'registry');
    const repo = 'acme/notation';
    const image = await pushImage(reg, repo, 'v1');
    const leaf = await p.leaf();
    const chain = certificateChain(leaf);
    const signingTime = new Date('2026-02-03T04:05:06.789Z');
    const jws = await signNotation({ format: 'jws', target: target(image), key: leaf.privateKey, certChain: chain, signingTime });
    const cose = await signNotation({ format: 'cose', target: target(image), key: leaf.privateKey, certChain: chain, signingTime });

    const first = await pushNotationSignature(reg, repo, image, jws);
    const second = await pushNotationSignature(reg, repo, image, cose);
    const legacy = await pushNotationSignature(reg, repo, image, { bytes: jws.bytes, mediaType: jws.mediaType }, { legacy: true });

    const readManifest = async (digest: string): Promise<Record<string, unknown>> =>
      JSON.parse(
        expectStatus(
          await registryRequest(reg, 'GET', `/v2/${repo}/manifests/${digest}`, { headers: { accept: MEDIA_TYPES.ociManifest } }),
          'GET signature manifest',
          200,
        ).body.toString('utf8'),
      ) as Record<string, unknown>;

    const manifest = await readManifest(first.digest);
    assert.deepEqual(Object.keys(manifest), ['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'subject', 'annotations']);
    assert.equal(manifest.artifactType, NOTATION_ARTIFACT_TYPE);
    assert.deepEqual(manifest.config, {
      mediaType: OCI_EMPTY_MEDIA_TYPE,
      digest: 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a',
      size: 2,
      data: 'e30=',
    });
    assert.deepEqual(manifest.subject, { mediaType: image.mediaType, digest: image.digest, size: image.size });
    assert.deepEqual(manifest.layers, [{ mediaType: 'application/jose+json', digest: first.envelopeBlob.digest, size: jws.bytes.length }]);
    assert.deepEqual(manifest.annotations, {
      [NOTATION_ANNOTATIONS.thumbprints]: JSON.stringify(x509ChainThumbprints(chain)),
      [NOTATION_ANNOTATIONS.created]: '2026-02-03T04:05:06Z',
    });
    assert.equal(
      (JSON.parse((manifest.annotations as Record<string, string>)[NOTATION_ANNOTATIONS.thumbprints] ?? '[]') as string[])[0],
      createHash('sha256').update(leaf.certDer).digest('hex'),
    );

    const blob = expectStatus(await registryRequest(reg, 'GET', `/v2/${repo}/blobs/${second.envelopeBlob.digest}`), 'GET envelope', 200).body;
    assert.deepEqual(blob, cose.bytes);
    const coseManifest = await readManifest(second.digest);
    assert.deepEqual(coseManifest.annotations, manifest.annotations, 'COSE signing time has whole seconds: same created annotation');

    const old = await readManifest(legacy.digest);
    assert.deepEqual(Object.keys(old), ['schemaVersion', 'mediaType', 'config', 'layers', 'subject', 'annotations']);
    assert.equal((old.config as { mediaType: string }).mediaType, NOTATION_ARTIFACT_TYPE);
    assert.deepEqual(old.annotations, manifest.annotations, 'chain and time read back from the JWS envelope');

    assert.equal(legacy.referrersTag, image.digest.replace(':', '-'));
    const index = JSON.parse(
      expectStatus(
        await registryRequest(reg, 'GET', `/v2/${repo}/manifests/${legacy.referrersTag}`, { headers: { accept: MEDIA_TYPES.ociIndex } }),
        'GET referrers tag',
        200,
      ).body.toString('utf8'),
    ) as { mediaType: string; manifests: Array<{ digest: string; artifactType?: string; annotations?: Record<string, string> }> };
    assert.equal(index.mediaType, MEDIA_TYPES.ociIndex);
    assert.deepEqual(index.manifests.map((m) => m.digest).sort(), [first.digest, second.digest, legacy.digest].sort());
    for (const m of index.manifests) {
      assert.equal(m.artifactType, NOTATION_ARTIFACT_TYPE);
      assert.equal(m.annotations?.[NOTATION_ANNOTATIONS.thumbprints], JSON.stringify(x509ChainThumbprints(chain)));
    }
  });
});

describe('revocation endpoints', () => {
  test('openssl ocsp answers good and revoked from index.txt; a CRL lists the revoked serial', async (t) => {
    const p = need(pki, 'pki');
    const port = await freePort();
    const crls = await serveCrl();
    t.after(() => crls.stop());
    const ocspUrl = `http://127.0.0.1:${port}`;
    const crlUrl = `${crls.url}/intermediate.crl`;
    const good = await p.leaf({ keyType: 'ec256', ocspUrl, crlUrl });
    const revoked = await p.leaf({ keyType: 'ec256', ocspUrl, crlUrl });
    await p.issuer.revoke(revoked, { reason: 'keyCompromise', at: new Date('2026-01-01T00:00:00Z') });
    const responder = await startOcspResponder(p.issuer, port);
    t.after(() => responder.stop());

    const rootFile = join(dir, 'ocsp-root.pem');
    await writeFile(rootFile, p.root.certPem);
    const ask = async (cert: PkiCertificate): Promise<string> =>
      (
        await runOk('openssl', [
          'ocsp',
          '-issuer',
          p.issuer.certFile,
          '-cert',
          cert.certFile,
          '-url',
          responder.url,
          '-CAfile',
          rootFile,
          '-verify_other',
          p.issuer.certFile,
        ])
      ).stdout;
    assert.match(await ask(good), /: good\n/);
    const revokedAnswer = await ask(revoked);
    assert.match(revokedAnswer, /: revoked\n/);
    assert.match(revokedAnswer, /Reason: keyCompromise/);
    assert.match(revokedAnswer, /Revocation Time: Jan {2}1 00:00:0\d 2026 GMT/);

    await p.issuer.revoke(good);
    await responder.reload();
    assert.match(await ask(good), /: revoked\n/, 'reload() picks up a later revocation');

    const crl = await p.issuer.crl();
    crls.set('/intermediate.crl', crl.der);
    const res = await fetch(crlUrl);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/pkix-crl');
    const served = Buffer.from(await res.arrayBuffer());
    assert.deepEqual(served, crl.der);
    await writeFile(join(dir, 'served.crl'), served);
    const text = (await runOk('openssl', ['crl', '-inform', 'DER', '-in', join(dir, 'served.crl'), '-noout', '-text'])).stdout;
    assert.match(text, new RegExp(`Serial Number: ${revoked.serial}`));
    assert.match(text, new RegExp(`Serial Number: ${good.serial}`));
    assert.deepEqual(crls.requests(), ['/intermediate.crl']);
  });
});
