import assert from 'node:assert/strict';
import { describe, test, type TestContext } from 'node:test';
import { ociError, startFakeRegistry, type FakeAnswer, type FakeRegistry } from '../../harness/fake-registry.js';
import { assertOciError } from '../../harness/http.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest as sha256 } from '../../harness/streams.js';

// The referrers API's errors as a client sees them: the signature-fetching port's codes become
// OCI errors with the upstream named, never a 500.

const DIGEST = sha256('subject');

async function setup(t: TestContext, handler: (path: string) => FakeAnswer | undefined): Promise<{ upstream: FakeRegistry; signet: InProcessSignet }> {
  const upstream = await startFakeRegistry({
    handler: (req, res, next) => {
      const answer = handler(new URL(req.url ?? '/', 'http://x').pathname);
      if (!answer) {
        next();
        return;
      }
      res.writeHead(answer.status ?? 200, answer.headers);
      res.end(answer.body);
    },
  });
  t.after(() => upstream.stop());
  const signet = await startInProcessSignet({ upstreams: { 'fake.test': { url: upstream.url } } });
  t.after(() => signet.stop());
  return { upstream, signet };
}

async function get(url: string): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  const res = await fetch(url);
  return { status: res.status, headers: Object.fromEntries(res.headers), body: Buffer.from(await res.arrayBuffer()) };
}

describe('referrers API errors (policy off)', () => {
  test('a repository the upstream does not know is 404 NAME_UNKNOWN', async (t) => {
    const { signet } = await setup(t, () => ociError(404, 'NAME_UNKNOWN', 'repository name not known to registry'));
    const error = assertOciError(await get(`${signet.url}/v2/nobody/here/referrers/${DIGEST}`), 404, ['NAME_UNKNOWN']);
    assert.match(error.message, /fake\.test\/nobody\/here/);
  });

  test('a referrers answer that is not an image index is a 502 naming the upstream', async (t) => {
    const { signet } = await setup(t, (path) =>
      path.includes('/referrers/')
        ? { status: 200, headers: { 'content-type': 'application/vnd.oci.image.index.v1+json' }, body: Buffer.from('not json') }
        : undefined,
    );
    const error = assertOciError(await get(`${signet.url}/v2/team/app/referrers/${DIGEST}`), 502, ['UNAVAILABLE']);
    assert.match(error.message, /fake\.test/);
  });
});
