import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { startFakeRegistry } from '../../harness/fake-registry.js';
import { assertOciError } from '../../harness/http.js';
import { runOk } from '../../harness/process.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The client limits as the server wires them (issue 9, section 4): the request budget is taken
// in front of authentication by address (failed logins count) and behind it by user; slow
// clients get 408 from the listener itself.

const ALICE = { username: 'alice', password: 'alice-pw' };
const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function signet(t: TestContext, extra: Record<string, unknown>): Promise<InProcessSignet> {
  const upstream = await startFakeRegistry({});
  t.after(() => upstream.stop());
  const dir = await makeTempDir('limits');
  t.after(() => removeDir(dir));
  const htpasswd = join(dir, 'htpasswd');
  // Cost 5, as `htpasswd -B` writes by default.
  const { stdout } = await runOk('htpasswd', ['-nbB', '-C', '5', ALICE.username, ALICE.password]);
  await writeFile(htpasswd, stdout);
  const s = await startInProcessSignet({
    upstreams: { 'docker.io': { url: upstream.url } },
    // Metrics come from the admin listener, which the request budget of the main one does not cover.
    extra: { auth: { htpasswd, access: [{ match: '**', pull: ['anonymous'] }] }, admin: { listen: { port: 0 }, allow: ['anonymous'] }, ...extra },
  });
  t.after(() => s.stop());
  return s;
}

async function statuses(url: string, n: number, headers: Record<string, string> = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const res = await fetch(url, { headers });
    await res.arrayBuffer();
    out.push(res.status);
  }
  return out;
}

describe('client limits in the server', () => {
  test('a flood of failed logins is limited like any request: 429 with Retry-After after the burst, counted', async (t) => {
    const s = await signet(t, { limits: { clientRequestsPerSecond: 0.01, clientBurst: 5 } });
    const wrong = { authorization: basic(ALICE.username, 'guess') };
    const seen = await statuses(`${s.url}/v2/`, 8, wrong);
    assert.deepEqual(seen.slice(0, 5), [401, 401, 401, 401, 401]);
    assert.deepEqual(seen.slice(5), [429, 429, 429], 'bcrypt checks past the burst');
    const res = await fetch(`${s.url}/v2/`, { headers: wrong });
    const body = Buffer.from(await res.arrayBuffer());
    assertOciError({ status: res.status, headers: Object.fromEntries(res.headers), body }, 429, ['TOOMANYREQUESTS']);
    assert.ok(Number(res.headers.get('retry-after')) >= 1);
    assert.ok((await s.metric('signet_rate_limited_total', { by: 'address' })) >= 4);
    // Probes are never limited.
    assert.equal((await fetch(`${s.url}/healthz`)).status, 200);
  });

  test('authenticated requests are limited too (by address in front of auth, by user behind it)', async (t) => {
    const s = await signet(t, { limits: { clientRequestsPerSecond: 0.01, clientBurst: 3 } });
    // Three requests from the address, as alice: both budgets spent.
    const alice = { authorization: basic(ALICE.username, ALICE.password) };
    assert.deepEqual(await statuses(`${s.url}/v2/`, 3, alice), [200, 200, 200]);
    assert.deepEqual(await statuses(`${s.url}/v2/`, 1, alice), [429]);
    assert.ok((await s.metric('signet_rate_limited_total', { by: 'address' })) >= 1);
  });

  test('a client that sends its headers too slowly gets 408 from the listener', async (t) => {
    const s = await signet(t, { limits: { clientRequestsPerSecond: 0 }, listen: { timeouts: { headersMs: 300, requestMs: 300 } } });
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(s.port, '127.0.0.1', () => socket.write('GET /v2/ HTTP/1.1\r\nHost: x\r\n'));
      let text = '';
      socket.on('data', (d: Buffer) => (text += d.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 408 /);
    assert.match(answer, /"errors":\[\{"code":"[A-Z_]+"/);
  });
});
