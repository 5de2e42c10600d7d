import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { generateKeyPairSync } from 'node:crypto';
import { stopAll } from '../harness/cleanup.js';
import { pushImage, type PushedImage } from '../harness/images.js';
import { createNotaryCli, type NotaryCli } from '../harness/notary-cli.js';
import { pushNotationSignature } from '../harness/notation-oci.js';
import { certificateChain, createNotationPki, writeTrustStore, type NotationPki } from '../harness/notation-pki.js';
import { signNotation } from '../harness/notation-sign.js';
import { startNotaryServer, type NotaryServer } from '../harness/notary-server.js';
import { runOk } from '../harness/process.js';
import { startRegistry, type Registry } from '../harness/registry.js';
import { REPO_ROOT, startSignet, type Signet } from '../harness/signet.js';
import { skopeoPull } from '../harness/skopeo.js';
import { makeTempDir, removeDir } from '../harness/tmp.js';

// The operator console in a real browser: Debian's Chromium driven by playwright-core (no
// browser download), against a Signet whose decisions come from real pulls (skopeo) of a
// Notary-signed and an unsigned tag, trust data written by the notary CLI. Signet runs 12 days
// ahead (faketime) so that the 14-day timestamp notary-server signed expires within its last
// 72 hours: the trust view must warn about it. A screenshot of each view goes to
// test-output/console/ (or $SIGNET_TEST_OUTPUT/console/).

const CHROMIUM = '/usr/bin/chromium';
/** The machine has no outside network: Chromium must not try to reach Google at start. */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
const OUTPUT = join(process.env.SIGNET_TEST_OUTPUT ?? join(REPO_ROOT, 'test-output'), 'console');
const ADMIN = { username: 'ops', password: 'ops-console-s3cret' };
const DAY_MS = 24 * 60 * 60 * 1000;

describe('operator console in Chromium', () => {
  let upstream: Registry;
  let notary: NotaryServer;
  let cli: NotaryCli;
  let signet: Signet;
  let signed: PushedImage;
  let dir: string;
  let browser: Browser;
  /** Set once Chromium started, so that `after` closes only what started. */
  let launched: Browser | undefined;
  let context: BrowserContext;
  let page: Page;
  let pull: (ref: string) => Promise<void>;
  let pki: NotationPki | undefined;

  before(async () => {
    dir = await makeTempDir('console-browser');
    await mkdir(OUTPUT, { recursive: true });
    const htpasswd = join(dir, 'htpasswd');
    await writeFile(htpasswd, `${(await runOk('htpasswd', ['-Bbn', ADMIN.username, ADMIN.password])).stdout.trim()}\n`);
    [upstream, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
    cli = await createNotaryCli({ server: notary });
    // A Notation-signed image whose signing certificate ends 20 days from now: 8 days for Signet.
    pki = await createNotationPki({ intermediate: true });
    // (Valid for 200 days before that: material that lives a month or less is warned about only in its last 72 hours.)
    const leaf = await pki.leaf({ notBefore: new Date(Date.now() - 200 * DAY_MS), notAfter: new Date(Date.now() + 20 * DAY_MS) });
    const app = await pushImage(upstream, 'notation/app', '1.0');
    const envelope = await signNotation({
      format: 'jws',
      key: leaf.privateKey,
      certChain: certificateChain(leaf),
      target: { mediaType: app.mediaType, digest: app.digest, size: app.size },
    });
    await pushNotationSignature(upstream, app.repo, app, envelope);
    const trustStore = join(dir, 'truststore');
    await writeTrustStore(trustStore, 'ca', 'corp', [pki.root]);
    const notation = {
      trustPolicy: {
        version: '1.0',
        trustPolicies: [
          {
            name: 'corp',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict', override: { revocation: 'log' } },
            trustStores: ['ca:corp'],
            trustedIdentities: ['*'],
          },
        ],
      },
      trustStore,
    };
    // A cosign rule with a pinned key: its key is listed (keys have no expiry).
    const cosignKey = join(dir, 'cosign.pub');
    await writeFile(cosignKey, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    signed = await pushImage(upstream, 'library/hello', '1.0');
    await pushImage(upstream, 'library/hello', '2.0');
    await pushImage(upstream, 'library/unsigned', 'latest');
    await cli.init('docker.io/library/hello', { serverManagedSnapshot: true });
    await cli.addHash('docker.io/library/hello', '1.0', signed.size, signed.digest.slice('sha256:'.length));
    signet = await startSignet({
      upstreams: { 'docker.io': { url: upstream.url } },
      defaultUpstream: 'docker.io',
      wrap: ['faketime', '+12 days'],
      extra: {
        upstreams: { 'docker.io': { trust: { notary: { url: notary.url } } } },
        auth: { htpasswd, access: [{ match: 'docker.io/**', pull: ['authenticated'] }] },
        admin: { allow: [`user:${ADMIN.username}`] },
        policy: {
          default: 'enforce',
          rules: [
            { match: 'docker.io/**', mode: 'enforce', require: { notary: { roots: { tofu: true } } } },
            { match: 'docker.io/notation/**', mode: 'enforce', require: { notation } },
            { match: 'docker.io/cosign/**', mode: 'enforce', require: { cosign: { keys: [cosignKey], tlog: false } } },
          ],
        },
        console: { enabled: true },
      },
    });
    const creds = ['--src-creds', `${ADMIN.username}:${ADMIN.password}`];
    pull = (ref) => skopeoPull(`docker://${signet.host}/${ref}`, creds).then(() => undefined);
    await pull('library/hello:1.0');
    await pull('notation/app:1.0');
    await assert.rejects(pull('library/unsigned:latest'), /denied|not signed|403/i);
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS });
    launched = browser;
    context = await browser.newContext({ httpCredentials: ADMIN, viewport: { width: 1360, height: 860 } });
    page = await context.newPage();
  });
  after(async () => {
    await launched?.close().catch(() => undefined);
    await stopAll(signet, cli, upstream, notary);
    await pki?.dispose();
    await removeDir(dir);
  });

  const shot = (name: string): Promise<Buffer> => page.screenshot({ path: join(OUTPUT, `${name}.png`), fullPage: true });

  test('is refused to a browser without credentials, with a Basic challenge it can answer', async () => {
    const anonymous = await browser.newContext();
    try {
      // Headless Chromium gives up on a challenge it has no credentials for; its request API shows the answer.
      const res = await anonymous.request.get(`${signet.url}/console/decisions`);
      assert.equal(res.status(), 401);
      assert.match(res.headers()['www-authenticate'] ?? '', /^Basic /);
    } finally {
      await anonymous.close();
    }
  });

  test('decisions: the allowed pull and the denied one, with its reason and the message the client saw', async () => {
    const res = await page.goto(`${signet.url}/console`);
    assert.equal(res?.status(), 200);
    assert.equal(new URL(page.url()).pathname, '/console/decisions');
    const allowed = page.locator('tr.decision.allowed', { hasText: 'library/hello:1.0' }).first();
    assert.match(await allowed.innerText(), /notary/);
    assert.match(await allowed.innerText(), /targets/);
    const denied = page.locator('tr.decision.denied', { hasText: 'library/unsigned:latest' }).first();
    const text = await denied.innerText();
    assert.match(text, /no_trust_data/);
    assert.match(text, /no trust data for docker\.io\/library\/unsigned/);
    await shot('decisions');
  });

  test('filters: the form narrows the table to denied decisions, and works as a plain GET', async () => {
    await page.goto(`${signet.url}/console/decisions`);
    await page.selectOption('select[name="verdict"]', 'denied');
    await Promise.all([page.waitForURL(/verdict=denied/), page.click('form.filters button[type="submit"]')]);
    const verdicts = await page.locator('#decisions-table tbody tr td:nth-child(2) .badge').allInnerTexts();
    assert.ok(verdicts.length >= 1);
    assert.deepEqual([...new Set(verdicts)], ['denied']);
    await page.fill('input[name="repository"]', 'library/hello');
    await Promise.all([page.waitForURL(/repository=library%2Fhello/), page.click('form.filters button[type="submit"]')]);
    assert.match(await page.locator('main').innerText(), /No decisions match this filter/);
    await page.goto(`${signet.url}/console/decisions?format=notary&reason=no_trust_data`);
    assert.equal(await page.locator('#decisions-table tbody tr').count(), await page.locator('tr.decision.denied').count());
  });

  test('decisions are live: a new pull appears without reloading the page', async () => {
    await page.goto(`${signet.url}/console/decisions?repository=library/hello`);
    const before = await page.locator('#decisions-table tbody tr').count();
    await assert.rejects(pull('library/hello:2.0'));
    await page.locator('tr.decision.denied', { hasText: 'library/hello:2.0' }).first().waitFor({ timeout: 20_000 });
    assert.ok((await page.locator('#decisions-table tbody tr').count()) > before);
  });

  test('denied pulls: grouped by reason, with the message and what to do', async () => {
    await page.goto(`${signet.url}/console/denials`);
    const group = page.locator('#reason-no_trust_data');
    const text = await group.innerText();
    assert.match(text, /no trust data for docker\.io\/library\/unsigned/);
    assert.match(text, /What to do:/);
    assert.match(text, /docker\.io\/library\/unsigned/);
    assert.match(await page.locator('#reason-tag_not_signed').innerText(), /library\/hello/);
    await shot('denials');
  });

  test('signed inventory: the signed tags with their digest, format and signer', async () => {
    await page.goto(`${signet.url}/console/inventory`);
    const row = page.locator('section.repository', { hasText: 'library/hello' }).locator('tr.inventory-tag', { hasText: '1.0' });
    const text = await row.innerText();
    assert.match(text, /notary/);
    assert.match(await row.locator('td.signers').innerText(), /^targets$/);
    assert.equal(await row.locator('code[title]').getAttribute('title'), signed.digest);
    assert.doesNotMatch(await page.locator('main').innerText(), /library\/unsigned/);
    const app = page.locator('section.repository', { hasText: 'notation/app' }).locator('tr.inventory-tag');
    assert.match(await app.innerText(), /notation/);
    assert.match(await app.locator('td.signers').innerText(), /CN=/);
    await shot('inventory');
  });

  test('trust health: the timestamp that expires within 72 hours is warned about first, with a countdown', async () => {
    await page.goto(`${signet.url}/console/trust`);
    // Most urgent first: the timestamp (2 days left) before the Notation signing certificate (8 days).
    const items = await page.locator('#warnings li').allInnerTexts();
    const timestamp = items.findIndex((t) => /timestamp metadata of docker\.io\/library\/hello/.test(t));
    const chain = items.findIndex((t) => /certificate .*CN=.* \(leaf\) of signatures of docker\.io\/notation\/app/.test(t));
    assert.ok(timestamp >= 0 && chain > timestamp, items.join('\n'));
    assert.match(items[timestamp] ?? '', /warning\s+timestamp metadata .* expires in (1|2) d/);
    assert.match(items[chain] ?? '', /warning\s+certificate .* expires in (7|8) d .*re-sign with a renewed certificate/);
    // The countdowns tick on Signet's clock (12 days ahead), not the browser's.
    const countdown = page.locator('tr.health-item', { hasText: 'timestamp' }).locator('[data-expires]');
    await page.waitForTimeout(1500);
    assert.match(await countdown.innerText(), /^in (1|2) d/);
    for (const role of ['snapshot', 'targets', 'root']) {
      assert.equal((await page.locator('tr.health-item', { hasText: role }).count()) > 0, true, `${role} is listed`);
    }
    // Every format the policy uses: the Notation trust store's root, the cosign rule's key.
    const scopes = await page.locator('section.trust-scope h2').allInnerTexts();
    assert.ok(
      scopes.some((t) => /notation\s+policy\.rules\.1\.require\.notation trust store ca\/corp/.test(t)),
      scopes.join('\n'),
    );
    assert.ok(
      scopes.some((t) => /cosign\s+policy\.rules\.2\.require\.cosign keys/.test(t)),
      scopes.join('\n'),
    );
    await shot('trust');
  });

  test('cache and upstreams: counters and charts drawn on the server', async () => {
    await page.goto(`${signet.url}/console/cache`);
    assert.equal(await page.locator('figure.chart svg').count(), 4);
    assert.match(await page.locator('.stats').innerText(), /from upstreams/);
    await shot('cache');
  });

  test('the static views work without JavaScript', async () => {
    const plain = await browser.newContext({ httpCredentials: ADMIN, javaScriptEnabled: false });
    try {
      const p = await plain.newPage();
      await p.goto(`${signet.url}/console/decisions?verdict=allowed`);
      assert.ok((await p.locator('tr.decision.allowed').count()) >= 1);
      assert.equal(await p.locator('tr.decision.denied').count(), 0);
      await p.goto(`${signet.url}/console/trust`);
      assert.match(await p.locator('#warnings').innerText(), /timestamp metadata/);
    } finally {
      await plain.close();
    }
  });

  test('the API gives the same data as JSON, and refuses anyone without credentials', async () => {
    const auth = { authorization: `Basic ${Buffer.from(`${ADMIN.username}:${ADMIN.password}`).toString('base64')}` };
    assert.equal((await fetch(`${signet.url}/api/v1/trust`)).status, 401);
    const trust = (await (await fetch(`${signet.url}/api/v1/trust`, { headers: auth })).json()) as {
      warnings: Array<{ severity: string; item: { role?: string; scope: string } }>;
    };
    const top = trust.warnings[0];
    assert.ok(top);
    assert.equal(top.item.role, 'timestamp');
    assert.match(top.item.scope, /^docker\.io\/library\/hello on /);
    const inventory = (await (await fetch(`${signet.url}/api/v1/inventory`, { headers: auth })).json()) as {
      repositories: Array<{ repository: string; tags: Array<{ tag: string; signers: string[] }> }>;
    };
    const hello = inventory.repositories.find((r) => r.repository === 'library/hello');
    assert.deepEqual(
      hello?.tags.map((t) => [t.tag, t.signers]),
      [['1.0', ['targets']]],
    );
    assert.ok(inventory.repositories.some((r) => r.repository === 'notation/app'));
  });
});
