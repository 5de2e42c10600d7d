import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { startContainerd, type Containerd } from '../../harness/containerd.js';
import { startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { pushImage, type PushedImage } from '../../harness/images.js';
import { runOk } from '../../harness/process.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Real clients authenticating to Signet (issue 9): `docker login <signet>` and `docker pull`
// through Signet's own token issuer, and containerd with host credentials (`ctr --user`, the
// resolver's Credentials callback: containerd POSTs an OAuth2 password grant to /token). The
// upstream is private (htpasswd); only Signet's upstream credentials reach it.

const UPSTREAM = { username: 'signet', password: 'upstream-s3cret' };
const ALICE = { username: 'alice', password: 'alice-pw' }; // may pull registry.test/team/**
const CAROL = { username: 'carol', password: 'carol-pw' }; // may not

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

describe('clients authenticating to Signet', () => {
  let dir: string;
  let corp: Registry;
  let app: PushedImage;
  let signet: Signet;

  before(async () => {
    dir = await makeTempDir('client-auth');
    corp = await startRegistry({ auth: { basic: UPSTREAM } });
    app = await pushImage(corp, 'team/app', 'v1');
    const htpasswd = join(dir, 'htpasswd');
    const lines = await Promise.all([ALICE, CAROL].map(async (u) => (await runOk('htpasswd', ['-Bbn', u.username, u.password])).stdout.trim()));
    await writeFile(htpasswd, `${lines.join('\n')}\n`);
    const keyFile = join(dir, 'token-key.pem');
    await writeFile(keyFile, generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    signet = await startSignet({
      upstreams: { 'registry.test': { url: corp.url, credentials: UPSTREAM } },
      extra: {
        auth: {
          htpasswd,
          token: { keyFile, service: 'signet-e2e' },
          access: [{ match: 'registry.test/team/**', pull: ['user:alice'] }],
        },
      },
    });
  });
  after(async () => {
    await stopAll(signet, corp);
    await removeDir(dir);
  });

  const requests = async (): Promise<Array<Record<string, unknown>>> => (await signet.logLines()).filter((l) => l.msg === 'request');

  describe('docker', () => {
    let dockerd: Dockerd;
    before(async () => {
      dockerd = await startDockerd();
    });
    after(() => stopAll(dockerd));

    test('docker login and docker pull go through the token issuer; other users and anonymous pulls are refused', async () => {
      const ref = `${signet.host}/registry.test/team/app:v1`;
      const anonymous = await dockerd.docker(['pull', ref]);
      assert.notEqual(anonymous.code, 0, anonymous.stdout);
      assert.match(anonymous.stderr, /unauthorized: authentication required/);

      const wrong = await dockerd.docker(['login', signet.host, '-u', ALICE.username, '-p', 'guess']);
      assert.notEqual(wrong.code, 0, wrong.stdout);
      assert.match(wrong.stderr, /unauthorized: wrong user name or password/);

      const login = await dockerd.docker(['login', signet.host, '-u', ALICE.username, '-p', ALICE.password]);
      assert.equal(login.code, 0, `docker login: ${login.stdout}\n${login.stderr}`);
      assert.match(login.stdout, /Login Succeeded/);
      const pull = await dockerd.docker(['pull', ref]);
      assert.equal(pull.code, 0, `docker pull: ${pull.stdout}\n${pull.stderr}`);
      assert.match(pull.stdout, new RegExp(`Digest: ${app.digest}`));

      // dockerd took tokens from /token (GET with Basic), then pulled with Bearer tokens.
      const log = await requests();
      assert.ok(
        log.some((l) => l.path === '/token' && l.method === 'GET' && l.status === 200),
        JSON.stringify(log),
      );
      assert.ok(log.some((l) => l.path === `/v2/registry.test/team/app/manifests/v1` && l.status === 200));

      await dockerd.docker(['rmi', ref]);
      const carol = await dockerd.docker(['login', signet.host, '-u', CAROL.username, '-p', CAROL.password]);
      assert.equal(carol.code, 0, carol.stderr);
      const denied = await dockerd.docker(['pull', ref]);
      assert.notEqual(denied.code, 0, denied.stdout);
      assert.match(denied.stderr, /denied: user carol may not pull registry\.test\/team\/app/);
    });
  });

  describe('containerd', () => {
    let containerd: Containerd;
    before(async () => {
      containerd = await startContainerd();
      await containerd.writeHosts('registry.test', signet.url);
    });
    after(() => stopAll(containerd));

    test('ctr --user pulls through a hosts.toml mirror (?ns=registry.test) with an OAuth2 token; without credentials it is refused', async () => {
      const ref = 'registry.test/team/app:v1';
      const anonymous = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, ref]);
      assert.notEqual(anonymous.code, 0, anonymous.stdout);
      assert.match(anonymous.stderr, /401 Unauthorized/);

      const pull = await containerd.ctr(['images', 'pull', '--hosts-dir', containerd.hostsDir, '--user', `${ALICE.username}:${ALICE.password}`, ref]);
      assert.equal(pull.code, 0, `ctr pull: ${pull.stderr}`);
      const check = await containerd.ctr(['images', 'check']);
      assert.match(check.stdout, new RegExp(`${escapeRegExp(ref)}\\s+\\S+\\s+${app.digest}\\s+complete`), check.stdout);
      const log = await requests();
      assert.ok(
        log.some((l) => l.path === '/token' && l.method === 'POST' && l.status === 200),
        JSON.stringify(log.filter((l) => l.path === '/token')),
      );
      assert.ok(log.some((l) => l.upstream === 'registry.test' && l.repository === 'team/app' && l.status === 200));
    });
  });
});
