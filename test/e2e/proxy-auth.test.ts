import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { assertOciError } from '../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, readLayout, type PushedImage } from '../harness/images.js';
import { startRegistry, type Registry } from '../harness/registry.js';
import { startSignet, type Signet } from '../harness/signet.js';
import { skopeoCopy } from '../harness/skopeo.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';
import { startTokenIssuer, type TokenIssuer } from '../harness/token-issuer.js';

// Upstreams that require credentials: Signet authenticates with the configured ones
// (HTTP Basic, and the Docker token flow), the client needs none.

const BASIC = { username: 'alice', password: 'basic-s3cret' };
const TOKEN = { username: 'bob', password: 'token-s3cret' };

async function pullToLayout(ref: string): Promise<Awaited<ReturnType<typeof readLayout>>> {
  const dir = await makeTempDir('pulled');
  try {
    await skopeoCopy(ref, `oci:${dir}:pulled`, ['--src-tls-verify=false']);
    return await readLayout(dir);
  } finally {
    await removeDir(dir);
  }
}

describe('authenticated upstreams', () => {
  let issuer: TokenIssuer;
  let basicRegistry: Registry;
  let tokenRegistry: Registry;
  let signet: Signet;
  let basicImage: PushedImage;
  let tokenImage: PushedImage;

  before(async () => {
    issuer = await startTokenIssuer(TOKEN);
    [basicRegistry, tokenRegistry] = await Promise.all([
      startRegistry({ auth: { basic: BASIC } }),
      startRegistry({ auth: { token: issuer } }),
    ]);
    basicImage = await pushImage(basicRegistry, 'team/app', 'v1', { files: { 'who.txt': 'basic\n' } });
    tokenImage = await pushImage(tokenRegistry, 'team/app', 'v1', { files: { 'who.txt': 'token\n' } });
    signet = await startSignet({
      upstreams: {
        'basic.test': { url: basicRegistry.url, credentials: BASIC },
        'token.test': { url: tokenRegistry.url, credentials: TOKEN },
        'nocreds.test': { url: basicRegistry.url },
      },
    });
  });
  after(async () => {
    await signet?.stop();
    await Promise.all([basicRegistry?.stop(), tokenRegistry?.stop()]);
    await issuer?.stop();
  });

  test('pulls from a basic-auth upstream with the configured credentials', async () => {
    const pulled = await pullToLayout(`docker://${signet.host}/basic.test/team/app:v1`);
    assert.equal(pulled.top.digest, basicImage.digest);
    for (const blob of basicImage.blobs) assert.ok(pulled.blobs.includes(blob.digest));
  });

  test('pulls from a token-auth upstream through the token flow', async () => {
    const tokensBefore = issuer.requests();
    const pulled = await pullToLayout(`docker://${signet.host}/token.test/team/app:v1`);
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
    const log = JSON.stringify(await signet.logLines());
    assert.ok(!log.includes(BASIC.password) && !log.includes(TOKEN.password));
  });
});
