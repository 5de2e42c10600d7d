import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { stopAll } from '../../harness/cleanup.js';
import { createDctClient, type DctClient } from '../../harness/dct.js';
import { startDockerd, type Dockerd } from '../../harness/dockerd.js';
import { startNotaryServer, type NotaryServer } from '../../harness/notary-server.js';
import { startRegistry, type Registry } from '../../harness/registry.js';
import { buildScenarios, SCENARIO_NAMES, SKIPPED_SCENARIOS, type BuiltScenarios, type Scenario } from '../../harness/scenarios.js';

// The reference table: for every DCT scenario (real trust data written by the Docker 20.10 CLI
// and the notary CLI), what the real Docker client decides with DOCKER_CONTENT_TRUST=1.
// The proxy's verdicts are later compared with these. One registry, one notary-server and one
// dockerd are shared by all scenarios; the verdicts come from a "consumer" identity that holds
// no keys (its own DOCKER_CONFIG and trust cache), like a separate host.

describe('DCT reference verdicts of the Docker 20.10 client', () => {
  let registry: Registry | undefined;
  let notary: NotaryServer | undefined;
  let dockerd: Dockerd | undefined;
  let consumer: DctClient | undefined;
  let built: BuiltScenarios | undefined;

  before(async () => {
    [registry, notary, dockerd] = await Promise.all([startRegistry(), startNotaryServer({ tls: true }), startDockerd()]);
    consumer = await createDctClient({ dockerd, notary, name: 'consumer' });
    built = await buildScenarios({ registry, notary, dockerd, primeBeforeRotation: [consumer] });
  });

  after(() => stopAll(built, consumer, dockerd, notary, registry));

  const scenario = (name: string): Scenario => {
    const found = built?.scenarios.find((s) => s.name === name);
    assert.ok(found, `scenario ${name} was not built`);
    return found;
  };

  for (const name of SCENARIO_NAMES) {
    test(name, async () => {
      const s = scenario(name);
      assert.ok(consumer);
      const verdict = await consumer.pullVerdict(s.ref);
      const context = `${s.name} (${s.ref}): ${s.reason}\n--- docker pull output ---\n${verdict.output}`;
      assert.equal(verdict.allowed ? 'allow' : 'deny', s.expect, context);
      if (s.expect === 'allow') {
        assert.equal(verdict.digest, s.expectedDigest, context);
        // the daemon really has the signed digest under the tag now
        const inspect = await consumer.docker(['image', 'inspect', '--format', '{{json .RepoDigests}}', s.ref], { contentTrust: false });
        assert.equal(inspect.code, 0, inspect.stderr);
        const repoDigests = JSON.parse(inspect.stdout) as string[];
        assert.ok(repoDigests.includes(`${s.ref.slice(0, s.ref.lastIndexOf(':'))}@${s.expectedDigest}`), `${inspect.stdout}\n${context}`);
      } else {
        assert.equal(verdict.digest, undefined, context);
        assert.ok(s.dockerMessage, `deny scenario ${s.name} names no docker message`);
        assert.ok(verdict.output.includes(s.dockerMessage), `expected "${s.dockerMessage}"\n${context}`);
      }
    });
  }

  for (const skipped of SKIPPED_SCENARIOS) {
    test(skipped.name, { skip: skipped.reason }, () => undefined);
  }
});
