/**
 * Revocation: a digest stays authorised only while a current signature vouches for it, directly
 * or through the verified manifest it descends from. With a fake clock: within the freshness
 * interval the recorded verification holds; past it the root is admitted again (once, for all
 * the digests it vouches for), and a root no longer admitted takes its digests with it.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { DiskProvenanceStore } from '../../../src/cache/disk/provenance.js';
import { MemoryProvenanceStore } from '../../../src/cache/memory/provenance.js';
import type { ProvenanceStore } from '../../../src/cache/ports.js';
import { parseConfig } from '../../../src/config/load.js';
import { MemoryAuditLog } from '../../../src/policy/audit-log.js';
import { Policy } from '../../../src/policy/policy.js';
import { Denial } from '../../../src/trust/source.js';
import { sha256, tempDir } from '../cache/helpers.js';
import { admission, CONFIG_YAML, digestOf, FakeLoader, FakeSource, manifest, pinned } from './decision-core.js';

const FRESHNESS_S = 60;
const repository = 'enforced/app';
const req = { upstream: 'docker.io', repository, client: '127.0.0.1' };

interface Rig {
  policy: Policy;
  source: FakeSource;
  provenance: ProvenanceStore;
  audit: MemoryAuditLog;
  /** Moves the fake clock on by `seconds`. */
  advance(seconds: number): void;
}

function rig(options: { provenance?: ProvenanceStore; freshness?: number } = {}): Rig {
  let now = 1_700_000_000_000;
  const clock = (): number => now;
  const config = parseConfig(`${CONFIG_YAML}\ntrust: {freshnessSeconds: ${options.freshness ?? FRESHNESS_S}}\n`, 'test.yaml', { env: {} });
  const source = new FakeSource();
  const provenance = options.provenance ?? new MemoryProvenanceStore({ clock });
  const audit = new MemoryAuditLog();
  const policy = new Policy({ config, sources: { notary: source }, provenance, audit, clock });
  return { policy, source, provenance, audit, advance: (seconds) => (now += seconds * 1000) };
}

const image = manifest('image');
const layer = image.children[1] as string;

/** A signed tag "1.0" pulled through the policy: the image and its config and layer are then authorised. */
async function pulled(r: Rig, loader = new FakeLoader()): Promise<FakeLoader> {
  loader.add(image);
  r.source.pins.set('1.0', pinned(image));
  r.source.digests.set(image.digest, admission(image));
  await r.policy.manifestByTag({ ...req, tag: '1.0' }, loader);
  return loader;
}

function revoke(r: Rig): void {
  r.source.pins.delete('1.0');
  r.source.digests.delete(image.digest);
}

const notAuthorised = (err: unknown): boolean => err instanceof Denial && err.reason === 'digest_not_authorised';
const gone = (err: unknown): boolean =>
  err instanceof Denial && err.reason === 'digest_not_authorised' && /the signature that vouched for it is gone/.test(err.message);

describe('revocation of provenance', () => {
  it('a revoked image is served by digest for at most the freshness interval, then its manifest and layers are denied', async () => {
    const r = rig();
    const loader = await pulled(r);
    const root = (await r.provenance.entry('docker.io', repository, layer))?.roots[0];
    assert.equal(root?.digest, image.digest, 'the layer records the image that vouched for it');
    assert.equal(root.tag, '1.0');
    revoke(r);
    r.advance(FRESHNESS_S - 1);
    await r.policy.blob({ ...req, digest: layer });
    assert.equal((await r.policy.manifestByDigest({ ...req, digest: image.digest }, loader)).digest, image.digest);

    r.advance(2);
    await assert.rejects(r.policy.blob({ ...req, digest: layer }), gone);
    const denied = r.audit.records.at(-1);
    assert.equal(denied?.verdict, 'denied');
    assert.match(denied.message ?? '', new RegExp(`${image.digest} \\(tag "1\\.0"\\)`));
    // The first denial dropped the root for every digest: later pulls find no provenance at all.
    await assert.rejects(r.policy.manifestByDigest({ ...req, digest: image.digest }, loader), notAuthorised);
    // The stale records are dropped: nothing of the image is authorised any more.
    for (const d of [image.digest, ...image.children]) assert.equal(await r.provenance.get('docker.io', repository, d), undefined);
  });

  it('the interval counts from when the trust data was confirmed with its server, not from a cached answer', async () => {
    const r = rig();
    // The source answers from trust data it confirmed 50 s before the pull (its own cache).
    const loader = new FakeLoader();
    loader.add(image);
    const at = 1_700_000_000_000 - 50_000;
    r.source.pins.set('1.0', { ...pinned(image), confirmedAt: at });
    r.source.digests.set(image.digest, { ...admission(image), confirmedAt: at });
    await r.policy.manifestByTag({ ...req, tag: '1.0' }, loader);
    revoke(r);
    // 11 s later the confirmation is 61 s old: the layer is re-checked, and the signature is gone.
    r.advance(11);
    await assert.rejects(r.policy.blob({ ...req, digest: layer }), gone);
  });

  it('a root still signed is re-checked once per freshness interval, however many of its digests are pulled', async () => {
    const r = rig();
    await pulled(r);
    r.advance(FRESHNESS_S + 1);
    const before = r.source.calls;
    await Promise.all(image.children.map((d) => r.policy.blob({ ...req, digest: d })));
    for (const d of image.children) await r.policy.blob({ ...req, digest: d });
    assert.equal(r.source.calls - before, 1, 'one trust check for every digest the root vouches for');
    r.advance(FRESHNESS_S + 1);
    await r.policy.blob({ ...req, digest: layer });
    assert.equal(r.source.calls - before, 2, 'and one more after the next interval');
  });

  it('pulling the signed tag again counts as a fresh verification of its digests', async () => {
    const r = rig();
    const loader = await pulled(r);
    r.advance(FRESHNESS_S + 1);
    await r.policy.manifestByTag({ ...req, tag: '1.0' }, loader);
    const before = r.source.calls;
    await r.policy.blob({ ...req, digest: layer });
    assert.equal(r.source.calls, before, 'no re-check: the tag was just admitted');
  });

  it('a trust check that cannot be made denies for now and keeps the records', async () => {
    const r = rig();
    await pulled(r);
    r.advance(FRESHNESS_S + 1);
    r.source.digests.set(image.digest, new Denial('trust_unavailable', 'notary is down'));
    await assert.rejects(r.policy.blob({ ...req, digest: layer }), (err: unknown) => err instanceof Denial && err.reason === 'trust_unavailable');
    assert.equal(await r.provenance.get('docker.io', repository, layer), 'verified');
    r.source.digests.set(image.digest, admission(image));
    await r.policy.blob({ ...req, digest: layer });
  });

  it('a digest vouched for by two images stays authorised while one of them is signed', async () => {
    const r = rig();
    const shared = digestOf('shared-layer');
    const a = manifest('a', { children: [shared] });
    const b = manifest('b', { children: [shared] });
    const loader = new FakeLoader();
    loader.add(a);
    loader.add(b);
    r.source.pins.set('a', pinned(a));
    r.source.pins.set('b', pinned(b));
    r.source.digests.set(b.digest, admission(b));
    await r.policy.manifestByTag({ ...req, tag: 'a' }, loader);
    await r.policy.manifestByTag({ ...req, tag: 'b' }, loader);
    r.advance(FRESHNESS_S + 1);
    // `a` is no longer signed (no digest admission); `b` still is.
    await assert.rejects(r.policy.manifestByDigest({ ...req, digest: a.digest }, loader), gone);
    await r.policy.blob({ ...req, digest: shared });
    assert.deepEqual(
      (await r.provenance.entry('docker.io', repository, shared))?.roots.map((x) => x.digest),
      [b.digest],
    );
  });

  it('the children of a verified index and their layers go with the index', async () => {
    const r = rig();
    const child = manifest('platform');
    const index = manifest('index', { isIndex: true, children: [child.digest] });
    const loader = new FakeLoader();
    loader.add(index);
    loader.add(child);
    r.source.pins.set('multi', pinned(index));
    r.source.digests.set(index.digest, admission(index));
    await r.policy.manifestByTag({ ...req, tag: 'multi' }, loader);
    await r.policy.manifestByDigest({ ...req, digest: child.digest }, loader);
    assert.deepEqual(
      (await r.provenance.entry('docker.io', repository, child.children[1] as string))?.roots.map((x) => x.digest),
      [index.digest],
    );
    r.source.digests.delete(index.digest);
    r.advance(FRESHNESS_S + 1);
    await assert.rejects(r.policy.blob({ ...req, digest: child.children[1] as string }), gone);
    await assert.rejects(r.policy.manifestByDigest({ ...req, digest: child.digest }, loader), notAuthorised);
  });

  it("a signature artifact's blobs are revoked with the digest it is about", async () => {
    const r = rig();
    const sig = manifest('sig', { signatureArtifact: true, children: [digestOf('sig/config'), digestOf('sig/payload')] });
    const loader = new FakeLoader();
    loader.add(sig, `sha256-${image.digest.slice('sha256:'.length)}.sig`);
    r.source.digests.set(image.digest, admission(image));
    await r.policy.manifestByTag({ ...req, tag: `sha256-${image.digest.slice('sha256:'.length)}.sig` }, loader);
    await r.policy.blob({ ...req, digest: digestOf('sig/payload') });
    r.source.digests.delete(image.digest);
    r.advance(FRESHNESS_S + 1);
    await assert.rejects(r.policy.blob({ ...req, digest: digestOf('sig/payload') }), gone);
  });

  it('freshness 0: every digest pull re-checks its root', async () => {
    const r = rig({ freshness: 0 });
    await pulled(r);
    await r.policy.blob({ ...req, digest: layer });
    revoke(r);
    await assert.rejects(r.policy.blob({ ...req, digest: layer }), gone);
  });
});

describe('provenance records of earlier versions (no root)', () => {
  it('are their own root, verified at an unknown time: a signed manifest is admitted again, a layer is denied', async () => {
    const root = await tempDir();
    const file = join(root, 'docker.io', 'enforced', 'app', '_lineage');
    await mkdir(join(root, 'docker.io', 'enforced', 'app'), { recursive: true });
    await writeFile(file, `v ${image.digest}\nv ${layer}\n`);
    const r = rig({ provenance: new DiskProvenanceStore({ root }) });
    r.source.digests.set(image.digest, admission(image));
    const loader = new FakeLoader();
    loader.add(image);
    // The layer is not signed itself: its record is dropped, on disk too.
    await assert.rejects(r.policy.blob({ ...req, digest: layer }), gone);
    assert.equal(await new DiskProvenanceStore({ root }).get('docker.io', repository, layer), undefined);
    assert.match(await readFile(file, 'utf8'), new RegExp(`^- ${layer}$`, 'm'));
    // The image is still signed: admitted again, it vouches for its layer afresh.
    assert.equal((await r.policy.manifestByDigest({ ...req, digest: image.digest }, loader)).digest, image.digest);
    assert.equal((await r.provenance.entry('docker.io', repository, layer))?.roots[0]?.digest, image.digest);
    await r.policy.blob({ ...req, digest: layer });
  });
});

describe('disk provenance: roots survive a restart', () => {
  it('writes roots (digest, time, tag) and dropped roots as lines, and replays them in order', async () => {
    const root = await tempDir();
    const [img, other, blob] = [sha256('img'), sha256('other'), sha256('blob')];
    const store = new DiskProvenanceStore({ root });
    await store.record('docker.io', 'team/app', [img, blob], 'verified', [{ digest: img, tag: 'v1', verifiedAt: 1000 }]);
    await store.record('docker.io', 'team/app', [other, blob], 'verified', [{ digest: other, verifiedAt: 2000 }]);
    await store.record('docker.io', 'team/app', [blob], 'verified', [{ digest: other, verifiedAt: 3000 }]);
    await store.dropRoot('docker.io', 'team/app', img);
    const text = await readFile(join(root, 'docker.io', 'team', 'app', '_lineage'), 'utf8');
    assert.equal(
      text,
      [`v ${img} ${img} 1000 v1`, `v ${blob} ${img} 1000 v1`, `v ${other} ${other} 2000`, `v ${blob} ${other} 2000`, `- ${img}`, ''].join('\n'),
      'a root a digest already has is not written again',
    );
    const after = new DiskProvenanceStore({ root });
    assert.equal(await after.get('docker.io', 'team/app', img), undefined);
    assert.deepEqual(await after.entry('docker.io', 'team/app', blob), { kind: 'verified', roots: [{ digest: other, verifiedAt: 2000 }] });
    await assert.rejects(store.record('docker.io', 'team/app', [blob], 'verified', [{ digest: img, tag: 'bad tag', verifiedAt: 1 }]));
  });
});
