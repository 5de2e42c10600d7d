import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { containerdPulls, containerdRefused, dockerdPulls, dockerdRefused, skopeoRefused } from '../../harness/client-pulls.js';
import { startContainerd } from '../../harness/containerd.js';
import { startDockerd } from '../../harness/dockerd.js';
import { denialOf, getWithManifestAccept } from '../../harness/http.js';
import { MANIFEST_ACCEPT, pushImage, TWO_PLATFORMS, type Platform, type PushedImage } from '../../harness/images.js';
import { pushNotationSignature } from '../../harness/notation-oci.js';
import { certificateChain, createNotationPki, writeTrustStore, type NotationPki, type PkiCertificate } from '../../harness/notation-pki.js';
import { signNotation, type SignNotationOptions } from '../../harness/notation-sign.js';
import { eventually } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { skopeoPull } from '../../harness/skopeo.js';
import { makeTempDir, removeDir } from '../../harness/tmp.js';

// Real clients pull Notation-signed images through Signet: skopeo, containerd (hosts.toml) and
// dockerd (registry-mirrors) get the signed digest of a two-platform index signed with a JWS
// envelope (RSA leaf) and of an image signed with a COSE envelope (EC P-384 leaf), both from a
// root + intermediate PKI made by openssl. Images whose signature breaks a rule of the Notary
// Project signing scheme (signature-specification.md, trust-store-trust-policy.md), and an
// unsigned one, are refused to each client; Signet says why in its 403 and its audit log.

const HOUR = 60 * 60 * 1000;

/** The denied images (library/<repo>:1.0) and the reason Signet must give for each. */
const DENIED = [
  ['foreign', 'untrusted_signer'],
  ['intruder', 'identity_mismatch'],
  ['expired', 'expired'],
  ['tampered', 'bad_signature'],
  ['critical', 'bad_signature'],
  ['wrongalg', 'bad_signature'],
  ['sha1', 'untrusted_signer'],
  ['serverauth', 'untrusted_signer'],
  ['unsigned', 'no_signature'],
] as const;

describe('Notation-signed images pulled by skopeo, containerd and dockerd', () => {
  let registry: Registry;
  let dir: string;
  let pki: NotationPki | undefined;
  let foreign: NotationPki | undefined;
  let signet: Signet;
  let jws: PushedImage;
  let cose: PushedImage;

  /** Pushes library/<repo>:1.0 (its own content) and, given a leaf, a Notation signature of it as notation does. */
  const push = async (
    repo: string,
    leaf: PkiCertificate | undefined,
    options: Partial<Pick<SignNotationOptions, 'format' | 'signingTime' | 'expiry' | 'tamper'>> & { platforms?: Platform[] } = {},
  ): Promise<PushedImage> => {
    const { platforms, ...sign } = options;
    const image = await pushImage(registry, `library/${repo}`, '1.0', {
      files: { 'hello.txt': `notation e2e ${repo}\n` },
      ...(platforms ? { platforms } : {}),
    });
    if (leaf) {
      const subject = { mediaType: image.mediaType, digest: image.digest, size: image.size };
      const envelope = await signNotation({ format: 'jws', key: leaf.privateKey, certChain: certificateChain(leaf), ...sign, target: subject });
      await pushNotationSignature(registry, `library/${repo}`, subject, envelope);
    }
    return image;
  };

  before(async () => {
    dir = await makeTempDir('notation-e2e');
    registry = await startRegistry();
    [pki, foreign] = await Promise.all([createNotationPki({ intermediate: true }), createNotationPki()]);
    const store = join(dir, 'truststore');
    await writeTrustStore(store, 'ca', 'corp', [pki.root]);
    const policyPath = join(dir, 'trustpolicy.oci.json');
    await writeFile(
      policyPath,
      JSON.stringify({
        version: '1.0',
        trustPolicies: [
          {
            name: 'corp',
            registryScopes: ['*'],
            signatureVerification: { level: 'strict' },
            trustStores: ['ca:corp'],
            trustedIdentities: ['x509.subject: C=US, ST=WA, O=Signet Test'],
          },
        ],
      }),
    );

    const [rsa, ec, other, intruder, sha1, serverAuth] = await Promise.all([
      pki.leaf(),
      pki.leaf({ keyType: 'ec384' }),
      foreign.leaf(),
      pki.leaf({ subject: 'C=US, ST=WA, L=Seattle, O=Intruder, CN=signer' }),
      pki.leaf({ hash: 'sha1' }),
      pki.leaf({ extendedKeyUsage: 'serverAuth' }),
    ]);
    [jws, cose] = await Promise.all([
      push('jws', rsa, { platforms: TWO_PLATFORMS }),
      push('cose', ec, { format: 'cose' }),
      push('foreign', other),
      push('intruder', intruder),
      // Signed within the leaf's validity, expired since (io.cncf.notary.expiry).
      push('expired', rsa, { signingTime: new Date(Date.now() - 2 * HOUR), expiry: new Date(Date.now() - HOUR) }),
      push('tampered', rsa, { tamper: { payloadAfterSigning: Buffer.from('{"targetArtifact":{}}') } }),
      push('critical', rsa, { tamper: { extraProtected: { 'io.cncf.notary.unknown': 'x' }, extraCrit: ['io.cncf.notary.unknown'] } }),
      push('wrongalg', rsa, { tamper: { alg: 'PS384', signWith: 'PS384' } }),
      push('sha1', sha1),
      push('serverauth', serverAuth),
      push('unsigned', undefined),
    ]);

    signet = await startSignet({
      upstreams: { 'docker.io': { url: registry.url } },
      defaultUpstream: 'docker.io',
      extra: {
        policy: {
          default: 'enforce',
          rules: [{ match: 'docker.io/library/**', require: { notation: { trustPolicy: policyPath, trustStore: store } } }],
        },
      },
    });
  });
  /** How many times Signet has answered 403 to a request for each denied image's tag (its request log). */
  const refusals = async (): Promise<Map<string, number>> => {
    const counts = new Map<string, number>(DENIED.map(([repo]) => [repo, 0]));
    for (const line of await signet.logLines()) {
      if (line.msg !== 'request' || line.status !== 403) continue;
      const repo = /^\/v2\/library\/([a-z0-9]+)\/manifests\/1\.0$/.exec(String(line.path))?.[1];
      if (repo !== undefined && counts.has(repo)) counts.set(repo, (counts.get(repo) ?? 0) + 1);
    }
    return counts;
  };
  /** Asserts Signet itself refused each denied image since `earlier` (a client's failure could have another cause). */
  const refusedSince = (earlier: Map<string, number>, client: string): Promise<void> =>
    eventually(`Signet's 403 to ${client} for each denied image`, async () => {
      const now = await refusals();
      for (const [repo] of DENIED) assert.ok((now.get(repo) ?? 0) > (earlier.get(repo) ?? 0), `Signet did not refuse library/${repo}:1.0 to ${client}`);
    });

  after(async () => {
    await stopAll(signet, registry);
    for (const p of [pki, foreign]) await p?.dispose();
    await removeDir(dir);
  });

  test('Signet refuses each denied image with its reason, over HTTP and in the audit log', async () => {
    for (const [repo, reason] of DENIED) {
      const res = await getWithManifestAccept(signet.url, `/v2/library/${repo}/manifests/1.0`, MANIFEST_ACCEPT);
      assert.equal(res.status, 403, `${repo}: ${res.body.toString()}`);
      const denial = denialOf(res.body);
      assert.equal(denial.code, 'DENIED', repo);
      assert.equal(denial.reason, reason, `${repo}: ${denial.message}`);
    }
    await eventually('a denied manifest decision for each denied image', async () => {
      const decisions = (await signet.logLines()).filter((l) => l.audit === true && l.kind === 'manifest' && l.verdict === 'denied');
      for (const [repo, reason] of DENIED) {
        assert.ok(
          decisions.some((l) => l.repository === `library/${repo}` && l.reference === '1.0' && l.reason === reason),
          `no audit line denying library/${repo}:1.0 (${reason}): ${JSON.stringify(decisions.filter((l) => l.repository === `library/${repo}`))}`,
        );
      }
    });
  });

  test('skopeo copies the signed images with their signed digests and is refused the others', async () => {
    const single = await skopeoPull(`docker://${signet.host}/library/cose:1.0`);
    assert.equal(single.top.digest, cose.digest);
    for (const blob of cose.blobs) assert.ok(single.blobs.includes(blob.digest), `blob ${blob.digest}`);
    const all = await skopeoPull(`docker://${signet.host}/library/jws:1.0`, ['--all']);
    assert.equal(all.top.digest, jws.digest);
    assert.equal(jws.children?.length, TWO_PLATFORMS.length);
    for (const child of jws.children ?? []) assert.ok(all.blobs.includes(child.digest), `platform ${child.digest}`);
    const earlier = await refusals();
    await skopeoRefused(DENIED.map(([repo]) => `docker://${signet.host}/library/${repo}:1.0`));
    await refusedSince(earlier, 'skopeo');
  });

  test('containerd pulls the signed images and is refused the others', async () => {
    const containerd = await startContainerd();
    try {
      await containerd.writeHosts('docker.io', signet.url);
      await containerdPulls(containerd, [
        ['docker.io/library/jws:1.0', jws.digest],
        ['docker.io/library/cose:1.0', cose.digest],
      ]);
      const earlier = await refusals();
      await containerdRefused(
        containerd,
        DENIED.map(([repo]) => `docker.io/library/${repo}:1.0`),
      );
      await refusedSince(earlier, 'containerd');
      const images = await containerd.ctr(['images', 'ls', '-q']);
      assert.deepEqual(images.stdout.trim().split('\n').sort(), ['docker.io/library/cose:1.0', 'docker.io/library/jws:1.0']);
    } finally {
      await containerd.stop();
    }
  });

  test('dockerd pulls the signed images through registry-mirrors and is refused the others', async () => {
    const dockerd = await startDockerd({ registryMirrors: [signet.url] });
    try {
      await dockerdPulls(dockerd, [
        ['jws:1.0', jws.digest],
        ['cose:1.0', cose.digest],
      ]);
      for (const [repo, image] of [
        ['jws', jws],
        ['cose', cose],
      ] as const) {
        const inspect = await dockerd.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', `${repo}:1.0`]);
        assert.equal(inspect.code, 0, inspect.stderr);
        assert.deepEqual(JSON.parse(inspect.stdout), [`${repo}@${image.digest}`]);
      }
      const earlier = await refusals();
      await dockerdRefused(
        dockerd,
        DENIED.map(([repo]) => `${repo}:1.0`),
      );
      await refusedSince(earlier, 'dockerd');
      const images = await dockerd.docker(['image', 'ls', '--format', '{{.Repository}}:{{.Tag}}']);
      assert.equal(images.code, 0, images.stderr);
      assert.deepEqual(images.stdout.trim().split('\n').sort(), ['cose:1.0', 'jws:1.0']);
    } finally {
      await dockerd.stop();
    }
  });
});
