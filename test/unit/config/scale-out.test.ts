import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { test } from 'node:test';
import { parseConfig } from '../../../src/config/load.js';
import { rejects } from './config-rejects.js';

// `storage.s3` and `state.redis`: the backends replicas share. Secrets come inline, from a
// file or from the environment, and never show in a printed config.

const upstream = 'upstreams:\n  docker.io: {url: "http://127.0.0.1:5001"}\n';

test('without storage.s3 and state.redis the disk backends are used', () => {
  const config = parseConfig(upstream, 'test.yaml', { env: {} });
  assert.equal(config.storage.s3, undefined);
  assert.equal(config.state.redis, undefined);
});

test('S3 content and Redis state, with secrets from a file and the environment', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'scale-config-'));
  const secretFile = join(dir, 's3-secret');
  await writeFile(secretFile, 'the-secret\n');
  const config = parseConfig(
    `${upstream}storage:\n  path: /var/lib/signet\n  s3: {endpoint: "http://127.0.0.1:7480", bucket: signet-cache, prefix: "cache/", forcePathStyle: true, accessKeyIdEnv: S3_KEY, secretAccessKeyFile: ${JSON.stringify(secretFile)}}\nstate:\n  redis: {url: "redis://127.0.0.1:6379/0", passwordEnv: REDIS_PASSWORD}\n`,
    'test.yaml',
    { env: { S3_KEY: 'AKIA-TEST', REDIS_PASSWORD: 'redis-pass' } },
  );
  const s3 = config.storage.s3;
  assert.ok(s3);
  assert.equal(s3.endpoint, 'http://127.0.0.1:7480');
  assert.equal(s3.region, 'us-east-1');
  assert.equal(s3.bucket, 'signet-cache');
  assert.equal(s3.prefix, 'cache/');
  assert.equal(s3.forcePathStyle, true);
  const credentials = s3.credentials;
  assert.ok(credentials);
  assert.equal(credentials.accessKeyId.reveal(), 'AKIA-TEST');
  assert.equal(credentials.secretAccessKey.reveal(), 'the-secret');
  const redis = config.state.redis;
  assert.ok(redis);
  assert.equal(redis.url, 'redis://127.0.0.1:6379/0');
  assert.equal(redis.password?.reveal(), 'redis-pass');
  assert.equal(redis.keyPrefix, 'signet:');
  assert.equal(redis.connectTimeoutMs, 5000);
  const printed = inspect(config, { depth: 10 });
  for (const secret of ['AKIA-TEST', 'the-secret', 'redis-pass']) assert.ok(!printed.includes(secret), `${secret} is printed`);
});

test('bad backend settings are refused with the key path and what to do', () => {
  const redis = 'state:\n  redis: {url: "redis://127.0.0.1:6379"}\n';
  rejects(
    `${upstream}storage:\n  s3: {bucket: signet}\n`,
    /storage\.s3: content in S3 is shared by replicas, whose state must be shared too: configure state\.redis/,
  );
  rejects(`${upstream}${redis}storage:\n  s3: {bucket: "Not A Bucket"}\n`, /storage\.s3\.bucket: S3 bucket names/);
  rejects(`${upstream}${redis}storage:\n  s3: {bucket: signet, endpoint: "ftp://x"}\n`, /storage\.s3\.endpoint: expected an http\(s\) URL/);
  rejects(
    `${upstream}${redis}storage:\n  s3: {bucket: signet, accessKeyId: a}\n`,
    /storage\.s3\.secretAccessKey: give both the access key ID and the secret access key/,
  );
  rejects(
    `${upstream}${redis}storage:\n  s3: {bucket: signet, accessKeyId: a, accessKeyIdEnv: B, secretAccessKey: c}\n`,
    /storage\.s3\.accessKeyId: set one of/,
  );
  rejects(`${upstream}${redis}storage:\n  s3: {bucket: signet, prefix: "no-slash"}\n`, /storage\.s3\.prefix: a key prefix ends with "\/"/);
  rejects(`${upstream}${redis}storage:\n  s3: {bucket: signet, region: eu-1, redirect: true}\n`, /unknown key "storage\.s3\.redirect"/);
  rejects(`${upstream}state:\n  redis: {url: "http://127.0.0.1:6379"}\n`, /state\.redis\.url: expected a redis:\/\/ or rediss:\/\/ URL/);
  rejects(`${upstream}state:\n  redis: {url: "redis://h", caFile: /etc/ca.pem}\n`, /state\.redis\.caFile: caFile applies to rediss:\/\/ \(TLS\) URLs only/);
  rejects(`${upstream}state:\n  redis: {url: "redis://h", passwordEnv: NOT_SET}\n`, /state\.redis\.passwordEnv: environment variable NOT_SET is not set/);
  rejects(`${upstream}state:\n  memcached: {}\n`, /unknown key "state\.memcached"/);
  rejects(
    `upstreams:\n  corp.example: {offline: true}\n${redis}`,
    /upstreams\.corp\.example\.offline: imported bundles and their trust state are kept on the machine that imported them/,
  );
});
