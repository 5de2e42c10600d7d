import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ociError, startFakeRegistry } from '../../harness/fake-registry.js';
import { assertOciError } from '../../harness/http.js';
import { startInProcessSignet } from '../../harness/signet-in-process.js';

// An upstream that rate-limits Signet: the client gets 429 TOOMANYREQUESTS with the upstream's
// Retry-After, so it backs off as long as the upstream asked instead of its own guess.
test("an upstream's 429 reaches the client with its Retry-After", async (t) => {
  const upstream = await startFakeRegistry({});
  t.after(() => upstream.stop());
  upstream.route('/v2/team/app/manifests/1.0', ociError(429, 'TOOMANYREQUESTS', 'pull rate limit', { 'retry-after': '7' }));
  const signet = await startInProcessSignet({
    upstreams: { 'fake.test': { url: upstream.url } },
    extra: { upstreams: { 'fake.test': { retries: { max: 0 } } } },
  });
  t.after(() => signet.stop());
  const res = await fetch(`${signet.url}/v2/team/app/manifests/1.0`);
  const body = Buffer.from(await res.arrayBuffer());
  const error = assertOciError({ status: res.status, headers: Object.fromEntries(res.headers), body }, 429, ['TOOMANYREQUESTS']);
  assert.match(error.message, /upstream fake\.test is rate-limiting Signet/);
  assert.equal(res.headers.get('retry-after'), '7');
});
