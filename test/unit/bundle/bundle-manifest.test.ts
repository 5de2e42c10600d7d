import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../../src/config/defaults.js';
import { BUNDLE_MEDIA_TYPE, BundleError, parseBundleManifest, serializeBundleManifest, type BundleManifest } from '../../../src/bundle/bundle-manifest.js';

const hex = (c: string): string => c.repeat(64);
const d = (c: string): string => `sha256:${hex(c)}`;

function manifest(): BundleManifest {
  return {
    schemaVersion: 1,
    mediaType: BUNDLE_MEDIA_TYPE,
    created: '2025-01-02T03:04:05.678Z',
    images: [
      {
        ref: 'docker.io/library/alpine:3.20',
        upstream: 'docker.io',
        repository: 'library/alpine',
        tag: '3.20',
        digest: d('a'),
        mediaType: 'application/vnd.oci.image.index.v1+json',
        size: 1234,
        platforms: ['linux/amd64', 'linux/arm64/v8'],
        manifests: [{ digest: d('a'), mediaType: 'application/vnd.oci.image.index.v1+json', size: 1234 }],
        blobs: [{ digest: d('b'), size: 99 }],
        tags: { [`sha256-${hex('a')}.sig`]: d('c') },
        verdict: {
          verdict: 'allowed',
          rule: 'policy.rules.0',
          mode: 'enforce',
          reason: 'signed',
          signers: ['releases'],
          evidence: [{ z: 1, a: { y: 2, b: 3 } }],
          trust: { gun: 'docker.io/library/alpine', versions: { root: 1 } },
        },
      },
    ],
    notary: { 'docker.io/library/alpine': { 'root.json': d('d'), 'targets/releases.json': d('e') } },
    files: [
      { path: 'oci-layout', digest: d('f'), size: 30 },
      { path: 'index.json', digest: d('1'), size: 300 },
      { path: `blobs/sha256/${hex('b')}`, digest: d('b'), size: 99 },
    ],
  };
}

/** The manifest as JSON, changed by `edit` (the raw value, to write what serialize would refuse). */
function raw(edit: (m: Record<string, unknown> & { images: Array<Record<string, unknown>>; files: Array<Record<string, unknown>> }) => void): Buffer {
  const m = JSON.parse(serializeBundleManifest(manifest()).toString('utf8')) as Parameters<typeof edit>[0];
  edit(m);
  return Buffer.from(JSON.stringify(m));
}

function at<T>(list: T[], i: number): T {
  const item = list[i];
  assert.ok(item !== undefined, `no item ${i}`);
  return item;
}

function refused(bytes: Buffer, pattern: RegExp): void {
  assert.throws(
    () => parseBundleManifest(bytes),
    (err: unknown) => {
      assert.ok(err instanceof BundleError, String(err));
      assert.equal(err.code, 'BUNDLE_INVALID');
      assert.match(err.message, pattern);
      return true;
    },
  );
}

describe('bundle manifest', () => {
  it('round-trips through serialize and parse', () => {
    const m = manifest();
    const parsed = parseBundleManifest(serializeBundleManifest(m));
    const expected = structuredClone(m);
    // The free-form evidence is written with sorted keys; equal as values.
    assert.deepEqual(parsed, expected);
  });

  it('serializes deterministically: same content, same bytes, whatever the key order given', () => {
    const a = manifest();
    const b = manifest();
    const img = b.images[0];
    assert.ok(img);
    img.tags = { ...img.tags };
    b.notary = { 'docker.io/library/alpine': { 'targets/releases.json': d('e'), 'root.json': d('d') } };
    img.verdict.evidence = [{ a: { b: 3, y: 2 }, z: 1 }];
    // A differently ordered object literal for the same image.
    b.images[0] = Object.fromEntries(Object.entries(img).reverse()) as typeof img;
    const bytes = serializeBundleManifest(a);
    assert.ok(bytes.equals(serializeBundleManifest(b)));
    const text = bytes.toString('utf8');
    assert.ok(text.startsWith('{\n  "schemaVersion": 1,\n  "mediaType": '), text.slice(0, 60));
    assert.ok(text.indexOf('"root.json"') < text.indexOf('"targets/releases.json"'));
    assert.ok(text.endsWith('}\n'));
  });

  it('omits absent optional fields and keeps base', () => {
    const m = manifest();
    const img = m.images[0];
    assert.ok(img);
    delete img.tag;
    img.ref = `docker.io/library/alpine@${d('a')}`;
    delete img.platforms;
    m.base = d('9');
    const text = serializeBundleManifest(m).toString('utf8');
    assert.ok(!text.includes('"tag"'));
    assert.ok(!text.includes('"platforms"'));
    assert.equal(parseBundleManifest(Buffer.from(text)).base, d('9'));
  });

  it('refuses a manifest over the size limit before parsing it', () => {
    refused(Buffer.alloc(DEFAULTS.bundle.manifestMaxBytes + 1, 0x20), /over the limit.*not written by signet/);
  });

  it('refuses bytes that are not JSON or not UTF-8', () => {
    refused(Buffer.from('{"schemaVersion":'), /not valid JSON/);
    refused(Buffer.from([0x7b, 0xff, 0x7d]), /not valid JSON/);
  });

  it('refuses unknown keys, naming their path', () => {
    refused(
      raw((m) => {
        m['extra'] = 1;
      }),
      /unknown key extra/,
    );
    refused(
      raw((m) => {
        (m.images[0] as { verdict: Record<string, unknown> }).verdict['x'] = 1;
      }),
      /unknown key images\[0\]\.verdict\.x/,
    );
    refused(
      raw((m) => {
        (m.files[1] as Record<string, unknown>)['mode'] = 1;
      }),
      /unknown key files\[1\]\.mode.*not written by signet/,
    );
  });

  it('checks versions, media type and dates', () => {
    refused(
      raw((m) => {
        m['schemaVersion'] = 2;
      }),
      /schemaVersion/,
    );
    refused(
      raw((m) => {
        m['mediaType'] = 'application/json';
      }),
      /mediaType/,
    );
    refused(
      raw((m) => {
        m['created'] = 'yesterday';
      }),
      /created/,
    );
  });

  it('checks digests and sizes', () => {
    refused(
      raw((m) => {
        at(m.images, 0)['digest'] = `sha256:${'A'.repeat(64)}`;
      }),
      /images\[0\]\.digest: expected sha256:<64 lowercase hex>/,
    );
    refused(
      raw((m) => {
        at(m.images, 0)['digest'] = `sha512:${'a'.repeat(128)}`;
      }),
      /images\[0\]\.digest/,
    );
    refused(
      raw((m) => {
        at(m.files, 0)['size'] = -1;
      }),
      /files\[0\]\.size/,
    );
    refused(
      raw((m) => {
        at(m.files, 0)['size'] = 1.5;
      }),
      /files\[0\]\.size/,
    );
    refused(
      raw((m) => {
        at(m.files, 0)['size'] = 2 ** 53;
      }),
      /files\[0\]\.size/,
    );
    refused(
      raw((m) => {
        m['base'] = 'sha256:abc';
      }),
      /base/,
    );
  });

  it('accepts only oci-layout, index.json and blobs/sha256/<hex of its digest> as file paths, once each', () => {
    for (const path of ['../etc/passwd', '/oci-layout', 'blobs/sha256/../x', 'blobs/sha512/' + hex('b'), 'signet-bundle.json', `blobs/sha256/${hex('b')}/`]) {
      refused(
        raw((m) => {
          at(m.files, 2)['path'] = path;
        }),
        /files\[2\]\.path: expected oci-layout, index.json or blobs\/sha256\/<hex>/,
      );
    }
    refused(
      raw((m) => {
        at(m.files, 2)['path'] = `blobs/sha256/${hex('c')}`;
      }),
      /files\[2\]\.path: the file name does not match its digest/,
    );
    refused(
      raw((m) => {
        m.files.push({ path: 'index.json', digest: d('2'), size: 1 });
      }),
      /files\[3\]\.path: index\.json is listed twice/,
    );
  });

  it('checks names: upstream, repository, tag, platforms, tags and the ref they spell', () => {
    const cases: Array<[(img: Record<string, unknown>) => void, RegExp]> = [
      [(i) => (i['upstream'] = 'Docker.IO'), /images\[0\]\.upstream/],
      [(i) => (i['upstream'] = 'docker.io/evil'), /images\[0\]\.upstream/],
      [(i) => (i['repository'] = '../alpine'), /images\[0\]\.repository/],
      [(i) => (i['tag'] = '-bad'), /images\[0\]\.tag/],
      [(i) => (i['platforms'] = ['linux']), /images\[0\]\.platforms\[0\]/],
      [(i) => (i['tags'] = { '.x': d('c') }), /images\[0\]\.tags.*invalid key/],
      [(i) => (i['tags'] = { ok: 'latest' }), /images\[0\]\.tags\.ok: expected sha256/],
      [(i) => (i['ref'] = 'docker.io/library/other:3.20'), /images\[0\]\.ref: expected "docker\.io\/library\/alpine:3\.20"/],
      [(i) => ((i['verdict'] as Record<string, unknown>)['verdict'] = 'denied'), /images\[0\]\.verdict\.verdict/],
      [(i) => (i['manifests'] = [{ digest: d('a'), size: 1, mediaType: 'not a media type' }]), /images\[0\]\.manifests\[0\]\.mediaType/],
    ];
    for (const [edit, pattern] of cases)
      refused(
        raw((m) => edit(at(m.images, 0))),
        pattern,
      );
  });

  it('checks notary GUNs and role file names', () => {
    for (const file of [
      'root',
      'targets/../root.json',
      'targets/Releases.json',
      'other.json',
      'targets/.json',
      '../root.json',
      'targets//x.json',
      '0.root.json',
      '2.targets.json',
      'x.root.json',
    ]) {
      refused(
        raw((m) => {
          m['notary'] = { 'docker.io/library/alpine': { [file]: d('d') } };
        }),
        /notary\["docker\.io\/library\/alpine"\].*invalid key/,
      );
    }
    for (const file of [
      'root.json',
      'timestamp.json',
      'snapshot.json',
      'targets.json',
      'targets/releases.json',
      'targets/a/b_c-d.json',
      '1.root.json',
      '12.root.json',
    ]) {
      const m = manifest();
      m.notary = { 'docker.io/library/alpine': { [file]: d('d') } };
      assert.doesNotThrow(() => parseBundleManifest(serializeBundleManifest(m)), file);
    }
    for (const gun of ['', '/x', 'a//b', 'a/../b', 'x'.repeat(256), 'a b']) {
      refused(
        raw((m) => {
          m['notary'] = { [gun]: { 'root.json': d('d') } };
        }),
        /notary.*invalid key.*GUN/,
      );
    }
  });

  it('bounds the number of images', () => {
    // Empty objects keep the JSON under the size limit; the count is reported with the other issues.
    refused(
      raw((m) => {
        m.images = Array.from({ length: DEFAULTS.bundle.maxImages + 1 }, () => ({}));
      }),
      /images: at most 100000 images per bundle/,
    );
  });

  it('reports a handful of issues, not all of them', () => {
    try {
      parseBundleManifest(
        raw((m) => {
          m.files = Array.from({ length: 50 }, () => ({ path: 'x', digest: 'y', size: -1 }));
        }),
      );
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof BundleError);
      assert.match(err.message, /\(and \d+ more\)/);
      assert.ok(err.message.length < 1000, err.message);
    }
  });

  it('refuses to serialize what it would not parse', () => {
    const m = manifest();
    m.files.push({ path: '../x', digest: d('3'), size: 1 });
    assert.throws(() => serializeBundleManifest(m), { code: 'INTERNAL' });
  });
});
