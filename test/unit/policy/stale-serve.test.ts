/**
 * The upstream rate-limits or fails after a tag was pulled: the policy decides whether the tag's
 * last digest is served from the cache — only while its verification still holds, never against
 * a signature that pins the tag elsewhere — and records the stale serve as its decision.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignetError } from '../../../src/errors.js';
import { MemoryProvenanceStore } from '../../../src/cache/memory/provenance.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryAuditLog } from '../../../src/policy/audit-log.js';
import { Policy } from '../../../src/policy/policy.js';
import type { ManifestFacts, StaleManifest } from '../../../src/policy/requests.js';
import { Denial } from '../../../src/trust/source.js';
import { admission, CONFIG_YAML, FakeLoader, FakeSource, manifest, pinned } from './decision-core.js';

const FRESHNESS_S = 60;
const req = (repository: string) => ({ upstream: 'docker.io', repository, client: '127.0.0.1', tag: '1.0' });

/** A registry that answered once, then rate-limits: `byTag` fails, `lastKnown` offers the cached manifest. */
class FailingLoader extends FakeLoader {
  failing: SignetError | undefined;
  cached: ManifestFacts | undefined;
  servedStale = 0;

  override async byTag(tag: string): Promise<ManifestFacts> {
    if (this.failing) throw this.failing;
    const m = await super.byTag(tag);
    this.cached = m;
    return m;
  }

  override async byDigest(digest: string): Promise<ManifestFacts | undefined> {
    if (this.failing && digest !== this.cached?.digest) throw this.failing;
    return super.byDigest(digest);
  }

  async lastKnown(_tag: string, failure: unknown): Promise<StaleManifest<ManifestFacts> | undefined> {
    if (failure !== this.failing || !this.cached) return undefined;
    return { manifest: this.cached, reason: 'rate_limited', cause: 'HTTP 429', served: () => this.servedStale++ };
  }
}

function rig(source = new FakeSource(false)) {
  let now = 1_700_000_000_000;
  const clock = (): number => now;
  const config = parseConfig(`${CONFIG_YAML}\ntrust: {freshnessSeconds: ${FRESHNESS_S}}\n`, 'test.yaml', { env: {} });
  const audit = new MemoryAuditLog();
  const policy = new Policy({ config, sources: { notary: source }, provenance: new MemoryProvenanceStore({ clock }), audit, clock });
  return { policy, source, audit, advance: (s: number) => (now += s * 1000) };
}

const image = manifest('image');
const rateLimited = new SignetError('TOOMANYREQUESTS', 'upstream docker.io is rate-limiting Signet', { status: 429 });

/** Pulls tag 1.0 (signed by digest), then makes the upstream rate-limit. */
async function pulledThenLimited(r: ReturnType<typeof rig>, repository = 'enforced/app'): Promise<FailingLoader> {
  const loader = new FailingLoader();
  loader.add(image, '1.0');
  r.source.digests.set(image.digest, admission(image));
  await r.policy.manifestByTag(req(repository), loader);
  loader.failing = rateLimited;
  return loader;
}

describe('stale serves decided by the policy', () => {
  it('a verified digest whose verification still holds is served, audited as served_stale, counted once', async () => {
    const r = rig();
    const loader = await pulledThenLimited(r);
    const served = await r.policy.manifestByTag(req('enforced/app'), loader);
    assert.equal(served.digest, image.digest);
    assert.equal(loader.servedStale, 1, 'the proxy logs and counts it');
    const record = r.audit.records.at(-1);
    assert.equal(record?.verdict, 'allowed');
    assert.equal(record.reason, 'served_stale');
    assert.equal(record.digest, image.digest);
    assert.match(record.message ?? '', /rate-limiting Signet \(HTTP 429\).*last digest of tag "1\.0".*still vouched for by/);
  });

  it('past the freshness interval the verification is checked again: when that cannot be done, the client gets the upstream failure', async () => {
    const r = rig();
    const loader = await pulledThenLimited(r);
    r.advance(FRESHNESS_S + 1);
    r.source.digests.set(image.digest, new Denial('signatures_unavailable', 'the registry answered 429'));
    const records = r.audit.records.length;
    await assert.rejects(r.policy.manifestByTag(req('enforced/app'), loader), (err: unknown) => err === rateLimited);
    assert.equal(loader.servedStale, 0);
    assert.equal(r.audit.records.length, records, 'no decision: nothing was served');
  });

  it('a digest whose signature is gone is denied, not served stale', async () => {
    const r = rig();
    const loader = await pulledThenLimited(r);
    r.advance(FRESHNESS_S + 1);
    r.source.digests.delete(image.digest);
    await assert.rejects(
      r.policy.manifestByTag(req('enforced/app'), loader),
      (err: unknown) => err instanceof Denial && err.reason === 'digest_not_authorised',
    );
    assert.equal(loader.servedStale, 0);
  });

  it('a tag never verified is not served from the cache under enforce', async () => {
    const r = rig();
    const loader = new FailingLoader();
    loader.cached = image;
    loader.failing = rateLimited;
    await assert.rejects(r.policy.manifestByTag(req('enforced/app'), loader), (err: unknown) => err === rateLimited);
    assert.equal(loader.servedStale, 0);
  });

  it('a tag a signature now pins to another digest is not served as its old digest', async () => {
    const source = new FakeSource(true);
    const r = rig(source);
    const newer = manifest('newer');
    const loader = new FailingLoader();
    loader.add(image, '1.0');
    source.pins.set('1.0', pinned(image));
    await r.policy.manifestByTag(req('enforced/app'), loader);
    loader.cached = image;
    loader.failing = rateLimited;
    source.pins.set('1.0', pinned(newer)); // re-signed; the new digest cannot be fetched now
    await assert.rejects(r.policy.manifestByTag(req('enforced/app'), loader), (err: unknown) => err === rateLimited);
    assert.equal(loader.servedStale, 0);
  });

  it('off: the last digest is served as it is; audit: served, logged as unverified', async () => {
    for (const [repository, verdict] of [
      ['open/app', 'allowed'],
      ['audited/app', 'audited'],
    ] as const) {
      const r = rig();
      const loader = new FailingLoader();
      loader.cached = image;
      loader.failing = rateLimited;
      assert.equal((await r.policy.manifestByTag(req(repository), loader)).digest, image.digest);
      assert.equal(loader.servedStale, 1);
      assert.equal(r.audit.records.length, 1, 'one decision');
      assert.equal(r.audit.records[0]?.verdict, verdict);
    }
  });
});
