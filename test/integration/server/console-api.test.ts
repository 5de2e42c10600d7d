import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../../harness/notary-cli.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { runOk } from '../../harness/process.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// The console's JSON API: recent decisions of real pulls (a Notary-signed and an unsigned tag,
// trust data written by the notary CLI), filters, denials grouped by reason, kept across a
// restart, and refused to anyone but admin.allow principals when clients authenticate.

interface Decision {
  verdict: string;
  reason: string;
  message?: string;
  repository: string;
  reference: string;
  formats: string[];
  digest?: string;
}

interface DenialGroup {
  reason: string;
  count: number;
  message: string;
  advice: string;
  repositories: string[];
}

interface Answers {
  decisions: { decisions: Decision[] };
  denials: { denials: DenialGroup[] };
  error: { errors: Array<{ code: string; message: string }> };
  cache: { samples: unknown[]; current?: { upstreamBytes: number; hits: number; misses: number } };
  inventory: { repositories: Array<{ repository: string; tags: Array<{ tag: string; digest: string; formats: string[]; signers: string[] }> }> };
}

/** GET `path`: its status, and its JSON body in the shape `kind` names (the assertions check it). */
async function api<K extends keyof Answers>(base: string, path: string, kind: K): Promise<{ status: number; body: Answers[K] }> {
  const res = await fetch(`${base}${path}`);
  assert.equal(res.headers.get('content-type')?.startsWith('application/json'), true, `${kind} answer of ${path} is JSON`);
  return { status: res.status, body: (await res.json()) as Answers[K] };
}

describe('console API', () => {
  let upstream: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: Signet;
  let signed: PushedImage;
  let clientSaw: string;

  before(async () => {
    [upstream, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
    cli = await createNotaryCli({ server: notary });
    signed = await pushImage(upstream, 'library/hello', '1.0');
    await pushImage(upstream, 'library/hello', '2.0');
    await cli.init('docker.io/library/hello');
    await cli.addHash('docker.io/library/hello', '1.0', signed.size, signed.digest.slice('sha256:'.length));
    signet = await startSignet({
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        policy: { default: 'enforce', rules: [{ match: 'docker.io/**', mode: 'enforce', require: { notary: { roots: { tofu: true } } } }] },
        console: { enabled: true },
      },
    });
    const ok = await fetch(`${signet.url}/v2/library/hello/manifests/1.0`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(ok.status, 200);
    await ok.arrayBuffer();
    const denied = await fetch(`${signet.url}/v2/library/hello/manifests/2.0`, { headers: { accept: MANIFEST_ACCEPT } });
    assert.equal(denied.status, 403);
    clientSaw = ((await denied.json()) as { errors: Array<{ message: string }> }).errors[0]?.message ?? '';
  });
  after(() => stopAll(signet, cli, upstream, notary));

  test('lists the allowed and the denied pull, newest first, with the message the client saw', async () => {
    const { status, body } = await api(signet.url, '/api/v1/decisions?kind=manifest', 'decisions');
    assert.equal(status, 200);
    const denied = body.decisions[0];
    const allowed = body.decisions[1];
    assert.ok(denied && allowed, 'two decisions');
    assert.equal(denied.verdict, 'denied');
    assert.equal(denied.reason, 'tag_not_signed');
    assert.equal(denied.reference, '2.0');
    assert.ok(clientSaw.length > 0 && denied.message !== undefined && clientSaw.includes(denied.message), `${denied.message ?? ''} in ${clientSaw}`);
    assert.deepEqual(denied.formats, ['notary']);
    assert.equal(allowed.verdict, 'allowed');
    assert.equal(allowed.reference, '1.0');
    assert.equal(allowed.digest, signed.digest);
    assert.deepEqual(allowed.formats, ['notary']);
  });

  test('filters, and refuses a query it does not understand', async () => {
    const denied = await api(signet.url, '/api/v1/decisions?verdict=denied', 'decisions');
    assert.ok(denied.body.decisions.length >= 1);
    assert.ok(denied.body.decisions.every((d) => d.verdict === 'denied'));
    const none = await api(signet.url, '/api/v1/decisions?repository=library/other', 'decisions');
    assert.deepEqual(none.body.decisions, []);
    const bad = await api(signet.url, '/api/v1/decisions?verdict=maybe', 'error');
    assert.equal(bad.status, 400);
    assert.match(bad.body.errors[0]?.message ?? '', /verdict must be one of allowed, denied, audited/);
    const unknown = await api(signet.url, '/api/v1/nothing', 'error');
    assert.equal(unknown.status, 404);
  });

  test('groups denials by reason, with what to do', async () => {
    const { body } = await api(signet.url, '/api/v1/denials', 'denials');
    const group = body.denials.find((g) => g.reason === 'tag_not_signed');
    assert.ok(group);
    assert.ok(group.count >= 1);
    assert.deepEqual(group.repositories, ['docker.io/library/hello']);
    assert.match(group.advice, /sign it/);
  });

  test('shows the signed tag in the inventory, with its signer', async () => {
    const { body } = await api(signet.url, '/api/v1/inventory', 'inventory');
    const hello = body.repositories.find((r) => r.repository === 'library/hello');
    assert.ok(hello, 'library/hello in the inventory');
    assert.deepEqual(
      hello.tags.map((t) => [t.tag, t.digest, t.formats, t.signers]),
      [['1.0', signed.digest, ['notary'], ['targets']]],
    );
  });

  test('reports the health of the trust data it verified: each role with its expiry', async () => {
    const res = await fetch(`${signet.url}/api/v1/trust`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as {
      items: Array<{ format: string; kind: string; name: string; scope: string; remainingSeconds?: number }>;
      warnings: unknown[];
    };
    const roles = body.items.filter((i) => i.format === 'notary' && i.kind === 'metadata').map((i) => i.name);
    assert.deepEqual(roles, ['timestamp', 'snapshot', 'targets', 'root']);
    assert.ok(body.items.every((i) => i.scope.startsWith('docker.io/library/hello on ')));
    const timestamp = body.items.find((i) => i.name === 'timestamp');
    assert.ok(timestamp?.remainingSeconds !== undefined && timestamp.remainingSeconds > 13 * 86_400, 'a fresh 14-day timestamp');
    assert.deepEqual(body.warnings, []);
  });

  test('reports the cache and upstream counters of the interval still open', async () => {
    const { body } = await api(signet.url, '/api/v1/cache', 'cache');
    assert.ok(Array.isArray(body.samples));
    assert.ok(body.current && body.current.upstreamBytes > 0, 'the pulls fetched from the upstream');
  });

  test('keeps the decisions across a restart, and reports the saved trust state before any pull', async () => {
    await signet.restart();
    const { body } = await api(signet.url, '/api/v1/decisions?reason=tag_not_signed', 'decisions');
    assert.ok(body.decisions.length >= 1);
    const trust = (await (await fetch(`${signet.url}/api/v1/trust`)).json()) as {
      items: Array<{ kind: string; name: string; scope: string; saved?: boolean }>;
    };
    const roles = trust.items.filter((i) => i.kind === 'metadata');
    assert.deepEqual(
      roles.map((i) => [i.name, i.saved]),
      [
        ['timestamp', true],
        ['snapshot', true],
        ['targets', true],
        ['root', true],
      ],
    );
    assert.ok(roles.every((i) => i.scope.startsWith('docker.io/library/hello on ')));
  });
});

describe('console API with client authentication', () => {
  let signet: InProcessSignet;
  let dir: string;
  const basic = (user: string, password: string): Record<string, string> => ({
    authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
  });

  before(async () => {
    dir = await makeTempDir('console-auth');
    const lines = await Promise.all(
      [
        ['ops', 'ops-s3cret'],
        ['alice', 'alice-s3cret'],
      ].map(async ([u, p]) => (await runOk('htpasswd', ['-Bbn', u as string, p as string])).stdout.trim()),
    );
    const htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, `${lines.join('\n')}\n`);
    signet = await startInProcessSignet({
      upstreams: { 'docker.io': { url: 'http://127.0.0.1:9' } },
      defaultUpstream: 'docker.io',
      extra: { auth: { htpasswd }, admin: { allow: ['user:ops'] }, console: { enabled: true } },
    });
  });
  after(async () => {
    await signet.stop();
    await removeDir(dir);
  });

  test('is refused without credentials, and to users not in admin.allow', async () => {
    assert.equal((await fetch(`${signet.url}/api/v1/decisions`)).status, 401);
    assert.equal((await fetch(`${signet.url}/api/v1/decisions`, { headers: basic('alice', 'alice-s3cret') })).status, 403);
    const ops = await fetch(`${signet.url}/api/v1/decisions`, { headers: basic('ops', 'ops-s3cret') });
    assert.equal(ops.status, 200);
    assert.ok(Array.isArray(((await ops.json()) as { decisions: unknown[] }).decisions));
  });

  test('the console pages: a Basic challenge a browser can answer, then the page with a strict CSP', async () => {
    const anonymous = await fetch(`${signet.url}/console/decisions`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm="Signet console"/);
    assert.equal((await fetch(`${signet.url}/console/trust`, { headers: basic('alice', 'alice-s3cret') })).status, 403);
    const page = await fetch(`${signet.url}/console/trust`, { headers: basic('ops', 'ops-s3cret') });
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'none'; style-src 'self'; script-src 'self'/);
    assert.match(await page.text(), /^<!doctype html><html lang="en">.*Trust health/s);
    const css = await fetch(`${signet.url}/console/assets/console.css`, { headers: basic('ops', 'ops-s3cret') });
    assert.match(css.headers.get('content-type') ?? '', /^text\/css/);
    const root = await fetch(`${signet.url}/console`, { headers: basic('ops', 'ops-s3cret'), redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/console/decisions');
    const post = await fetch(`${signet.url}/console/decisions`, { method: 'POST', headers: basic('ops', 'ops-s3cret') });
    assert.equal(post.status, 405);
    const unknown = await fetch(`${signet.url}/console/nothing`, { headers: basic('ops', 'ops-s3cret') });
    assert.equal(unknown.status, 404);
    assert.match(((await unknown.json()) as { errors: Array<{ message: string }> }).errors[0]?.message ?? '', /the views are \/console\/decisions/);
    const bad = await fetch(`${signet.url}/console/decisions?verdict=maybe`, { headers: basic('ops', 'ops-s3cret') });
    assert.equal(bad.status, 400);
  });
});
