import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseImageArgument, readImageList } from '../../../src/bundle/image-list.js';
import { parseConfig, type Config } from '../../../src/config/load.js';

const CONFIG: Config = parseConfig(
  [
    'upstreams:',
    '  docker.io: {url: "https://registry-1.docker.io"}',
    '  registry.corp:5000: {url: "https://registry.corp:5000"}',
    'defaultUpstream: docker.io',
  ].join('\n'),
  'test.yaml',
);
const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('export image arguments', () => {
  test('a tag, a digest, no tag (latest), and an official image', () => {
    assert.deepEqual(parseImageArgument(CONFIG, 'registry.corp:5000/team/app:1.4'), {
      upstream: 'registry.corp:5000',
      repository: 'team/app',
      tag: '1.4',
      digest: undefined,
      platforms: [],
    });
    assert.deepEqual(parseImageArgument(CONFIG, `registry.corp:5000/team/app@${DIGEST}`, ['linux/amd64']), {
      upstream: 'registry.corp:5000',
      repository: 'team/app',
      tag: undefined,
      digest: DIGEST,
      platforms: ['linux/amd64'],
    });
    assert.equal(parseImageArgument(CONFIG, 'registry.corp:5000/team/app').tag, 'latest');
    assert.equal(parseImageArgument(CONFIG, 'alpine:3.20').repository, 'library/alpine');
  });

  test('refuses a bad digest, a tag with a digest, and a registry that is not an upstream', () => {
    assert.throws(() => parseImageArgument(CONFIG, 'registry.corp:5000/team/app@sha256:xyz'), /not a digest/);
    assert.throws(() => parseImageArgument(CONFIG, `registry.corp:5000/team/app:1.4@${DIGEST}`), /a tag or a digest, not both/);
    assert.throws(() => parseImageArgument(CONFIG, 'ghcr.io/acme/app:1'), /ghcr\.io is not an upstream of this config.*docker\.io, registry\.corp:5000/);
  });
});

describe('export images lists', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'image-list-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const list = async (name: string, text: string): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  test('strings and entries with platforms; the command line platforms apply to entries without', async () => {
    const path = await list(
      'ok.yaml',
      ['images:', '  - registry.corp:5000/team/app:1.4', '  - ref: alpine:3.20', '    platforms: [linux/arm64, linux/arm/v7]'].join('\n'),
    );
    const images = await readImageList(CONFIG, path, ['linux/amd64']);
    assert.deepEqual(
      images.map((i) => [i.upstream, i.repository, i.tag, i.platforms]),
      [
        ['registry.corp:5000', 'team/app', '1.4', ['linux/amd64']],
        ['docker.io', 'library/alpine', '3.20', ['linux/arm64', 'linux/arm/v7']],
      ],
    );
  });

  test('unknown keys, bad platforms, bad YAML, empty lists and bad references name the problem', async () => {
    await assert.rejects(readImageList(CONFIG, await list('key.yaml', 'images: [x]\nextra: 1\n')), /unknown key "extra"/);
    await assert.rejects(
      readImageList(CONFIG, await list('plat.yaml', 'images:\n  - ref: alpine\n    platforms: [linux]\n')),
      /images\.0\.platforms\.0: expected os\/arch/,
    );
    await assert.rejects(readImageList(CONFIG, await list('yaml.yaml', 'images: [\n')), /invalid YAML/);
    await assert.rejects(readImageList(CONFIG, await list('empty.yaml', 'images: []\n')), /at least one image/);
    await assert.rejects(readImageList(CONFIG, await list('ref.yaml', 'images: [ghcr.io/a/b:1]\n')), /images\.1?0?: .*not an upstream/);
    await assert.rejects(readImageList(CONFIG, join(dir, 'absent.yaml')), /cannot read the images list/);
  });
});
