import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_CONFIG_PATH, loadConfigFile, parseConfig } from '../../../src/config/load.js';
import { isLoopbackHost } from '../../../src/config/schema.js';
import { rejects } from './config-rejects.js';

const upstreams = `
upstreams:
  docker.io: {url: "http://127.0.0.1:5001"}
`;

test('the embedded default listens on loopback, lets local clients pull anonymously and read /metrics', async () => {
  const config = await loadConfigFile(DEFAULT_CONFIG_PATH);
  assert.equal(config.listen.host, '127.0.0.1');
  assert.equal(config.auth.enabled, false);
  assert.deepEqual(config.admin.allow, [{ kind: 'anonymous' }]);
  assert.equal(config.admin.listen, undefined);
  const hub = config.upstreams.get('docker.io');
  assert.ok(hub);
  assert.ok(hub.allowedHosts.includes('auth.docker.io'), "Docker Hub's token server is an allowed realm host");
  assert.equal(hub.allowPrivateAddresses, false);
});

test('a network listener without an auth section is refused, naming both ways out', () => {
  rejects(
    `listen: {host: 0.0.0.0}\n${upstreams}`,
    /^test\.yaml: auth: listen\.host 0\.0\.0\.0 accepts clients from the network.*configure auth.*pull: \[anonymous\]/,
  );
  rejects(`listen: {host: "::"}\n${upstreams}`, /auth: listen\.host :: accepts clients from the network/);
  // An explicit grant is enough.
  const open = parseConfig(`listen: {host: 0.0.0.0}\nauth: {access: [{match: "**", pull: [anonymous]}]}\n${upstreams}`, 'test.yaml');
  assert.equal(open.auth.enabled, true);
  assert.deepEqual(open.auth.access, [{ index: 0, match: '**', pull: [{ kind: 'anonymous' }] }]);
  assert.deepEqual(open.admin.allow, [], 'with auth on, nobody may read /metrics unless admin.allow says so');
});

test('loopback host names', () => {
  for (const h of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) assert.equal(isLoopbackHost(h), true, h);
  for (const h of ['0.0.0.0', '::', '10.0.0.1', 'signet.corp', '128.0.0.1']) assert.equal(isLoopbackHost(h), false, h);
});

test('principals parse; undefined groups and malformed principals are errors with their path', () => {
  const config = parseConfig(
    `auth:
  groups: {team-a: [alice, bob]}
  access:
    - {match: "docker.io/team-a/**", pull: [group:team-a, user:carol]}
    - {match: "docker.io/public/**", pull: [anonymous, authenticated]}
admin: {allow: [user:ops]}
${upstreams}`,
    'test.yaml',
  );
  assert.deepEqual(config.auth.groups.get('team-a'), ['alice', 'bob']);
  assert.deepEqual(config.auth.access[0]?.pull, [
    { kind: 'group', name: 'team-a' },
    { kind: 'user', name: 'carol' },
  ]);
  assert.deepEqual(config.auth.access[1]?.pull, [{ kind: 'anonymous' }, { kind: 'authenticated' }]);
  assert.deepEqual(config.admin.allow, [{ kind: 'user', name: 'ops' }]);
  rejects(`auth: {access: [{match: "**", pull: [group:nobody]}]}\n${upstreams}`, /auth\.access\.0\.pull\.0: group nobody is not defined in auth\.groups/);
  rejects(
    `auth: {access: [{match: "**", pull: [everyone]}]}\n${upstreams}`,
    /auth\.access\.0\.pull\.0: principals are anonymous, authenticated, user:<name> or group:<name>/,
  );
  rejects(`auth: {acess: []}\n${upstreams}`, /unknown key "auth\.acess"/);
});

test('client certificates need a CA bundle; the admin listener needs its own port', async () => {
  rejects(`auth: {clientCertificates: {user: commonName}}\n${upstreams}`, /auth\.clientCertificates: client certificates need listen\.tls\.clientCaFile/);
  rejects(
    `listen: {port: 5000, tls: {certFile: a, keyFile: b, clientCertificates: required}}\n${upstreams}`,
    /listen\.tls\.clientCertificates: required client certificates need listen\.tls\.clientCaFile/,
  );
  rejects(`listen: {port: 5000}\nadmin: {listen: {port: 5000}}\n${upstreams}`, /admin\.listen\.port: the admin listener needs a port of its own/);
  const dir = await mkdtemp(join(tmpdir(), 'signet-config-'));
  const ca = join(dir, 'ca.pem');
  await writeFile(ca, '-----BEGIN CERTIFICATE-----\n');
  const config = parseConfig(
    `listen: {tls: {certFile: a, keyFile: b, clientCaFile: ${ca}}}\nauth: {clientCertificates: {}}\nadmin: {listen: {port: 9090}}\n${upstreams}`,
    'test.yaml',
  );
  assert.equal(config.listen.tls?.clientCa, '-----BEGIN CERTIFICATE-----\n', 'the CA bundle is read at load');
  assert.equal(config.listen.tls.clientCertificates, 'optional');
  assert.deepEqual(config.auth.clientCertificates, { user: 'commonName' });
  assert.deepEqual(config.admin.listen, { host: '127.0.0.1', port: 9090 });
  rejects(`listen: {tls: {certFile: a, keyFile: b, clientCaFile: ${join(dir, 'missing.pem')}}}\n${upstreams}`, /listen\.tls\.clientCaFile: cannot read/);
});

test('limits, client timeouts, audit rotation and upstream host rules have defaults and are validated', () => {
  const config = parseConfig(upstreams, 'test.yaml');
  assert.deepEqual(config.limits, { clientRequestsPerSecond: 100, clientBurst: 1000 });
  assert.deepEqual(config.listen.timeouts, { headersMs: 10_000, requestMs: 60_000, keepAliveMs: 5_000, sendMs: 60_000 });
  assert.equal(config.listen.maxConnections, 1024);
  assert.equal(config.policy.auditLogMaxBytes, 100 * 1024 ** 2);
  assert.equal(config.policy.auditLogFiles, 5);
  assert.equal(config.policy.auditRepeatSeconds, 60);
  const u = config.upstreams.get('docker.io');
  assert.deepEqual(u?.allowedHosts, []);
  assert.equal(u.ca, undefined);
  const custom = parseConfig(
    `policy: {auditLogMaxBytes: 10MiB, auditLogFiles: 2}
upstreams:
  registry.corp: {url: "https://registry.corp", allowedHosts: ["*.s3.amazonaws.com", "storage.corp:9000", "[fd00::1]:443"]}
`,
    'test.yaml',
  );
  assert.equal(custom.policy.auditLogMaxBytes, 10 * 1024 ** 2);
  assert.deepEqual(custom.upstreams.get('registry.corp')?.allowedHosts, ['*.s3.amazonaws.com', 'storage.corp:9000', '[fd00::1]:443']);
  rejects(
    `upstreams:\n  r.corp: {url: "https://r.corp", allowedHosts: ["https://x.corp/path"]}\n`,
    /upstreams\.r\.corp\.allowedHosts\.0: allowed hosts are host, host:port or \*\.domain/,
  );
  rejects(`limits: {clientBurst: 0}\n${upstreams}`, /limits\.clientBurst/);
  rejects(`listen: {timeouts: {sendMs: -1}}\n${upstreams}`, /listen\.timeouts\.sendMs/);
});
