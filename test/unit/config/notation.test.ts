import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig, type FormatRequirement, type NotationRequirements } from '../../../src/config/load.js';
import { rejects } from './config-rejects.js';

// `require.notation` and `trust.revocation`: notation's own files by path (the trust store
// beside the trust policy by default), or the same content inline; limits before reading.

const upstream = 'upstreams:\n  registry.corp: {url: "http://127.0.0.1:5001"}\n';

function notationOf(entry: FormatRequirement | undefined): NotationRequirements {
  assert.ok(entry?.format === 'notation', `a notation requirement, got ${entry?.format ?? 'none'}`);
  return entry.requirement;
}

const POLICY = { version: '1.0', trustPolicies: [] };

test('a trust policy file is read as JSON, and the trust store defaults to truststore/ beside it, as notation keeps it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'notation-config-'));
  const policy = join(dir, 'trustpolicy.oci.json');
  await writeFile(policy, JSON.stringify(POLICY));
  const config = parseConfig(
    `${upstream}policy:\n  rules: [{match: "registry.corp/**", require: {notation: {trustPolicy: ${JSON.stringify(policy)}}}}]\n`,
    'test.yaml',
    {
      env: {},
    },
  );
  const r = notationOf(config.policy.rules[0]?.require.entries[0]);
  assert.deepEqual(r.trustPolicy, { path: policy, json: POLICY });
  assert.deepEqual(r.trustStore, { kind: 'directory', path: join(dir, 'truststore') });
  assert.equal(r.threshold, 1);
  assert.equal(r.path, 'policy.rules.0.require.notation');
  assert.deepEqual(config.trust.revocation, { allowedHosts: [], timeoutMs: 5000, maxResponseBytes: 10 * 1024 ** 2 });
});

test('an inline trust policy and inline trust stores (PEM files read now)', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'notation-config-'));
  const pem = join(dir, 'root.pem');
  await writeFile(pem, '-----BEGIN CERTIFICATE-----\nMA==\n-----END CERTIFICATE-----\n');
  const config = parseConfig(
    `${upstream}trust: {revocation: {allowedHosts: ["ocsp.corp:8080", "*.crl.corp"], timeoutMs: 900, maxResponseBytes: 1MiB}}\npolicy:\n  rules:\n    - match: "registry.corp/**"\n      require:\n        notation:\n          trustPolicy: {version: "1.0", trustPolicies: []}\n          trustStores: {ca: {corp: [${JSON.stringify(pem)}]}}\n          threshold: 2\n          repository: sigs/store\n`,
    'test.yaml',
    { env: {} },
  );
  const r = notationOf(config.policy.rules[0]?.require.entries[0]);
  assert.deepEqual(r.trustPolicy, { path: 'policy.rules.0.require.notation.trustPolicy', json: POLICY });
  assert.ok(r.trustStore.kind === 'inline');
  assert.deepEqual(Object.keys(r.trustStore.stores.ca), ['corp']);
  assert.match(r.trustStore.stores.ca['corp']?.[0]?.pem ?? '', /BEGIN CERTIFICATE/);
  assert.deepEqual(r.trustStore.stores.tsa, {});
  assert.equal(r.threshold, 2);
  assert.equal(r.repository, 'sigs/store');
  assert.deepEqual(config.trust.revocation, { allowedHosts: ['ocsp.corp:8080', '*.crl.corp'], timeoutMs: 900, maxResponseBytes: 1024 ** 2 });
});

test('bad notation settings are refused with the key path and what to do', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'notation-config-'));
  const notJson = join(dir, 'bad.json');
  await writeFile(notJson, '{');
  const big = join(dir, 'big.json');
  await writeFile(big, `{"pad": "${'x'.repeat(1024 ** 2 + 1)}"}`);
  const rule = (notation: string): string => `${upstream}policy:\n  rules: [{match: "registry.corp/**", require: {notation: ${notation}}}]\n`;
  rejects(rule('{trustPolicy: {version: "1.0"}}'), /policy\.rules\.0\.require\.notation\.trustStore: an inline trust policy needs trustStore/);
  rejects(rule('{trustPolicy: x.json, trustStore: /etc/ts, trustStores: {}}'), /trustStores: set trustStore \(a directory\) or trustStores/);
  rejects(rule(`{trustPolicy: ${JSON.stringify(notJson)}}`), /policy\.rules\.0\.require\.notation\.trustPolicy: .*bad\.json is not JSON/);
  rejects(rule(`{trustPolicy: ${JSON.stringify(big)}}`), /big\.json is over the 1048576-byte limit/);
  rejects(rule(`{trustPolicy: ${JSON.stringify(join(dir, 'absent.json'))}}`), /cannot read .*absent\.json/);
  rejects(rule('{trustPolicy: x.json, trustStores: {ca: {"bad name": [a.pem]}}}'), /trust store names are letters/);
  rejects(rule('{trustPolicy: x.json, trustStores: {certs: {}}}'), /unknown key "policy\.rules\.0\.require\.notation\.trustStores\.certs"/);
  rejects(rule('{trustPolicy: x.json, threshold: 0}'), /threshold/);
  rejects(
    `${upstream}trust: {revocation: {allowedHosts: ["http://ocsp.corp"]}}\n`,
    /trust\.revocation\.allowedHosts\.0: expected host, host:port or \*\.domain/,
  );
  rejects(`${upstream}trust: {revocation: {retries: 3}}\n`, /unknown key "trust\.revocation\.retries"/);
});
