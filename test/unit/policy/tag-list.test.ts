/**
 * tags/list under a policy: `enforce` lists only what a pull would be admitted for (signed tag
 * names from trust data; digest-signed tags resolved and verified, boundedly), `anyOf` as a
 * union and `allOf` as an intersection, paginated on the filtered list; `audit` lists all and
 * audits what enforce would hide; `off` passes the upstream's list through.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DEFAULTS } from '../../../src/config/defaults.js';
import type { CosignRequirements, NotaryRequirements } from '../../../src/config/load.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryProvenanceStore } from '../../../src/cache/memory/provenance.js';
import { MemoryAuditLog } from '../../../src/policy/audit-log.js';
import { Policy } from '../../../src/policy/policy.js';
import type { TagLister, TagPage } from '../../../src/policy/requests.js';
import { Denial, type Admission, type RepositorySubject, type Subject, type TrustSource } from '../../../src/trust/source.js';
import { tempDir } from '../cache/helpers.js';
import { admission, digestOf, FakeSource, manifest, pinned } from './decision-core.js';

/**
 * A Notary-like source that also names the tags in its trust data (every tag it has an answer
 * for, refused ones too: the policy judges each name it lists).
 */
class SigningTags extends FakeSource {
  async signedTags(_subject: RepositorySubject, requirement: NotaryRequirements): Promise<string[]> {
    const tags: string[] = [];
    for (const key of this.pins.keys()) {
      if (!key.includes(' ')) tags.push(key);
      else if (key.startsWith(`${requirement.path} `)) tags.push(key.slice(key.lastIndexOf(' ') + 1));
    }
    return [...new Set(tags)].sort();
  }
}

/** A cosign-like source: signs digests, never pins a tag. */
class SigningDigests implements TrustSource<CosignRequirements> {
  readonly format = 'cosign';
  readonly signed = new Set<string>();

  async verify(subject: Subject): Promise<Admission> {
    if (!this.signed.has(subject.digest)) throw new Denial('no_signature', `no signature of ${subject.digest}`);
    return { ...admission(manifest('x')), format: 'cosign', digest: subject.digest };
  }
}

/** The upstream's tags (some registries ignore n and last: the lister applies both) and their digests. */
class FakeLister implements TagLister {
  readonly tags: string[];
  pages = 0;
  resolved: string[] = [];
  inFlight = 0;
  maxInFlight = 0;

  constructor(tags: string[]) {
    this.tags = [...tags].sort();
  }

  async page(n: number | undefined, last: string | undefined): Promise<TagPage> {
    this.pages++;
    const after = this.tags.filter((t) => last === undefined || t > last);
    const tags = n === undefined ? after : after.slice(0, n);
    return { tags, next: tags.length < after.length ? tags.at(-1) : undefined };
  }

  async resolve(tag: string): Promise<string | undefined> {
    this.resolved.push(tag);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    await new Promise<void>((resolve) => setImmediate(resolve));
    this.inFlight--;
    return this.tags.includes(tag) ? digestOf(`image ${tag}`) : undefined;
  }
}

const req = (repository: string) => ({ upstream: 'docker.io', repository, client: '127.0.0.1' });
const query = (n?: number, last?: string) => ({ n, last });

// The cosign requirement names a key file, read with the config; the fake source never uses it.
const keyPath = join(await tempDir(), 'cosign.pub');
await writeFile(keyPath, '-----BEGIN PUBLIC KEY-----\nnot read by these tests\n-----END PUBLIC KEY-----\n');

function rig() {
  const cosign = `{cosign: {keys: ["${keyPath}"], tlog: false}}`;
  const notary = '{notary: {roots: {tofu: true}}}';
  const config = parseConfig(
    `
upstreams:
  docker.io: {url: "http://127.0.0.1:9", trust: {notary: {url: "http://127.0.0.1:9"}}}
policy:
  default: enforce
  rules:
    - {match: "docker.io/notary/**", require: ${notary}}
    - {match: "docker.io/cosign/**", require: ${cosign}}
    - {match: "docker.io/either/**", require: {anyOf: [${notary}, ${cosign}]}}
    - {match: "docker.io/both/**", require: {allOf: [${notary}, ${cosign}]}}
    - {match: "docker.io/audited/**", mode: audit, require: ${notary}}
    - {match: "docker.io/open/**", mode: "off"}
`,
    'test.yaml',
    { env: {} },
  );
  const notarySource = new SigningTags();
  const cosignSource = new SigningDigests();
  const audit = new MemoryAuditLog();
  const policy = new Policy({ config, sources: { notary: notarySource, cosign: cosignSource }, provenance: new MemoryProvenanceStore(), audit });
  /** Notary signs `tags` (for every rule); cosign signs the digests the fake upstream has under `cosignTags`. */
  const sign = (notaryTags: string[], cosignTags: string[]): void => {
    for (const t of notaryTags) notarySource.pins.set(t, pinned(manifest(`image ${t}`)));
    for (const t of cosignTags) cosignSource.signed.add(digestOf(`image ${t}`));
  };
  return { policy, notarySource, cosignSource, audit, sign };
}

/** Follows `next` from the first page to the end, as a client follows Link headers. */
async function walk(policy: Policy, repository: string, lister: TagLister, n?: number): Promise<{ tags: string[]; pages: TagPage[] }> {
  const pages: TagPage[] = [];
  let last: string | undefined;
  for (let i = 0; i < 100; i++) {
    const page = await policy.tagList(req(repository), query(n, last), lister);
    assert.ok(page, 'a filtered page');
    pages.push(page);
    if (page.next === undefined) return { tags: pages.flatMap((p) => p.tags), pages };
    assert.ok(last === undefined || page.next > last, 'each page moves on');
    last = page.next;
  }
  assert.fail('pagination did not end');
}

const UPSTREAM = ['1.0', '2.0', '3.0', '4.0', 'latest', 'sha256-abc.sig'];

describe('tags/list under enforce', () => {
  it('Notary: the signed tags from the verified trust data, without asking the upstream', async () => {
    const r = rig();
    r.sign(['1.0', '4.0', 'gone-from-registry'], []);
    const lister = new FakeLister(UPSTREAM);
    const page = await r.policy.tagList(req('notary/app'), query(), lister);
    assert.deepEqual(page, { tags: ['1.0', '4.0', 'gone-from-registry'], next: undefined });
    assert.equal(lister.pages + lister.resolved.length, 0, 'no registry call');
    const record = r.audit.records.at(-1);
    assert.equal(record?.verdict, 'allowed');
    assert.equal(record.reason, 'listing');
    assert.equal(record.kind, 'tags');
  });

  it('Notary: the rule still decides (required signers): a tag its verdict refuses is hidden', async () => {
    const r = rig();
    r.sign(['1.0', '2.0'], []);
    r.notarySource.pins.set('2.0', new Denial('required_signers', 'bob did not sign'));
    assert.deepEqual((await r.policy.tagList(req('notary/app'), query(), new FakeLister(UPSTREAM)))?.tags, ['1.0']);
  });

  it('Notary: a repository whose trust data is refused is denied with that reason', async () => {
    const r = rig();
    r.notarySource.signedTags = async () => {
      throw new Denial('no_trust_data', 'no trust data for docker.io/notary/app');
    };
    await assert.rejects(
      r.policy.tagList(req('notary/app'), query(), new FakeLister(UPSTREAM)),
      (err: unknown) => err instanceof Denial && err.reason === 'no_trust_data',
    );
    assert.equal(r.audit.records.at(-1)?.verdict, 'denied');
  });

  it('cosign: the upstream tags whose digest verifies, each resolved by HEAD, at most n per request and a few at a time', async () => {
    const r = rig();
    r.sign([], ['2.0', 'latest']);
    const lister = new FakeLister(UPSTREAM);
    const first = await r.policy.tagList(req('cosign/app'), query(3), lister);
    assert.deepEqual(first, { tags: ['2.0'], next: '3.0' }, 'three judged, one admitted, the rest through Link');
    assert.deepEqual(lister.resolved.sort(), ['1.0', '2.0', '3.0']);
    const { tags } = await walk(r.policy, 'cosign/app', lister, 3);
    assert.deepEqual(tags, ['2.0', 'latest']);
    assert.ok(lister.maxInFlight <= DEFAULTS.tagListResolveConcurrency);
  });

  it('cosign: without n, one page judges at most DEFAULTS.tagListPageMax tags', async () => {
    const r = rig();
    const many = Array.from({ length: DEFAULTS.tagListPageMax + 5 }, (_, i) => `v${String(i).padStart(4, '0')}`);
    r.sign([], many);
    const lister = new FakeLister(many);
    const page = await r.policy.tagList(req('cosign/app'), query(), lister);
    assert.equal(page?.tags.length, DEFAULTS.tagListPageMax);
    assert.equal(lister.resolved.length, DEFAULTS.tagListPageMax);
    assert.equal(page.next, many[DEFAULTS.tagListPageMax - 1]);
    assert.ok(lister.maxInFlight > 1 && lister.maxInFlight <= DEFAULTS.tagListResolveConcurrency, `concurrency ${lister.maxInFlight}`);
  });

  it('anyOf: the union of Notary-signed and cosign-verified tags, paginated without gaps or repeats', async () => {
    const r = rig();
    r.sign(['1.0', '4.0'], ['2.0', '4.0', 'latest']);
    const want = ['1.0', '2.0', '4.0', 'latest'];
    for (const n of [undefined, 1, 2, 3, 10]) {
      const lister = new FakeLister(UPSTREAM);
      const { tags, pages } = await walk(r.policy, 'either/app', lister, n);
      assert.deepEqual(tags, want, `n=${n}`);
      for (const p of pages) assert.ok(n === undefined || p.tags.length <= n);
      assert.ok(!lister.resolved.includes('1.0'), 'a tag Notary signs needs no HEAD');
    }
  });

  it('allOf: the intersection, from the signed names (no upstream listing), cosign checking the pinned digest', async () => {
    const r = rig();
    r.sign(['1.0', '4.0'], ['2.0', '4.0']);
    const lister = new FakeLister(UPSTREAM);
    const { tags } = await walk(r.policy, 'both/app', lister, 1);
    assert.deepEqual(tags, ['4.0']);
    assert.equal(lister.pages + lister.resolved.length, 0, 'neither listed nor resolved at the registry');
  });

  it('n=0 lists nothing; last past every tag lists nothing', async () => {
    const r = rig();
    r.sign(['1.0'], []);
    assert.deepEqual(await r.policy.tagList(req('notary/app'), query(0), new FakeLister(UPSTREAM)), { tags: [], next: undefined });
    assert.deepEqual(await r.policy.tagList(req('notary/app'), query(undefined, 'zzz'), new FakeLister(UPSTREAM)), { tags: [], next: undefined });
  });
});

describe('tags/list under audit and off', () => {
  it('audit: every tag is listed; the ones enforce would hide are audited', async () => {
    const r = rig();
    r.sign(['1.0'], []);
    const page = await r.policy.tagList(req('audited/app'), query(), new FakeLister(UPSTREAM));
    assert.deepEqual(page?.tags, UPSTREAM);
    const record = r.audit.records.at(-1);
    assert.equal(record?.verdict, 'audited');
    assert.equal(record.reason, 'tag_not_signed');
    assert.match(record.message ?? '', /enforce would hide 5 \("2\.0", "3\.0", "4\.0", "latest", "sha256-abc\.sig"\) of 6 tags judged/);
  });

  it('audit: nothing hidden is an allowed listing', async () => {
    const r = rig();
    r.sign(UPSTREAM, []);
    await r.policy.tagList(req('audited/app'), query(), new FakeLister(UPSTREAM));
    assert.equal(r.audit.records.at(-1)?.verdict, 'allowed');
  });

  it('off: the upstream list passes through (no page to render), recorded as policy_off', async () => {
    const r = rig();
    const lister = new FakeLister(UPSTREAM);
    assert.equal(await r.policy.tagList(req('open/app'), query(), lister), undefined);
    assert.equal(lister.pages, 0);
    assert.equal(r.audit.records.at(-1)?.reason, 'policy_off');
  });
});

describe('referrers under enforce', () => {
  it("an unsigned digest's referrers are refused; a signed one's are listed", async () => {
    const r = rig();
    const unsigned = digestOf('unsigned');
    await assert.rejects(
      r.policy.referrers({ ...req('cosign/app'), digest: unsigned }),
      (err: unknown) => err instanceof Denial && err.reason === 'digest_not_authorised',
    );
    r.cosignSource.signed.add(digestOf('signed'));
    await r.policy.referrers({ ...req('cosign/app'), digest: digestOf('signed') });
    assert.deepEqual(
      r.audit.records.map((x) => [x.kind, x.verdict]),
      [
        ['referrers', 'denied'],
        ['referrers', 'allowed'],
      ],
    );
  });
});
