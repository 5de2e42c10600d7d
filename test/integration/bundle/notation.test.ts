import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseBundleManifest, type BundleManifest } from '../../../src/bundle/bundle-manifest.js';
import { bundleKeys, importedState, signetCli, signetCliOk, writeIsolatedConfig } from '../../harness/air-gap.js';
import { blobEntryName, readBundleEntries, type BundleEntry } from '../../harness/bundle-tar.js';
import { stopAll } from '../../harness/cleanup.js';
import { MANIFEST_ACCEPT, allBlobs, pushImage, TWO_PLATFORMS, type PushedImage } from '../../harness/images.js';
import { NOTATION_ARTIFACT_TYPE, pushNotationSignature, type PushedNotationSignature } from '../../harness/notation-oci.js';
import {
  certificateChain,
  createNotationPki,
  startOcspResponder,
  writeTrustStore,
  type CertificateAuthority,
  type NotationPki,
  type OcspResponder,
  type PkiCertificate,
} from '../../harness/notation-pki.js';
import { NOTATION_ENVELOPE_MEDIA_TYPES, signNotation } from '../../harness/notation-sign.js';
import { freePort } from '../../harness/ports.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startInProcessSignet, type InProcessSignet } from '../../harness/signet-in-process.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Air-gapped bundles of Notation-signed images. The connected side (a real distribution 2.8,
// which has no referrers API: the signature is found through the referrers tag schema) exports
// an index signed as `notation sign` signs it, with an openssl PKI (root, intermediate, leaf);
// the bundle must carry the signature manifest and its JWS envelope, because the isolated side
// re-decides every image with its own `require.notation` rule (its own trust policy and trust
// store files) and no upstream to ask. Revocation: a leaf naming an OCSP responder the isolated
// site may not contact leaves the status unknown — refused under `strict`, admitted with
// `override: {revocation: log}`, as docs/CONFIG.md "Notation" tells air-gapped sites.

const UPSTREAM = 'docker.io';
/** What every site's trust policy requires of the leaf (Notation `x509.subject`: C, ST and O at least). */
const TRUSTED_IDENTITY = 'x509.subject: C=US, ST=WA, O=Signet Test';

/**
 * A notation setup as `notation` keeps it (`trustpolicy.oci.json` and `truststore/x509/ca/corp/`),
 * trusting `root`, under `dir`; answers the rule's `notation` requirement.
 */
async function writeNotationSetup(
  dir: string,
  root: CertificateAuthority,
  verification: Record<string, unknown> = {},
): Promise<{ trustPolicy: string; trustStore: string }> {
  await mkdir(dir, { recursive: true });
  const trustStore = join(dir, 'truststore');
  await writeTrustStore(trustStore, 'ca', 'corp', [root]);
  const trustPolicy = join(dir, 'trustpolicy.oci.json');
  await writeFile(
    trustPolicy,
    JSON.stringify({
      version: '1.0',
      trustPolicies: [
        {
          name: 'air-gap',
          registryScopes: ['*'],
          signatureVerification: { level: 'strict', ...verification },
          trustStores: ['ca:corp'],
          trustedIdentities: [TRUSTED_IDENTITY],
        },
      ],
    }),
  );
  return { trustPolicy, trustStore };
}

/**
 * The policy section of a site whose every docker.io image must carry a Notation signature; its
 * decisions (an export's or an import's too) are audited to `auditLog`, which names the reason.
 */
function notationPolicy(notation: { trustPolicy: string; trustStore: string }, auditLog: string): Record<string, unknown> {
  return { policy: { default: 'enforce', auditLog, rules: [{ match: `${UPSTREAM}/**`, require: { notation } }] } };
}

interface AuditLine {
  kind?: string;
  repository?: string;
  reference?: string;
  verdict?: string;
  reason?: string;
  message?: string;
  evidence?: unknown[];
}

/** The manifest decisions of `repository` in an audit log (none when the file does not exist). */
async function manifestDecisions(auditLog: string, repository: string): Promise<AuditLine[]> {
  const text = await readFile(auditLog, 'utf8').catch((err: unknown) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw err;
  });
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as AuditLine)
    .filter((r) => r.kind === 'manifest' && r.repository === repository);
}

describe('air-gapped bundles of Notation-signed images: export, import, serve', () => {
  let dir: string;
  let registry: Registry | undefined;
  let pki: NotationPki | undefined;
  let foreign: NotationPki | undefined;
  /** The connected side's OCSP responder; stopped once the bundles are exported (the isolated side has no route to it). */
  let ocsp: OcspResponder | undefined;
  let keys: { privatePath: string; publicPath: string };
  let connectedConfig: string;
  /** The connected side's audit log: the export's decisions. */
  let connectedAudit: string;
  let app: PushedImage;
  let appSignature: PushedNotationSignature;
  let appEnvelope: Buffer;
  let revocable: PushedImage;
  /** library/app:1.0 exported, and what `bundle export` printed. */
  let appBundle: { path: string; stdout: string };
  /** library/revocable:1.0 (signed by a leaf with an OCSP URL) exported. */
  let revocableBundle: string;
  let made = 0;
  const serving: InProcessSignet[] = [];

  /** Signs `image` as `notation sign` does (JWS) with `leaf`, and pushes the signature. */
  const sign = async (image: PushedImage, leaf: PkiCertificate): Promise<{ envelope: Buffer; pushed: PushedNotationSignature }> => {
    const envelope = await signNotation({
      format: 'jws',
      key: leaf.privateKey,
      certChain: certificateChain(leaf),
      target: { mediaType: image.mediaType, digest: image.digest, size: image.size },
    });
    const pushed = await pushNotationSignature(ensure(registry), image.repo, image, envelope);
    return { envelope: envelope.bytes, pushed };
  };

  const exportBundle = async (name: string, image: string): Promise<{ path: string; stdout: string }> => {
    const path = join(dir, name);
    const result = await signetCliOk(['bundle', 'export', '--config', connectedConfig, '--key', keys.privatePath, '--output', path, image]);
    return { path, stdout: result.stdout };
  };

  /**
   * An isolated site (offline upstream on a closed port, the bundle key pinned) with the same
   * Notation rule as the connected side, over its own copy of the trust policy and a trust store
   * holding `root`.
   */
  const isolatedSite = async (root: CertificateAuthority, verification: Record<string, unknown> = {}) => {
    const name = `isolated-${++made}`;
    const notation = await writeNotationSetup(join(dir, `${name}-notation`), root, verification);
    const data = join(dir, `${name}-data`);
    const auditLog = join(dir, `${name}-audit.jsonl`);
    const config = await writeIsolatedConfig(join(dir, `${name}.yaml`), {
      upstream: UPSTREAM,
      dataDir: data,
      keys: [keys.publicPath],
      extra: notationPolicy(notation, auditLog),
    });
    return {
      config,
      auditLog,
      store: join(data, 'imports'),
      /** Signet serving this site's storage, its upstream offline on a closed port. */
      serve: async (): Promise<InProcessSignet> => {
        const signet = await startInProcessSignet({
          upstreams: { [UPSTREAM]: { url: `http://127.0.0.1:${await freePort()}` } },
          defaultUpstream: UPSTREAM,
          extra: {
            storage: { path: data },
            upstreams: { [UPSTREAM]: { offline: true } },
            bundles: { keys: [keys.publicPath] },
            ...notationPolicy(notation, join(dir, `${name}-serve-audit.jsonl`)),
          },
        });
        serving.push(signet);
        return signet;
      },
    };
  };

  before(async () => {
    dir = await makeTempDir('bundle-notation');
    const ocspPort = await freePort();
    [registry, pki, foreign] = await Promise.all([startRegistry(), createNotationPki({ intermediate: true }), createNotationPki({ intermediate: true })]);
    const [leaf, ocspLeaf] = await Promise.all([pki.leaf(), pki.leaf({ ocspUrl: `http://127.0.0.1:${ocspPort}` })]);
    ocsp = await startOcspResponder(pki.issuer, ocspPort);

    app = await pushImage(registry, 'library/app', '1.0', { platforms: TWO_PLATFORMS, files: { 'app.txt': 'app 1.0\n' } });
    ({ envelope: appEnvelope, pushed: appSignature } = await sign(app, leaf));
    await pushImage(registry, 'library/unsigned', '1.0', { files: { 'unsigned.txt': 'unsigned 1.0\n' } });
    revocable = await pushImage(registry, 'library/revocable', '1.0', { files: { 'revocable.txt': 'revocable 1.0\n' } });
    await sign(revocable, ocspLeaf);

    keys = await bundleKeys(dir, 'site');
    // The connected side reaches its own OCSP responder: the revocable leaf verifies there as "good".
    const notation = await writeNotationSetup(join(dir, 'connected-notation'), pki.root);
    connectedConfig = join(dir, 'connected.yaml');
    connectedAudit = join(dir, 'connected-audit.jsonl');
    await writeFile(
      connectedConfig,
      stringify({
        listen: { host: '127.0.0.1', port: await freePort() },
        storage: { path: join(dir, 'connected-data') },
        defaultUpstream: UPSTREAM,
        upstreams: { [UPSTREAM]: { url: registry.url } },
        trust: { revocation: { allowedHosts: [`127.0.0.1:${ocspPort}`] } },
        ...notationPolicy(notation, connectedAudit),
      }),
    );
    // One after the other: both use the connected storage and append to its audit log.
    appBundle = await exportBundle('app.tar', `${UPSTREAM}/library/app:1.0`);
    revocableBundle = (await exportBundle('revocable.tar', `${UPSTREAM}/library/revocable:1.0`)).path;
    await ocsp.stop();
    ocsp = undefined;
  });
  after(async () => {
    await stopAll(...serving, ocsp, registry);
    for (const p of [pki, foreign]) await p?.dispose();
    await removeDir(dir);
  });

  test('export: the signed index travels with its Notation signature manifest and JWS envelope', async () => {
    assert.match(appBundle.stdout, /wrote .*app\.tar: 1 image\(s\)/);
    const entries = await readBundleEntries(appBundle.path);
    const entry = (name: string): BundleEntry => {
      const found = entries.find((e) => e.name === name);
      assert.ok(found, `the bundle holds ${name}`);
      return found;
    };
    const manifest: BundleManifest = parseBundleManifest(entry('signet-bundle.json').data);
    assert.equal(manifest.images.length, 1);
    const [image] = manifest.images;
    assert.ok(image);
    assert.equal(image.ref, `${UPSTREAM}/library/app:1.0`);
    assert.equal(image.digest, app.digest);
    assert.equal(image.verdict.verdict, 'allowed');
    assert.equal(image.verdict.reason, 'signed');
    assert.match(JSON.stringify(image.verdict.evidence), /"format":"notation"/, 'the exporting verdict records the Notation evidence');
    const manifestDigests = image.manifests.map((m) => m.digest);
    for (const digest of [app.digest, ...(app.children ?? []).map((c) => c.digest), appSignature.digest]) {
      assert.ok(manifestDigests.includes(digest), `the bundle manifest lists ${digest}`);
    }
    // distribution 2.8 has no referrers API: the referrers tag schema index travels as a tag.
    const referrersTag = `sha256-${app.digest.slice('sha256:'.length)}`;
    assert.ok(image.tags[referrersTag], `the image carries its referrers tag ${referrersTag}`);

    // The signature manifest and its envelope are files of the tar, byte for byte what notation pushed.
    const signatureManifest = entry(blobEntryName(appSignature.digest)).data;
    assert.deepEqual(signatureManifest, appSignature.manifest);
    const parsed = JSON.parse(signatureManifest.toString('utf8')) as {
      artifactType?: string;
      subject?: { digest?: string };
      layers?: Array<{ mediaType?: string; digest?: string }>;
    };
    assert.equal(parsed.artifactType, NOTATION_ARTIFACT_TYPE);
    assert.equal(parsed.subject?.digest, app.digest);
    const layers = parsed.layers ?? [];
    assert.equal(layers.length, 1, 'a Notation signature manifest has exactly one layer, the envelope');
    const [layer] = layers;
    assert.ok(layer);
    assert.equal(layer.mediaType, NOTATION_ENVELOPE_MEDIA_TYPES.jws);
    assert.equal(layer.digest, appSignature.envelopeBlob.digest);
    assert.ok(
      image.blobs.some((b) => b.digest === appSignature.envelopeBlob.digest),
      'the bundle manifest lists the envelope blob',
    );
    assert.deepEqual(entry(blobEntryName(appSignature.envelopeBlob.digest)).data, appEnvelope);

    // The OCI layout's index names the image and its referrers tag (what tools reading the layout see).
    const index = JSON.parse(entry('index.json').data.toString('utf8')) as { manifests?: Array<{ digest?: string; annotations?: Record<string, string> }> };
    const names = new Map((index.manifests ?? []).map((m) => [m.annotations?.['org.opencontainers.image.ref.name'], m.digest]));
    assert.equal(names.get(`${UPSTREAM}/library/app:1.0`), app.digest);
    assert.equal(names.get(`${UPSTREAM}/library/app:${referrersTag}`), image.tags[referrersTag]);
  });

  test('export: an image with no Notation signature stops the export with no_signature and writes no bundle', async () => {
    const path = join(dir, 'unsigned.tar');
    const result = await signetCli([
      'bundle',
      'export',
      '--config',
      connectedConfig,
      '--key',
      keys.privatePath,
      '--output',
      path,
      `${UPSTREAM}/library/unsigned:1.0`,
    ]);
    assert.equal(result.code, 1, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /docker\.io\/library\/unsigned:1\.0: .*has no Notation signature: sign it \(notation sign\)/);
    assert.match(result.stderr, /only images the policy admits are exported; the bundle was not written/);
    // The CLI's message carries no reason code; the export's audited decision does.
    const decisions = (await manifestDecisions(connectedAudit, 'library/unsigned')).filter((r) => r.reference === '1.0');
    assert.deepEqual(
      decisions.map((r) => [r.verdict, r.reason]),
      [['denied', 'no_signature']],
    );
    assert.equal(existsSync(path), false);
    assert.equal(existsSync(`${path}.partial`), false);
  });

  test('import on an isolated site with the same Notation rule, then served offline with the signed digests', async () => {
    const site = await isolatedSite(ensure(pki).root);
    const imported = await signetCliOk(['bundle', 'import', appBundle.path, '--config', site.config]);
    assert.match(imported.stdout, /imported into/);
    assert.notEqual(await importedState(site.store), undefined);
    // The import re-decided the image with this site's own trust policy and store.
    const decisions = (await manifestDecisions(site.auditLog, 'library/app')).filter((r) => r.reference === '1.0');
    assert.deepEqual(
      decisions.map((r) => [r.verdict, r.reason]),
      [['allowed', 'signed']],
    );
    assert.match(JSON.stringify(decisions[0]?.evidence), /"format":"notation","signer":"C=US, ST=WA, L=Seattle, O=Signet Test, CN=signer"/);

    const signet = await site.serve();
    const get = async (path: string): Promise<{ status: number; body: Buffer; headers: Headers }> => {
      const res = await fetch(`${signet.url}${path}`, { headers: { accept: MANIFEST_ACCEPT } });
      return { status: res.status, body: Buffer.from(await res.arrayBuffer()), headers: res.headers };
    };
    const top = await get('/v2/library/app/manifests/1.0');
    assert.equal(top.status, 200, top.body.toString());
    assert.equal(top.headers.get('docker-content-digest'), app.digest);
    assert.deepEqual(top.body, app.manifest);
    // A client pulls an index's platform manifests before their blobs.
    assert.equal(app.children?.length, 2);
    for (const child of app.children ?? []) {
      const c = await get(`/v2/library/app/manifests/${child.digest}`);
      assert.equal(c.status, 200, `${child.digest}: ${c.body.toString()}`);
      assert.equal(c.headers.get('docker-content-digest'), child.digest);
    }
    for (const blob of allBlobs(app)) {
      const b = await get(`/v2/library/app/blobs/${blob.digest}`);
      assert.equal(b.status, 200, blob.digest);
      assert.equal(b.body.length, blob.size, blob.digest);
    }
    // The signature stays available downstream: `notation verify` against the isolated Signet finds it.
    const referrers = await get(`/v2/library/app/referrers/${app.digest}`);
    assert.equal(referrers.status, 200, referrers.body.toString());
    const listed = (JSON.parse(referrers.body.toString('utf8')) as { manifests?: Array<{ digest?: string; artifactType?: string }> }).manifests ?? [];
    assert.deepEqual(
      listed.map((m) => [m.digest, m.artifactType]),
      [[appSignature.digest, NOTATION_ARTIFACT_TYPE]],
    );
    const signature = await get(`/v2/library/app/manifests/${appSignature.digest}`);
    assert.equal(signature.status, 200, signature.body.toString());
    const unsigned = await get('/v2/library/unsigned/manifests/1.0');
    assert.notEqual(unsigned.status, 200, 'an image that was never imported is not served');
  });

  test('an isolated site whose trust store holds another root refuses the import: untrusted_signer', async () => {
    const site = await isolatedSite(ensure(foreign).root);
    const result = await signetCli(['bundle', 'import', appBundle.path, '--config', site.config]);
    assert.equal(result.code, 1, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /docker\.io\/library\/app:1\.0 is refused by this site's policy/);
    assert.match(result.stderr, /does not meet any certificate of the ca trust store\(s\) ca:corp of trust policy statement "air-gap"/);
    assert.match(result.stderr, /nothing was imported/);
    const decisions = (await manifestDecisions(site.auditLog, 'library/app')).filter((r) => r.reference === '1.0');
    assert.deepEqual(
      decisions.map((r) => [r.verdict, r.reason]),
      [['denied', 'untrusted_signer']],
    );
    assert.doesNotMatch(result.stdout, /imported into/);
    assert.equal(await importedState(site.store), undefined);
  });

  test('a leaf naming an OCSP responder the isolated site may not contact: refused under strict (revocation_unknown)', async () => {
    const site = await isolatedSite(ensure(pki).root);
    // The connected side asked its own responder, which answered "good": nothing was logged there.
    const exported = (await manifestDecisions(connectedAudit, 'library/revocable')).filter((r) => r.reference === '1.0');
    assert.deepEqual(
      exported.map((r) => [r.verdict, r.reason]),
      [['allowed', 'signed']],
    );
    assert.doesNotMatch(JSON.stringify(exported[0]?.evidence), /"logged"/);
    const result = await signetCli(['bundle', 'import', revocableBundle, '--config', site.config]);
    assert.equal(result.code, 1, `${result.stdout}${result.stderr}`);
    assert.match(result.stderr, /docker\.io\/library\/revocable:1\.0 is refused by this site's policy/);
    assert.match(
      result.stderr,
      /revocation status of signing certificate .*CN=signer.* is unknown: revocation endpoint http:\/\/127\.0\.0\.1:\d+ is not in trust\.revocation\.allowedHosts/,
    );
    assert.match(result.stderr, /nothing was imported/);
    const decisions = (await manifestDecisions(site.auditLog, 'library/revocable')).filter((r) => r.reference === '1.0');
    assert.deepEqual(
      decisions.map((r) => [r.verdict, r.reason]),
      [['denied', 'revocation_unknown']],
    );
    assert.equal(await importedState(site.store), undefined);
  });

  test('the same leaf with override {revocation: log}, as docs/CONFIG.md tells air-gapped sites: imported and served', async () => {
    const site = await isolatedSite(ensure(pki).root, { override: { revocation: 'log' } });
    const imported = await signetCliOk(['bundle', 'import', revocableBundle, '--config', site.config]);
    assert.match(imported.stdout, /imported into/);
    // The image's own decision (its signature artifacts are decided too, as signature_artifact).
    const decisions = (await manifestDecisions(site.auditLog, 'library/revocable')).filter((r) => r.reference === '1.0');
    assert.deepEqual(
      decisions.map((r) => [r.verdict, r.reason]),
      [['allowed', 'signed']],
    );
    // Admitted with the unknown status logged, not ignored: the evidence keeps it.
    const evidence = JSON.stringify(decisions[0]?.evidence);
    assert.match(evidence, /"logged":.*revocation.*is unknown/, evidence);
    const signet = await site.serve();
    const res = await fetch(`${signet.url}/v2/library/revocable/manifests/1.0`, { headers: { accept: MANIFEST_ACCEPT } });
    await res.arrayBuffer();
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('docker-content-digest'), revocable.digest);
  });
});

/** A value `before` set (it is undefined only when `before` failed, and then no test runs). */
function ensure<T>(value: T | undefined): T {
  assert.ok(value !== undefined, 'set up by before');
  return value;
}
