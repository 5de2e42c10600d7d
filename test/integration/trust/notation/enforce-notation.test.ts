import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../../harness/cleanup.js';
import { cosignKeyPair, signLegacy } from '../../../harness/cosign.js';
import { denialOf, getWithManifestAccept } from '../../../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, type PushedImage } from '../../../harness/images.js';
import { pushNotationSignature } from '../../../harness/notation-oci.js';
import {
  certificateChain,
  createNotationPki,
  createTsa,
  serveCrl,
  startOcspResponder,
  writeTrustStore,
  type CrlServer,
  type NotationPki,
  type OcspResponder,
  type PkiCertificate,
  type Tsa,
} from '../../../harness/notation-pki.js';
import { signNotation, type SignNotationOptions } from '../../../harness/notation-sign.js';
import { freePort } from '../../../harness/ports.js';
import { run } from '../../../harness/process.js';
import { startRegistry, type Registry } from '../../../harness/registry.js';
import { REPO_ROOT, startSignet, type Signet } from '../../../harness/signet.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

// Notation enforcement with a real distribution 2.8 (no referrers API: signatures are found
// through the referrers tag schema), a PKI made by openssl (root, intermediate, leaves), an
// openssl TSA, a real `openssl ocsp` responder and a CRL server. Images signed as `notation sign`
// signs them (JWS and COSE) are served; each rule of the signing scheme that a signature breaks
// denies the pull with its reason; the trust policy's level decides what only gets logged.

const DAY = 24 * 60 * 60 * 1000;

function get(signet: Signet, path: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  return getWithManifestAccept(signet.url, path, MANIFEST_ACCEPT);
}

const denial = denialOf;

function cli(signet: Signet, args: string[]): ReturnType<typeof run> {
  return run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), ...args, '--config', signet.configPath], { timeoutMs: 60_000 });
}

describe('Notation enforcement (real registry, openssl PKI, TSA, OCSP and CRL)', () => {
  let registry: Registry;
  let dir: string;
  let pki: NotationPki;
  let foreign: NotationPki;
  let authority: NotationPki;
  let tsa: Tsa;
  let ocsp: OcspResponder;
  let crls: CrlServer;
  let signet: Signet;
  const images: Record<string, PushedImage> = {};

  /** Pushes an image of its own content under repo:tag and signs it (unless `sign` is false). */
  const signed = async (
    name: string,
    repo: string,
    leaf: PkiCertificate | undefined,
    options: Partial<SignNotationOptions> & { legacy?: boolean; target?: PushedImage } = {},
  ): Promise<PushedImage> => {
    const image = await pushImage(registry, repo, name, { files: { 'hello.txt': `${repo} ${name}\n` } });
    images[`${repo}:${name}`] = image;
    if (leaf) {
      const target = options.target ?? image;
      const envelope = await signNotation({
        format: 'jws',
        key: leaf.privateKey,
        certChain: certificateChain(leaf),
        ...options,
        target: { mediaType: target.mediaType, digest: target.digest, size: target.size },
      });
      await pushNotationSignature(registry, repo, { mediaType: image.mediaType, digest: image.digest, size: image.size }, envelope, {
        legacy: options.legacy ?? false,
      });
    }
    return image;
  };

  before(async () => {
    dir = await makeTempDir('notation');
    registry = await startRegistry();
    [pki, foreign, authority, tsa] = await Promise.all([
      // CAs older than the expired leaves they issue.
      createNotationPki({ root: { notBefore: new Date(Date.now() - 60 * DAY) }, intermediate: { notBefore: new Date(Date.now() - 60 * DAY) } }),
      createNotationPki(),
      createNotationPki(),
      // The TSA is older than the timestamps it issues for the expired leaf.
      createTsa({ root: { notBefore: new Date(Date.now() - 60 * DAY) }, cert: { notBefore: new Date(Date.now() - 60 * DAY) } }),
    ]);
    const ocspPort = await freePort();
    crls = await serveCrl();
    const store = join(dir, 'truststore');
    await writeTrustStore(store, 'ca', 'corp', [pki.root]);
    await writeTrustStore(store, 'ca', 'other', [foreign.root]);
    await writeTrustStore(store, 'signingAuthority', 'authority', [authority.root]);
    await writeTrustStore(store, 'tsa', 'corp-tsa', [tsa.root]);

    const good = await pki.leaf();
    const ecLeaf = await pki.leaf({ keyType: 'ec384' });
    await signed('jws', 'strict/app', good);
    await signed('cose', 'strict/app', ecLeaf, { format: 'cose' });
    await signed('older-form', 'strict/app', good, { legacy: true });
    await signed('unsigned', 'strict/app', undefined);
    await signed('foreign', 'strict/app', await foreign.leaf());
    await signed('intruder', 'strict/app', await pki.leaf({ subject: 'C=US, ST=WA, L=Seattle, O=Intruder, CN=signer' }));
    await signed('expired', 'strict/app', good, { signingTime: new Date(Date.now() - 2 * DAY), expiry: new Date(Date.now() - DAY) });
    await signed('tampered', 'strict/app', good, { tamper: { payloadAfterSigning: Buffer.from('{"targetArtifact":{}}') } });
    await signed('critical', 'strict/app', good, { tamper: { extraProtected: { 'io.cncf.notary.unknown': 'x' }, extraCrit: ['io.cncf.notary.unknown'] } });
    await signed('wrong-alg', 'strict/app', good, { tamper: { alg: 'PS384', signWith: 'PS384' } });
    await signed('sha1', 'strict/app', await pki.leaf({ hash: 'sha1' }));
    await signed('server-auth', 'strict/app', await pki.leaf({ extendedKeyUsage: 'serverAuth' }));
    const other = await signed('other', 'strict/app', undefined);
    await signed('copied', 'strict/app', good, { target: other });
    await signed('old-cert', 'strict/app', await pki.leaf({ notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 10 * DAY) }), {
      signingTime: new Date(Date.now() - 20 * DAY),
    });

    // Timestamped: a leaf that has expired since, with an RFC 3161 countersignature from its validity.
    const expiredLeaf = await pki.leaf({ notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - 10 * DAY) });
    await signed('timestamped', 'tsa/app', expiredLeaf, {
      signingTime: new Date(Date.now() - 20 * DAY),
      timestamp: { tsa, genTime: new Date(Date.now() - 20 * DAY) },
    });
    await signed('untimestamped', 'tsa/app', expiredLeaf, { signingTime: new Date(Date.now() - 20 * DAY) });
    await signed('fresh', 'tsa/app', good, { timestamp: { tsa } });

    await signed('expired', 'permissive/app', good, { signingTime: new Date(Date.now() - 2 * DAY), expiry: new Date(Date.now() - DAY) });
    await signed('foreign', 'permissive/app', await foreign.leaf());

    const saLeaf = await authority.leaf();
    await signed('authority', 'sa/app', saLeaf, { signingScheme: 'notary.x509.signingAuthority' });
    await signed('ca-scheme', 'sa/app', saLeaf);

    await signed('one', 'threshold/app', good);
    const two = await signed('two', 'threshold/app', good);
    const second = await pki.leaf({ subject: 'C=US, ST=WA, L=Seattle, O=Signet Test, CN=second' });
    const envelope = await signNotation({ format: 'cose', key: second.privateKey, certChain: certificateChain(second), target: two });
    await pushNotationSignature(registry, 'threshold/app', two, envelope);

    // Revocation: leaves with an OCSP responder (one revoked), one with only a CRL (revoked), one whose responder is not allowed.
    const ocspUrl = `http://127.0.0.1:${ocspPort}`;
    const okOcsp = await pki.leaf({ ocspUrl });
    const revokedOcsp = await pki.leaf({ ocspUrl });
    const revokedCrl = await pki.leaf({ crlUrl: `${crls.url}/corp.crl` });
    await pki.issuer.revoke(revokedOcsp, { reason: 'keyCompromise' });
    await pki.issuer.revoke(revokedCrl, { reason: 'keyCompromise' });
    ocsp = await startOcspResponder(pki.issuer, ocspPort);
    crls.set('/corp.crl', (await pki.issuer.crl()).der);
    await signed('ocsp-good', 'revocation/app', okOcsp);
    await signed('ocsp-revoked', 'revocation/app', revokedOcsp);
    await signed('crl-revoked', 'revocation/app', revokedCrl);
    const unreachable = await pki.leaf({ ocspUrl: 'http://ocsp.not-allowed.example/' });
    await signed('not-allowed', 'revocation/app', unreachable);
    await signed('not-allowed', 'revocation-logged/app', unreachable);

    // Composition with cosign: both required (allOf), or either (anyOf).
    const cosignKey = cosignKeyPair('ecdsa-p256');
    const cosignKeyPath = await cosignKey.writePublicKey(dir);
    await signLegacy(registry, 'both/app', await signed('both', 'both/app', good), cosignKey);
    await signed('notation-only', 'both/app', good);
    await signed('notation-only', 'either/app', good);
    await signLegacy(registry, 'either/app', await signed('cosign-only', 'either/app', undefined), cosignKey);
    await signed('neither', 'either/app', await foreign.leaf());

    const policyPath = join(dir, 'trustpolicy.oci.json');
    const statement = (name: string, scopes: string[], level: string, stores: string[], extra: Record<string, unknown> = {}): Record<string, unknown> => ({
      name,
      registryScopes: scopes,
      signatureVerification: { level, ...extra },
      trustStores: stores,
      trustedIdentities: [`x509.subject: C=US, ST=WA, O=Signet Test`],
    });
    await writeFile(
      policyPath,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          statement('strict', ['*'], 'strict', ['ca:corp']),
          statement('tsa', ['docker.io/tsa/app'], 'strict', ['ca:corp', 'tsa:corp-tsa']),
          statement('permissive', ['docker.io/permissive/app'], 'permissive', ['ca:corp']),
          { ...statement('authority', ['docker.io/sa/app'], 'strict', ['signingAuthority:authority']), trustedIdentities: ['*'] },
          statement('revocation-logged', ['docker.io/revocation-logged/app'], 'strict', ['ca:corp'], { override: { revocation: 'log' } }),
        ],
      }),
    );
    const notation = { trustPolicy: policyPath, trustStore: store };
    signet = await startSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        trust: { revocation: { allowedHosts: [`127.0.0.1:${ocspPort}`, `127.0.0.1:${crls.port}`] } },
        policy: {
          default: 'enforce',
          rules: [
            { match: 'docker.io/**', require: { notation } },
            { match: 'docker.io/threshold/**', require: { notation: { ...notation, threshold: 2 } } },
            { match: 'docker.io/both/**', require: { allOf: [{ cosign: { keys: [cosignKeyPath], tlog: false } }, { notation }] } },
            { match: 'docker.io/either/**', require: { anyOf: [{ cosign: { keys: [cosignKeyPath], tlog: false } }, { notation }] } },
          ],
        },
      },
    });
  });
  after(async () => {
    await stopAll(signet, registry, ocsp, crls);
    // Any of them is undefined when `before` stopped half way.
    for (const d of [pki, foreign, authority, tsa] as Array<{ dispose(): Promise<void> } | undefined>) await d?.dispose();
    await removeDir(dir);
  });

  const admitted = (repo: string, tag: string): void => {
    test(`${repo}:${tag} is served with the signed digest, and its blobs`, async () => {
      const image = images[`${repo}:${tag}`];
      assert.ok(image);
      const res = await get(signet, `/v2/${repo}/manifests/${tag}`);
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
      for (const blob of image.blobs) assert.equal((await get(signet, `/v2/${repo}/blobs/${blob.digest}`)).status, 200);
    });
  };
  const denied = (repo: string, tag: string, reason: string, message: RegExp): void => {
    test(`${repo}:${tag} is denied (${reason})`, async () => {
      const res = await get(signet, `/v2/${repo}/manifests/${tag}`);
      assert.equal(res.status, 403, res.body.toString());
      const d = denial(res.body);
      assert.equal(d.reason, reason, d.message);
      assert.match(d.message, message);
    });
  };

  admitted('strict/app', 'jws');
  admitted('strict/app', 'cose');
  admitted('strict/app', 'older-form');
  denied('strict/app', 'unsigned', 'no_signature', /has no Notation signature.*notation sign/);
  denied('strict/app', 'foreign', 'untrusted_signer', /does not meet any certificate of the ca trust store\(s\) ca:corp/);
  denied('strict/app', 'intruder', 'identity_mismatch', /O=Intruder.*not one of the trusted identities/);
  denied('strict/app', 'expired', 'expired', /the signature expired at/);
  denied('strict/app', 'tampered', 'bad_signature', /does not verify/);
  denied('strict/app', 'critical', 'bad_signature', /critical header "io\.cncf\.notary\.unknown" is not one Signet understands/);
  denied('strict/app', 'wrong-alg', 'bad_signature', /claims algorithm PS384.*signs with PS256/);
  denied('strict/app', 'sha1', 'untrusted_signer', /SHA-1/);
  denied('strict/app', 'server-auth', 'untrusted_signer', /must not contain serverAuth/);
  denied('strict/app', 'copied', 'claim_mismatch', /the signature is for .* not for/);
  denied('strict/app', 'old-cert', 'expired', /after certificate .* expired.*names no tsa trust store/);

  admitted('tsa/app', 'timestamped');
  admitted('tsa/app', 'fresh');
  denied('tsa/app', 'untimestamped', 'untrusted_signer', /no timestamp countersignature/);

  admitted('permissive/app', 'expired');
  denied('permissive/app', 'foreign', 'untrusted_signer', /trust store/);

  admitted('sa/app', 'authority');
  denied('sa/app', 'ca-scheme', 'untrusted_signer', /names no ca trust store/);

  admitted('threshold/app', 'two');
  denied('threshold/app', 'one', 'threshold', /signed by 1 of the 2 distinct signing identities/);

  admitted('both/app', 'both');
  denied('both/app', 'notation-only', 'no_signature', /has no cosign signature/);
  admitted('either/app', 'notation-only');
  admitted('either/app', 'cosign-only');
  denied('either/app', 'neither', 'no_signature', /no alternative of the rule admits it: .*no cosign signature.*does not meet any certificate/);

  admitted('revocation/app', 'ocsp-good');
  denied('revocation/app', 'ocsp-revoked', 'revoked', /is revoked \(ocsp/);
  denied('revocation/app', 'crl-revoked', 'revoked', /is revoked \(crl/);
  denied('revocation/app', 'not-allowed', 'revocation_unknown', /ocsp\.not-allowed\.example.*allowedHosts/);
  admitted('revocation-logged/app', 'not-allowed');

  test('signet check and trust inspect show the Notation evidence: subject, issuer, signing time, timestamp authority, level', async () => {
    const check = await cli(signet, ['check', 'docker.io/tsa/app:timestamped']);
    assert.equal(check.code, 0, `${check.stdout}\n${check.stderr}`);
    assert.match(check.stdout, /ALLOWED/);
    assert.match(check.stdout, /notation: C=US, ST=WA, L=Seattle, O=Signet Test, CN=signer \(trusted identity x509\.subject: C=US, ST=WA, O=Signet Test/);
    assert.match(check.stdout, /issuer .*CN=/);
    assert.match(check.stdout, /timestamped by /);
    assert.match(check.stdout, /level strict \(trust policy statement "tsa"\)/);
    const permissive = await cli(signet, ['check', 'docker.io/permissive/app:expired']);
    assert.equal(permissive.code, 0, permissive.stderr);
    assert.match(permissive.stdout, /logged, not enforced: expiry: the signature expired/);
    const inspect = await cli(signet, ['trust', 'inspect', 'docker.io/strict/app:jws']);
    assert.equal(inspect.code, 0, inspect.stderr);
    assert.match(inspect.stdout, /trust policy statement "strict" level strict/);
    assert.match(inspect.stdout, /notation .* OK C?.*CN=signer/);
    const json = await cli(signet, ['trust', 'inspect', 'docker.io/strict/app:jws', '--json']);
    const report = JSON.parse(json.stdout) as {
      rules: Array<{ format: string; signatures: Array<{ verified: boolean; scheme?: string; envelope?: string }> }>;
    };
    const [rule] = report.rules;
    assert.ok(rule);
    assert.equal(rule.format, 'notation');
    assert.deepEqual(
      rule.signatures.map((s) => [s.verified, s.envelope, s.scheme]),
      [[true, 'jws', 'notary.x509']],
    );
  });
});
