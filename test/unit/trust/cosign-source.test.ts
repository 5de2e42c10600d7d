/**
 * The cosign trust source around the verification core: which artifacts it reads, distinct
 * signers against the threshold, the reason it reports, caching and the registry being down.
 * The registry and the verifier are fakes here; the real ones are tested in their own suites
 * and together in test/integration/trust/cosign.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { CosignRequirements } from '../../../src/config/load.js';
import { SIGNATURE_MEDIA_TYPES } from '../../../src/registry/media-types.js';
import type { FetchedBlob, FetchedManifest, ReferrerDescriptor, SignatureFetcher } from '../../../src/registry/referrers.js';
import { SignatureFetchError } from '../../../src/registry/signature-fetch-error.js';
import type { VerdictStore } from '../../../src/cache/ports.js';
import { CosignTrustSource } from '../../../src/trust/cosign/cosign-source.js';
import type { CosignVerifier, LegacySignatureLayer, VerifiedSignature } from '../../../src/trust/cosign/verifier-port.js';
import { Denial } from '../../../src/trust/source.js';
import { deniedWith } from '../../harness/denials.js';

const digestOf = (s: string | Buffer): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;
const IMAGE = digestOf('image');
const subject = { registry: 'ghcr.io', repository: 'acme/app', digest: IMAGE };

function requirement(threshold = 1): CosignRequirements {
  return { keys: [], identities: [], trustedRoot: undefined, tlog: false, threshold, repository: undefined, path: 'policy.rules.0.require.cosign' };
}

/** A registry holding bundles (as referrers) and legacy .sig layers, as JSON the fake verifier reads. */
class FakeRegistry implements SignatureFetcher {
  readonly descriptors: ReferrerDescriptor[] = [];
  readonly manifests = new Map<string, unknown>();
  readonly blobs = new Map<string, Buffer>();
  down = false;
  calls = 0;

  addBundle(signer: string, verdict = 'ok'): void {
    const layer = Buffer.from(JSON.stringify({ signer, verdict }));
    const manifest = { layers: [{ mediaType: SIGNATURE_MEDIA_TYPES.sigstoreBundleV03, digest: digestOf(layer), size: layer.length }] };
    const digest = digestOf(JSON.stringify(manifest));
    this.blobs.set(digestOf(layer), layer);
    this.manifests.set(digest, manifest);
    this.descriptors.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size: 1,
      artifactType: SIGNATURE_MEDIA_TYPES.sigstoreBundleV03,
      annotations: {},
      source: 'referrers-tag',
      tag: 'sha256-x',
    });
  }

  addLegacy(layers: Array<{ signer: string; verdict?: string }>, count = layers.length): void {
    const all = Array.from({ length: count }, (_v, i) => layers[i % layers.length] ?? { signer: 'x' });
    const descriptors = all.map((l) => {
      const payload = Buffer.from(JSON.stringify({ signer: l.signer, verdict: l.verdict ?? 'ok' }));
      this.blobs.set(digestOf(payload), payload);
      return {
        mediaType: SIGNATURE_MEDIA_TYPES.cosignSimpleSigning,
        digest: digestOf(payload),
        size: payload.length,
        annotations: { 'dev.cosignproject.cosign/signature': 'c2ln' },
      };
    });
    const manifest = { layers: descriptors };
    const digest = digestOf(JSON.stringify(manifest));
    this.manifests.set(digest, manifest);
    this.descriptors.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest,
      size: 1,
      artifactType: 'application/vnd.oci.image.config.v1+json',
      annotations: {},
      source: 'tag',
      tag: 'sha256-x.sig',
    });
  }

  async referrers(): Promise<ReferrerDescriptor[]> {
    this.calls++;
    if (this.down) throw new SignatureFetchError('unavailable', 'connection refused');
    return this.descriptors;
  }

  async manifest(_repository: string, digest: string): Promise<FetchedManifest> {
    const json = this.manifests.get(digest);
    if (!json) throw new SignatureFetchError('not_found', `no manifest ${digest}`);
    return { digest, mediaType: undefined, bytes: Buffer.from(JSON.stringify(json)), json };
  }

  async blob(_repository: string, digest: string): Promise<FetchedBlob> {
    const bytes = this.blobs.get(digest);
    if (!bytes) throw new SignatureFetchError('not_found', `no blob ${digest}`);
    return { digest, bytes };
  }
}

/** Reads `{signer, verdict}` from the signature: "ok" verifies, anything else is that denial reason. */
const verifier: CosignVerifier = {
  prepare: (r) => ({ requirement: r }),
  verifyBundle: (bundle, digest) => judge(bundle, digest),
  verifyLegacy: (layer: LegacySignatureLayer, digest) => judge(JSON.parse(layer.payload.toString('utf8')), digest),
};

function judge(value: unknown, digest: string): VerifiedSignature {
  const { signer, verdict } = value as { signer: string; verdict: string };
  if (verdict !== 'ok') throw new Denial(verdict as 'bad_signature', `${signer}: ${verdict} for ${digest}`);
  return { signer, evidence: { format: 'cosign', signer, key: signer } };
}

function source(registry: FakeRegistry, clock = () => 0, verdicts?: VerdictStore): CosignTrustSource {
  return new CosignTrustSource({
    fetcherFor: () => registry,
    verifier,
    logger: pino({ level: 'silent' }),
    freshnessSeconds: 60,
    deniedCacheSeconds: 30,
    clock,
    ...(verdicts ? { verdicts } : {}),
  });
}

/** A VerdictStore in a Map, lifetimes by the test's clock: what replicas share through Redis. */
function sharedVerdicts(clock: () => number): VerdictStore & { writes: number } {
  const entries = new Map<string, { value: string; until: number }>();
  const store = {
    writes: 0,
    get: (key: string) => {
      const e = entries.get(key);
      return Promise.resolve(e && e.until > clock() ? e.value : undefined);
    },
    set: (key: string, value: string, ttlMs: number) => {
      store.writes++;
      entries.set(key, { value, until: clock() + ttlMs });
      return Promise.resolve();
    },
  };
  return store;
}

describe('cosign trust source', () => {
  it('admits a digest signed by enough distinct signers, with their evidence', async () => {
    const registry = new FakeRegistry();
    registry.addBundle('alice');
    registry.addLegacy([{ signer: 'bob' }]);
    const admitted = await source(registry).verify(subject, requirement(2));
    assert.equal(admitted.format, 'cosign');
    assert.deepEqual(admitted.signers.sort(), ['alice', 'bob']);
    assert.deepEqual(admitted.evidence.map((e) => e.signer).sort(), ['alice', 'bob']);
  });

  it('counts one signer once, however often it signed (threshold counts distinct signers)', async () => {
    const registry = new FakeRegistry();
    registry.addBundle('alice');
    registry.addBundle('alice');
    registry.addLegacy([{ signer: 'alice' }, { signer: 'alice' }]);
    await deniedWith(source(registry).verify(subject, requirement(2)), 'threshold', /1 of the 2 distinct signers/);
  });

  it('no signature at all: no_signature, with what to do', async () => {
    await deniedWith(source(new FakeRegistry()).verify(subject, requirement()), 'no_signature', /sign it \(cosign sign\)/);
  });

  it('reports the most telling reason when every signature is refused', async () => {
    const registry = new FakeRegistry();
    registry.addBundle('mallory', 'bad_signature');
    registry.addBundle('ci', 'identity_mismatch');
    registry.addLegacy([{ signer: 'old', verdict: 'claim_mismatch' }]);
    await deniedWith(source(registry).verify(subject, requirement()), 'claim_mismatch', /and 2 other signature\(s\) refused/);
  });

  it('refuses a .sig manifest with more layers than it reads, before fetching any', async () => {
    const registry = new FakeRegistry();
    registry.addLegacy([{ signer: 'alice' }], 10_000);
    registry.blobs.clear(); // nothing may be fetched
    await deniedWith(source(registry).verify(subject, requirement()), 'too_large', /10000 layers/);
  });

  it('a signature layer whose bytes do not match its descriptor counts for nothing', async () => {
    const registry = new FakeRegistry();
    registry.addBundle('alice');
    registry.blob = async (_repository: string, digest: string): Promise<FetchedBlob> => {
      await Promise.resolve();
      throw new SignatureFetchError('digest_mismatch', `the bytes of ${digest} hash to something else`);
    };
    await deniedWith(source(registry).verify(subject, requirement()), 'bad_signature', /unusable: the bytes of sha256:[0-9a-f]+ hash to something else/);
  });

  it('an oversized signature payload is refused before it is fetched', async () => {
    const registry = new FakeRegistry();
    registry.addLegacy([{ signer: 'alice' }]);
    const [descriptor] = registry.descriptors;
    assert.ok(descriptor);
    const manifest = registry.manifests.get(descriptor.digest) as { layers: Array<{ size: number }> };
    for (const layer of manifest.layers) layer.size = 1024 ** 3;
    registry.blobs.clear();
    await deniedWith(source(registry).verify(subject, requirement()), 'too_large', /over the \d+-byte limit/);
  });

  it('keeps a verdict for the freshness interval, and a denial for the shorter one', async () => {
    let now = 0;
    const registry = new FakeRegistry();
    const src = source(registry, () => now);
    await deniedWith(src.verify(subject, requirement()), 'no_signature');
    registry.addBundle('alice');
    now = 10_000;
    await deniedWith(src.verify(subject, requirement()), 'no_signature'); // denial cached 30 s
    now = 31_000;
    assert.deepEqual((await src.verify(subject, requirement())).signers, ['alice']);
    const calls = registry.calls;
    now = 60_000;
    await src.verify(subject, requirement());
    assert.equal(registry.calls, calls, 'within 60 s the verdict is reused');
  });

  it('keeps serving a verified digest while the registry is unreachable; denies one it never verified', async () => {
    let now = 0;
    const registry = new FakeRegistry();
    registry.addBundle('alice');
    const src = source(registry, () => now);
    await src.verify(subject, requirement());
    registry.down = true;
    now = 3_600_000;
    assert.deepEqual((await src.verify(subject, requirement())).signers, ['alice']);
    await deniedWith(src.verify({ ...subject, digest: digestOf('other') }, requirement()), 'signatures_unavailable', /refused until they can be checked/);
  });

  it('concurrent verifications of one digest share one fetch', async () => {
    const registry = new FakeRegistry();
    registry.addBundle('alice');
    const src = source(registry);
    await Promise.all(Array.from({ length: 20 }, () => src.verify(subject, requirement())));
    assert.equal(registry.calls, 1);
  });

  it('replicas share verified verdicts: one verification serves the others until it is stale', async () => {
    const registry = new FakeRegistry();
    registry.addBundle('alice');
    let now = 1_000;
    const clock = (): number => now;
    const shared = sharedVerdicts(clock);
    const first = await source(registry, clock, shared).verify(subject, requirement());
    assert.equal(registry.calls, 1);
    assert.equal(shared.writes, 1);
    const other = await source(registry, clock, shared).verify(subject, requirement());
    assert.equal(registry.calls, 1, 'the second replica used the shared verdict');
    assert.deepEqual(other.signers, first.signers);
    assert.equal(other.confirmedAt, first.confirmedAt);
    now += 61_000;
    await source(registry, clock, shared).verify(subject, requirement());
    assert.equal(registry.calls, 2, 'a stale shared verdict is verified again');
  });
});
