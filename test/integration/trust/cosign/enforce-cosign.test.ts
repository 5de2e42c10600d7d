import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../../harness/cleanup.js';
import { denialOf, getWithManifestAccept } from '../../../harness/http.js';
import {
  PREDICATE_TYPES,
  cosignKeyPair,
  signBundleKeyless,
  signBundleWithKey,
  signLegacy,
  startMockSigstore,
  writeTrustedRoot,
  type CosignKey,
  type MockSigstore,
} from '../../../harness/cosign.js';
import { MANIFEST_ACCEPT, pushImage, TWO_PLATFORMS, type PushedImage } from '../../../harness/images.js';
import { run } from '../../../harness/process.js';
import { startRegistry, type Registry } from '../../../harness/registry.js';
import { REPO_ROOT, startSignet, type Signet } from '../../../harness/signet.js';
import { makeTempDir, removeDir } from '../../../harness/tmp.js';

// cosign enforcement end to end with a real distribution 2.8 (no referrers API: the tag schema
// carries cosign 3's bundles) and an in-process mock Fulcio, Rekor, CT log and TSA: images
// signed three ways (legacy .sig, key-based bundle, keyless bundle) are served with the signed
// digest; unsigned, wrong key, wrong identity, attestation-only, a copied signature and a tag
// moved after signing are denied with their reasons.

const ISSUER = 'https://token.actions.githubusercontent.com';
const RELEASE = 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1';

function get(signet: Signet, path: string): Promise<{ status: number; body: Buffer; headers: Headers }> {
  return getWithManifestAccept(signet.url, path, MANIFEST_ACCEPT);
}

const denial = denialOf;

describe('cosign enforcement (real registry, mock Sigstore)', () => {
  let registry: Registry;
  let sigstore: MockSigstore;
  let dir: string;
  let signet: Signet;
  let key: CosignKey;
  let other: CosignKey;
  const images: Record<string, PushedImage> = {};

  before(async () => {
    dir = await makeTempDir('cosign');
    [registry, sigstore] = await Promise.all([startRegistry(), startMockSigstore()]);
    key = cosignKeyPair('ecdsa-p256');
    other = cosignKeyPair('ecdsa-p256');
    const keyPath = await key.writePublicKey(dir);
    const rootPath = await writeTrustedRoot(sigstore, dir);
    const push = async (name: string, repo: string, tag: string, platforms = false): Promise<PushedImage> => {
      // Content named after the image, so two images pushed under one tag differ.
      const image = await pushImage(registry, repo, tag, { ...(platforms ? { platforms: TWO_PLATFORMS } : {}), files: { 'hello.txt': `${name}\n` } });
      images[name] = image;
      return image;
    };
    await signLegacy(registry, 'legacy/app', await push('legacy', 'legacy/app', '1.0'), key);
    await push('legacyUnsigned', 'legacy/app', '2.0');
    // A valid signature of 1.0 copied under 3.0's .sig tag: the payload names 1.0's digest.
    await signLegacy(registry, 'legacy/app', await push('copied', 'legacy/app', '3.0'), key, { payloadDigest: images['legacy']?.digest ?? '' });

    await signBundleWithKey(registry, 'bundle/app', await push('bundle', 'bundle/app', '1.0', true), key, { tlog: sigstore.rekor });
    await signBundleWithKey(registry, 'bundle/app', await push('wrongKey', 'bundle/app', 'wrong-key'), other, { tlog: sigstore.rekor });
    await signBundleWithKey(registry, 'bundle/app', await push('attested', 'bundle/app', 'attested'), key, {
      tlog: sigstore.rekor,
      predicateType: PREDICATE_TYPES.spdx,
    });
    await signBundleWithKey(registry, 'bundle/app', await push('untlogged', 'bundle/app', 'no-tlog'), key);
    // Signed, then the tag moved to an image nobody signed.
    await signBundleWithKey(registry, 'bundle/app', await push('movedSigned', 'bundle/app', 'moved'), key, { tlog: sigstore.rekor });
    await push('moved', 'bundle/app', 'moved');

    // Signatures kept in another repository (cosign's COSIGN_REPOSITORY).
    await signBundleWithKey(registry, 'sigs/store', await push('elsewhere', 'elsewhere/app', '1.0'), key, { tlog: sigstore.rekor });
    // A multi-platform image whose index nobody signed, and one of whose platform manifests is signed on its own.
    const platforms = await push('platforms', 'bundle/platforms', '1.0', true);
    const [signedChild] = platforms.children ?? [];
    assert.ok(signedChild);
    await signBundleWithKey(registry, 'bundle/platforms', signedChild, key, { tlog: sigstore.rekor });

    await signBundleKeyless(registry, 'keyless/app', await push('keyless', 'keyless/app', '1.0'), { issuer: ISSUER, subject: RELEASE }, { sigstore });
    const evil = 'https://github.com/acme/app.evil.com/.github/workflows/release.yml@refs/tags/v1';
    await signBundleKeyless(registry, 'keyless/app', await push('evil', 'keyless/app', 'evil'), { issuer: ISSUER, subject: evil }, { sigstore });

    signet = await startSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        policy: {
          default: 'enforce',
          rules: [
            { match: 'docker.io/legacy/**', require: { cosign: { keys: [keyPath], tlog: false } } },
            { match: 'docker.io/bundle/**', require: { cosign: { keys: [keyPath], trustedRoot: rootPath } } },
            { match: 'docker.io/elsewhere/**', require: { cosign: { keys: [keyPath], trustedRoot: rootPath, repository: 'sigs/store' } } },
            {
              match: 'docker.io/keyless/**',
              require: {
                cosign: {
                  trustedRoot: rootPath,
                  identities: [{ issuer: ISSUER, subjectRegExp: 'https://github.com/acme/app/\\.github/workflows/release\\.yml@refs/tags/v.*' }],
                },
              },
            },
          ],
        },
      },
    });
  });
  after(async () => {
    await stopAll(signet, registry, sigstore);
    await removeDir(dir);
  });

  const admitted = (name: string, repo: string, tag: string): void => {
    test(`${name}: ${repo}:${tag} is served with the signed digest, and its blobs`, async () => {
      const image = images[name];
      assert.ok(image);
      const res = await get(signet, `/v2/${repo}/manifests/${tag}`);
      assert.equal(res.status, 200, res.body.toString());
      assert.equal(res.headers.get('docker-content-digest'), image.digest);
      for (const blob of image.blobs) assert.equal((await get(signet, `/v2/${repo}/blobs/${blob.digest}`)).status, 200);
      for (const child of image.children ?? []) {
        // cosign signs the index: its platform manifests are admitted through it.
        assert.equal((await get(signet, `/v2/${repo}/manifests/${child.digest}`)).status, 200, `platform ${child.digest}`);
      }
    });
  };

  const denied = (what: string, repo: string, tag: string, reason: string, message?: RegExp): void => {
    test(`${what}: ${repo}:${tag} is denied (${reason})`, async () => {
      const res = await get(signet, `/v2/${repo}/manifests/${tag}`);
      assert.equal(res.status, 403, res.body.toString());
      const d = denial(res.body);
      assert.equal(d.reason, reason, d.message);
      if (message) assert.match(d.message, message);
    });
  };

  admitted('legacy', 'legacy/app', '1.0');
  admitted('bundle', 'bundle/app', '1.0');
  admitted('keyless', 'keyless/app', '1.0');
  denied('unsigned', 'legacy/app', '2.0', 'no_signature', /has no cosign signature/);
  denied('a valid signature copied to another image', 'legacy/app', '3.0', 'claim_mismatch');
  denied('wrong key', 'bundle/app', 'wrong-key', 'untrusted_signer');
  denied('attestation only', 'bundle/app', 'attested', 'claim_mismatch', /attestation/);
  denied('no transparency-log entry while the rule requires one', 'bundle/app', 'no-tlog', 'no_tlog_entry');
  denied('a tag moved to an unsigned image after signing', 'bundle/app', 'moved', 'no_signature');
  denied('an identity that only looks like the rule', 'keyless/app', 'evil', 'identity_mismatch', /app\.evil\.com/);

  admitted('elsewhere', 'elsewhere/app', '1.0');

  test('a platform manifest signed on its own is admitted by digest; its unsigned sibling is not', async () => {
    const [signedChild, unsignedChild] = images['platforms']?.children ?? [];
    assert.ok(signedChild && unsignedChild);
    const ok = await get(signet, `/v2/bundle/platforms/manifests/${signedChild.digest}`);
    assert.equal(ok.status, 200, ok.body.toString());
    const no = await get(signet, `/v2/bundle/platforms/manifests/${unsignedChild.digest}`);
    assert.equal(no.status, 403);
    assert.equal(denial(no.body).reason, 'no_signature');
    // The index itself is not signed.
    assert.equal(denial((await get(signet, '/v2/bundle/platforms/manifests/1.0')).body).reason, 'no_signature');
  });

  test('decisions name the format, signer and rule; signet check shows the cosign evidence', async () => {
    assert.ok((await signet.metric('signet_policy_decisions_total', { verdict: 'allowed', reason: 'signed' })) >= 3);
    assert.ok((await signet.metric('signet_policy_decisions_total', { verdict: 'denied', reason: 'claim_mismatch' })) >= 1);
    const check = await run(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'check', 'docker.io/keyless/app:1.0', '--config', signet.configPath],
      {
        cwd: REPO_ROOT,
      },
    );
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stdout, /ALLOWED/);
    assert.match(check.stdout, new RegExp(`cosign: .*${ISSUER.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`));
    assert.match(check.stdout, /log index \d+/);
    assert.match(check.stdout, /policy\.rules\.3/);
    const json = await run(
      process.execPath,
      ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'check', 'docker.io/legacy/app:2.0', '--json', '--config', signet.configPath],
      {
        cwd: REPO_ROOT,
      },
    );
    assert.equal(json.code, 1);
    assert.equal((JSON.parse(json.stdout) as { reason: string }).reason, 'no_signature');
  });

  test('signet trust inspect lists every signature of the digest and why one does not count', async () => {
    const inspect = (image: string) =>
      run(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'main.ts'), 'trust', 'inspect', image, '--config', signet.configPath], {
        cwd: REPO_ROOT,
      });
    const keyless = await inspect('docker.io/keyless/app:1.0');
    assert.equal(keyless.code, 0, keyless.stderr);
    assert.match(keyless.stdout, new RegExp(`Signatures of docker\\.io/keyless/app:1\\.0 \\(${images['keyless']?.digest ?? ''}\\)`));
    assert.match(keyless.stdout, /1 distinct signer\(s\) verified, 1 required/);
    assert.match(keyless.stdout, /OK .*issuer https:\/\/token\.actions\.githubusercontent\.com.*log index \d+/);
    const wrong = await inspect('docker.io/bundle/app:wrong-key');
    assert.equal(wrong.code, 0, wrong.stderr);
    assert.match(wrong.stdout, /NOT COUNTED untrusted_signer/);
  });
});
