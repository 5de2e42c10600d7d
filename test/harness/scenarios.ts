import { createDctClient, parsePushOutput, type DctClient } from './dct.js';
import type { Dockerd } from './dockerd.js';
import { pushImage, TWO_PLATFORMS } from './images.js';
import { createNotaryCli, fetchTufRole, type NotaryCli } from './notary-cli.js';
import type { NotaryServer } from './notary-server.js';
import type { Registry } from './registry.js';

/**
 * Docker Content Trust scenarios with real trust data: one registry, one notary-server, one
 * dockerd; every repository is written by the Docker 20.10 CLI (`docker push` with content
 * trust, `docker trust signer add|sign|revoke`) and/or the notary 0.7 CLI (addhash, delegation
 * add, key rotate). Each scenario says what the real Docker client decides for its `ref`
 * (`expect`), which is the reference the proxy's verdicts are compared with.
 *
 * Not produced (listed in `skipped`): expired timestamp and expired targets. Neither tool has
 * an expiry option, and `faketime` cannot move their clocks: notary, notary-server and docker
 * are Go programs, which read the time through the vDSO and bypass libfaketime's LD_PRELOAD
 * (verified here: `faketime '-4 years' notary init ... -p` still writes targets expiring
 * now + 3 years). notary-server also re-signs a timestamp whenever it has expired
 * (server/timestamp/timestamp.go, GetOrCreateTimestamp: a new one unless the stored one is
 * unexpired and matches the snapshot), so a client of a server with a correct clock never
 * receives an expired timestamp.
 */

export type Verdict = 'allow' | 'deny';

export interface Scenario {
  name: ScenarioName;
  /** Repository path in the registry (`dct/signed`). */
  repo: string;
  /** Notary GUN: `<registry host>/<repo>`. */
  gun: string;
  tag: string;
  /** `<registry host>/<repo>:<tag>`: what is pulled. */
  ref: string;
  /** What `DOCKER_CONTENT_TRUST=1 docker pull <ref>` decides (Docker 20.10 CLI). */
  expect: Verdict;
  /** For 'allow': the digest the client pulls (the signed one). */
  expectedDigest?: string;
  /** Where the registry's tag points now, when that is not the signed digest. */
  registryDigest?: string;
  /** Why the client decides so (and what a stricter policy might say). */
  reason: string;
  /** For 'deny': text the docker CLI prints, proving it denied for this reason (not, say, a network error). */
  dockerMessage?: string;
  /** The delegation signers (`targets/<name>`) that signed the tag, when signers are involved. */
  signers?: string[];
  /** Exact bytes of root.json before the root was rotated (to pin the original root). */
  rootBeforeRotation?: Buffer;
}

export interface SkippedScenario {
  name: string;
  reason: string;
}

export interface ScenarioEnv {
  registry: Pick<Registry, 'host' | 'url' | 'credentials'>;
  /** Must serve https (startNotaryServer({ tls: true })): the docker CLI insists. */
  notary: NotaryServer;
  dockerd: Pick<Dockerd, 'host'>;
  /**
   * Identities (typically the reference consumer) that pull the root-rotation scenario before
   * its root is rotated, so that their later verdict walks the rotation chain from the root
   * they pinned instead of trusting the newest root on first use.
   */
  primeBeforeRotation?: DctClient[];
  /** Docker CLI with content trust (default: dct.ts's choice, /usr/bin/docker 20.10). */
  dockerCli?: string;
  /** Repository namespace (default `dct`). */
  namespace?: string;
}

export interface BuiltScenarios {
  scenarios: Scenario[];
  skipped: SkippedScenario[];
  /** The repository owner's identity (holds root and targets keys of the docker-made repositories). */
  owner: DctClient;
  /** The notary CLI identity that owns the notary-made repositories. */
  notaryCli: NotaryCli;
  /** Removes the identities' temp dirs (not the registry, notary-server or dockerd). */
  close(): Promise<void>;
}

export const SCENARIO_NAMES = [
  'signed',
  'signed-via-delegation-only',
  'unsigned-tag-in-signed-repo',
  'no-trust-data',
  'repushed-unsigned-after-signing',
  'revoked-tag',
  'conflicting-targets-and-releases',
  'multi-arch-index',
  'root-rotated-twice',
  'targets-key-rotated',
  'required-signers-both',
  'required-signers-alice-only',
  'signed-only-in-other-delegation',
] as const;

export type ScenarioName = (typeof SCENARIO_NAMES)[number];

export const SKIPPED_SCENARIOS: SkippedScenario[] = [
  {
    name: 'expired-timestamp',
    reason:
      'not producible with the real tools: the timestamp is always signed by notary-server, which re-signs it on every GET once it has expired; ' +
      'faketime cannot shift the clock of Go programs (vDSO bypasses LD_PRELOAD)',
  },
  {
    name: 'expired-targets',
    reason:
      'not producible with the real tools: neither notary nor docker has an expiry option (targets always expire now + 3 years) ' +
      'and faketime has no effect on Go programs (verified: faketime -4 years notary publish writes a 3-year expiry from the real now)',
  },
];

/** Throws unless `cond` holds: guards that a scenario's trust data really has the intended shape. */
function check(cond: boolean, message: string): asserts cond {
  if (!cond) throw new Error(`scenario setup: ${message}`);
}

interface RoleTargets {
  version: number;
  targets: Record<string, { hashes: Record<string, string>; length: number }>;
}

async function readRole(env: ScenarioEnv, gun: string, role: string): Promise<RoleTargets | undefined> {
  const reply = await fetchTufRole(env.notary, gun, role);
  if (reply.status === 404) return undefined;
  check(reply.status === 200, `GET ${role}.json of ${gun}: HTTP ${reply.status}`);
  const parsed = JSON.parse(reply.body.toString('utf8')) as { signed: { version: number; targets?: RoleTargets['targets'] } };
  return { version: parsed.signed.version, targets: parsed.signed.targets ?? {} };
}

function hexOfTarget(role: RoleTargets | undefined, tag: string): string | undefined {
  const b64 = role?.targets[tag]?.hashes.sha256;
  return b64 === undefined ? undefined : Buffer.from(b64, 'base64').toString('hex');
}

function rootVersion(body: Buffer): number {
  return (JSON.parse(body.toString('utf8')) as { signed: { version: number } }).signed.version;
}

export async function buildScenarios(env: ScenarioEnv): Promise<BuiltScenarios> {
  const ns = env.namespace ?? 'dct';
  const host = env.registry.host;
  const base = { dockerd: env.dockerd, notary: env.notary, ...(env.dockerCli ? { dockerCli: env.dockerCli } : {}) };
  const owner = await createDctClient({ ...base, name: 'owner' });
  let notaryCli: NotaryCli | undefined;
  const closers: Array<() => Promise<void>> = [() => owner.close()];
  const close = async (): Promise<void> => {
    for (const fn of closers.splice(0).reverse()) await fn().catch(() => undefined);
  };

  try {
    notaryCli = await createNotaryCli({ server: env.notary });
    const ncli = notaryCli;
    closers.push(() => ncli.close());
    // The notary CLI working on the owner's docker trust dir (same keys, same cached metadata).
    const ownerNotary = await createNotaryCli({ server: env.notary, trustDir: owner.trustDir, passphrases: owner.notaryPassphrases });
    closers.push(() => ownerNotary.close());

    // Two distinct local images in the daemon.
    const imageA = 'signet-dct-harness/a:1';
    const imageB = 'signet-dct-harness/b:1';
    await owner.loadImage(imageA, { files: { 'hello.txt': 'image A\n' } });
    await owner.loadImage(imageB, { files: { 'hello.txt': 'image B\n' } });

    const scenarios: Scenario[] = [];
    const at = (repo: string, tag: string): { repo: string; gun: string; tag: string; ref: string } => ({
      repo: `${ns}/${repo}`,
      gun: `${host}/${ns}/${repo}`,
      tag,
      ref: `${host}/${ns}/${repo}:${tag}`,
    });

    // 1. A tag signed by `docker push` (targets role).
    {
      const s = at('signed', 'v1');
      const push = await owner.pushSigned(imageA, s.ref);
      check(hexOfTarget(await readRole(env, s.gun, 'targets'), s.tag) === push.digest.slice(7), 'signed: targets lacks v1');
      scenarios.push({ name: 'signed', ...s, expect: 'allow', expectedDigest: push.digest, reason: 'tag signed in targets by docker push' });
    }

    // 2. Signed only through a delegation: signer add, then the signer's docker trust sign
    //    pushes and signs into targets/releases and targets/alice; targets itself has no v1.
    {
      const s = at('delegated', 'v1');
      const alice = await owner.signerAdd('alice', `${host}/${s.repo}`);
      await alice.dockerOk(['tag', imageA, s.ref], { contentTrust: false });
      const signed = await alice.trustSign(s.ref);
      const push = parsePushOutput(s.ref, signed.stdout + signed.stderr);
      check(hexOfTarget(await readRole(env, s.gun, 'targets'), s.tag) === undefined, 'delegated: v1 must not be in targets');
      check(hexOfTarget(await readRole(env, s.gun, 'targets/releases'), s.tag) === push.digest.slice(7), 'delegated: releases lacks v1');
      check(hexOfTarget(await readRole(env, s.gun, 'targets/alice'), s.tag) === push.digest.slice(7), 'delegated: targets/alice lacks v1');
      scenarios.push({
        name: 'signed-via-delegation-only',
        ...s,
        expect: 'allow',
        expectedDigest: push.digest,
        signers: ['alice'],
        reason: 'tag only in targets/releases (and targets/alice), signed by the delegation key; docker reads releases first',
      });
    }

    // 3. A signed repository with an unsigned tag.
    {
      const s = at('partial', 'v2');
      await owner.pushSigned(imageA, `${host}/${s.repo}:v1`);
      const push = await owner.pushUnsigned(imageB, s.ref);
      scenarios.push({
        name: 'unsigned-tag-in-signed-repo',
        ...s,
        expect: 'deny',
        registryDigest: push.digest,
        reason: 'the repository has trust data but none for this tag',
        dockerMessage: 'No valid trust data for v2',
      });
    }

    // 4. No trust data at all.
    {
      const s = at('untrusted', 'v1');
      const push = await owner.pushUnsigned(imageA, s.ref);
      check((await fetchTufRole(env.notary, s.gun, 'root')).status === 404, 'untrusted: must have no trust data');
      scenarios.push({
        name: 'no-trust-data',
        ...s,
        expect: 'deny',
        registryDigest: push.digest,
        reason: 'the notary server has no trust data for the repository',
        dockerMessage: `does not have trust data for ${s.gun}`,
      });
    }

    // 5. Signed, then the tag re-pushed (another image) without signing.
    {
      const s = at('repushed', 'v1');
      const signed = await owner.pushSigned(imageA, s.ref);
      const repushed = await owner.pushUnsigned(imageB, s.ref);
      check(signed.digest !== repushed.digest, 'repushed: digests must differ');
      scenarios.push({
        name: 'repushed-unsigned-after-signing',
        ...s,
        expect: 'allow',
        expectedDigest: signed.digest,
        registryDigest: repushed.digest,
        reason: 'the client pulls the signed digest by digest, not what the tag points to now',
      });
    }

    // 6. Signed, then revoked (another tag stays signed so the repository keeps trust data).
    {
      const s = at('revoked', 'v1');
      const push = await owner.pushSigned(imageA, s.ref);
      await owner.pushSigned(imageB, `${host}/${s.repo}:v2`);
      await owner.trustRevoke(s.ref);
      check(hexOfTarget(await readRole(env, s.gun, 'targets'), s.tag) === undefined, 'revoked: v1 still in targets');
      scenarios.push({
        name: 'revoked-tag',
        ...s,
        expect: 'deny',
        registryDigest: push.digest,
        reason: 'docker trust revoke removed the tag from targets; the registry still has it',
        dockerMessage: 'No valid trust data for v1',
      });
    }

    // 7. targets says A, targets/releases says B (both with the notary CLI): releases wins.
    {
      const s = at('conflict', 'v1');
      const a = await owner.pushUnsigned(imageA, s.ref);
      const b = await owner.pushUnsigned(imageB, `${host}/${s.repo}:v1-releases`);
      await ncli.init(s.gun, { serverManagedSnapshot: true });
      const key = await ncli.generateDelegationKey('targets/releases');
      await ncli.delegationAdd(s.gun, 'targets/releases', [key.certPath]);
      await ncli.addHash(s.gun, s.tag, a.size, a.digest);
      await ncli.addHash(s.gun, s.tag, b.size, b.digest, { roles: ['targets/releases'] });
      check(hexOfTarget(await readRole(env, s.gun, 'targets'), s.tag) === a.digest.slice(7), 'conflict: targets must say A');
      check(hexOfTarget(await readRole(env, s.gun, 'targets/releases'), s.tag) === b.digest.slice(7), 'conflict: releases must say B');
      scenarios.push({
        name: 'conflicting-targets-and-releases',
        ...s,
        expect: 'allow',
        expectedDigest: b.digest,
        registryDigest: a.digest,
        reason: 'targets and targets/releases sign different digests; docker prefers targets/releases',
      });
    }

    // 8. A two-platform OCI index (children pushed by digest, then the index by tag), its digest and size added by notary.
    {
      const s = at('multiarch', 'v1');
      const index = await pushImage(env.registry, s.repo, s.tag, { platforms: TWO_PLATFORMS });
      await ncli.init(s.gun, { serverManagedSnapshot: true });
      await ncli.addHash(s.gun, s.tag, index.size, index.digest);
      scenarios.push({
        name: 'multi-arch-index',
        ...s,
        expect: 'allow',
        expectedDigest: index.digest,
        reason: 'the signed target is the index; the daemon then picks its platform child',
      });
    }

    // 9. Signed, pulled once by the primed identities, then the root key rotated twice.
    {
      const s = at('rotated', 'v1');
      const push = await owner.pushSigned(imageA, s.ref);
      const before = await fetchTufRole(env.notary, s.gun, 'root');
      check(before.status === 200, 'rotated: no root.json');
      for (const client of env.primeBeforeRotation ?? []) {
        const verdict = await client.pullVerdict(s.ref);
        check(verdict.allowed, `rotated: priming pull by ${client.name} failed:\n${verdict.output}`);
      }
      await ownerNotary.keyRotate(s.gun, 'root');
      await ownerNotary.keyRotate(s.gun, 'root');
      const after = await fetchTufRole(env.notary, s.gun, 'root');
      check(rootVersion(after.body) === rootVersion(before.body) + 2, 'rotated: root version must have gone up by 2');
      scenarios.push({
        name: 'root-rotated-twice',
        ...s,
        expect: 'allow',
        expectedDigest: push.digest,
        rootBeforeRotation: before.body,
        reason: 'root rotated twice (notary key rotate root); each new root is signed by the old and new root keys',
      });
    }

    // 10. Signed, then the targets key rotated (targets re-signed with the new key).
    {
      const s = at('rotated-targets', 'v1');
      const push = await owner.pushSigned(imageA, s.ref);
      await ownerNotary.keyRotate(s.gun, 'targets');
      scenarios.push({
        name: 'targets-key-rotated',
        ...s,
        expect: 'allow',
        expectedDigest: push.digest,
        reason: 'notary key rotate targets: new targets key in root, targets re-signed',
      });
    }

    // 11-12. Two signers: v1 signed by alice and bob (same digest), v2 by alice only.
    {
      const both = at('team', 'v1');
      const aliceOnly = at('team', 'v2');
      const repo = `${host}/${both.repo}`;
      const alice = await owner.signerAdd('alice', repo);
      const bob = await owner.signerAdd('bob', repo);
      await alice.dockerOk(['tag', imageA, both.ref], { contentTrust: false });
      const v1 = parsePushOutput(both.ref, (await alice.trustSign(both.ref)).stdout);
      await bob.trustSign(both.ref); // already signed: bob re-signs the same digest, no push
      await alice.dockerOk(['tag', imageB, aliceOnly.ref], { contentTrust: false });
      const v2 = parsePushOutput(aliceOnly.ref, (await alice.trustSign(aliceOnly.ref)).stdout);
      const inspected = await owner.trustInspect(repo);
      const tags = new Map(inspected[0]?.SignedTags.map((t) => [t.SignedTag, [...t.Signers].sort()]) ?? []);
      check(JSON.stringify(tags.get('v1')) === JSON.stringify(['alice', 'bob']), `team: v1 signers ${JSON.stringify(tags.get('v1'))}`);
      check(JSON.stringify(tags.get('v2')) === JSON.stringify(['alice']), `team: v2 signers ${JSON.stringify(tags.get('v2'))}`);
      check(hexOfTarget(await readRole(env, both.gun, 'targets/bob'), 'v1') === v1.digest.slice(7), 'team: bob must sign v1');
      scenarios.push({
        name: 'required-signers-both',
        ...both,
        expect: 'allow',
        expectedDigest: v1.digest,
        signers: ['alice', 'bob'],
        reason: 'signed by alice and bob (targets/alice, targets/bob, targets/releases) with the same digest',
      });
      scenarios.push({
        name: 'required-signers-alice-only',
        ...aliceOnly,
        expect: 'allow',
        expectedDigest: v2.digest,
        signers: ['alice'],
        reason: 'signed by alice only: the docker client has no notion of required signers and allows it; a policy requiring alice and bob must deny',
      });
    }

    // 13. Signed only in a delegation other than targets/releases (notary CLI): the docker client
    //     finds it (targets' delegations are searched) but accepts hits of targets/releases and
    //     targets only.
    {
      const s = at('other-delegation', 'v1');
      const push = await owner.pushUnsigned(imageA, s.ref);
      await ncli.init(s.gun, { serverManagedSnapshot: true });
      const key = await ncli.generateDelegationKey('targets/qa');
      await ncli.delegationAdd(s.gun, 'targets/qa', [key.certPath]);
      await ncli.addHash(s.gun, s.tag, push.size, push.digest, { roles: ['targets/qa'] });
      check(hexOfTarget(await readRole(env, s.gun, 'targets/qa'), s.tag) === push.digest.slice(7), 'other-delegation: targets/qa lacks v1');
      check(hexOfTarget(await readRole(env, s.gun, 'targets'), s.tag) === undefined, 'other-delegation: v1 must not be in targets');
      scenarios.push({
        name: 'signed-only-in-other-delegation',
        ...s,
        expect: 'deny',
        registryDigest: push.digest,
        signers: ['qa'],
        reason: 'the tag is signed only in targets/qa; docker accepts only a hit in targets/releases or targets',
        dockerMessage: 'No trust data for v1',
      });
    }

    const names = scenarios.map((s) => s.name);
    check(JSON.stringify(names) === JSON.stringify(SCENARIO_NAMES), `built ${names.join(', ')}`);
    return { scenarios, skipped: SKIPPED_SCENARIOS, owner, notaryCli: ncli, close };
  } catch (err) {
    await close();
    throw err;
  }
}
