import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { bundleFromJSON } from '@sigstore/bundle';
import { X509Certificate, dsse } from '@sigstore/core';
import { PublicKeyDetails, TrustedRoot, type PublicKey } from '@sigstore/protobuf-specs';
import { Verifier, VerificationError, toSignedEntity, toTrustMaterial, type SignedEntity, type VerificationPolicy } from '@sigstore/verify';
import { ARTIFACT_TYPES } from '../../harness/artifacts.js';
import { stopAll } from '../../harness/cleanup.js';
import {
  BUNDLE_ANNOTATIONS,
  COSIGN_SIGN_PREDICATE,
  LEGACY_ANNOTATIONS,
  PREDICATE_TYPES,
  cosignKeyPair,
  legacySignatureTag,
  mockTrustedRoot,
  readLegacySignatures,
  signBundleKeyless,
  signBundleWithKey,
  signEd25519ph,
  signLegacy,
  startMockSigstore,
  verifyEd25519ph,
  verifyWithKey,
  writeTrustedRoot,
  type CosignKey,
  type MockSigstore,
  type PushedBundle,
  type RekorBundleAnnotation,
  type TrustedRootOptions,
} from '../../harness/cosign.js';
import { MEDIA_TYPES, pushImage, type PushedImage } from '../../harness/images.js';
import { expectStatus, registryRequest } from '../../harness/registry-client.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { sha256Digest } from '../../harness/streams.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The cosign signing harness against a real distribution 2.8 registry: every artifact is read
// back through the registry API (the `.sig` tag, the referrers tag schema index, the referrer
// manifest and its bundle blob) and checked with @sigstore/verify directly, against the
// trusted_root.json the harness writes for its mock Fulcio, Rekor, CT log and TSA.

interface Manifest {
  mediaType?: string;
  artifactType?: string;
  config: { mediaType: string; digest: string; size: number; artifactType?: string };
  layers: Array<{ mediaType: string; digest: string; size: number; annotations?: Record<string, string> }>;
  subject?: { mediaType: string; digest: string; size: number };
  annotations?: Record<string, string>;
}
interface Index {
  mediaType?: string;
  manifests: Array<{ mediaType: string; digest: string; size: number; artifactType?: string }>;
}

let registry: Registry | undefined;
let sigstore: MockSigstore | undefined;
let dir = '';

before(async () => {
  registry = await startRegistry();
  sigstore = await startMockSigstore();
  dir = await makeTempDir('cosign');
});
after(async () => {
  await stopAll(sigstore, registry);
  await removeDir(dir);
});

function reg(): Registry {
  assert.ok(registry);
  return registry;
}
function mocks(): MockSigstore {
  assert.ok(sigstore);
  return sigstore;
}

async function get(path: string, accept: string = MEDIA_TYPES.ociManifest): Promise<Buffer> {
  return expectStatus(await registryRequest(reg(), 'GET', path, { headers: { accept } }), `GET ${path}`, 200).body;
}
async function getJson<T>(path: string, accept?: string): Promise<T> {
  return JSON.parse((await get(path, accept)).toString('utf8')) as T;
}

/** A trusted root as Signet reads it: the JSON file the harness writes, parsed by protobuf-specs. */
async function trustMaterial(keys: CosignKey[] = [], opts: TrustedRootOptions = {}) {
  const path = await writeTrustedRoot(mocks(), dir, { ...opts, name: `root-${Math.random().toString(36).slice(2)}.json` });
  const root = TrustedRoot.fromJSON(JSON.parse(await readFile(path, 'utf8')));
  const byHint: Record<string, PublicKey> = {};
  for (const key of keys) {
    byHint[key.hint] = {
      rawBytes: key.publicKey.export({ format: 'der', type: 'spki' }),
      keyDetails: PublicKeyDetails.PUBLIC_KEY_DETAILS_UNSPECIFIED,
      validFor: undefined,
    };
  }
  return toTrustMaterial(root, byHint);
}

/** The bundle a referrer of `image` holds, found the way a client without the referrers API finds it. */
async function bundlesOf(repo: string, image: PushedImage) {
  const index = await getJson<Index>(`/v2/${repo}/manifests/${image.digest.replace(':', '-')}`, MEDIA_TYPES.ociIndex);
  const out: Array<{ manifest: Manifest; digest: string; bundle: unknown }> = [];
  for (const d of index.manifests) {
    const manifest = await getJson<Manifest>(`/v2/${repo}/manifests/${d.digest}`);
    const layer = manifest.layers[0];
    assert.ok(layer);
    out.push({ manifest, digest: d.digest, bundle: JSON.parse((await get(`/v2/${repo}/blobs/${layer.digest}`)).toString('utf8')) });
  }
  return { index, referrers: out };
}

function statementOf(bundle: unknown): { _type: string; subject: Array<{ name?: string; digest: Record<string, string> }>; predicateType: string } {
  const b = bundleFromJSON(bundle);
  assert.equal(b.content.$case, 'dsseEnvelope');
  assert.equal(b.content.dsseEnvelope.payloadType, 'application/vnd.in-toto+json');
  return JSON.parse(b.content.dsseEnvelope.payload.toString('utf8')) as ReturnType<typeof statementOf>;
}

/** cosign's legacy signature with its Rekor bundle annotation, as the Sigstore bundle sigstore-go verifies it as. */
function legacyAsBundle(payload: Buffer, annotations: Record<string, string>, key: CosignKey): unknown {
  const rekor = JSON.parse(annotations[LEGACY_ANNOTATIONS.bundle] ?? 'null') as RekorBundleAnnotation | null;
  assert.ok(rekor, 'no dev.sigstore.cosign/bundle annotation');
  // Bundle v0.1: a log entry with a SET and no inclusion proof, as cosign's legacy annotation carries.
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle+json;version=0.1',
    verificationMaterial: {
      publicKey: { hint: key.hint },
      tlogEntries: [
        {
          logIndex: String(rekor.Payload.logIndex),
          logId: { keyId: Buffer.from(rekor.Payload.logID, 'hex').toString('base64') },
          kindVersion: { kind: 'hashedrekord', version: '0.0.1' },
          integratedTime: String(rekor.Payload.integratedTime),
          inclusionPromise: { signedEntryTimestamp: rekor.SignedEntryTimestamp },
          canonicalizedBody: rekor.Payload.body,
        },
      ],
    },
    messageSignature: {
      messageDigest: { algorithm: 'SHA2_256', digest: Buffer.from(sha256Digest(payload).slice(7), 'hex').toString('base64') },
      signature: annotations[LEGACY_ANNOTATIONS.signature],
    },
  };
}

function withTimestampAt(entity: SignedEntity, when: Date): SignedEntity {
  // A verifier that takes "now" (or another time) for a bundle carrying none. Only the time is
  // read from a timestamp entry; the log entries themselves stay the bundle's (none).
  const tlogEntry = {
    integratedTime: String(Math.floor(when.getTime() / 1000)),
    logId: { keyId: Buffer.alloc(32) },
    inclusionPromise: { signedEntryTimestamp: Buffer.alloc(0) },
  } as SignedEntity['tlogEntries'][number];
  return { ...entity, timestamps: [{ $case: 'transparency-log', tlogEntry }] };
}

test('Ed25519ph matches the RFC 8032 §7.3 test vector', () => {
  const d = Buffer.from('833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42', 'hex');
  const x = Buffer.from('ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf', 'hex');
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: d.toString('base64url'), x: x.toString('base64url') }, format: 'jwk' });
  const sig = signEd25519ph(key, Buffer.from('abc'));
  assert.equal(
    sig.toString('hex'),
    '98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae4131f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406',
  );
  assert.ok(verifyEd25519ph(x, Buffer.from('abc'), sig));
  assert.ok(!verifyEd25519ph(x, Buffer.from('abd'), sig));
  assert.ok(!nodeVerify(null, Buffer.from('abc'), createPublicKey(key), sig), 'an Ed25519ph signature is not a pure Ed25519 one');
});

describe('legacy signatures (sha256-<hex>.sig)', () => {
  test('the payload, the .sig image and the signature are what cosign writes; more signatures append layers', async () => {
    const repo = 'acme/legacy';
    const image = await pushImage(reg(), repo, 'v1');
    const p256 = cosignKeyPair('ecdsa-p256');
    const first = await signLegacy(reg(), repo, image, p256);
    assert.equal(first.tag, `sha256-${image.digest.slice(7)}.sig`);

    const manifest = await getJson<Manifest>(`/v2/${repo}/manifests/${legacySignatureTag(image.digest)}`);
    assert.equal(manifest.mediaType, MEDIA_TYPES.ociManifest);
    assert.equal(manifest.config.mediaType, MEDIA_TYPES.ociConfig);
    const [layer] = manifest.layers;
    assert.ok(layer);
    assert.equal(layer.mediaType, 'application/vnd.dev.cosign.simplesigning.v1+json');
    const payload = await get(`/v2/${repo}/blobs/${layer.digest}`);
    assert.equal(
      payload.toString('utf8'),
      `{"critical":{"identity":{"docker-reference":"${reg().host}/${repo}"},"image":{"docker-manifest-digest":"${image.digest}"},"type":"cosign container image signature"},"optional":null}`,
    );
    const config = (await get(`/v2/${repo}/blobs/${manifest.config.digest}`)).toString('utf8');
    assert.equal(
      config,
      `{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],"os":"","rootfs":{"type":"layers","diff_ids":["${layer.digest}"]},"config":{}}`,
    );
    const sig = Buffer.from(layer.annotations?.[LEGACY_ANNOTATIONS.signature] ?? '', 'base64');
    assert.ok(nodeVerify('sha256', payload, { key: createPublicKey(p256.publicKeyPem), dsaEncoding: 'der' }, sig), 'ECDSA P-256 DER over the raw payload');
    assert.equal(layer.digest, sha256Digest(payload));

    // Other keys: a second layer each; the same key again: cosign keeps the one it has.
    const keys = [cosignKeyPair('ecdsa-p384'), cosignKeyPair('rsa'), cosignKeyPair('ed25519')];
    for (const key of keys) assert.ok((await signLegacy(reg(), repo, image, key)).pushed);
    assert.equal((await signLegacy(reg(), repo, image, p256)).pushed, false);
    const all = await readLegacySignatures(reg(), repo, image.digest);
    assert.equal(all.length, 4);
    const grown = await getJson<Manifest>(`/v2/${repo}/manifests/${legacySignatureTag(image.digest)}`);
    const grownConfig = await getJson<{ history: unknown[]; rootfs: { diff_ids: string[] } }>(`/v2/${repo}/blobs/${grown.config.digest}`);
    assert.equal(grownConfig.history.length, 4);
    assert.deepEqual(
      grownConfig.rootfs.diff_ids,
      grown.layers.map((l) => l.digest),
    );
    [p256, ...keys].forEach((key, i) => {
      const s = all[i];
      assert.ok(
        s && verifyWithKey(key, s.payload, Buffer.from(s.annotations[LEGACY_ANNOTATIONS.signature] ?? '', 'base64')),
        `signature ${i} by ${key.algorithm}`,
      );
    });
    const ed = all[3];
    assert.ok(ed);
    const edSig = Buffer.from(ed.annotations[LEGACY_ANNOTATIONS.signature] ?? '', 'base64');
    assert.ok(!nodeVerify(null, ed.payload, keys[2]?.publicKey ?? p256.publicKey, edSig), 'cosign signs Ed25519ph, not pure Ed25519');
  });

  test('a signature copied from another image claims the other digest', async () => {
    const repo = 'acme/copied';
    const original = await pushImage(reg(), repo, 'v1');
    const other = await pushImage(reg(), repo, 'v2', { files: { 'other.txt': 'other\n' } });
    await signLegacy(reg(), repo, other, cosignKeyPair('ecdsa-p256'), { payloadDigest: original.digest });
    const [sig] = await readLegacySignatures(reg(), repo, other.digest);
    assert.ok(sig);
    const claim = JSON.parse(sig.payload.toString('utf8')) as { critical: { image: Record<string, string> } };
    assert.equal(claim.critical.image['docker-manifest-digest'], original.digest);
    assert.deepEqual(await readLegacySignatures(reg(), repo, original.digest), []);
  });

  test('with a log entry: the SET annotation verifies against the trusted root, as a bundle', async () => {
    const repo = 'acme/legacy-tlog';
    const image = await pushImage(reg(), repo, 'v1');
    const key = cosignKeyPair('ecdsa-p256');
    const signed = await signLegacy(reg(), repo, image, key, { tlog: mocks().rekor, annotations: { env: 'prod' } });
    const [sig] = await readLegacySignatures(reg(), repo, image.digest);
    assert.ok(sig && signed.rekorBundle);
    assert.deepEqual(Object.keys(JSON.parse(sig.annotations[LEGACY_ANNOTATIONS.bundle] ?? '{}') as object), ['SignedEntryTimestamp', 'Payload']);
    assert.match(sig.payload.toString('utf8'), /,"optional":\{"env":"prod"\}\}$/);
    const bundle = bundleFromJSON(legacyAsBundle(sig.payload, sig.annotations, key));
    const verifier = new Verifier(await trustMaterial([key]), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
    verifier.verify(toSignedEntity(bundle, sig.payload));
    // The same entry against a root that trusts no log: refused.
    const noLog = new Verifier(await trustMaterial([key], { omit: ['tlog'] }), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
    assert.throws(() => noLog.verify(toSignedEntity(bundle, sig.payload)), VerificationError);
  });
});

describe('cosign 3 bundles as referrers (referrers tag schema)', () => {
  test('key-based: referrer manifest, tag schema index and bundle verify; several referrers are all listed', async () => {
    const repo = 'acme/bundle';
    const image = await pushImage(reg(), repo, 'v1');
    const key = cosignKeyPair('ecdsa-p256');
    const rsa = cosignKeyPair('rsa');
    const signed = await signBundleWithKey(reg(), repo, image, key, { tlog: mocks().rekor });
    const unlogged = await signBundleWithKey(reg(), repo, image, rsa);
    const sbom = await signBundleWithKey(reg(), repo, image, key, {
      tlog: mocks().rekor,
      predicateType: PREDICATE_TYPES.spdx,
      predicate: { spdxVersion: 'SPDX-2.3' },
    });

    const { index, referrers } = await bundlesOf(repo, image);
    assert.equal(index.mediaType, MEDIA_TYPES.ociIndex);
    assert.deepEqual(
      index.manifests.map((m) => m.digest),
      [signed, unlogged, sbom].map((p) => p.manifestDigest).sort(),
    );
    for (const d of index.manifests) assert.deepEqual(Object.keys(d), ['mediaType', 'size', 'digest', 'artifactType']);
    for (const { manifest } of referrers) {
      assert.equal(manifest.artifactType, ARTIFACT_TYPES.sigstoreBundle);
      assert.equal(manifest.config.mediaType, ARTIFACT_TYPES.ociEmpty);
      assert.equal(manifest.config.digest, sha256Digest('{}'));
      assert.deepEqual(manifest.subject, { mediaType: image.mediaType, size: image.size, digest: image.digest });
      assert.equal(manifest.layers.length, 1);
      assert.equal(manifest.layers[0]?.mediaType, ARTIFACT_TYPES.sigstoreBundle);
      assert.equal(manifest.annotations?.[BUNDLE_ANNOTATIONS.content], 'dsse-envelope');
    }

    const byDigest = new Map(referrers.map((r) => [r.digest, r]));
    const material = await trustMaterial([key, rsa]);
    const check = (pushed: PushedBundle, tlog: boolean) => {
      const found = byDigest.get(pushed.manifestDigest);
      assert.ok(found);
      const bundle = bundleFromJSON(found.bundle);
      assert.equal(bundle.mediaType, ARTIFACT_TYPES.sigstoreBundle);
      assert.equal(bundle.verificationMaterial.content.$case, 'publicKey');
      new Verifier(material, { tlogThreshold: tlog ? 1 : 0, ctlogThreshold: 0, timestampThreshold: tlog ? 1 : 0 }).verify(toSignedEntity(bundle));
      return { statement: statementOf(found.bundle), manifest: found.manifest };
    };
    const sig = check(signed, true);
    assert.equal(sig.statement._type, 'https://in-toto.io/Statement/v1');
    assert.equal(sig.statement.predicateType, COSIGN_SIGN_PREDICATE);
    assert.deepEqual(sig.statement.subject, [{ digest: { sha256: image.digest.slice(7) }, annotations: {} }]);
    assert.equal(sig.manifest.annotations?.[BUNDLE_ANNOTATIONS.predicateType], COSIGN_SIGN_PREDICATE);
    assert.equal(check(unlogged, false).statement.predicateType, COSIGN_SIGN_PREDICATE);
    // An attestation: the same artifactType, told apart by the predicate type only.
    const att = check(sbom, true);
    assert.equal(att.statement.predicateType, PREDICATE_TYPES.spdx);
    assert.equal(att.manifest.annotations?.[BUNDLE_ANNOTATIONS.predicateType], PREDICATE_TYPES.spdx);
    assert.deepEqual(att.statement.subject, [{ name: `${reg().host}/${repo}`, digest: { sha256: image.digest.slice(7) } }]);
    // A logged bundle against a root without that log: refused.
    const found = byDigest.get(signed.manifestDigest);
    assert.ok(found);
    const noLog = await trustMaterial([key], { omit: ['tlog'] });
    assert.throws(
      () => new Verifier(noLog, { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 }).verify(toSignedEntity(bundleFromJSON(found.bundle))),
      VerificationError,
    );
  });
});

describe('cosign 3 bundles: keys @sigstore/verify does not take as cosign signs with them', () => {
  for (const kind of ['ecdsa-p384', 'ed25519'] as const) {
    test(`${kind}: the DSSE signature is cosign's scheme; @sigstore/verify 3.1 refuses it`, async () => {
      const repo = `acme/bundle-${kind}`;
      const image = await pushImage(reg(), repo, 'v1');
      const key = cosignKeyPair(kind);
      const pushed = await signBundleWithKey(reg(), repo, image, key, { tlog: mocks().rekor });
      const [found] = (await bundlesOf(repo, image)).referrers;
      assert.ok(found);
      assert.equal(found.digest, pushed.manifestDigest);
      const bundle = bundleFromJSON(found.bundle);
      if (bundle.content.$case !== 'dsseEnvelope') throw new Error('not a DSSE bundle');
      const envelope = bundle.content.dsseEnvelope;
      const sig = envelope.signatures[0]?.sig ?? Buffer.alloc(0);
      assert.ok(verifyWithKey(key, dsse.preAuthEncoding(envelope.payloadType, envelope.payload), sig), `${key.algorithm} over the PAE`);
      const verifier = new Verifier(await trustMaterial([key]), { tlogThreshold: 1, ctlogThreshold: 0, timestampThreshold: 1 });
      assert.throws(
        () => verifier.verify(toSignedEntity(bundle)),
        (err: unknown) => err instanceof VerificationError && err.code === 'SIGNATURE_ERROR',
      );
    });
  }
});

describe('cosign 3 bundles: claims and timestamps', () => {
  test('subjectDigest: a bundle attached to one image names another', async () => {
    const repo = 'acme/bundle-claim';
    const image = await pushImage(reg(), repo, 'v1');
    const other = await pushImage(reg(), repo, 'v2', { files: { 'other.txt': 'other\n' } });
    const key = cosignKeyPair('ecdsa-p256');
    await signBundleWithKey(reg(), repo, image, key, { subjectDigest: other.digest });
    const [found] = (await bundlesOf(repo, image)).referrers;
    assert.ok(found);
    assert.equal(found.manifest.subject?.digest, image.digest);
    assert.deepEqual(statementOf(found.bundle).subject[0]?.digest, { sha256: other.digest.slice(7) });
    // The signature itself is sound: @sigstore/verify does not look at the statement's subject.
    new Verifier(await trustMaterial([key]), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(
      toSignedEntity(bundleFromJSON(found.bundle)),
    );
  });

  test('an RFC 3161 timestamp from the mock TSA verifies against the trusted root', async () => {
    const repo = 'acme/bundle-tsa';
    const image = await pushImage(reg(), repo, 'v1');
    const key = cosignKeyPair('ecdsa-p256');
    await signBundleWithKey(reg(), repo, image, key, { tsa: mocks().tsa });
    const [found] = (await bundlesOf(repo, image)).referrers;
    assert.ok(found);
    const bundle = bundleFromJSON(found.bundle);
    assert.equal(bundle.verificationMaterial.timestampVerificationData?.rfc3161Timestamps.length, 1);
    assert.equal(bundle.verificationMaterial.tlogEntries.length, 0);
    new Verifier(await trustMaterial([key]), { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 }).verify(toSignedEntity(bundle));
    const noTsa = await trustMaterial([key], { omit: ['tsa'] });
    assert.throws(() => new Verifier(noTsa, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 }).verify(toSignedEntity(bundle)), VerificationError);
  });
});

describe('cosign 3 keyless bundles (mock Fulcio, Rekor, CT log, TSA)', () => {
  const workflow: VerificationPolicy = {
    subjectAlternativeName: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1',
    extensions: { issuer: 'https://token.actions.githubusercontent.com' },
  };

  test('a workflow identity: certificate, SCT, log entry and timestamp verify with the identity policy', async () => {
    const repo = 'acme/keyless';
    const image = await pushImage(reg(), repo, 'v1');
    const identity = {
      issuer: workflow.extensions?.issuer ?? '',
      subject: workflow.subjectAlternativeName ?? '',
      claims: { repository: 'acme/app', ref: 'refs/tags/v1' },
    };
    await signBundleKeyless(reg(), repo, image, identity, { sigstore: mocks(), tsa: true });
    await signBundleKeyless(reg(), repo, image, identity, { sigstore: mocks(), predicateType: PREDICATE_TYPES.slsaProvenance1 });
    const { referrers } = await bundlesOf(repo, image);
    assert.equal(referrers.length, 2);
    const material = await trustMaterial();
    for (const { bundle: json } of referrers) {
      const bundle = bundleFromJSON(json);
      assert.equal(bundle.verificationMaterial.content.$case, 'certificate');
      const signer = new Verifier(material).verify(toSignedEntity(bundle), workflow);
      assert.equal(signer.identity?.extensions?.issuer, identity.issuer);
    }
    const types = referrers.map((r) => statementOf(r.bundle).predicateType).sort();
    assert.deepEqual(types, [PREDICATE_TYPES.slsaProvenance1, COSIGN_SIGN_PREDICATE].sort());

    const [first] = referrers;
    assert.ok(first);
    const bundle = bundleFromJSON(first.bundle);
    if (bundle.verificationMaterial.content.$case !== 'certificate') throw new Error('no certificate');
    const leaf = X509Certificate.parse(Buffer.from(bundle.verificationMaterial.content.certificate.rawBytes));
    assert.equal(leaf.extSubjectAltName?.uri, identity.subject);
    assert.equal(leaf.extension('1.3.6.1.4.1.57264.1.1')?.value.toString('ascii'), identity.issuer);
    assert.ok(leaf.extension('1.3.6.1.4.1.57264.1.5'), 'repository claim as Fulcio extension');
    // Another identity, or a CA the root does not trust yet: refused.
    assert.throws(
      () => new Verifier(material).verify(toSignedEntity(bundle), { ...workflow, subjectAlternativeName: 'https://github.com/evil/app/x@y' }),
      Error,
    );
    const later = await trustMaterial([], { validFor: { ca: { start: new Date(Date.now() + 3_600_000) } } });
    assert.throws(() => new Verifier(later).verify(toSignedEntity(bundle)), VerificationError);
  });

  test('an email identity gets an rfc822Name SAN', async () => {
    const repo = 'acme/keyless-email';
    const image = await pushImage(reg(), repo, 'v1');
    await signBundleKeyless(reg(), repo, image, { issuer: 'https://accounts.google.com', subject: 'alice@example.com' }, { sigstore: mocks() });
    const [found] = (await bundlesOf(repo, image)).referrers;
    assert.ok(found);
    const bundle = bundleFromJSON(found.bundle);
    if (bundle.verificationMaterial.content.$case !== 'certificate') throw new Error('no certificate');
    const leaf = X509Certificate.parse(Buffer.from(bundle.verificationMaterial.content.certificate.rawBytes));
    assert.equal(leaf.extSubjectAltName?.rfc822Name, 'alice@example.com');
    new Verifier(await trustMaterial()).verify(toSignedEntity(bundle), {
      subjectAlternativeName: 'alice@example.com',
      extensions: { issuer: 'https://accounts.google.com' },
    });
  });

  test('an expired certificate and no signed time: valid inside its window only', async () => {
    const repo = 'acme/keyless-expired';
    const image = await pushImage(reg(), repo, 'v1');
    const notBefore = new Date(Date.now() - 30 * 60_000);
    const notAfter = new Date(notBefore.getTime() + 10 * 60_000);
    await signBundleKeyless(
      reg(),
      repo,
      image,
      { issuer: 'https://accounts.google.com', subject: 'bob@example.com' },
      { sigstore: mocks(), tlog: false, tsa: false, certificateWindow: { notBefore, notAfter } },
    );
    const [found] = (await bundlesOf(repo, image)).referrers;
    assert.ok(found);
    const bundle = bundleFromJSON(found.bundle);
    // As sigstore-go writes it: no empty lists.
    assert.deepEqual(Object.keys((found.bundle as { verificationMaterial: object }).verificationMaterial), ['certificate']);
    const material = await trustMaterial();
    const verifier = new Verifier(material, { tlogThreshold: 0, ctlogThreshold: 1, timestampThreshold: 1 });
    const entity = toSignedEntity(bundle);
    assert.throws(
      () => verifier.verify(entity),
      (err: unknown) => err instanceof VerificationError && err.code === 'TIMESTAMP_ERROR',
    );
    assert.throws(
      () => verifier.verify(withTimestampAt(entity, new Date())),
      (err: unknown) => err instanceof VerificationError && err.code === 'CERTIFICATE_ERROR',
    );
    verifier.verify(withTimestampAt(entity, new Date(notBefore.getTime() + 60_000)));
  });

  test('mockTrustedRoot is a trusted_root.json sigstore clients parse', () => {
    const json = mockTrustedRoot(mocks()) as Record<string, unknown[]>;
    const root = TrustedRoot.fromJSON(json);
    assert.equal(root.certificateAuthorities[0]?.certChain?.certificates.length, 2);
    assert.equal(root.timestampAuthorities[0]?.certChain?.certificates.length, 2);
    assert.equal(root.tlogs[0]?.logId?.keyId.toString('hex'), mocks().rekor.logId.toString('hex'));
    assert.ok(root.ctlogs[0]?.publicKey?.validFor?.start);
  });
});
