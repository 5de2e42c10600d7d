import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseImageRef } from '../../../src/cli/image-ref.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const signet = (...args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src', 'cli', 'main.ts'), ...args], { cwd: ROOT, encoding: 'utf8' });

test('verify-config: 0 for a valid file, 1 with the offending key path otherwise', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'signet-cli-'));
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
});

test('usage errors are explicit', () => {
  const unknown = signet('frobnicate');
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /unknown command "frobnicate"/);
  assert.equal(signet('check').status, 2);
  assert.match(signet('--help').stdout, /signet check IMAGE|check IMAGE/);
});

test('image references are normalised as the Docker CLI does', () => {
  assert.deepEqual(parseImageRef('alpine'), { registry: 'docker.io', repository: 'library/alpine', tag: undefined });
  assert.deepEqual(parseImageRef('alpine:3.20'), { registry: 'docker.io', repository: 'library/alpine', tag: '3.20' });
  assert.deepEqual(parseImageRef('acme/app:1'), { registry: 'docker.io', repository: 'acme/app', tag: '1' });
  assert.deepEqual(parseImageRef('registry.corp:5000/team/app:v2'), { registry: 'registry.corp:5000', repository: 'team/app', tag: 'v2' });
  assert.deepEqual(parseImageRef('localhost/app'), { registry: 'localhost', repository: 'app', tag: undefined });
  assert.deepEqual(parseImageRef('index.docker.io/library/alpine:1'), { registry: 'docker.io', repository: 'library/alpine', tag: '1' });
  assert.throws(() => parseImageRef('alpine@sha256:abc'), /give a tag/);
  assert.throws(() => parseImageRef('UPPER/app'), { code: 'NAME_INVALID' });
});
