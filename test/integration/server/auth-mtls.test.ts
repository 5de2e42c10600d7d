import assert from 'node:assert/strict';
import { request } from 'node:https';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { assertOciError } from '../../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { createTestCa, type IssuedCertificate, type TestCa } from '../../harness/test-ca.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// TLS client certificates name users (listen.tls.clientCaFile, auth.clientCertificates): the
// user comes from the subject commonName (or the email SAN), verified against the client CA.

const UPSTREAM = { username: 'signet', password: 'upstream-s3cret' };
const PRIVATE = '/v2/registry.test/team/private/manifests/v1';

interface TlsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One HTTPS request on a fresh connection (the certificate belongs to the connection). */
function tlsGet(url: string, ca: string, client?: IssuedCertificate): Promise<TlsReply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { ca, agent: false, headers: { accept: MANIFEST_ACCEPT }, ...(client ? { cert: client.certPem, key: client.keyPem } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

describe('TLS client certificates', () => {
  let dir: string;
  let corp: Registry;
  let secret: PushedImage;
  let serverCa: TestCa;
  let clientCa: TestCa;
  let rogueCa: TestCa;
  let optional: InProcessSignet; // user from the commonName; certificates optional
  let required: InProcessSignet; // user from the email SAN; certificates required

  before(async () => {
    dir = await makeTempDir('mtls');
    corp = await startRegistry({ auth: { basic: UPSTREAM } });
    secret = await pushImage(corp, 'team/private', 'v1');
    [serverCa, clientCa, rogueCa] = await Promise.all([createTestCa('server CA'), createTestCa('client CA'), createTestCa('client CA')]);
    const server = await serverCa.server();
    const files = { cert: join(dir, 'server.pem'), key: join(dir, 'server-key.pem'), clientCa: join(dir, 'client-ca.pem') };
    await writeFile(files.cert, server.certPem);
    await writeFile(files.key, server.keyPem);
    await writeFile(files.clientCa, clientCa.certPem);
    const start = (mode: 'optional' | 'required', user: 'commonName' | 'email', principal: string): Promise<InProcessSignet> =>
      startInProcessSignet({
        upstreams: { 'registry.test': { url: corp.url, credentials: UPSTREAM } },
        extra: {
          listen: { tls: { certFile: files.cert, keyFile: files.key, clientCaFile: files.clientCa, clientCertificates: mode } },
          auth: { clientCertificates: { user }, access: [{ match: 'registry.test/team/**', pull: [principal] }] },
          admin: { listen: { host: '127.0.0.1', port: 0 }, allow: ['anonymous'] },
        },
      });
    [optional, required] = await Promise.all([start('optional', 'commonName', 'user:alice'), start('required', 'email', 'user:alice@corp.example')]);
  });
  after(async () => {
    await stopAll(optional, required, corp);
    await removeDir(dir);
  });

  test('a certificate from the client CA names the user by its commonName', async () => {
    const alice = await tlsGet(`${optional.url}${PRIVATE}`, serverCa.certPem, await clientCa.client({ commonName: 'alice' }));
    assert.equal(alice.status, 200, alice.body);
    assert.equal(alice.headers['docker-content-digest'], secret.digest);
    const bob = await tlsGet(`${optional.url}${PRIVATE}`, serverCa.certPem, await clientCa.client({ commonName: 'bob' }));
    assert.equal(assertOciError(bob, 403, ['DENIED']).message, 'user bob may not pull registry.test/team/private');
  });

  test('optional: no certificate is an anonymous client (401 + challenge); a certificate from another CA is an authentication failure', async () => {
    const none = await tlsGet(`${optional.url}${PRIVATE}`, serverCa.certPem);
    assertOciError(none, 401, ['UNAUTHORIZED']);
    assert.equal(none.headers['www-authenticate'], 'Basic realm="signet"');
    const before = await optional.metric('signet_auth_failures_total', { reason: 'bad_certificate' });
    const rogue = await tlsGet(`${optional.url}${PRIVATE}`, serverCa.certPem, await rogueCa.client({ commonName: 'alice' }));
    assert.match(assertOciError(rogue, 401, ['UNAUTHORIZED']).message, /client certificate is not trusted/);
    assert.equal(await optional.metric('signet_auth_failures_total', { reason: 'bad_certificate' }), before + 1);
  });

  test('required: the email SAN names the user; connections without a trusted certificate are refused in the handshake, and counted', async () => {
    const alice = await tlsGet(`${required.url}${PRIVATE}`, serverCa.certPem, await clientCa.client({ commonName: 'Alice A.', email: 'alice@corp.example' }));
    assert.equal(alice.status, 200, alice.body);
    const noEmail = await tlsGet(`${required.url}${PRIVATE}`, serverCa.certPem, await clientCa.client({ commonName: 'alice@corp.example' }));
    assert.match(assertOciError(noEmail, 401, ['UNAUTHORIZED']).message, /names no email address/);

    const before = await required.metric('signet_auth_failures_total', { reason: 'bad_certificate' });
    await assert.rejects(tlsGet(`${required.url}${PRIVATE}`, serverCa.certPem));
    await assert.rejects(tlsGet(`${required.url}${PRIVATE}`, serverCa.certPem, await rogueCa.client({ commonName: 'alice' })));
    // The server counts once the handshake failure is processed on its side.
    await poll('both refused handshakes counted', async () =>
      (await required.metric('signet_auth_failures_total', { reason: 'bad_certificate' })) >= before + 2 ? true : undefined,
    );
  });
});
