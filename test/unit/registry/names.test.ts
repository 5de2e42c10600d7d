import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidRepositoryName, parseDigest, parseReference } from '../../../src/registry/names.js';
import { acceptsMediaType } from '../../../src/registry/media-types.js';
import { parseChallenges } from '../../../src/registry/auth-challenge.js';
import { parseManifestReferences } from '../../../src/registry/manifest.js';

const HEX = 'a'.repeat(64);

test('repository names follow the OCI grammar', () => {
  for (const ok of ['alpine', 'library/alpine', 'a/b/c', 'my-app', 'my__app', 'a.b', 'a--b', 'org/app_1']) assert.ok(isValidRepositoryName(ok), ok);
  for (const bad of ['', 'UPPER', '../etc', 'a//b', '/a', 'a/', 'a..b', '-a', 'a_', 'a/./b', '%2e%2e', 'a b', 'x'.repeat(256)]) {
    assert.ok(!isValidRepositoryName(bad), bad);
  }
});

test('digests: algorithm and length are checked', () => {
  assert.equal(parseDigest(`sha256:${HEX}`).value, `sha256:${HEX}`);
  assert.equal(parseDigest(`sha512:${'b'.repeat(128)}`).algorithm, 'sha512');
  assert.throws(() => parseDigest('sha256:xyz'), { code: 'DIGEST_INVALID' });
  assert.throws(() => parseDigest(`sha256:${'A'.repeat(64)}`), { code: 'DIGEST_INVALID' });
  assert.throws(() => parseDigest(`sha256:${HEX}0`), { code: 'DIGEST_INVALID' });
  assert.throws(() => parseDigest(`md5:${'a'.repeat(32)}`), { code: 'UNSUPPORTED' });
  assert.throws(() => parseDigest('nocolon'), { code: 'DIGEST_INVALID' });
});

test('references are tags or digests', () => {
  assert.deepEqual(parseReference('1.0'), { kind: 'tag', tag: '1.0' });
  assert.equal(parseReference(`sha256:${HEX}`).kind, 'digest');
  assert.throws(() => parseReference('.hidden'), { code: 'MANIFEST_UNKNOWN' });
  assert.throws(() => parseReference('x'.repeat(129)), { code: 'MANIFEST_UNKNOWN' });
});

test('Accept negotiation', () => {
  const oci = 'application/vnd.oci.image.index.v1+json';
  assert.ok(acceptsMediaType(undefined, oci));
  assert.ok(acceptsMediaType('*/*', oci));
  assert.ok(acceptsMediaType(`application/vnd.docker.distribution.manifest.v2+json, ${oci};q=0.5`, oci));
  assert.ok(!acceptsMediaType('application/vnd.docker.distribution.manifest.v2+json', oci));
  assert.ok(acceptsMediaType('application/*', oci));
});

test('WWW-Authenticate challenges', () => {
  const [c] = parseChallenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"');
  assert.ok(c, 'one challenge');
  assert.equal(c.scheme, 'bearer');
  assert.equal(c.params['realm'], 'https://auth.docker.io/token');
  assert.equal(c.params['scope'], 'repository:library/alpine:pull');
  const both = parseChallenges(['Basic realm="Registry Realm"', 'Bearer realm="x",error="invalid_token"']);
  assert.deepEqual(
    both.map((x) => x.scheme),
    ['basic', 'bearer'],
  );
  assert.equal(both[1]?.params['error'], 'invalid_token');
  assert.deepEqual(parseChallenges(undefined), []);
});

test('manifest references: index children, config and layers', () => {
  const d = (c: string): string => `sha256:${c.repeat(64)}`;
  const index = parseManifestReferences(
    Buffer.from(
      JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [{ digest: d('1') }, { digest: d('2') }] }),
    ),
    undefined,
  );
  assert.deepEqual(index.manifests, [d('1'), d('2')]);
  const image = parseManifestReferences(
    Buffer.from(JSON.stringify({ schemaVersion: 2, config: { digest: d('3') }, layers: [{ digest: d('4') }] })),
    'application/vnd.oci.image.manifest.v1+json',
  );
  assert.deepEqual(image.blobs, [d('3'), d('4')]);
  assert.throws(() => parseManifestReferences(Buffer.from('{"schemaVersion":1}'), 'application/vnd.docker.distribution.manifest.v1+prettyjws'), {
    code: 'UNSUPPORTED',
  });
  assert.throws(() => parseManifestReferences(Buffer.from('nope'), undefined), { code: 'MANIFEST_INVALID' });
  assert.throws(
    () =>
      parseManifestReferences(
        Buffer.from(JSON.stringify({ mediaType: 'application/vnd.oci.image.manifest.v1+json', layers: [{ digest: 'sha256:bad' }] })),
        undefined,
      ),
    { code: 'DIGEST_INVALID' },
  );
});
