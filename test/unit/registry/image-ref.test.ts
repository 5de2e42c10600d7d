import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseImageRef } from '../../../src/registry/image-ref.js';

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
