import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import {
  DEFAULT_CONFIG_PATH,
  loadConfigFile,
  parseConfig,
  type CosignRequirements,
  type FormatRequirement,
  type NotaryRequirements,
} from '../../../src/config/load.js';
import { rejects } from './config-rejects.js';

const minimal = `
upstreams:
  docker.io: {url: "http://127.0.0.1:5001"}
policy: {default: "off"}
`;

function notaryOf(entry: FormatRequirement | undefined): NotaryRequirements {
  assert.ok(entry?.format === 'notary', `a notary requirement, got ${entry?.format ?? 'none'}`);
  return entry.requirement;
}

function cosignOf(entry: FormatRequirement | undefined): CosignRequirements {
  assert.ok(entry?.format === 'cosign', `a cosign requirement, got ${entry?.format ?? 'none'}`);
  return entry.requirement;
}

test('the embedded default config loads as is', async () => {
  const config = await loadConfigFile(DEFAULT_CONFIG_PATH);
  assert.equal(config.listen.port, 5000);
  assert.equal(config.defaultUpstream, 'docker.io');
  assert.equal(config.upstreams.get('docker.io')?.officialNamespace, 'library');
  assert.equal(config.storage.maxBytes, 20 * 1024 ** 3);
});

test('defaults fill every omitted key', () => {
  const config = parseConfig(minimal, 'test.yaml');
  assert.equal(config.listen.host, '127.0.0.1');
  assert.equal(config.defaultUpstream, 'docker.io', 'a single upstream is the default');
  const u = config.upstreams.get('docker.io');
  assert.equal(u?.retries.max, 3);
  assert.equal(u.timeouts.connectMs, 10_000);
});

test('unknown keys are rejected with their full path', () => {
  rejects(`${minimal}\nlisten: {host: a, prot: 1}\n`, /unknown key "listen\.prot"/);
  rejects(`upstreams:\n  docker.io: {url: "http://x", credential: {}}\npolicy: {default: "off"}\n`, /unknown key "upstreams\.docker\.io\.credential"/);
  rejects(`${minimal}\nextra: 1\n`, /unknown key "extra"/);
});

test('invalid values name their path and what to do', () => {
  rejects(`${minimal}\nstorage: {maxBytes: "lots"}\n`, /storage\.maxBytes: "lots" is not a size/);
  rejects(`upstreams:\n  docker.io: {url: "ftp://x"}\npolicy: {default: "off"}\n`, /upstreams\.docker\.io\.url/);
  rejects(`upstreams:\n  docker.io: {url: "http://x/v2/"}\npolicy: {default: "off"}\n`, /registry root/);
  rejects(`upstreams:\n  Bad_Name: {url: "http://x"}\npolicy: {default: "off"}\n`, /host names/);
  rejects(`${minimal}\ndefaultUpstream: ghcr.io\n`, /defaultUpstream: "ghcr\.io" is not one of upstreams \(docker\.io\)/);
  rejects(`${minimal}\nlisten: {port: 70000}\n`, /listen\.port/);
  rejects('upstreams: [\n', /invalid YAML/);
  rejects(`${minimal}\nlisten: {port: 1}\nlisten: {port: 2}\n`, /invalid YAML/);
});

test('sizes accept units', () => {
  const config = parseConfig(`${minimal}\nstorage: {maxBytes: 512MiB}\ncache: {manifestMemoryBytes: "2 GB"}\n`, 't');
  assert.equal(config.storage.maxBytes, 512 * 1024 ** 2);
  assert.equal(config.cache.manifestMemoryBytes, 2e9);
});

test('policy rules, trust servers and requirements resolve with their defaults', () => {
  const config = parseConfig(
    `upstreams:
  docker.io:
    url: "http://x"
    trust: {notary: {url: "https://notary.example"}}
policy:
  rules:
    - match: "docker.io/acme/**"
      require: {notary: {signers: [alice, bob], roots: {tofu: true}}}
    - match: "docker.io/sandbox/**"
      mode: audit
`,
    't',
  );
  assert.equal(config.policy.default, 'enforce', 'enforce out of the box');
  assert.equal(config.upstreams.get('docker.io')?.trust.notary?.gun, '{registry}/{repository}');
  const [acme, sandbox] = config.policy.rules;
  assert.equal(acme?.mode, 'enforce');
  const notary = notaryOf(acme.require.entries[0]);
  assert.equal(notary.threshold, 2, 'threshold defaults to all signers');
  assert.equal(notary.roots.tofu, true);
  assert.equal(sandbox?.mode, 'audit');
  assert.equal(config.trust.freshnessSeconds, 60);
  const upstreamOnly = 'upstreams:\n  docker.io: {url: "http://127.0.0.1:5001"}\n';
  rejects(`${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {notary: {signers: [alice], threshold: 2}}}]\n`, /threshold 2 is more than the 1 signer/);
  rejects(`${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {notary: {roots: {keyIds: [nothex]}}}}]\n`, /key IDs are 64 lowercase hex/);
  rejects(`upstreams:\n  d.io: {url: "http://x", trust: {notary: {url: "http://n", gun: "fixed"}}}\n`, /gun must contain \{repository\}/);
  rejects(`${upstreamOnly}policy:\n  rules: [{match: "x/**", mod: off}]\n`, /unknown key "policy\.rules\.0\.mod"/);
  rejects(`${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {anyOf: [{notary: {}}], notary: {}}}]\n`, /use one form/);
  rejects(
    `${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {anyOf: [{}]}}]\n`,
    /policy\.rules\.0\.require\.anyOf\.0: each entry names exactly one format/,
  );
  rejects(
    `${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {anyOf: [{notation: {}}]}}]\n`,
    /policy\.rules\.0\.require\.anyOf\.0\.notation\.trustPolicy: expected the path of a trustpolicy\.oci\.json file/,
  );
  rejects(
    `${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {anyOf: [{sigstore: {}}]}}]\n`,
    /unknown key "policy\.rules\.0\.require\.anyOf\.0\.sigstore"/,
  );
});

test('require: format keys are all required, anyOf / allOf list alternatives, each with its config path', () => {
  const config = parseConfig(
    `
upstreams:
  docker.io: {url: "http://127.0.0.1:5001", trust: {notary: {url: "http://127.0.0.1:4443"}}}
policy:
  rules:
    - match: "docker.io/move/**"
      trust: {notary: {url: "http://127.0.0.1:4444"}}
      require: {anyOf: [{notary: {roots: {tofu: true}}}, {notary: {signers: [ci]}}]}
    - match: "docker.io/plain/**"
`,
    't',
  );
  const [move, plain] = config.policy.rules;
  assert.equal(move?.require.combine, 'anyOf');
  assert.deepEqual(
    move.require.entries.map((e) => [e.format, e.requirement.path, notaryOf(e).server?.url.port]),
    [
      ['notary', 'policy.rules.0.require.anyOf.0.notary', '4444'],
      ['notary', 'policy.rules.0.require.anyOf.1.notary', '4444'],
    ],
  );
  // No require: Notary with nothing pinned, so pulls are denied with the keys to set.
  assert.equal(plain?.require.combine, 'allOf');
  assert.deepEqual(notaryOf(plain.require.entries[0]).roots, { keyIds: [], caPems: [], tofu: false });
  assert.equal(config.policy.defaultRequire.entries[0]?.requirement.path, 'policy.rules[].require.notary');
});

test('credentials come from inline, env or file, exactly one, and are never printed', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'signet-config-'));
  const file = join(dir, 'pw');
  await writeFile(file, 's3cret-file\n');
  const base = (creds: string): string => `upstreams:\n  r.example: {url: "http://x", credentials: ${creds}}\npolicy: {default: "off"}\n`;
  const fromFile = parseConfig(base(`{username: u, passwordFile: "${file}"}`), 't');
  assert.equal(fromFile.upstreams.get('r.example')?.credentials?.password.reveal(), 's3cret-file');
  const fromEnv = parseConfig(base('{username: u, passwordEnv: PW}'), 't', { env: { PW: 's3cret-env' } });
  const creds = fromEnv.upstreams.get('r.example')?.credentials;
  assert.equal(creds?.password.reveal(), 's3cret-env');
  assert.doesNotMatch(JSON.stringify(creds), /s3cret/);
  assert.doesNotMatch(inspect(creds), /s3cret/);
  assert.doesNotMatch(String(creds.password), /s3cret/);
  rejects(base('{username: u, passwordEnv: NOPE}'), /environment variable NOPE is not set/);
  rejects(base('{username: u, password: a, passwordEnv: B}'), /exactly one of password, passwordFile or passwordEnv/);
  rejects(base(`{username: u, passwordFile: "${join(dir, 'missing')}"}`), /passwordFile: cannot read/);
});

test('require.cosign: keys and trusted root are read at load, identities say how the subject matches, and contradictions are errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'signet-cosign-config-'));
  const key = join(dir, 'cosign.pub');
  const root = join(dir, 'trusted_root.json');
  await writeFile(key, '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n');
  await writeFile(root, '{"mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1"}');
  const upstreamOnly = 'upstreams:\n  ghcr.io: {url: "http://127.0.0.1:5001"}\n';
  const config = parseConfig(
    `${upstreamOnly}policy:
  rules:
    - match: "ghcr.io/acme/**"
      require:
        anyOf:
          - cosign: {keys: ["${key}"], tlog: false}
          - cosign:
              trustedRoot: "${root}"
              threshold: 2
              identities:
                - {issuer: "https://token.actions.githubusercontent.com", subjectGlob: "https://github.com/acme/*/.github/workflows/release.yml@refs/tags/*"}
                - {issuer: "https://accounts.google.com", subject: "release@acme.example", extensions: {githubWorkflowRepository: acme/app}}
`,
    't',
  );
  const [rule] = config.policy.rules;
  assert.ok(rule);
  const keyBased = cosignOf(rule.require.entries[0]);
  const [firstKey] = keyBased.keys;
  assert.ok(firstKey);
  assert.equal(firstKey.path, key);
  assert.match(firstKey.pem, /BEGIN PUBLIC KEY/);
  assert.equal(keyBased.tlog, false);
  assert.equal(keyBased.path, 'policy.rules.0.require.anyOf.0.cosign');
  const keyless = cosignOf(rule.require.entries[1]);
  assert.deepEqual(
    keyless.identities.map((i) => i.subject.kind),
    ['glob', 'exact'],
  );
  assert.equal(keyless.threshold, 2);
  assert.equal(keyless.tlog, true, 'a transparency-log entry is required by default');
  assert.deepEqual((keyless.trustedRoot?.json as { mediaType: string }).mediaType, 'application/vnd.dev.sigstore.trustedroot+json;version=0.1');
  const rule0 = (body: string) => `${upstreamOnly}policy:\n  rules: [{match: "x/**", require: {cosign: ${body}}}]\n`;
  rejects(rule0('{}'), /name at least one of keys or identities/);
  rejects(rule0(`{keys: ["${key}"]}`), /tlog: true.*trustedRoot/);
  rejects(rule0(`{identities: [{issuer: i, subject: s}], tlog: false}`), /keyless identities need a trustedRoot/);
  rejects(rule0(`{identities: [{issuer: i, subject: s, subjectGlob: g}], trustedRoot: "${root}"}`), /exactly one of subject, subjectGlob or subjectRegExp/);
  rejects(rule0(`{identities: [{issuer: i, subjectRegExp: "("}], trustedRoot: "${root}"}`), /not a valid regular expression/);
  rejects(rule0(`{keys: ["${key}"], tlog: false, threshold: 2}`), /threshold 2 is more than the 1 keys and identities/);
  rejects(rule0(`{keys: ["${join(dir, 'missing.pub')}"], tlog: false}`), /policy\.rules\.0\.require\.cosign\.keys\.0: cannot read/);
  rejects(rule0(`{keys: ["${key}"], tlg: false}`), /unknown key "policy\.rules\.0\.require\.cosign\.tlg"/);
});
