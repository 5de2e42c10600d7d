import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { createDctClient, type DctClient, type PullVerdict } from '../../harness/dct.js';
import { startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { poll } from '../../harness/poll.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import {
  buildScenarios,
  SCENARIO_NAMES,
  SKIPPED_SCENARIOS,
  type BuiltScenarios,
  type Scenario,
  type ScenarioName,
  type Verdict,
} from '../../harness/scenarios.js';
import { startSignet, type Signet } from '../../harness/signet.js';
import { formatTable, plainPull, shortDigest, signetManifest, verdictOf, type VerdictRow } from '../../harness/verdicts.js';

// The acceptance table of "Enforce Docker Content Trust": for every DCT scenario (real trust
// data written by the Docker 20.10 CLI and the notary CLI), the verdict of the real Docker
// client (DOCKER_CONTENT_TRUST=1 docker pull, straight from the registry) next to the verdict
// of a plain dockerd pulling the same tag THROUGH Signet, and Signet's denial reason.
//
// Shared by all rows: one registry (the upstream), one notary-server over TLS, one dockerd for
// the reference client (and for writing the trust data), one dockerd that pulls through
// Signet by host name (`docker pull 127.0.0.1:<signet>/dct/<repo>:<tag>`, plain HTTP, no
// content trust: Signet decides), and one Signet whose upstream is named after the registry's
// host, so the default GUN template `{registry}/{repository}` is the GUN docker signed under.

const NS = 'dct';
/** The repository of the required-signers scenarios (scenarios.ts: `at('team', ...)`). */
const TEAM_REPO = `${NS}/team`;

interface SignetExpectation {
  verdict: Verdict;
  /** detail.reason of the denial. */
  reason?: string;
  /** Why Signet's verdict differs from Docker's (stricter by design); undefined = must be equal. */
  differs?: string;
  /** Shown in the table. */
  note: string;
  /** A known Signet bug this row trips over (the row stays, reported as TODO). */
  todo?: string;
}

const EXPECTED: Record<ScenarioName, SignetExpectation> = {
  signed: { verdict: 'allow', note: 'signed digest' },
  'signed-via-delegation-only': { verdict: 'allow', note: 'targets/releases hit' },
  'unsigned-tag-in-signed-repo': { verdict: 'deny', reason: 'tag_not_signed', note: '' },
  'no-trust-data': { verdict: 'deny', reason: 'no_trust_data', note: '' },
  'repushed-unsigned-after-signing': { verdict: 'allow', note: 'the SIGNED digest, not the registry tag' },
  'revoked-tag': { verdict: 'deny', reason: 'tag_not_signed', note: '' },
  'conflicting-targets-and-releases': { verdict: 'allow', note: 'the targets/releases digest' },
  'multi-arch-index': { verdict: 'allow', note: 'index signed; platform child via lineage' },
  'root-rotated-twice': {
    verdict: 'allow',
    note: 'primed before rotation; must walk N.root.json',
  },
  'targets-key-rotated': { verdict: 'allow', note: '' },
  'required-signers-both': { verdict: 'allow', note: 'rule: signers [alice, bob], threshold 2' },
  'required-signers-alice-only': {
    verdict: 'deny',
    reason: 'required_signers',
    differs: 'Docker has no required signers; the policy requires alice AND bob',
    note: 'stricter by design (bob missing)',
  },
  'signed-only-in-other-delegation': { verdict: 'deny', reason: 'tag_not_signed', note: 'only targets/qa signed it' },
};

function rootVersion(body: Buffer): number {
  return (JSON.parse(body.toString('utf8')) as { signed: { version: number } }).signed.version;
}

interface NotaryRequestLine {
  uri: string;
  status: number;
  userAgent: string;
}

/** notary-server's "response completed" log lines (JSON, one per request). */
function notaryRequests(log: string): NotaryRequestLine[] {
  const out: NotaryRequestLine[] = [];
  for (const line of log.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const r = JSON.parse(line) as Record<string, unknown>;
      if (r.msg !== 'response completed') continue;
      out.push({ uri: String(r['http.request.uri']), status: Number(r['http.response.status']), userAgent: String(r['http.request.useragent']) });
    } catch {
      // not a JSON line
    }
  }
  return out;
}

describe('DCT verdicts: Docker client vs. a dockerd pulling through Signet', () => {
  const started = Date.now();
  const rows: VerdictRow[] = [];
  let registry: Registry | undefined;
  let notary: NotaryServer | undefined;
  let referenceDockerd: Dockerd | undefined;
  let signetDockerd: Dockerd | undefined;
  let consumer: DctClient | undefined;
  let signet: Signet | undefined;
  let built: BuiltScenarios | undefined;
  let setupSeconds = 0;

  /** `<signet host>/<repo>:<tag>`: what the second dockerd pulls. */
  const throughSignet = (s: Pick<Scenario, 'repo' | 'tag'>): string => {
    assert.ok(signet);
    return `${signet.host}/${s.repo}:${s.tag}`;
  };

  before(async () => {
    // Started in parallel, each kept as soon as it is up, so after() stops it even if another fails.
    const starts = await Promise.allSettled([
      startRegistry().then((r) => (registry = r)),
      startNotaryServer({ tls: true }).then((n) => (notary = n)),
      startDockerd().then((d) => (referenceDockerd = d)),
      startDockerd().then((d) => (signetDockerd = d)),
    ]);
    for (const s of starts) if (s.status === 'rejected') throw s.reason;
    assert.ok(registry && notary && referenceDockerd && signetDockerd && notary.tlsCertPath);
    const upstream = registry.host; // "127.0.0.1:<port>": the GUN's registry part, as docker spells it
    const tofu = { roots: { tofu: true } };
    signet = await startSignet({
      upstreams: { [upstream]: { url: registry.url } },
      defaultUpstream: upstream,
      extra: {
        upstreams: { [upstream]: { trust: { notary: { url: notary.url, caFile: notary.tlsCertPath } } } },
        policy: {
          default: 'enforce',
          rules: [
            { match: `${upstream}/**`, mode: 'enforce', require: { notary: tofu } },
            { match: `${upstream}/${TEAM_REPO}`, mode: 'enforce', require: { notary: { ...tofu, signers: ['alice', 'bob'], threshold: 2 } } },
          ],
        },
        trust: { freshnessSeconds: 0 },
      },
    });
    consumer = await createDctClient({ dockerd: referenceDockerd, notary, name: 'consumer' });

    // Signet sees the rotation scenario's root before it is rotated, like the reference client:
    // the later verdict has to walk N.root.json from the root it pinned.
    const signetDaemon = signetDockerd;
    const signetPrimer: DctClient = {
      ...consumer,
      name: 'signet',
      pullVerdict: async (ref: string): Promise<PullVerdict> => {
        const at = ref.indexOf('/');
        const pull = await plainPull(signetDaemon, `${(signet as Signet).host}${ref.slice(at)}`);
        return { allowed: pull.allowed, output: pull.output, code: pull.allowed ? 0 : 1 };
      },
    };
    built = await buildScenarios({ registry, notary, dockerd: referenceDockerd, namespace: NS, primeBeforeRotation: [consumer, signetPrimer] });
    for (const name of ['required-signers-both', 'required-signers-alice-only'] as const) {
      assert.equal(built.scenarios.find((s) => s.name === name)?.repo, TEAM_REPO, `the signers rule must match the repository of ${name}`);
    }
    setupSeconds = (Date.now() - started) / 1000;
  });

  after(async (t) => {
    // The table of every row the tests above filled in (whatever their order or outcome).
    for (const skipped of SKIPPED_SCENARIOS)
      rows.push({ scenario: skipped.name, docker: '-', signet: '-', reason: 'skipped', note: 'not producible with the real tools' });
    t.diagnostic(`setup ${setupSeconds.toFixed(0)} s, total ${((Date.now() - started) / 1000).toFixed(0)} s`);
    for (const line of formatTable(rows)) t.diagnostic(line);
    await stopAll(signet, built, consumer, referenceDockerd, signetDockerd, notary, registry);
  });

  const scenario = (name: string): Scenario => {
    const found = built?.scenarios.find((s) => s.name === name);
    assert.ok(found, `scenario ${name} was not built`);
    return found;
  };

  for (const name of SCENARIO_NAMES) {
    const todo = EXPECTED[name].todo;
    test(name, todo === undefined ? {} : { todo }, async (t) => {
      const s = scenario(name);
      const expected = EXPECTED[name];
      assert.ok(consumer && signet && signetDockerd);
      const note = expected.todo === undefined ? expected.note : `${expected.note} [TODO: known Signet bug]`;
      const row: VerdictRow = { scenario: name, docker: '?', signet: '?', reason: '', note };
      rows.push(row);

      // The reference: Docker's client with content trust, straight from the registry.
      const reference = await consumer.pullVerdict(s.ref);
      row.docker = verdictOf(reference.allowed);
      // Through Signet: a daemon without content trust, by host name.
      const pull = await plainPull(signetDockerd, throughSignet(s));
      row.signet = verdictOf(pull.allowed);
      // Signet's own answer for the tag (no daemon in between).
      const answer = await signetManifest(signet.url, s.repo, s.tag);
      row.reason = answer.status === 200 ? `signed ${shortDigest(answer.digest ?? undefined)}` : (answer.denial?.reason ?? `HTTP ${answer.status}`);
      t.diagnostic(`docker=${row.docker} signet=${row.signet} reason=${row.reason}`);

      let context =
        `${s.name} (${s.ref}): ${s.reason}\n--- DCT docker pull (reference) ---\n${reference.output}` +
        `\n--- docker pull through Signet (${throughSignet(s)}) ---\n${pull.output}\n--- Signet GET manifest: HTTP ${answer.status} ${answer.denial?.body ?? answer.digest ?? ''}`;
      if (s.rootBeforeRotation && notary) {
        const trail = notaryRequests(await notary.log()).filter((r) => r.userAgent === 'signet' && r.uri.startsWith(`/v2/${s.gun}/`));
        context += `\n--- Signet's requests to the trust server for ${s.gun} ---\n${trail.map((r) => `${r.status} ${r.uri.slice(r.uri.lastIndexOf('/') + 1)}`).join('\n')}`;
      }

      // The reference is what scenarios.ts says Docker decides.
      assert.equal(row.docker, s.expect, `reference verdict\n${context}`);
      if (s.expect === 'allow') assert.equal(reference.digest, s.expectedDigest, `reference digest\n${context}`);
      else assert.ok(s.dockerMessage && reference.output.includes(s.dockerMessage), `reference denial "${s.dockerMessage ?? ''}"\n${context}`);

      // Signet's verdict: Docker's, except where Signet is stricter by design.
      assert.equal(row.signet, expected.verdict, `Signet verdict\n${context}`);
      if (expected.differs === undefined) assert.equal(row.signet, row.docker, `Signet must decide as Docker does\n${context}`);
      else assert.notEqual(row.signet, row.docker, `expected to differ from Docker: ${expected.differs}\n${context}`);

      if (expected.verdict === 'allow') {
        assert.ok(s.expectedDigest, `allow scenario ${s.name} names no digest`);
        const repository = throughSignet(s).slice(0, throughSignet(s).lastIndexOf(':'));
        assert.ok(
          pull.repoDigests.includes(`${repository}@${s.expectedDigest}`),
          `RepoDigests ${JSON.stringify(pull.repoDigests)} lack ${s.expectedDigest}\n${context}`,
        );
        assert.equal(answer.status, 200, context);
        assert.equal(answer.digest, s.expectedDigest, `Signet serves the signed digest\n${context}`);
        if (s.registryDigest !== undefined) assert.notEqual(answer.digest, s.registryDigest, `not the registry's idea of the tag\n${context}`);
      } else {
        const denial = answer.denial;
        assert.ok(denial, context);
        assert.equal(denial.status, 403, context);
        assert.equal(denial.code, 'DENIED', context);
        assert.equal(denial.reason, expected.reason, context);
        assert.ok(denial.message, context);
        assert.ok(pull.output.includes(denial.message), `the daemon's output carries Signet's message "${denial.message}"\n${context}`);
      }

      if (name === 'root-rotated-twice') {
        // Signet pinned the pre-rotation root (primed), so it had to fetch the intermediate root.
        assert.ok(notary && s.rootBeforeRotation);
        const gun = s.gun;
        const intermediate = `/v2/${gun}/_trust/tuf/${rootVersion(s.rootBeforeRotation) + 1}.root.json`;
        const server = notary;
        const walked = await poll(
          `Signet's GET ${intermediate} in the notary-server log`,
          async () => {
            const hits = notaryRequests(await server.log()).filter((r) => r.userAgent === 'signet' && r.uri === intermediate && r.status === 200);
            return hits.length > 0 ? hits : undefined;
          },
          { timeoutMs: 10_000 },
        ).catch(() => undefined);
        assert.ok(walked, `Signet never fetched ${intermediate}: it did not walk the rotation from the primed root\n${context}`);
        row.reason += ` (walked ${intermediate.slice(intermediate.lastIndexOf('/') + 1)})`;
      }
    });
  }

  /** A digest pull of an unsigned image: Docker's client does no trust check for digests; Signet does. */
  const digestPull = (label: string, from: ScenarioName, reason: string): void => {
    test(label, async (t) => {
      const s = scenario(from);
      assert.ok(consumer && signet && signetDockerd && s.registryDigest);
      const row: VerdictRow = { scenario: label, docker: '?', signet: '?', reason: '', note: 'stricter by design: docker skips DCT for @digest' };
      rows.push(row);
      const reference = await consumer.pullVerdict(`${s.ref.slice(0, s.ref.lastIndexOf(':'))}@${s.registryDigest}`);
      row.docker = verdictOf(reference.allowed);
      const ref = `${signet.host}/${s.repo}@${s.registryDigest}`;
      const pull = await plainPull(signetDockerd, ref);
      row.signet = verdictOf(pull.allowed);
      const answer = await signetManifest(signet.url, s.repo, s.registryDigest);
      row.reason = answer.denial?.reason ?? `HTTP ${answer.status}`;
      t.diagnostic(`docker=${row.docker} signet=${row.signet} reason=${row.reason}`);
      const context = `${ref}\n--- DCT docker pull (reference) ---\n${reference.output}\n--- through Signet ---\n${pull.output}\n--- GET: HTTP ${answer.status} ${answer.denial?.body ?? ''}`;
      assert.equal(row.docker, 'allow', `the Docker client pulls digests without trust data\n${context}`);
      assert.equal(row.signet, 'deny', context);
      const denial = answer.denial;
      assert.ok(denial, context);
      assert.equal(denial.status, 403, context);
      assert.equal(denial.code, 'DENIED', context);
      assert.equal(denial.reason, reason, context);
      assert.ok(denial.message && pull.output.includes(denial.message), `the daemon's output carries Signet's message\n${context}`);
    });
  };
  digestPull('digest-pull-unsigned-in-signed-repo', 'unsigned-tag-in-signed-repo', 'digest_not_authorised');
  digestPull('digest-pull-no-trust-data', 'no-trust-data', 'no_trust_data');

  test('allowed-pull-counted', async (t) => {
    const s = scenario('signed');
    assert.ok(signet && signetDockerd);
    const row: VerdictRow = {
      scenario: 'allowed-pull-counted',
      docker: '-',
      signet: '?',
      reason: '',
      note: 'signet_policy_decisions_total{verdict="allowed"}',
    };
    rows.push(row);
    const metric = (): Promise<number> => (signet as Signet).metric('signet_policy_decisions_total', { verdict: 'allowed' });
    const before = await metric();
    const pull = await plainPull(signetDockerd, throughSignet(s));
    const after = await metric();
    row.signet = verdictOf(pull.allowed);
    row.reason = `allowed ${before} -> ${after}`;
    t.diagnostic(row.reason);
    assert.ok(pull.allowed, pull.output);
    assert.ok(after > before, `signet_policy_decisions_total{verdict="allowed"} stayed at ${before}`);
  });

  for (const skipped of SKIPPED_SCENARIOS) {
    test(skipped.name, { skip: skipped.reason }, () => undefined);
  }
});
