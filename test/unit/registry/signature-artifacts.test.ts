import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  classifySignatureArtifact,
  cosignTag,
  isImageConfigType,
  isRunnableLayerType,
  isSignatureLayerType,
  parseSignatureTag,
  referrersTag,
} from '../../../src/registry/signature-artifacts.js';

// Which manifests Signet may hand out as signature artifacts of an admitted subject (never one a
// runtime could run), which formats it recognises, and the tags that stand for a digest.

const HEX = 'ab'.repeat(32);
const SUBJECT = `sha256:${HEX}`;
const d = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const EMPTY = { mediaType: 'application/vnd.oci.empty.v1+json', digest: d(1), size: 2 };
const IMAGE_CONFIG = { mediaType: 'application/vnd.oci.image.config.v1+json', digest: d(2), size: 300 };
const subject = { mediaType: OCI_MANIFEST, digest: SUBJECT, size: 500 };
const layer = (mediaType: string, n = 3): Record<string, unknown> => ({ mediaType, digest: d(n), size: 100 });

function manifest(fields: Record<string, unknown>): Record<string, unknown> {
  return { schemaVersion: 2, mediaType: OCI_MANIFEST, config: EMPTY, layers: [], ...fields };
}

describe('classifySignatureArtifact: formats', () => {
  test('a cosign v3 Sigstore bundle referrer', () => {
    const c = classifySignatureArtifact(
      manifest({
        artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
        layers: [layer('application/vnd.dev.sigstore.bundle.v0.3+json')],
        subject,
        annotations: { 'dev.sigstore.bundle.content': 'message-signature' },
      }),
    );
    assert.equal(c.servable, true, c.reason);
    assert.equal(c.format, 'sigstore-bundle');
    assert.equal(c.artifactType, 'application/vnd.dev.sigstore.bundle.v0.3+json');
    assert.equal(c.subject, SUBJECT);
    assert.deepEqual(c.annotations, { 'dev.sigstore.bundle.content': 'message-signature' });
  });

  test('older bundle media types with a version parameter are bundles too', () => {
    const c = classifySignatureArtifact(manifest({ artifactType: 'x/y', layers: [layer('application/vnd.dev.sigstore.bundle+json;version=0.2')] }));
    assert.equal(c.format, 'sigstore-bundle');
  });

  test('a Notation signature, with artifactType over the empty config', () => {
    const c = classifySignatureArtifact(manifest({ artifactType: 'application/vnd.cncf.notary.signature', layers: [layer('application/jose+json')], subject }));
    assert.equal(c.servable, true, c.reason);
    assert.equal(c.format, 'notation');
  });

  test('a Notation signature written before artifactType: the config media type names it', () => {
    const c = classifySignatureArtifact(
      manifest({ config: { ...EMPTY, mediaType: 'application/vnd.cncf.notary.signature' }, layers: [layer('application/cose')], subject }),
    );
    assert.equal(c.format, 'notation');
    assert.equal(c.artifactType, 'application/vnd.cncf.notary.signature');
    assert.equal(c.servable, true, c.reason);
  });

  test("notation's artifactType over some other config is not a Notation signature", () => {
    const c = classifySignatureArtifact(
      manifest({
        artifactType: 'application/vnd.cncf.notary.signature',
        config: { ...EMPTY, mediaType: 'application/x-other' },
        layers: [layer('application/jose+json')],
      }),
    );
    assert.equal(c.format, undefined);
  });

  test("cosign's legacy .sig: an image config over simple-signing layers is servable", () => {
    const c = classifySignatureArtifact(
      manifest({
        config: IMAGE_CONFIG,
        layers: [layer('application/vnd.dev.cosign.simplesigning.v1+json', 3), layer('application/vnd.dev.cosign.simplesigning.v1+json', 4)],
      }),
    );
    assert.equal(c.servable, true, c.reason);
    assert.equal(c.format, 'cosign-simplesigning');
    assert.equal(c.artifactType, IMAGE_CONFIG.mediaType, 'no artifactType: the config media type stands in (distribution-spec 1.1)');
    assert.equal(c.subject, undefined);
  });

  test("cosign's legacy .att with Docker media types: DSSE layers under a Docker manifest", () => {
    const c = classifySignatureArtifact({
      schemaVersion: 2,
      mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
      config: { ...IMAGE_CONFIG, mediaType: 'application/vnd.docker.container.image.v1+json' },
      layers: [layer('application/vnd.dsse.envelope.v1+json')],
    });
    assert.equal(c.servable, true, c.reason);
    assert.equal(c.format, 'dsse');
  });

  test('an unknown artifact without image parts is servable but has no format', () => {
    const c = classifySignatureArtifact(manifest({ artifactType: 'application/spdx+json', layers: [layer('application/spdx+json')], subject }));
    assert.equal(c.servable, true, c.reason);
    assert.equal(c.format, undefined);
  });

  test('the body mediaType may be missing: the Content-Type decides', () => {
    const body = manifest({ artifactType: 'application/vnd.cncf.notary.signature', layers: [layer('application/jose+json')] });
    delete body['mediaType'];
    assert.equal(classifySignatureArtifact(body, `${OCI_MANIFEST}; charset=utf-8`).servable, true);
    assert.equal(classifySignatureArtifact(body).servable, false);
  });
});

describe('classifySignatureArtifact: what could run is never servable', () => {
  const refused = (value: unknown, pattern: RegExp): void => {
    const c = classifySignatureArtifact(value);
    assert.equal(c.servable, false, `servable: ${JSON.stringify(value)}`);
    assert.match(c.reason, pattern);
  };

  test('an OCI image layer, whatever the config and artifactType say', () => {
    for (const mediaType of [
      'application/vnd.oci.image.layer.v1.tar',
      'application/vnd.oci.image.layer.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+zstd',
      'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
      'application/vnd.oci.image.layer.v1.tar+gzip+encrypted',
      'APPLICATION/VND.OCI.IMAGE.LAYER.V1.TAR+GZIP',
    ]) {
      refused(
        manifest({ artifactType: 'application/vnd.cncf.notary.signature', layers: [layer('application/jose+json', 3), layer(mediaType, 4)], subject }),
        /image-layer media type/,
      );
    }
  });

  test('a Docker rootfs layer', () => {
    for (const mediaType of ['application/vnd.docker.image.rootfs.diff.tar.gzip', 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip']) {
      refused(manifest({ artifactType: 'application/vnd.dev.sigstore.bundle.v0.3+json', layers: [layer(mediaType)] }), /image-layer media type/);
    }
  });

  test('a WebAssembly module, which runwasi runs', () => {
    refused(
      manifest({ config: { ...EMPTY, mediaType: 'application/vnd.wasm.config.v1+json' }, layers: [layer('application/vnd.wasm.content.layer.v1+wasm')] }),
      /image-layer/,
    );
  });

  test('an image config over anything but signature layers', () => {
    refused(
      manifest({ config: IMAGE_CONFIG, layers: [layer('application/vnd.dev.cosign.simplesigning.v1+json', 3), layer('application/octet-stream', 4)] }),
      /image media type/,
    );
    refused(manifest({ config: IMAGE_CONFIG, layers: [] }), /image media type/);
    refused(
      manifest({ config: { ...IMAGE_CONFIG, mediaType: 'application/vnd.docker.container.image.v1+json' }, layers: [layer('text/plain')] }),
      /image media type/,
    );
    refused(
      manifest({ config: { ...IMAGE_CONFIG, mediaType: 'application/vnd.docker.plugin.v1+json' }, layers: [layer('application/x-tar')] }),
      /image media type/,
    );
  });

  test('an index, which can list images', () => {
    refused({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [], subject }, /index/);
    refused({ schemaVersion: 2, mediaType: 'application/vnd.docker.distribution.manifest.list.v2+json', manifests: [] }, /index/);
    refused({ ...manifest({}), manifests: [] }, /index/);
  });

  test('anything that is not a well-formed image manifest', () => {
    refused(null, /not a JSON object/);
    refused([manifest({})], /not a JSON object/);
    refused(manifest({ mediaType: 'application/vnd.docker.distribution.manifest.v1+prettyjws' }), /not an OCI or Docker schema 2/);
    refused(manifest({ config: undefined }), /config descriptor/);
    refused(manifest({ config: { ...EMPTY, digest: 'sha256:short' } }), /config descriptor has an invalid digest/);
    refused(manifest({ layers: 'none' }), /no layers array/);
    refused(manifest({ layers: [{ mediaType: 'application/jose+json', digest: d(3), size: -1 }] }), /layer 0 has no non-negative integer size/);
    refused(manifest({ layers: [{ mediaType: 'application/jose+json', digest: d(3), size: 2 ** 53 }] }), /layer 0/);
    refused(manifest({ layers: [{ mediaType: 7, digest: d(3), size: 1 }] }), /layer 0 has no mediaType/);
    refused(manifest({ subject: { mediaType: OCI_MANIFEST, digest: 'md5:00', size: 1 } }), /subject descriptor/);
    refused(manifest({ annotations: { a: 1 } }), /annotation value that is not a string/);
    refused(manifest({ annotations: ['a'] }), /annotations that are not an object/);
    refused(manifest({ artifactType: 3 }), /artifactType is not a string/);
  });

  test('an annotation key named __proto__ stays a plain key', () => {
    const parsed: unknown = JSON.parse(
      `{"schemaVersion":2,"mediaType":"${OCI_MANIFEST}","config":${JSON.stringify(EMPTY)},"layers":[],"artifactType":"a/b","annotations":{"__proto__":"x"}}`,
    );
    const c = classifySignatureArtifact(parsed);
    assert.equal(Object.getPrototypeOf(c.annotations), Object.prototype);
    assert.deepEqual(Object.keys(c.annotations), ['__proto__']);
  });
});

describe('media type predicates', () => {
  test('runnable layers, image configs and signature layers', () => {
    assert.ok(isRunnableLayerType('application/vnd.oci.image.layer.v1.tar+gzip; foo=bar'));
    assert.ok(!isRunnableLayerType('application/vnd.oci.image.config.v1+json'));
    assert.ok(!isRunnableLayerType('application/vnd.dev.cosign.simplesigning.v1+json'));
    assert.ok(isImageConfigType('Application/Vnd.Oci.Image.Config.V1+Json'));
    assert.ok(!isImageConfigType('application/vnd.oci.empty.v1+json'));
    for (const t of [
      'application/vnd.dev.sigstore.bundle.v0.3+json',
      'application/vnd.dev.sigstore.bundle+json;version=0.1',
      'application/vnd.dev.cosign.simplesigning.v1+json',
      'application/vnd.dsse.envelope.v1+json',
      'application/jose+json',
      'application/cose',
    ]) {
      assert.ok(isSignatureLayerType(t), t);
    }
    assert.ok(!isSignatureLayerType('application/json'));
    assert.ok(!isSignatureLayerType('application/vnd.dev.cosign.simplesigning.v1+json; x=y'), 'exact match only');
  });
});

describe('signature tags', () => {
  test('the referrers tag schema and cosign attachment tags name their subject', () => {
    assert.deepEqual(parseSignatureTag(`sha256-${HEX}`), { kind: 'referrers', subject: SUBJECT });
    assert.deepEqual(parseSignatureTag(`sha256-${HEX}.sig`), { kind: 'signature', subject: SUBJECT });
    assert.deepEqual(parseSignatureTag(`sha256-${HEX}.att`), { kind: 'attestation', subject: SUBJECT });
    assert.deepEqual(parseSignatureTag(`sha256-${HEX}.sbom`), { kind: 'sbom', subject: SUBJECT });
  });

  test('anything else is not a signature tag', () => {
    for (const tag of [
      'latest',
      `sha256-${HEX.slice(1)}`,
      `sha256-${HEX}0`,
      `sha256-${HEX.toUpperCase()}`,
      `sha256-${HEX}.sig.sig`,
      `sha256-${HEX}.foo`,
      `sha256:${HEX}`,
      `sha512-${HEX}`,
      `x-sha256-${HEX}.sig`,
      `sha256-${HEX}.sig\n`,
    ]) {
      assert.equal(parseSignatureTag(tag), undefined, JSON.stringify(tag));
    }
  });

  test('tags are made from digests the way the spec and cosign make them', () => {
    assert.equal(referrersTag(SUBJECT), `sha256-${HEX}`);
    const long = 'c'.repeat(128);
    assert.equal(referrersTag(`sha512:${long}`), `sha512-${long.slice(0, 64)}`, 'distribution-spec: the encoded part is truncated to 64');
    assert.equal(cosignTag(SUBJECT, 'sig'), `sha256-${HEX}.sig`);
    assert.equal(cosignTag(SUBJECT, 'att'), `sha256-${HEX}.att`);
    assert.deepEqual(parseSignatureTag(cosignTag(SUBJECT, 'sbom')), { kind: 'sbom', subject: SUBJECT });
    assert.throws(() => referrersTag('sha256:nothex'), { code: 'DIGEST_INVALID' });
  });
});
