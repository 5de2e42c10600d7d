import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../../src/config/load.js';
import { SignetError } from '../../../src/errors.js';
import { RegistrySignatureFetcher, type SignatureFetcher } from '../../../src/registry/referrers.js';
import { isSignatureFetchError, type SignatureFetchError, type SignatureFetchErrorCode } from '../../../src/registry/signature-fetch-error.js';
import { classifySignatureArtifact, cosignTag, referrersTag } from '../../../src/registry/signature-artifacts.js';
import { UpstreamClient } from '../../../src/registry/upstream-client.js';
import {
  ARTIFACT_TYPES,
  buildArtifact,
  cosignLegacySignature,
  notationSignature,
  pushArtifact,
  pushReferrersTag,
  referrersIndex,
  sigstoreBundleSignature,
  type BuiltArtifact,
  type Descriptor,
} from '../../harness/artifacts.js';
import { ociError, startFakeRegistry, type FakeAnswer, type FakeRegistry } from '../../harness/fake-registry.js';
import { MEDIA_TYPES, pushImage, type PushedImage } from '../../harness/images.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { sha256Digest } from '../../harness/streams.js';

// The signature-fetching port against a real distribution 2.8 registry (which has no referrers
// API: the referrers tag schema and cosign's `.sig` tag are what it can show) and against an
// in-process fake for the referrers API itself and for upstreams that send too much, too many,
// or the wrong bytes. Refusals "unread" are proven by answers that stall mid-body until the
// client hangs up: a client that read on would wait forever and the test would time out.

const logger = pino({ level: 'silent' });
const KiB = 1024;
const MiB = 1024 * KiB;
const REPO = 'team/app';
const SUBJECT = sha256Digest('the subject image manifest');
const SUBJECT_HEX = SUBJECT.slice('sha256:'.length);
const REFERRERS_PATH = `/v2/${REPO}/referrers/${SUBJECT}`;
const TAG_SCHEMA_PATH = `/v2/${REPO}/manifests/sha256-${SUBJECT_HEX}`;
const INDEX_TYPE = 'application/vnd.oci.image.index.v1+json';
const STALL_TIMEOUT = { timeout: 30_000 };

const clients: UpstreamClient[] = [];
const fakes: FakeRegistry[] = [];
const registries: Registry[] = [];

after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await Promise.all([...fakes, ...registries].map((s) => s.stop()));
});

/** A fake registry stopped when the file's tests are done. */
async function startFake(): Promise<FakeRegistry> {
  const fake = await startFakeRegistry();
  fakes.push(fake);
  return fake;
}

/** An UpstreamClient built as Signet builds one (src/server/signet.ts), from a parsed config. */
function upstreamFor(url: string): UpstreamClient {
  const config = parseConfig(`upstreams:\n  registry.test:\n    url: ${url}\n`, 'referrers test');
  const upstream = config.upstreams.get('registry.test');
  assert.ok(upstream, 'upstream registry.test configured');
  // Retries of 5xx and refused connections happen at once: the waits are the client's, not the port's.
  const client = new UpstreamClient(upstream, { logger, delay: async () => {} });
  clients.push(client);
  return client;
}

function fetcherFor(url: string): RegistrySignatureFetcher {
  return new RegistrySignatureFetcher({ upstream: upstreamFor(url), logger });
}

async function rejectsWith(promise: Promise<unknown>, code: SignatureFetchErrorCode, message?: RegExp): Promise<SignatureFetchError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isSignatureFetchError(err), `expected a SignatureFetchError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return err;
  }
  assert.fail(`expected a ${code} error, but it resolved`);
}

const digestOf = (n: number): string => `sha256:${n.toString(16).padStart(64, '0')}`;

function descriptor(n: number, artifactType: string | undefined, annotations?: Record<string, string>): Descriptor {
  return {
    mediaType: MEDIA_TYPES.ociManifest,
    digest: digestOf(n),
    size: 400 + n,
    ...(artifactType ? { artifactType } : {}),
    ...(annotations ? { annotations } : {}),
  };
}

function indexAnswer(descriptors: unknown[], headers: Record<string, string | string[]> = {}): FakeAnswer {
  return { headers: { 'content-type': INDEX_TYPE, ...headers }, body: referrersIndex(descriptors as Descriptor[]) };
}

function manyDescriptors(count: number): Descriptor[] {
  return Array.from({ length: count }, (_, i) => descriptor(i + 1, ARTIFACT_TYPES.notation, { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' }));
}

describe('signature fetcher: the referrers API (fake registry)', () => {
  let fake: FakeRegistry;
  let fetcher: SignatureFetcher;

  before(async () => {
    fake = await startFake();
    fetcher = fetcherFor(fake.url);
  });

  test('lists the referrers the API answers with, validated, without touching the tag schema', async () => {
    fake.route(
      REFERRERS_PATH,
      indexAnswer([descriptor(1, ARTIFACT_TYPES.notation, { 'io.cncf.notary.x': 'y' }), descriptor(2, ARTIFACT_TYPES.sigstoreBundle)]),
    );
    const before = fake.requests().length;
    const list = await fetcher.referrers(REPO, SUBJECT);
    assert.deepEqual(list, [
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: digestOf(1),
        size: 401,
        artifactType: ARTIFACT_TYPES.notation,
        annotations: { 'io.cncf.notary.x': 'y' },
        source: 'referrers-api',
        tag: undefined,
      },
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: digestOf(2),
        size: 402,
        artifactType: ARTIFACT_TYPES.sigstoreBundle,
        annotations: {},
        source: 'referrers-api',
        tag: undefined,
      },
    ]);
    const seen = fake.requests().slice(before);
    assert.deepEqual(
      seen.map((r) => `${r.method} ${r.path}`),
      [`GET ${REFERRERS_PATH}`],
    );
    assert.equal(seen[0]?.headers.accept, INDEX_TYPE);
  });

  test('follows Link rel="next" across pages, relative and absolute, on the same endpoint', async () => {
    fake.route(REFERRERS_PATH, (req) => {
      switch (req.query) {
        case '':
          return indexAnswer([descriptor(1, ARTIFACT_TYPES.notation), descriptor(2, ARTIFACT_TYPES.notation)], {
            link: `<${REFERRERS_PATH}?last=2>; rel="next"`,
          });
        case 'last=2':
          return indexAnswer([descriptor(3, ARTIFACT_TYPES.notation), descriptor(4, ARTIFACT_TYPES.notation)], {
            link: `<${fake.url}${REFERRERS_PATH}?last=0>; rel="prev", <${fake.url}${REFERRERS_PATH}?last=4>; rel="next"`,
          });
        case 'last=4':
          return indexAnswer([descriptor(5, ARTIFACT_TYPES.notation)]);
        default:
          return ociError(400, 'UNSUPPORTED', `unexpected query ${req.query}`);
      }
    });
    const list = await fetcher.referrers(REPO, SUBJECT);
    assert.deepEqual(
      list.map((d) => d.digest),
      [1, 2, 3, 4, 5].map(digestOf),
    );
  });

  test('a Link to another origin or endpoint is refused, and nothing is sent there', async () => {
    const elsewhere = await startFakeRegistry();
    try {
      fake.route(REFERRERS_PATH, indexAnswer([descriptor(1, ARTIFACT_TYPES.notation)], { link: `<${elsewhere.url}${REFERRERS_PATH}?last=1>; rel="next"` }));
      await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'malformed', /links its next page to another endpoint/);
      assert.equal(elsewhere.requests().length, 0);
      fake.route(REFERRERS_PATH, indexAnswer([descriptor(1, ARTIFACT_TYPES.notation)], { link: '</v2/team/other/referrers/x>; rel="next"' }));
      await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'malformed', /another endpoint/);
    } finally {
      await elsewhere.stop();
    }
  });

  test('a page that links to itself ends the list instead of looping', async () => {
    fake.route(REFERRERS_PATH, indexAnswer([descriptor(1, ARTIFACT_TYPES.notation)], { link: `<${REFERRERS_PATH}>; rel="next"` }));
    const before = fake.requests().length;
    const list = await fetcher.referrers(REPO, SUBJECT);
    assert.equal(list.length, 1);
    assert.equal(fake.requests().length - before, 1);
  });

  test('artifactType: sent as a query, taken as filtered when OCI-Filters-Applied says so', async () => {
    let query = '';
    fake.route(REFERRERS_PATH, (req) => {
      query = req.query;
      const wanted = new URLSearchParams(req.query).get('artifactType');
      const all = [descriptor(1, ARTIFACT_TYPES.notation), descriptor(2, ARTIFACT_TYPES.sigstoreBundle)];
      return indexAnswer(
        all.filter((d) => d.artifactType === wanted),
        { 'oci-filters-applied': 'artifactType' },
      );
    });
    const list = await fetcher.referrers(REPO, SUBJECT, { artifactType: ARTIFACT_TYPES.sigstoreBundle });
    assert.equal(new URLSearchParams(query).get('artifactType'), ARTIFACT_TYPES.sigstoreBundle);
    assert.deepEqual(
      list.map((d) => d.digest),
      [digestOf(2)],
    );
  });

  test('artifactType: filtered here when the registry did not apply the filter', async () => {
    fake.route(REFERRERS_PATH, indexAnswer([descriptor(1, ARTIFACT_TYPES.notation), descriptor(2, ARTIFACT_TYPES.sigstoreBundle), descriptor(3, undefined)]));
    const list = await fetcher.referrers(REPO, SUBJECT, { artifactType: ARTIFACT_TYPES.notation });
    assert.deepEqual(
      list.map((d) => d.digest),
      [digestOf(1)],
    );
  });

  test('artifactType: a registry claiming the filter is not believed against a descriptor of another type', async () => {
    fake.route(
      REFERRERS_PATH,
      indexAnswer([descriptor(1, ARTIFACT_TYPES.notation), descriptor(2, ARTIFACT_TYPES.sigstoreBundle), descriptor(3, undefined)], {
        'OCI-Filters-Applied': 'other, ArtifactType',
      }),
    );
    const list = await fetcher.referrers(REPO, SUBJECT, { artifactType: ARTIFACT_TYPES.notation });
    assert.deepEqual(
      list.map((d) => d.digest),
      [digestOf(1), digestOf(3)],
      'the untyped descriptor is kept on the registry word; the one typed otherwise is dropped',
    );
  });

  test('a 10,000-entry index is refused as soon as the count passes the limit, unread', STALL_TIMEOUT, async () => {
    const body = referrersIndex(manyDescriptors(10_000));
    assert.ok(body.length < 4 * MiB, 'under the byte limit: only the entry count can refuse it');
    fake.route(REFERRERS_PATH, { headers: { 'content-type': INDEX_TYPE }, body, chunked: true, stallAfter: Math.floor(body.length / 4) });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /more than 1000 referrers/);
    const stall = fake.stalls()[stallsBefore];
    assert.ok(stall, 'the answer stalled');
    await stall.closed;
    assert.ok(stall.written < stall.total);
  });

  test('the same index with a Content-Length under the byte limit is refused by the count too', STALL_TIMEOUT, async () => {
    const body = referrersIndex(manyDescriptors(10_000));
    fake.route(REFERRERS_PATH, { headers: { 'content-type': INDEX_TYPE }, body, stallAfter: Math.floor(body.length / 4) });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /more than 1000 referrers/);
    await fake.stalls()[stallsBefore]?.closed;
  });

  test('the entry limit holds across pages', async () => {
    fake.route(REFERRERS_PATH, (req) =>
      req.query === ''
        ? indexAnswer(manyDescriptors(600), { link: `<${REFERRERS_PATH}?last=600>; rel="next"` })
        : indexAnswer(manyDescriptors(600).map((d, i) => ({ ...d, digest: digestOf(1000 + i) }))),
    );
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /more than 1000 referrers/);
  });

  test('an index announced over the byte limit is refused before any of it is read', STALL_TIMEOUT, async () => {
    fake.route(REFERRERS_PATH, {
      headers: { 'content-type': INDEX_TYPE, 'content-length': String(5 * MiB) },
      body: Buffer.alloc(5 * MiB, 0x20),
      stallAfter: 0,
    });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /5242880 bytes \(Content-Length\), over the limit of 4194304 bytes; it was not read/);
    const stall = fake.stalls()[stallsBefore];
    assert.ok(stall);
    await stall.closed;
    assert.equal(stall.written, 0);
  });

  test('a chunked index that grows past the byte limit is refused while reading', STALL_TIMEOUT, async () => {
    const padding = 'x'.repeat(5 * MiB);
    const body = referrersIndex([descriptor(1, ARTIFACT_TYPES.notation, { padding })]);
    fake.route(REFERRERS_PATH, { headers: { 'content-type': INDEX_TYPE }, body, chunked: true, stallAfter: 4 * MiB + 64 * KiB });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /more than 4194304 bytes/);
    await fake.stalls()[stallsBefore]?.closed;
  });

  test('the counter is not fooled by nested objects, strings or an escaped key', async () => {
    // 1,000 entries exactly, each with braces in strings and a nested object: within the limit.
    const entries = manyDescriptors(1000).map((d) => ({ ...d, annotations: { 'a{': '}{[', nested: '{"manifests":[{}]}' }, extra: { deep: [{}, {}] } }));
    const text = referrersIndex(entries).toString('utf8').replace('"manifests"', '"manif\\u0065sts"');
    fake.route(REFERRERS_PATH, { headers: { 'content-type': INDEX_TYPE }, body: text, chunked: true });
    assert.equal((await fetcher.referrers(REPO, SUBJECT)).length, 1000);
    // One more entry under the escaped key is one too many.
    const over = referrersIndex(manyDescriptors(1001)).toString('utf8').replace('"manifests"', '"manif\\u0065sts"');
    fake.route(REFERRERS_PATH, { headers: { 'content-type': INDEX_TYPE }, body: over, chunked: true });
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /more than 1000 referrers/);
  });

  test('descriptors are validated: digest, size, media type, annotation values', async () => {
    const good = descriptor(1, ARTIFACT_TYPES.notation);
    const cases: Array<[unknown, RegExp]> = [
      [{ ...good, size: -1 }, /non-negative integer size/],
      [{ ...good, size: 1.5 }, /non-negative integer size/],
      [{ ...good, size: '12' }, /non-negative integer size/],
      [{ ...good, digest: 'sha256:XYZ' }, /invalid digest/],
      [{ ...good, digest: `md5:${'0'.repeat(32)}` }, /invalid digest/],
      [{ ...good, mediaType: undefined }, /no mediaType/],
      [{ ...good, artifactType: 5 }, /artifactType that is not a string/],
      [{ ...good, annotations: { n: 1 } }, /annotation value that is not a string/],
      ['a string', /not a JSON object/],
    ];
    for (const [bad, message] of cases) {
      fake.route(REFERRERS_PATH, indexAnswer([good, bad]));
      await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'malformed', new RegExp(`referrer 1 of .*${message.source}`));
    }
    fake.route(REFERRERS_PATH, { headers: { 'content-type': INDEX_TYPE }, body: '{"manifests": [' });
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'malformed', /not valid JSON/);
  });

  test('a repository the registry does not know is not_found', async () => {
    fake.route(REFERRERS_PATH, ociError(404, 'NAME_UNKNOWN', 'repository name not known to registry'));
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'not_found', /repository of referrers/);
  });

  test('5xx and auth failures are unavailable, with the upstream status', async () => {
    fake.route(REFERRERS_PATH, ociError(503, 'UNAVAILABLE', 'maintenance'));
    const err = await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'unavailable', /HTTP 503.*maintenance/);
    assert.deepEqual(err.detail, { upstreamStatus: 503 });
    fake.route(REFERRERS_PATH, ociError(403, 'DENIED', 'no'));
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'unavailable', /denied access/);
  });
});

describe('signature fetcher: without a referrers API (fake registry)', () => {
  let fake: FakeRegistry;
  let fetcher: SignatureFetcher;

  before(async () => {
    fake = await startFake();
    fetcher = fetcherFor(fake.url);
  });

  test('a 404 falls back to the referrers tag schema, filtered here', async () => {
    fake.route(REFERRERS_PATH, { status: 404, headers: { 'content-type': 'text/plain' }, body: '404 page not found\n' });
    fake.route(TAG_SCHEMA_PATH, indexAnswer([descriptor(1, ARTIFACT_TYPES.notation), descriptor(2, ARTIFACT_TYPES.sigstoreBundle)]));
    const before = fake.requests().length;
    const list = await fetcher.referrers(REPO, SUBJECT, { artifactType: ARTIFACT_TYPES.notation });
    assert.deepEqual(list, [{ ...descriptor(1, ARTIFACT_TYPES.notation), annotations: {}, source: 'referrers-tag', tag: `sha256-${SUBJECT_HEX}` }]);
    const seen = fake.requests().slice(before);
    assert.deepEqual(
      seen.map((r) => r.path),
      [REFERRERS_PATH, TAG_SCHEMA_PATH],
    );
    assert.equal(seen[1]?.headers.accept, INDEX_TYPE);
  });

  test('an answer that is not an image index means there is no referrers API', async () => {
    fake.route(REFERRERS_PATH, { headers: { 'content-type': 'text/html' }, body: '<html>welcome</html>' });
    fake.route(TAG_SCHEMA_PATH, indexAnswer([descriptor(7, ARTIFACT_TYPES.notation)]));
    assert.deepEqual(
      (await fetcher.referrers(REPO, SUBJECT)).map((d) => [d.digest, d.source]),
      [[digestOf(7), 'referrers-tag']],
    );
  });

  test('no tag, or a tag that is not a valid index, means no referrers', async () => {
    fake.route(REFERRERS_PATH, ociError(404, 'NOT_FOUND', 'nope'));
    fake.route(TAG_SCHEMA_PATH, ociError(404, 'MANIFEST_UNKNOWN', 'manifest unknown'));
    assert.deepEqual(await fetcher.referrers(REPO, SUBJECT), []);
    const image = buildArtifact({ layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', data: Buffer.from('tar') }] });
    fake.route(TAG_SCHEMA_PATH, { headers: { 'content-type': MEDIA_TYPES.ociManifest }, body: image.manifest });
    assert.deepEqual(await fetcher.referrers(REPO, SUBJECT), []);
    fake.route(TAG_SCHEMA_PATH, indexAnswer([{ ...descriptor(1, ARTIFACT_TYPES.notation), size: -4 }]));
    assert.deepEqual(await fetcher.referrers(REPO, SUBJECT), []);
  });

  test('a tag schema index over the limits is refused, not taken as empty', STALL_TIMEOUT, async () => {
    fake.route(REFERRERS_PATH, ociError(404, 'NOT_FOUND', 'nope'));
    const body = referrersIndex(manyDescriptors(10_000));
    fake.route(TAG_SCHEMA_PATH, { headers: { 'content-type': INDEX_TYPE }, body, chunked: true, stallAfter: Math.floor(body.length / 4) });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.referrers(REPO, SUBJECT), 'too_large', /referrers index team\/app:sha256-.* more than 1000 referrers/);
    await fake.stalls()[stallsBefore]?.closed;
  });

  test("named tags: cosign's .sig is read by tag and its digest is the hash of the bytes; a missing .att is skipped", async () => {
    fake.route(REFERRERS_PATH, ociError(404, 'NOT_FOUND', 'nope'));
    fake.route(TAG_SCHEMA_PATH, indexAnswer([descriptor(1, ARTIFACT_TYPES.notation)]));
    const sig = buildArtifact(cosignLegacySignature({ mediaType: MEDIA_TYPES.ociManifest, digest: SUBJECT, size: 10 }, `127.0.0.1/${REPO}`));
    const sigTag = cosignTag(SUBJECT, 'sig');
    fake.route(`/v2/${REPO}/manifests/${sigTag}`, {
      headers: { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': sig.digest },
      body: sig.manifest,
    });
    const list = await fetcher.referrers(REPO, SUBJECT, { tags: [sigTag, cosignTag(SUBJECT, 'att')] });
    assert.deepEqual(list, [
      { ...descriptor(1, ARTIFACT_TYPES.notation), annotations: {}, source: 'referrers-tag', tag: `sha256-${SUBJECT_HEX}` },
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: sig.digest,
        size: sig.size,
        artifactType: 'application/vnd.oci.image.config.v1+json',
        annotations: {},
        source: 'tag',
        tag: sigTag,
      },
    ]);
  });

  test('a tag whose Docker-Content-Digest disagrees with its bytes is refused', async () => {
    fake.route(REFERRERS_PATH, ociError(404, 'NOT_FOUND', 'nope'));
    fake.route(TAG_SCHEMA_PATH, ociError(404, 'MANIFEST_UNKNOWN', 'manifest unknown'));
    const sig = buildArtifact(cosignLegacySignature({ mediaType: MEDIA_TYPES.ociManifest, digest: SUBJECT, size: 10 }, `127.0.0.1/${REPO}`));
    const sigTag = cosignTag(SUBJECT, 'sig');
    fake.route(`/v2/${REPO}/manifests/${sigTag}`, {
      headers: { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': digestOf(99) },
      body: sig.manifest,
    });
    await rejectsWith(fetcher.referrers(REPO, SUBJECT, { tags: [sigTag] }), 'digest_mismatch', /announced .* but its bytes hash to/);
  });

  test('one descriptor per digest, whichever source found it first', async () => {
    const sig = buildArtifact(cosignLegacySignature({ mediaType: MEDIA_TYPES.ociManifest, digest: SUBJECT, size: 10 }, `127.0.0.1/${REPO}`));
    const sigTag = cosignTag(SUBJECT, 'sig');
    fake.route(REFERRERS_PATH, ociError(404, 'NOT_FOUND', 'nope'));
    fake.route(TAG_SCHEMA_PATH, indexAnswer([sig.descriptor]));
    fake.route(`/v2/${REPO}/manifests/${sigTag}`, { headers: { 'content-type': MEDIA_TYPES.ociManifest }, body: sig.manifest });
    const list = await fetcher.referrers(REPO, SUBJECT, { tags: [sigTag] });
    assert.deepEqual(
      list.map((d) => [d.digest, d.source]),
      [[sig.digest, 'referrers-tag']],
    );
  });
});

describe('signature fetcher: manifests and blobs by digest (fake registry)', () => {
  let fake: FakeRegistry;
  let fetcher: SignatureFetcher;
  const artifact = buildArtifact(notationSignature({ mediaType: MEDIA_TYPES.ociManifest, digest: SUBJECT, size: 10 }));
  const manifestPath = (digest: string): string => `/v2/${REPO}/manifests/${digest}`;
  const blobPath = (digest: string): string => `/v2/${REPO}/blobs/${digest}`;

  before(async () => {
    fake = await startFake();
    fetcher = fetcherFor(fake.url);
  });

  test('a manifest comes by digest, hashed, with its JSON', async () => {
    fake.route(manifestPath(artifact.digest), { headers: { 'content-type': `${MEDIA_TYPES.ociManifest}; charset=utf-8` }, body: artifact.manifest });
    const got = await fetcher.manifest(REPO, artifact.digest);
    assert.equal(got.digest, artifact.digest);
    assert.equal(got.mediaType, MEDIA_TYPES.ociManifest);
    assert.deepEqual(got.bytes, artifact.manifest);
    assert.deepEqual(got.json, JSON.parse(artifact.manifest.toString('utf8')));
    assert.equal(classifySignatureArtifact(got.json).format, 'notation');
  });

  test('a manifest announced over the limit is refused unread', STALL_TIMEOUT, async () => {
    const big = Buffer.alloc(300 * KiB, 0x20);
    const digest = sha256Digest(big);
    fake.route(manifestPath(digest), { headers: { 'content-type': MEDIA_TYPES.ociManifest }, body: big, stallAfter: 0 });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.manifest(REPO, digest), 'too_large', /307200 bytes \(Content-Length\), over the limit of 262144 bytes/);
    const stall = fake.stalls()[stallsBefore];
    assert.ok(stall);
    await stall.closed;
    assert.equal(stall.written, 0);
  });

  test('a chunked manifest that grows past the limit is refused while reading; a caller may set a lower limit', STALL_TIMEOUT, async () => {
    const big = Buffer.alloc(600 * KiB, 0x20);
    const digest = sha256Digest(big);
    fake.route(manifestPath(digest), { headers: { 'content-type': MEDIA_TYPES.ociManifest }, body: big, chunked: true, stallAfter: 400 * KiB });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.manifest(REPO, digest), 'too_large', /more than 262144 bytes/);
    await fake.stalls()[stallsBefore]?.closed;
    fake.route(manifestPath(artifact.digest), { headers: { 'content-type': MEDIA_TYPES.ociManifest }, body: artifact.manifest });
    await rejectsWith(fetcher.manifest(REPO, artifact.digest, 100), 'too_large', /over the limit of 100 bytes/);
  });

  test('manifest bytes that do not hash to the digest are refused', async () => {
    const other = buildArtifact(sigstoreBundleSignature({ mediaType: MEDIA_TYPES.ociManifest, digest: SUBJECT, size: 10 }));
    fake.route(manifestPath(artifact.digest), {
      headers: { 'content-type': MEDIA_TYPES.ociManifest, 'docker-content-digest': artifact.digest },
      body: other.manifest,
    });
    await rejectsWith(fetcher.manifest(REPO, artifact.digest), 'digest_mismatch', new RegExp(`bytes hash to ${other.digest}`));
  });

  test('a manifest that is not JSON is malformed (after its hash was checked)', async () => {
    const text = Buffer.from('not json');
    fake.route(manifestPath(sha256Digest(text)), { body: text });
    await rejectsWith(fetcher.manifest(REPO, sha256Digest(text)), 'malformed', /not valid JSON/);
  });

  test('not found, unavailable and unreachable are told apart', async () => {
    await rejectsWith(fetcher.manifest(REPO, digestOf(12345)), 'not_found', /MANIFEST_UNKNOWN/);
    fake.route(manifestPath(digestOf(5)), ociError(502, 'UNKNOWN', 'bad gateway'));
    await rejectsWith(fetcher.manifest(REPO, digestOf(5)), 'unavailable', /HTTP 502/);
    const gone = await startFakeRegistry();
    const url = gone.url;
    await gone.stop();
    const err = await rejectsWith(fetcherFor(url).manifest(REPO, digestOf(5)), 'unavailable', /unreachable/);
    assert.ok(err.cause instanceof SignetError);
    assert.equal(err.cause.code, 'UPSTREAM_UNAVAILABLE');
  });

  test('a blob comes by digest through redirects, hashed', async () => {
    const layer = artifact.blobs[1];
    assert.ok(layer);
    fake.route(blobPath(layer.digest), { status: 307, headers: { location: '/storage/object-1' } });
    fake.route('/storage/object-1', { headers: { 'content-type': 'application/octet-stream' }, body: layer.data });
    const got = await fetcher.blob(REPO, layer.digest, 64 * KiB);
    assert.equal(got.digest, layer.digest);
    assert.deepEqual(got.bytes, layer.data);
  });

  test('a blob whose bytes do not match its digest is refused', async () => {
    const claimed = sha256Digest('the real signature');
    fake.route(blobPath(claimed), { headers: { 'content-type': 'application/octet-stream' }, body: 'a forged signature' });
    await rejectsWith(fetcher.blob(REPO, claimed, 64 * KiB), 'digest_mismatch', /hash to sha256:/);
  });

  test('a blob with a Content-Length over the limit is refused before reading', STALL_TIMEOUT, async () => {
    const big = Buffer.alloc(2 * MiB, 0x61);
    const digest = sha256Digest(big);
    fake.route(blobPath(digest), { headers: { 'content-type': 'application/octet-stream' }, body: big, stallAfter: 0 });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.blob(REPO, digest, 1 * MiB), 'too_large', /2097152 bytes \(Content-Length\), over the limit of 1048576 bytes; it was not read/);
    const stall = fake.stalls()[stallsBefore];
    assert.ok(stall);
    await stall.closed;
    assert.equal(stall.written, 0);
  });

  test('a chunked blob past the limit is refused while reading', STALL_TIMEOUT, async () => {
    const big = Buffer.alloc(2 * MiB, 0x61);
    const digest = sha256Digest(big);
    fake.route(blobPath(digest), { body: big, chunked: true, stallAfter: MiB + 64 * KiB });
    const stallsBefore = fake.stalls().length;
    await rejectsWith(fetcher.blob(REPO, digest, MiB), 'too_large', /more than 1048576 bytes/);
    await fake.stalls()[stallsBefore]?.closed;
    await rejectsWith(fetcher.blob(REPO, digestOf(77), MiB), 'not_found');
  });

  test("the caller's mistakes are not the registry's: invalid names, digests, limits and tag lists", async () => {
    await assert.rejects(fetcher.manifest('Team/App', artifact.digest), { code: 'NAME_INVALID' });
    await assert.rejects(fetcher.blob(REPO, 'sha256:abc', 10), { code: 'DIGEST_INVALID' });
    await assert.rejects(fetcher.blob(REPO, artifact.digest, 0), { code: 'INTERNAL' });
    await assert.rejects(fetcher.referrers(REPO, SUBJECT, { tags: ['bad tag'] }), { code: 'INTERNAL' });
    const tooMany = Array.from({ length: 65 }, (_, i) => `t${i}`);
    await assert.rejects(fetcher.referrers(REPO, SUBJECT, { tags: tooMany }), /signatureArtifactsMax/);
  });
});

describe('signature fetcher: distribution 2.8 (no referrers API)', () => {
  let registry: Registry;
  let fetcher: SignatureFetcher;
  let image: PushedImage;
  let notation: BuiltArtifact;
  let bundle: BuiltArtifact;
  let legacy: BuiltArtifact;
  const repo = 'acme/signed';

  before(async () => {
    registry = await startRegistry();
    registries.push(registry);
    fetcher = fetcherFor(registry.url);
    image = await pushImage(registry, repo, '1.0');
    const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
    notation = await pushArtifact(registry, repo, buildArtifact(notationSignature(subject)));
    bundle = await pushArtifact(registry, repo, buildArtifact(sigstoreBundleSignature(subject)));
    await pushReferrersTag(registry, repo, image.digest, [notation.descriptor, bundle.descriptor]);
    legacy = await pushArtifact(registry, repo, buildArtifact(cosignLegacySignature(subject, `${registry.host}/${repo}`)), cosignTag(image.digest, 'sig'));
  });

  test('finds the referrers through the tag schema after the API 404s, and the .sig by tag', async () => {
    const sigTag = cosignTag(image.digest, 'sig');
    const list = await fetcher.referrers(repo, image.digest, { tags: [sigTag, cosignTag(image.digest, 'att')] });
    assert.deepEqual(list, [
      { ...notation.descriptor, source: 'referrers-tag', tag: referrersTag(image.digest) },
      { ...bundle.descriptor, source: 'referrers-tag', tag: referrersTag(image.digest) },
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: legacy.digest,
        size: legacy.size,
        artifactType: 'application/vnd.oci.image.config.v1+json',
        annotations: {},
        source: 'tag',
        tag: sigTag,
      },
    ]);
    const log = await registry.accessLog({ until: (entries) => entries.some((e) => e.path.endsWith('.att')) });
    const mine = log.filter((e) => e.method === 'GET' && e.path.includes(image.digest.slice(7)));
    assert.deepEqual(
      mine.map((e) => `${e.method} ${e.path} ${e.status}`),
      [
        `GET /v2/${repo}/referrers/${image.digest} 404`,
        `GET /v2/${repo}/manifests/${referrersTag(image.digest)} 200`,
        `GET /v2/${repo}/manifests/${sigTag} 200`,
        `GET /v2/${repo}/manifests/${cosignTag(image.digest, 'att')} 404`,
      ],
    );
  });

  test('filters the tag schema index by artifactType', async () => {
    const list = await fetcher.referrers(repo, image.digest, { artifactType: ARTIFACT_TYPES.sigstoreBundle });
    assert.deepEqual(
      list.map((d) => d.digest),
      [bundle.digest],
    );
  });

  test('fetches each referrer by digest, classifies it, and reads its signature blob', async () => {
    const list = await fetcher.referrers(repo, image.digest, { tags: [cosignTag(image.digest, 'sig')] });
    const formats: Array<string | undefined> = [];
    for (const d of list) {
      const m = await fetcher.manifest(repo, d.digest);
      assert.equal(m.bytes.length, d.size);
      const c = classifySignatureArtifact(m.json, m.mediaType);
      assert.equal(c.servable, true, c.reason);
      formats.push(c.format);
      const layers = (m.json as { layers: Array<{ digest: string }> }).layers;
      const first = layers[0];
      assert.ok(first);
      const blob = await fetcher.blob(repo, first.digest, 64 * KiB);
      assert.equal(sha256Digest(blob.bytes), first.digest);
    }
    assert.deepEqual(formats, ['notation', 'sigstore-bundle', 'cosign-simplesigning']);
    const first = list[0];
    assert.ok(first);
    assert.equal(classifySignatureArtifact((await fetcher.manifest(repo, first.digest)).json).subject, image.digest);
  });

  test('the image itself is never a servable signature artifact', async () => {
    const m = await fetcher.manifest(repo, image.digest, 64 * KiB);
    const c = classifySignatureArtifact(m.json, m.mediaType);
    assert.equal(c.servable, false);
    assert.match(c.reason, /image-layer media type/);
  });

  test('an image without signatures has no referrers; unknown digests are not_found', async () => {
    const unsigned = await pushImage(registry, repo, '2.0');
    assert.deepEqual(await fetcher.referrers(repo, unsigned.digest, { tags: [cosignTag(unsigned.digest, 'sig')] }), []);
    await rejectsWith(fetcher.manifest(repo, digestOf(4242)), 'not_found');
    await rejectsWith(fetcher.blob(repo, digestOf(4242), KiB), 'not_found');
    await rejectsWith(fetcher.manifest('acme/nothing-here', image.digest), 'not_found');
  });

  test("the registry's Content-Length refuses a manifest over the caller's limit", async () => {
    await rejectsWith(fetcher.manifest(repo, notation.digest, 64), 'too_large', /Content-Length/);
  });
});
