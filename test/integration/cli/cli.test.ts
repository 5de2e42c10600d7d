import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { REPO_ROOT } from '../../harness/signet.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The signet command as users run it: a child process, its exit code and its output.

const signet = (...args: string[]) =>
  spawnSync(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: REPO_ROOT, encoding: 'utf8' });

test('verify-config: 0 for a valid file, 1 with the offending key path otherwise', async (t) => {
  const dir = await makeTempDir('signet-cli');
  t.after(() => removeDir(dir));
  const good = join(dir, 'good.yaml');
  const bad = join(dir, 'bad.yaml');
  await writeFile(good, 'upstreams:\n  docker.io: {url: "http://127.0.0.1:5001"}\n');
  await writeFile(bad, 'upstreams:\n  docker.io: {url: "http://127.0.0.1:5001", timeout: 3}\n');
  const ok = signet('verify-config', good);
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /valid/);
  const no = signet('verify-config', bad);
  assert.equal(no.status, 1);
  assert.match(no.stderr, /unknown key "upstreams\.docker\.io\.timeout"/);
  assert.equal(signet('verify-config', join(dir, 'missing.yaml')).status, 1);
  assert.equal(signet('verify-config', 'config/default.yaml').status, 0, 'the embedded default is valid');
  // A cosign key that is not a usable public key is caught here, not at the first pull.
  const notAKey = join(dir, 'cosign.pub');
  await writeFile(notAKey, '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n');
  const cosign = join(dir, 'cosign.yaml');
  await writeFile(
    cosign,
    `upstreams:\n  docker.io: {url: "http://127.0.0.1:5001"}\npolicy:\n  rules: [{match: "docker.io/**", require: {cosign: {keys: ["${notAKey}"], tlog: false}}}]\n`,
  );
  const badKey = signet('verify-config', cosign);
  assert.equal(badKey.status, 1, badKey.stdout);
  assert.match(badKey.stderr, /policy\.rules\.0\.require\.cosign\.keys\.0/);
  // So is a Notation trust policy notation itself would refuse, naming the JSON path.
  const policy = join(dir, 'trustpolicy.oci.json');
  await writeFile(
    policy,
    JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'p',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict' },
          trustStores: ['ca:corp'],
          trustedIdentities: ['x509.subject: CN=signer'],
        },
      ],
    }),
  );
  const notation = join(dir, 'notation.yaml');
  await writeFile(
    notation,
    `upstreams:\n  docker.io: {url: "http://127.0.0.1:5001"}\npolicy:\n  rules: [{match: "docker.io/**", require: {notation: {trustPolicy: "${policy}"}}}]\n`,
  );
  const badPolicy = signet('verify-config', notation);
  assert.equal(badPolicy.status, 1, badPolicy.stdout);
  assert.match(badPolicy.stderr, /policy\.rules\.0\.require\.notation\.trustPolicy .*trustPolicies\[0\]\.trustedIdentities\[0\]/);
});

test('usage errors are explicit', () => {
  const unknown = signet('frobnicate');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.equal(signet('check').status, 2);
  assert.match(signet('--help').stdout, /signet check IMAGE|check IMAGE/);
});
