import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { assertOciError } from '../../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { poll } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { skopeoPull } from '../../harness/skopeo.js';
import { signetUpstreamAccess, startTokenIssuer, type TokenIssuer } from '../../harness/token-issuer.js';

// Upstreams that require credentials: Signet authenticates with the configured ones
// (HTTP Basic, and the Docker token flow), the client needs none. The token server is another
// origin over HTTPS with a test CA: Signet reaches it through caFile and allowedHosts.

const BASIC = { username: 'alice', password: 'basic-s3cret' };
const TOKEN = { username: 'bob', password: 'token-s3cret' };

describe('authenticated upstreams', () => {
  let issuer: TokenIssuer;
  let basicRegistry: Registry;
  let tokenRegistry: Registry;
  let signet: Signet;
  let basicImage: PushedImage;
  let tokenImage: PushedImage;

  before(async () => {
    issuer = await startTokenIssuer(TOKEN);
    [basicRegistry, tokenRegistry] = await Promise.all([startRegistry({ auth: { basic: BASIC } }), startRegistry({ auth: { token: issuer } })]);
    basicImage = await pushImage(basicRegistry, 'team/app', 'v1', { files: { 'who.txt': 'basic\n' } });
    tokenImage = await pushImage(tokenRegistry, 'team/app', 'v1', { files: { 'who.txt': 'token\n' } });
    signet = await startSignet({
      upstreams: {
        'basic.test': { url: basicRegistry.url, credentials: BASIC },
        'token.test': { url: tokenRegistry.url, credentials: TOKEN },
        'nocreds.test': { url: basicRegistry.url },
      },
      extra: { upstreams: { 'token.test': signetUpstreamAccess(issuer) } },
    });
  });
  after(() => stopAll(signet, basicRegistry, tokenRegistry, issuer));

  test('pulls from a basic-auth upstream with the configured credentials', async () => {
    const pulled = await skopeoPull(`docker://${signet.host}/basic.test/team/app:v1`);
    assert.equal(pulled.top.digest, basicImage.digest);
    for (const blob of basicImage.blobs) assert.ok(pulled.blobs.includes(blob.digest));
  });

  test('pulls from a token-auth upstream through the token flow', async () => {
    const tokensBefore = issuer.requests();
    const pulled = await skopeoPull(`docker://${signet.host}/token.test/team/app:v1`);
    assert.equal(pulled.top.digest, tokenImage.digest);
    for (const blob of tokenImage.blobs) assert.ok(pulled.blobs.includes(blob.digest));
    assert.ok(issuer.requests() > tokensBefore, 'Signet never asked the token issuer');
  });

  test('without credentials the upstream refusal comes back as an OCI error', async () => {
    const res = await fetch(`${signet.url}/v2/nocreds.test/team/app/manifests/v1`, { headers: { accept: MANIFEST_ACCEPT } });
    const body = Buffer.from(await res.arrayBuffer());
    assert.notEqual(res.status, 200);
    assertOciError({ status: res.status, headers: res.headers, body }, [401, 403, 502]);
  });

  test('no password appears in the log', async () => {
    // Authenticated requests to both upstreams, and a refused one, so that the log has lines to check.
    for (const path of ['/v2/basic.test/team/app/manifests/v1', '/v2/token.test/team/app/manifests/v1', '/v2/nocreds.test/team/app/manifests/v1']) {
      const res = await fetch(`${signet.url}${path}`, { headers: { accept: MANIFEST_ACCEPT } });
      await res.arrayBuffer();
    }
    // The access log line of a request is written once its response is done.
    const lines = await poll('the requests in the log', async () => {
      const all = await signet.logLines();
      return all.some((l) => typeof l.path === 'string' && l.path.startsWith('/v2/nocreds.test/')) ? all : undefined;
    });
    const log = JSON.stringify(lines);
    assert.ok(!log.includes(BASIC.password) && !log.includes(TOKEN.password));
  });
});
