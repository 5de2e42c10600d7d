import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SignJWT, decodeJwt, importPKCS8 } from 'jose';
import { stopAll } from '../../harness/cleanup.js';
import { assertOciError } from '../../harness/http.js';
import { fetchBlobDigest, MANIFEST_ACCEPT, pushImage, readImage, type PushedImage } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { runOk } from '../../harness/process.js';
import { parseChallenge } from '../../harness/registry-client.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Client authentication and per-repository pull permissions (issue 9): htpasswd users, Signet's
// own token issuer (GET and POST /token), the 401 challenge and 403 DENIED, the audit log and
// the failure counter, /metrics on the admin listener only.

const UPSTREAM = { username: 'signet', password: 'upstream-s3cret' };
const ALICE = { username: 'alice', password: 'alice-pw' }; // in group team
const CAROL = { username: 'carol', password: 'carol-pw' }; // no group
const OPS = { username: 'ops', password: 'ops-pw' };
const SERVICE = 'signet-test';
const PRIVATE = '/v2/registry.test/team/private/manifests/v1';

interface Reply {
  status: number;
  headers: Headers;
  body: string;
}

const basic = (c: { username: string; password: string }): string => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;

async function get(url: string, headers: Record<string, string> = {}): Promise<Reply> {
  const res = await fetch(url, { headers: { accept: MANIFEST_ACCEPT, ...headers } });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

async function postForm(url: string, form: Record<string, string>): Promise<Reply> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded; charset=utf-8' },
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, body: await res.text() };
}

function challengeOf(reply: Reply): { scheme: string; params: Record<string, string> } {
  const header = reply.headers.get('www-authenticate');
  assert.ok(header, `no WWW-Authenticate on ${reply.status} ${reply.body}`);
  const parsed = parseChallenge(header);
  assert.ok(parsed, header);
  return parsed;
}

type AuditLine = Record<string, unknown>;

async function auditLines(signet: InProcessSignet): Promise<AuditLine[]> {
  return (await readFile(signet.auditLogPath, 'utf8').catch(() => ''))
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditLine);
}

/** Waits for an audit line matching `fields` (the audit log is written asynchronously). */
function audited(signet: InProcessSignet, fields: AuditLine): Promise<AuditLine> {
  return poll(`an audit line with ${JSON.stringify(fields)}`, async () =>
    (await auditLines(signet)).find((l) => Object.entries(fields).every(([k, v]) => (v instanceof RegExp ? v.test(String(l[k])) : l[k] === v))),
  );
}

describe('client authentication and pull permissions', () => {
  let dir: string;
  let keyPem: string;
  let hub: Registry; // plays docker.io, open
  let corp: Registry; // registry.test, behind htpasswd: only Signet's upstream credentials get in
  let hello: PushedImage;
  let secret: PushedImage;
  let signet: InProcessSignet; // token issuer, admin listener
  let basicOnly: InProcessSignet; // htpasswd only, /metrics on the main listener for user:ops

  before(async () => {
    dir = await makeTempDir('auth');
    [hub, corp] = await Promise.all([startRegistry(), startRegistry({ auth: { basic: UPSTREAM } })]);
    hello = await pushImage(hub, 'library/hello', '1.0');
    secret = await pushImage(corp, 'team/private', 'v1', { files: { 'secret.txt': 'for team eyes only\n' } });

    const lines = await Promise.all([ALICE, CAROL, OPS].map(async (u) => (await runOk('htpasswd', ['-Bbn', u.username, u.password])).stdout.trim()));
    const htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, `${lines.join('\n')}\n`);
    keyPem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const keyFile = join(dir, 'token-key.pem');
    await writeFile(keyFile, keyPem);

    const upstreams = { 'docker.io': { url: hub.url }, 'registry.test': { url: corp.url, credentials: UPSTREAM } };
    const access = [
      { match: 'docker.io/library/*', pull: ['anonymous'] },
      { match: 'registry.test/team/**', pull: ['group:team'] },
    ];
    signet = await startInProcessSignet({
      upstreams,
      defaultUpstream: 'docker.io',
      extra: {
        auth: { htpasswd, groups: { team: ['alice'] }, token: { keyFile, service: SERVICE, issuer: 'signet-test-issuer' }, access },
        admin: { listen: { host: '127.0.0.1', port: 0 }, allow: ['anonymous'] },
      },
    });
    basicOnly = await startInProcessSignet({
      upstreams,
      defaultUpstream: 'docker.io',
      extra: { auth: { htpasswd, groups: { team: ['alice'] }, access }, admin: { allow: ['user:ops'] } },
    });
  });
  after(async () => {
    await stopAll(signet, basicOnly, hub, corp);
    await removeDir(dir);
  });

  test('GET /v2/ answers 401 with a Bearer challenge to anonymous clients, 200 to a user', async () => {
    const anonymous = await get(`${signet.url}/v2/`);
    assertOciError({ ...anonymous, body: anonymous.body }, 401, ['UNAUTHORIZED']);
    assert.deepEqual(challengeOf(anonymous), { scheme: 'bearer', params: { realm: `${signet.url}/token`, service: SERVICE } });
    assert.equal((await get(`${signet.url}/v2/`, { authorization: basic(ALICE) })).status, 200);
  });

  test('the finding: a private upstream image is refused to anonymous clients, served to a user granted it, 403 to other users', async () => {
    const anonymous = await get(`${signet.url}${PRIVATE}`);
    assertOciError({ ...anonymous, body: anonymous.body }, 401, ['UNAUTHORIZED']);
    assert.deepEqual(challengeOf(anonymous).params, { realm: `${signet.url}/token`, service: SERVICE, scope: 'repository:registry.test/team/private:pull' });
    // containerd names the upstream by ?ns=: the challenge scope still names it, so /token resolves it.
    const ns = await get(`${signet.url}/v2/team/private/manifests/v1?ns=registry.test`);
    assert.equal(challengeOf(ns).params.scope, 'repository:registry.test/team/private:pull');

    const alice = await get(`${signet.url}${PRIVATE}`, { authorization: basic(ALICE) });
    assert.equal(alice.status, 200, alice.body);
    assert.equal(alice.headers.get('docker-content-digest'), secret.digest);

    const carol = await get(`${signet.url}${PRIVATE}`, { authorization: basic(CAROL) });
    const denied = assertOciError({ ...carol, body: carol.body }, 403, ['DENIED']);
    assert.equal(denied.message, 'user carol may not pull registry.test/team/private');
    assert.equal(carol.headers.get('www-authenticate'), null, 'a known user is not asked to authenticate again');
    await audited(signet, {
      kind: 'access',
      verdict: 'denied',
      reason: 'access_not_granted',
      repository: 'team/private',
      message: /user carol.*auth\.access\.1 grants group:team/,
    });
    await audited(signet, { kind: 'access', verdict: 'allowed', reason: 'access_granted', repository: 'team/private', user: 'alice', message: /user alice/ });
    // The content decision names the user too: the audit log says who pulled what.
    await audited(signet, { kind: 'manifest', verdict: 'allowed', repository: 'team/private', reference: 'v1', user: 'alice' });
  });

  test('anonymous clients pull only where a rule grants anonymous', async () => {
    const granted = await get(`${signet.url}/v2/library/hello/manifests/1.0`);
    assert.equal(granted.status, 200, granted.body);
    assert.equal(granted.headers.get('docker-content-digest'), hello.digest);
    const ungranted = await get(`${signet.url}/v2/acme/tool/manifests/1.0`);
    assertOciError({ ...ungranted, body: ungranted.body }, 401, ['UNAUTHORIZED']);
    // A user gets 403 where no rule matches: nobody may pull.
    const noRule = await get(`${signet.url}/v2/acme/tool/manifests/1.0`, { authorization: basic(ALICE) });
    assertOciError({ ...noRule, body: noRule.body }, 403, ['DENIED']);
  });

  test('GET /token: scopes the user is granted only; anonymous tokens only for what anonymous may pull', async () => {
    const url = `${signet.url}/token?service=${SERVICE}&scope=repository:registry.test/team/private:pull&scope=repository:library/hello:pull,push&scope=registry:catalog:*`;
    const anonymous = await get(url);
    assert.equal(anonymous.status, 200, anonymous.body);
    const anonymousClaims = decodeJwt((JSON.parse(anonymous.body) as { token: string }).token);
    assert.equal(anonymousClaims.sub, '');
    assert.deepEqual(anonymousClaims.access, [{ type: 'repository', name: 'library/hello', actions: ['pull'] }]);

    const alice = await get(url, { authorization: basic(ALICE) });
    assert.equal(alice.status, 200, alice.body);
    const body = JSON.parse(alice.body) as { token: string; access_token: string; expires_in: number; issued_at: string };
    assert.equal(body.access_token, body.token);
    assert.equal(body.expires_in, 300);
    assert.ok(Math.abs(Date.parse(body.issued_at) - Date.now()) < 60_000, body.issued_at);
    const claims = decodeJwt(body.token);
    assert.equal(claims.iss, 'signet-test-issuer');
    assert.equal(claims.aud, SERVICE);
    assert.equal(claims.sub, 'alice');
    assert.equal(alice.headers.get('cache-control'), 'no-store');
    assert.deepEqual(claims.access, [
      { type: 'repository', name: 'registry.test/team/private', actions: ['pull'] },
      { type: 'repository', name: 'library/hello', actions: ['pull'] },
    ]);

    // The token pulls the private image; the anonymous one does not.
    const pulled = await get(`${signet.url}${PRIVATE}`, { authorization: `Bearer ${body.token}` });
    assert.equal(pulled.status, 200, pulled.body);
    const refused = await get(`${signet.url}${PRIVATE}`, { authorization: `Bearer ${(JSON.parse(anonymous.body) as { token: string }).token}` });
    assertOciError({ ...refused, body: refused.body }, 401, ['UNAUTHORIZED']);

    // A token used beyond its scopes: 401 insufficient_scope, so the client asks for a new one.
    const narrow = JSON.parse(
      (await get(`${signet.url}/token?service=${SERVICE}&scope=repository:library/hello:pull`, { authorization: basic(ALICE) })).body,
    ) as { token: string };
    const beyond = await get(`${signet.url}${PRIVATE}`, { authorization: `Bearer ${narrow.token}` });
    assertOciError({ ...beyond, body: beyond.body }, 401, ['UNAUTHORIZED']);
    assert.deepEqual(challengeOf(beyond).params, {
      realm: `${signet.url}/token`,
      service: SERVICE,
      scope: 'repository:registry.test/team/private:pull',
      error: 'insufficient_scope',
    });

    // A client following the challenges (the harness's registry client) pulls the image and its blobs.
    const target = { url: signet.url, credentials: ALICE };
    const read = await readImage(target, 'registry.test/team/private', 'v1');
    assert.equal(read.digest, secret.digest);
    for (const blob of secret.blobs) assert.equal((await fetchBlobDigest(target, 'registry.test/team/private', blob.digest)).digest, blob.digest);

    const wrongService = await get(`${signet.url}/token?service=elsewhere`, { authorization: basic(ALICE) });
    assertOciError({ ...wrongService, body: wrongService.body }, 400, ['UNSUPPORTED']);
  });

  test('POST /token (OAuth2 password grant, as containerd sends it)', async () => {
    const form = { grant_type: 'password', username: ALICE.username, password: ALICE.password, service: SERVICE, client_id: 'containerd-client' };
    const ok = await postForm(`${signet.url}/token`, { ...form, scope: 'repository:team/private:pull repository:registry.test/team/private:pull' });
    assert.equal(ok.status, 200, ok.body);
    const body = JSON.parse(ok.body) as { access_token: string; token: string; expires_in: number; issued_at: string };
    assert.equal(body.token, body.access_token);
    assert.equal(typeof body.expires_in, 'number');
    assert.ok(!Number.isNaN(Date.parse(body.issued_at)));
    // team/private alone routes to the default upstream (docker.io), where no rule grants it.
    assert.deepEqual(decodeJwt(body.access_token).access, [{ type: 'repository', name: 'registry.test/team/private', actions: ['pull'] }]);
    // With ?ns= as containerd sends it, the token granted through the challenge scope is accepted.
    const pulled = await get(`${signet.url}/v2/team/private/manifests/v1?ns=registry.test`, { authorization: `Bearer ${body.access_token}` });
    assert.equal(pulled.status, 200, pulled.body);

    const before = await signet.metric('signet_auth_failures_total', { reason: 'bad_credentials' });
    const wrong = await postForm(`${signet.url}/token`, { ...form, password: 'guess' });
    assertOciError({ ...wrong, body: wrong.body }, 401, ['UNAUTHORIZED']);
    assert.equal(await signet.metric('signet_auth_failures_total', { reason: 'bad_credentials' }), before + 1);

    const refresh = await postForm(`${signet.url}/token`, { grant_type: 'refresh_token', refresh_token: 'x', service: SERVICE });
    assertOciError({ ...refresh, body: refresh.body }, 400, ['UNSUPPORTED']);
    const huge = await postForm(`${signet.url}/token`, { ...form, scope: 'repository:a:pull '.repeat(5000) });
    assertOciError({ ...huge, body: huge.body }, 413, ['UNSUPPORTED']);
  });

  test('expired and forged tokens are refused, audited and counted', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'alice', access: [{ type: 'repository', name: 'registry.test/team/private', actions: ['pull'] }] };
    const sign = async (pem: string, times: { iat: number; exp: number }): Promise<string> =>
      new SignJWT({ ...claims, ...times, nbf: times.iat })
        .setProtectedHeader({ alg: 'ES256', typ: 'JWT' })
        .setIssuer('signet-test-issuer')
        .setAudience(SERVICE)
        .sign(await importPKCS8(pem, 'ES256'));
    const failures = async (reason: string): Promise<number> => signet.metric('signet_auth_failures_total', { reason });
    const [expiredBefore, badBefore] = [await failures('token_expired'), await failures('bad_token')];

    const expired = await get(`${signet.url}${PRIVATE}`, { authorization: `Bearer ${await sign(keyPem, { iat: now - 3600, exp: now - 3000 })}` });
    assertOciError({ ...expired, body: expired.body }, 401, ['UNAUTHORIZED']);
    assert.equal(challengeOf(expired).params.error, 'invalid_token');
    const otherKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const forged = await get(`${signet.url}${PRIVATE}`, { authorization: `Bearer ${await sign(otherKey, { iat: now, exp: now + 300 })}` });
    assertOciError({ ...forged, body: forged.body }, 401, ['UNAUTHORIZED']);

    assert.equal(await failures('token_expired'), expiredBefore + 1);
    assert.equal(await failures('bad_token'), badBefore + 1);
    await audited(signet, { kind: 'access', verdict: 'denied', reason: 'token_expired', reference: 'bearer' });
    await audited(signet, { kind: 'access', verdict: 'denied', reason: 'bad_token', message: /signature verification failed/ });
  });

  test('a wrong password is refused, audited with the claimed user and counted; the password appears nowhere', async () => {
    const before = await signet.metric('signet_auth_failures_total', { reason: 'bad_credentials' });
    const wrong = await get(`${signet.url}/v2/`, { authorization: basic({ username: 'alice', password: 'hunter2-guess' }) });
    assertOciError({ ...wrong, body: wrong.body }, 401, ['UNAUTHORIZED']);
    assert.equal(await signet.metric('signet_auth_failures_total', { reason: 'bad_credentials' }), before + 1);
    await audited(signet, { kind: 'access', reason: 'bad_credentials', reference: 'basic', message: /claimed user alice/ });
    assert.ok(!(await readFile(signet.auditLogPath, 'utf8')).includes('hunter2-guess'));
  });

  test('/metrics is served on the admin listener only; /healthz and /readyz reveal nothing but ok / ready', async () => {
    assert.ok(signet.adminUrl);
    const admin = await get(`${signet.adminUrl}/metrics`);
    assert.equal(admin.status, 200);
    assert.match(admin.body, /^signet_auth_failures_total\{reason="bad_credentials"\} \d+$/m);
    const main = await get(`${signet.url}/metrics`, { authorization: basic(OPS) });
    assert.equal(main.status, 404, main.body);
    assert.ok(!main.body.includes('signet_'));
    for (const url of [signet.url, signet.adminUrl]) {
      const health = await get(`${url}/healthz`);
      assert.equal(health.status, 200);
      assert.deepEqual(JSON.parse(health.body), { status: 'ok' });
      assert.deepEqual(JSON.parse((await get(`${url}/readyz`)).body), { status: 'ready' });
    }
    // Even with bad credentials the probes answer, and nothing else.
    assert.deepEqual(JSON.parse((await get(`${signet.url}/healthz`, { authorization: 'Bearer nonsense' })).body), { status: 'ok' });
  });

  test('without a token issuer: a Basic challenge; /metrics on the main listener for admin.allow principals only', async () => {
    const anonymous = await get(`${basicOnly.url}${PRIVATE}`);
    assertOciError({ ...anonymous, body: anonymous.body }, 401, ['UNAUTHORIZED']);
    assert.equal(anonymous.headers.get('www-authenticate'), 'Basic realm="signet"');
    assert.equal((await get(`${basicOnly.url}${PRIVATE}`, { authorization: basic(ALICE) })).status, 200);
    const bearer = await get(`${basicOnly.url}/v2/`, { authorization: 'Bearer abc.def.ghi' });
    assertOciError({ ...bearer, body: bearer.body }, 401, ['UNAUTHORIZED']);

    const noMetrics = await get(`${basicOnly.url}/metrics`);
    assertOciError({ ...noMetrics, body: noMetrics.body }, 401, ['UNAUTHORIZED']);
    assert.equal(noMetrics.headers.get('www-authenticate'), 'Basic realm="signet"');
    const notOps = await get(`${basicOnly.url}/metrics`, { authorization: basic(ALICE) });
    assertOciError({ ...notOps, body: notOps.body }, 403, ['DENIED']);
    const ops = await get(`${basicOnly.url}/metrics`, { authorization: basic(OPS) });
    assert.equal(ops.status, 200);
    assert.match(ops.body, /signet_policy_decisions_total\{verdict="denied",reason="admin_not_granted"\} 1/);
    await audited(basicOnly, { kind: 'admin', verdict: 'allowed', reason: 'admin_granted', message: /user ops/ });
  });
});
