import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Router } from '../../../src/proxy/router.js';
import type { UpstreamClient } from '../../../src/registry/upstream-client.js';

const fake = (name: string): UpstreamClient => ({ name }) as unknown as UpstreamClient;
const upstreams = new Map([
  ['docker.io', fake('docker.io')],
  ['ghcr.io', fake('ghcr.io')],
]);
const router = new Router({
  upstreams,
  defaultUpstream: 'docker.io',
  officialNamespaces: new Map([
    ['docker.io', 'library'],
    ['ghcr.io', undefined],
  ]),
});

test('registry-mirrors requests go to the default upstream', () => {
  const t = router.resolve('library/alpine', undefined);
  assert.equal(t.upstream.name, 'docker.io');
  assert.equal(t.repository, 'library/alpine');
});

test('one-component Docker Hub names get the official namespace', () => {
  assert.equal(router.resolve('alpine', undefined).repository, 'library/alpine');
  assert.equal(router.resolve('app', 'ghcr.io').repository, 'app');
});

test('containerd ns query selects the upstream', () => {
  const t = router.resolve('org/app', 'ghcr.io');
  assert.equal(t.upstream.name, 'ghcr.io');
  assert.equal(t.repository, 'org/app');
});

test('a first path segment naming an upstream addresses it', () => {
  const t = router.resolve('ghcr.io/org/app', undefined);
  assert.equal(t.upstream.name, 'ghcr.io');
  assert.equal(t.repository, 'org/app');
  assert.equal(t.clientName, 'ghcr.io/org/app');
});

test('unknown hosts are never contacted', () => {
  assert.throws(() => router.resolve('library/alpine', 'evil.example'), { code: 'NAME_UNKNOWN' });
  // An unconfigured host in the path is just a repository name on the default upstream.
  const t = router.resolve('evil.example/x', undefined);
  assert.equal(t.upstream.name, 'docker.io');
  assert.equal(t.repository, 'evil.example/x');
});

test('invalid names are rejected before any I/O', () => {
  for (const bad of ['../etc/passwd', 'UPPER/x', 'a//b', '']) assert.throws(() => router.resolve(bad, undefined), { code: 'NAME_INVALID' }, bad);
  assert.throws(() => router.resolve('ghcr.io/../x', undefined), { code: 'NAME_INVALID' });
});

test('without a default upstream the error says how to address one', () => {
  const r = new Router({ upstreams, defaultUpstream: undefined, officialNamespaces: new Map() });
  assert.throws(() => r.resolve('library/alpine', undefined), /address an upstream as \/v2\/<upstream>\/<repository>/);
});
