import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { eventually, poll } from '../../harness/poll.js';
import { run } from '../../harness/process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';
import { REPO_ROOT, startSignet, type Signet } from '../../harness/signet.js';

// Enforcement with trust data written by the real notary CLI against a real notary-server:
// signed tags resolve through the signed digest; everything else is denied with its reason.

const GUN = (repo: string): string => `docker.io/${repo}`;

async function get(signet: Signet, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: Buffer; headers: Headers }> {
  const res = await fetch(`${signet.url}${path}`, { headers: { accept: MANIFEST_ACCEPT, ...headers } });
  return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

function denial(body: Buffer): { code: string; message: string; reason: string | undefined } {
  const parsed = JSON.parse(body.toString('utf8')) as { errors: Array<{ code: string; message: string; detail?: { reason?: string } }> };
  const first = parsed.errors[0];
  assert.ok(first, 'an OCI error body');
  return { code: first.code, message: first.message, reason: first.detail?.reason };
}

describe('Docker Content Trust enforcement (notary CLI data)', () => {
  let upstream: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: Signet;
  let signed: PushedImage;
  let unsignedTag: PushedImage;
  let unsignedRepo: PushedImage;
  let sandbox: PushedImage;
  let auditDir: string;
  let auditPath: string;

  before(async () => {
    auditDir = await makeTempDir('audit');
    [upstream, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
    auditPath = join(auditDir, 'decisions.log');
    cli = await createNotaryCli({ server: notary });
    signed = await pushImage(upstream, 'library/hello', '1.0');
    unsignedTag = await pushImage(upstream, 'library/hello', '2.0');
    unsignedRepo = await pushImage(upstream, 'library/plain', '1.0');
    const strict = await pushImage(upstream, 'strict/app', '1.0');
    sandbox = await pushImage(upstream, 'sandbox/tool', '1.0');
    await cli.init(GUN('library/hello'));
    await cli.addHash(GUN('library/hello'), '1.0', signed.size, signed.digest.slice('sha256:'.length));
    await cli.init(GUN('strict/app'));
    await cli.addHash(GUN('strict/app'), '1.0', strict.size, strict.digest.slice('sha256:'.length));
    signet = await startSignet({
      upstreams: { 'docker.io': { url: upstream.url }, 'registry.example': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: {
          default: 'enforce',
          auditLog: auditPath,
          rules: [
            { match: 'docker.io/library/**', mode: 'enforce', require: { notary: { roots: { tofu: true } } } },
            { match: 'docker.io/sandbox/**', mode: 'audit', require: { notary: { roots: { tofu: true } } } },
          ],
        },
        trust: { freshnessSeconds: 300 },
      },
    });
  });
  after(async () => {
    await stopAll(signet, cli, upstream, notary);
    await removeDir(auditDir);
  });

  test('a signed tag is served as the signed digest, HEAD included', async () => {
    const res = await get(signet, '/v2/library/hello/manifests/1.0');
    assert.equal(res.status, 200, res.body.toString());
    assert.equal(res.headers.get('docker-content-digest'), signed.digest);
    assert.ok(res.body.equals(signed.manifest));
    const head = await fetch(`${signet.url}/v2/library/hello/manifests/1.0`, { method: 'HEAD', headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('docker-content-digest'), signed.digest);
    for (const blob of signed.blobs) {
      const b = await get(signet, `/v2/library/hello/blobs/${blob.digest}`);
      assert.equal(b.status, 200, `blob ${blob.digest} of the signed image`);
    }
  });

  test('a second pull within the freshness interval asks neither the registry nor the trust server', async () => {
    await get(signet, '/v2/library/hello/manifests/1.0');
    const before = await signet.metric('signet_upstream_requests_total');
    const res = await get(signet, '/v2/library/hello/manifests/1.0');
    assert.equal(res.status, 200);
    assert.equal(await signet.metric('signet_upstream_requests_total'), before);
  });

  test('an unsigned tag in a signed repository is denied', async () => {
    const res = await get(signet, '/v2/library/hello/manifests/2.0');
    assert.equal(res.status, 403);
    const d = denial(res.body);
    assert.equal(d.code, 'DENIED');
    assert.equal(d.reason, 'tag_not_signed');
    assert.match(d.message, /tag "2\.0" of docker\.io\/library\/hello is not signed/);
  });

  test('a repository without trust data is denied', async () => {
    const res = await get(signet, '/v2/library/plain/manifests/1.0');
    assert.equal(res.status, 403);
    assert.equal(denial(res.body).reason, 'no_trust_data');
  });

  test('digest pulls and blobs of unsigned images are denied', async () => {
    const byDigest = await get(signet, `/v2/library/hello/manifests/${unsignedTag.digest}`);
    assert.equal(byDigest.status, 403);
    assert.equal(denial(byDigest.body).reason, 'digest_not_authorised');
    const blob = unsignedRepo.blobs[0];
    assert.ok(blob);
    const res = await get(signet, `/v2/library/plain/blobs/${blob.digest}`);
    assert.equal(res.status, 403);
    // The signed digest itself may be pulled by digest.
    const signedByDigest = await get(signet, `/v2/library/hello/manifests/${signed.digest}`);
    assert.equal(signedByDigest.status, 200);
  });

  test('a repository with no trust configuration is denied with the keys to set', async () => {
    const res = await get(signet, '/v2/registry.example/library/hello/manifests/1.0');
    assert.equal(res.status, 403);
    const d = denial(res.body);
    assert.equal(d.reason, 'no_trust_config');
    assert.match(d.message, /set upstreams\.registry\.example\.trust\.notary\.url/);
    assert.match(d.message, /mode: off/);
  });

  test('a signed repository whose root is not pinned (and no TOFU) is denied', async () => {
    const res = await get(signet, '/v2/strict/app/manifests/1.0');
    assert.equal(res.status, 403);
    const d = denial(res.body);
    assert.equal(d.reason, 'root_not_pinned');
    assert.match(d.message, /require\.notary\.roots/);
  });

  test('decisions are counted by verdict and reason', async () => {
    const allowed = (): Promise<number> => signet.metric('signet_policy_decisions_total', { verdict: 'allowed' });
    const notSigned = (): Promise<number> => signet.metric('signet_policy_decisions_total', { verdict: 'denied', reason: 'tag_not_signed' });
    const [allowedBefore, notSignedBefore] = [await allowed(), await notSigned()];
    assert.equal((await get(signet, '/v2/library/hello/manifests/1.0')).status, 200);
    assert.equal((await get(signet, '/v2/library/hello/manifests/2.0')).status, 403);
    await eventually('both decisions counted', async () => {
      assert.ok((await allowed()) > allowedBefore, 'the allowed pull is counted');
      assert.ok((await notSigned()) > notSignedBefore, 'the denied pull is counted with its reason');
    });
  });

  test('audit mode lets an unsigned image through and logs what would have been denied', async () => {
    const res = await get(signet, '/v2/sandbox/tool/manifests/1.0');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), sandbox.digest);
    const blob = sandbox.blobs[0];
    assert.ok(blob);
    assert.equal((await get(signet, `/v2/sandbox/tool/blobs/${blob.digest}`)).status, 200);
    assert.ok((await signet.metric('signet_policy_decisions_total', { verdict: 'audited', reason: 'no_trust_data' })) > 0);
  });

  test('the audit log file has one JSON line per decision with the fields operators need', async () => {
    assert.equal((await get(signet, '/v2/library/hello/manifests/1.0')).status, 200);
    assert.equal((await get(signet, '/v2/library/hello/manifests/2.0')).status, 403);
    assert.equal((await get(signet, '/v2/sandbox/tool/manifests/1.0')).status, 200);
    type Line = Record<string, unknown>;
    const readLines = async (): Promise<Line[]> =>
      (await readFile(auditPath, 'utf8').catch(() => ''))
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Line);
    const found = await poll('the three decisions in the audit log', async () => {
      const lines = await readLines();
      const allowed = lines.find((l) => l['verdict'] === 'allowed' && l['reference'] === '1.0');
      const denied = lines.find((l) => l['verdict'] === 'denied' && l['reason'] === 'tag_not_signed');
      const audited = lines.find((l) => l['verdict'] === 'audited' && l['repository'] === 'sandbox/tool');
      return allowed && denied && audited ? { allowed, denied } : undefined;
    });
    const { allowed, denied } = found;
    for (const key of ['time', 'client', 'upstream', 'repository', 'reference', 'digest', 'verdict', 'reason', 'signers', 'trust'])
      assert.ok(key in allowed, `field ${key}`);
    assert.equal(allowed['digest'], signed.digest);
    assert.equal((allowed['trust'] as { name: string }).name, 'docker.io/library/hello');
    assert.match(String(denied['message']), /not signed/);
  });

  test('signet check gives the verdict with exit codes 0 allowed, 1 denied, 2 error', async () => {
    const check = (args: string[]) =>
      run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'check', ...args, '--config', signet.configPath], { cwd: REPO_ROOT });
    const ok = await check(['hello:1.0']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /ALLOWED/);
    assert.match(ok.stdout, new RegExp(signed.digest));
    const json = await check(['docker.io/library/hello:1.0', '--json']);
    assert.equal((JSON.parse(json.stdout) as { digest: string }).digest, signed.digest);
    const no = await check(['hello:2.0']);
    assert.equal(no.code, 1);
    assert.match(no.stdout, /DENIED/);
    assert.match(no.stdout, /tag_not_signed/);
    const bad = await check(['UPPER/case:1']);
    assert.equal(bad.code, 2);
    const inspect = await run(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'trust', 'inspect', 'hello', '--config', signet.configPath],
      { cwd: REPO_ROOT },
    );
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, new RegExp(`1\\.0\\s+${signed.digest}`));
    assert.match(inspect.stdout, /timestamp\s+version \d+\s+expires/);
  });

  test("metadata that has expired for Signet's clock is denied with the role and time (faketime)", async () => {
    // notary-server signs timestamps for 14 days; Signet, 15 days ahead, must refuse them.
    // (faketime cannot move Go programs, so the trust data is real and current; Signet's clock moves.)
    const future = await startSignet({
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      wrap: ['faketime', '+15 days'],
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: { default: 'enforce', rules: [{ match: 'docker.io/library/**', require: { notary: { roots: { tofu: true } } } }] },
      },
    });
    try {
      const res = await get(future, '/v2/library/hello/manifests/1.0');
      assert.equal(res.status, 403);
      const d = denial(res.body);
      assert.equal(d.reason, 'expired');
      assert.match(d.message, /timestamp metadata expired at \d{4}-\d\d-\d\dT/);
    } finally {
      await future.stop();
    }
  });
});
