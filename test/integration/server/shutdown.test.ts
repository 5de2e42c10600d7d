import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startFakeRegistry } from '../../harness/fake-registry.js';
import { cutAwareRequest } from '../../harness/http.js';
import { poll } from '../../harness/poll.js';
import { startInProcessSignet } from '../../harness/signet-in-process.js';
import { sha256Digest } from '../../harness/streams.js';

// Graceful shutdown: a blob stream in flight when stop() begins is finished, new connections
// are refused, and readiness turns off first.

test('stop() lets an in-flight blob stream finish, then refuses new connections', async (t) => {
  const blob = randomBytes(2 * 1024 * 1024);
  const digest = sha256Digest(blob);
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  t.after(() => release());
  const upstream = await startFakeRegistry((req, res, next) => {
    if (req.url !== `/v2/team/app/blobs/${digest}`) {
      next();
      return;
    }
    res.writeHead(200, { 'content-length': String(blob.length), 'content-type': 'application/octet-stream' });
    res.write(blob.subarray(0, blob.length / 2));
    void released.then(() => res.end(blob.subarray(blob.length / 2)));
  });
  t.after(() => upstream.stop());
  const signet = await startInProcessSignet({ upstreams: { 'r.example': { url: upstream.url } } });
  t.after(() => signet.stop());

  let received = 0;
  const body = cutAwareRequest(`${signet.url}/v2/team/app/blobs/${digest}`, { onData: (n) => (received = n) });
  // The first half has reached the client: the stream is in flight. Now begin the shutdown.
  await poll('the first bytes at the client', () => (received > 0 ? true : undefined));
  const stopping = signet.stop(10_000);
  const ready = await fetch(`${signet.url}/readyz`)
    .then((r) => r.status)
    .catch(() => 'refused');
  assert.notEqual(ready, 200, 'not ready once shutdown began');
  release();
  const got = await body;
  assert.equal(got.status, 200);
  assert.ok(got.complete, 'the response completed');
  assert.ok(got.body.equals(blob), 'all bytes arrived');
  await stopping;
  await assert.rejects(fetch(`${signet.url}/healthz`), 'no new connections after stop');
});
