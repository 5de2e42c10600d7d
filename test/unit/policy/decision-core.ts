/**
 * Fakes for the decision core's table tests: a trust source whose answers are set per tag and
 * digest, a manifest loader over a fixed set of manifests, and a Policy wired to the real
 * Prometheus metrics and an in-memory audit log and provenance store.
 */
import { createHash } from 'node:crypto';
import { parseConfig } from '../../../src/config/load.js';
import type { NotaryRequirements } from '../../../src/config/load.js';
import { MemoryProvenanceStore } from '../../../src/cache/memory/provenance.js';
import { MemoryAuditLog } from '../../../src/policy/audit-log.js';
import { Policy } from '../../../src/policy/policy.js';
import type { ManifestFacts, ManifestLoader } from '../../../src/policy/requests.js';
import { Metrics } from '../../../src/server/metrics.js';
import { Denial, type Admission, type PinnedTag, type Subject, type TagSubject, type TrustSource } from '../../../src/trust/source.js';
import { parseMetric } from '../../harness/metrics.js';

export function digestOf(label: string): string {
  return `sha256:${createHash('sha256').update(label).digest('hex')}`;
}

export function manifest(label: string, extra: Partial<ManifestFacts> = {}): ManifestFacts {
  return {
    digest: digestOf(label),
    size: 100,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    isIndex: false,
    children: [digestOf(`${label}/config`), digestOf(`${label}/layer`)],
    subject: undefined,
    signatureArtifact: false,
    ...extra,
  };
}

/** A trust source answering from tables keyed by the requirement's path, then tag or digest. */
export class FakeSource implements TrustSource<NotaryRequirements> {
  readonly format = 'notary';
  readonly pins = new Map<string, PinnedTag | Denial>();
  readonly digests = new Map<string, Admission | Denial>();
  calls = 0;
  readonly #canPin: boolean;

  constructor(canPin = true) {
    this.#canPin = canPin;
    if (!canPin) this.pinTag = undefined;
  }

  pinTag?: (subject: TagSubject, requirement: NotaryRequirements) => Promise<PinnedTag> = async (subject, requirement) => {
    this.calls++;
    const answer = this.pins.get(`${requirement.path} ${subject.tag}`) ?? this.pins.get(subject.tag);
    if (!answer) throw new Denial('tag_not_signed', `tag "${subject.tag}" is not signed`);
    if (answer instanceof Denial) throw answer;
    return answer;
  };

  async verify(subject: Subject, requirement: NotaryRequirements): Promise<Admission> {
    this.calls++;
    const answer = this.digests.get(`${requirement.path} ${subject.digest}`) ?? this.digests.get(subject.digest);
    if (!answer) throw new Denial('digest_not_signed', `${subject.digest} is not signed`);
    if (answer instanceof Denial) throw answer;
    return answer;
  }

  get pinning(): boolean {
    return this.#canPin;
  }
}

export function pinned(m: ManifestFacts, signers: string[] = [], size = m.size): PinnedTag {
  return {
    format: 'notary',
    digest: m.digest,
    size,
    role: 'targets',
    signers,
    evidence: [{ format: 'notary', signer: 'targets', role: 'targets' }, ...signers.map((s) => ({ format: 'notary', signer: s, role: `targets/${s}` }))],
    trust: { name: 'docker.io/library/app', versions: { root: 1, targets: 3 } },
  };
}

export function admission(m: ManifestFacts, signers: string[] = []): Admission {
  return { format: 'notary', digest: m.digest, signers, evidence: signers.map((s) => ({ format: 'notary', signer: s })), trust: undefined };
}

/** A registry as the policy sees it: tags → digests, digests → manifests; counts what was asked. */
export class FakeLoader implements ManifestLoader<ManifestFacts> {
  readonly manifests = new Map<string, ManifestFacts>();
  readonly tags = new Map<string, string>();
  readonly asked: string[] = [];

  add(m: ManifestFacts, ...tags: string[]): ManifestFacts {
    this.manifests.set(m.digest, m);
    for (const t of tags) this.tags.set(t, m.digest);
    return m;
  }

  async byDigest(digest: string): Promise<ManifestFacts | undefined> {
    this.asked.push(`digest ${digest}`);
    return this.manifests.get(digest);
  }

  async byTag(tag: string): Promise<ManifestFacts> {
    this.asked.push(`tag ${tag}`);
    const digest = this.tags.get(tag);
    const found = digest ? this.manifests.get(digest) : undefined;
    if (!found) throw new Error(`no tag ${tag} in the fake registry`);
    return found;
  }
}

export const CONFIG_YAML = `
upstreams:
  docker.io: {url: "http://127.0.0.1:9", trust: {notary: {url: "http://127.0.0.1:9"}}}
policy:
  default: enforce
  rules:
    - {match: "docker.io/enforced/**", require: {notary: {roots: {tofu: true}}}}
    - {match: "docker.io/audited/**", mode: audit, require: {notary: {roots: {tofu: true}}}}
    - {match: "docker.io/open/**", mode: "off"}
    - match: "docker.io/either/**"
      require: {anyOf: [{notary: {roots: {keyIds: ["${'a'.repeat(64)}"]}}}, {notary: {roots: {tofu: true}}}]}
    - match: "docker.io/both/**"
      require: {allOf: [{notary: {roots: {keyIds: ["${'a'.repeat(64)}"]}}}, {notary: {roots: {tofu: true}}}]}
`;

export interface Core {
  policy: Policy;
  source: FakeSource;
  provenance: MemoryProvenanceStore;
  audit: MemoryAuditLog;
  metrics: Metrics;
  /** signet_policy_decisions_total{verdict, reason}. */
  decisions(verdict: string, reason: string): Promise<number>;
}

export function core(source = new FakeSource()): Core {
  const config = parseConfig(CONFIG_YAML, 'test.yaml', { env: {} });
  const provenance = new MemoryProvenanceStore();
  const audit = new MemoryAuditLog();
  const metrics = new Metrics();
  const policy = new Policy({ config, sources: { notary: source }, provenance, audit, observer: metrics });
  return {
    policy,
    source,
    provenance,
    audit,
    metrics,
    decisions: async (verdict, reason) => parseMetric(await metrics.registry.metrics(), 'signet_policy_decisions_total', { verdict, reason }),
  };
}
