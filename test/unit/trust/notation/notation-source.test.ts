/**
 * The Notation trust source around the verifier: which statement applies, which artifacts it
 * reads (and refuses), distinct signing identities against the threshold, the reason it reports,
 * caching and the registry being down. The registry is a fake holding notation-go's own signed
 * envelopes (test/fixtures/notation-go); the real registry is in test/integration/trust/notation.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import type { NotationRequirements } from '../../../../src/config/load.js';
import type { FetchedBlob, FetchedManifest, ReferrerDescriptor, SignatureFetcher } from '../../../../src/registry/referrers.js';
import { SignatureFetchError } from '../../../../src/registry/signature-fetch-error.js';
import { NotationTrustSource } from '../../../../src/trust/notation/notation-source.js';
import type { RevocationChecker } from '../../../../src/trust/notation/types.js';
import { deniedWith } from '../../../harness/denials.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'notation-go');
const VALID = readFileSync(join(FIXTURES, 'internal', 'mock', 'testdata', 'ca_valid_sig_env.json'));
const INVALID = readFileSync(join(FIXTURES, 'internal', 'mock', 'testdata', 'ca_invalid_sig_env.json'));
const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
/** What ca_valid_sig_env.json signs (its payload's targetArtifact). */
const IMAGE = 'sha256:60043cf45eaebc4c0867fea485a039b598f52fd09fd5b07b0b2d2f88fad9d74e';
const subject = { registry: 'registry.acme-rockets.io', repository: 'software/net-monitor', digest: IMAGE };
const digestOf = (s: string | Buffer): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

function requirement(level = 'strict', threshold = 1, scope = 'registry.acme-rockets.io/software/net-monitor'): NotationRequirements {
  return {
    trustPolicy: {
      path: 'inline',
      json: {
        version: '1.0',
        trustPolicies: [
          {
            name: 'net-monitor',
            registryScopes: [scope],
            signatureVerification: { level },
            ...(level === 'skip' ? {} : { trustStores: ['ca:valid-trust-store'], trustedIdentities: ['*'] }),
          },
        ],
      },
    },
    trustStore: { kind: 'directory', path: join(FIXTURES, 'verifier', 'testdata', 'truststore') },
    threshold,
    repository: undefined,
    path: 'policy.rules.0.require.notation',
  };
}

/** A registry holding the signed manifest (528 bytes of a Docker manifest) and Notation signature artifacts. */
class FakeRegistry implements SignatureFetcher {
  readonly descriptors: ReferrerDescriptor[] = [];
  readonly manifests = new Map<string, { json: unknown; mediaType: string; bytes: Buffer }>();
  readonly blobs = new Map<string, Buffer>();
  down = false;
  calls = 0;

  constructor() {
    this.manifests.set(IMAGE, { json: {}, mediaType: DOCKER_MANIFEST, bytes: Buffer.alloc(528, 0x20) });
  }

  /** One signature artifact; `layers` defaults to the envelope as the only layer. */
  add(envelope: Buffer, options: { layers?: unknown[]; subjectDigest?: string } = {}): void {
    this.blobs.set(digestOf(envelope), envelope);
    const manifest = {
      artifactType: 'application/vnd.cncf.notary.signature',
      subject: { mediaType: DOCKER_MANIFEST, digest: options.subjectDigest ?? IMAGE, size: 528 },
      layers: options.layers ?? [{ mediaType: 'application/jose+json', digest: digestOf(envelope), size: envelope.length }],
    };
    const bytes = Buffer.from(JSON.stringify(manifest));
    this.manifests.set(digestOf(bytes), { json: manifest, mediaType: 'application/vnd.oci.image.manifest.v1+json', bytes });
    this.descriptors.push({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: digestOf(bytes),
      size: bytes.length,
      artifactType: 'application/vnd.cncf.notary.signature',
      annotations: {},
      source: 'referrers-tag',
      tag: 'sha256-x',
    });
  }

  referrers(): Promise<ReferrerDescriptor[]> {
    this.calls++;
    if (this.down) return Promise.reject(new SignatureFetchError('unavailable', 'connection refused'));
    return Promise.resolve(this.descriptors);
  }

  manifest(_repository: string, digest: string): Promise<FetchedManifest> {
    if (this.down) return Promise.reject(new SignatureFetchError('unavailable', 'connection refused'));
    const m = this.manifests.get(digest);
    if (!m) return Promise.reject(new SignatureFetchError('not_found', `no manifest ${digest}`));
    return Promise.resolve({ digest, mediaType: m.mediaType, bytes: m.bytes, json: m.json });
  }

  blob(_repository: string, digest: string): Promise<FetchedBlob> {
    const bytes = this.blobs.get(digest);
    if (!bytes) return Promise.reject(new SignatureFetchError('not_found', `no blob ${digest}`));
    return Promise.resolve({ digest, bytes });
  }
}

const nonRevokable: RevocationChecker = { check: (chain) => Promise.resolve(chain.map(() => ({ status: 'nonRevokable' as const }))) };

function source(registry: FakeRegistry | undefined, clock = () => Date.parse('2026-12-02T00:00:00Z'), freshnessSeconds = 60): NotationTrustSource {
  return new NotationTrustSource({
    fetcherFor: () => registry,
    revocation: nonRevokable,
    logger: pino({ level: 'silent' }),
    freshnessSeconds,
    deniedCacheSeconds: 30,
    clock,
  });
}

describe('Notation trust source', () => {
  it('admits a digest with a verified signature, with the signer, issuer, signing time and level as evidence', async () => {
    const registry = new FakeRegistry();
    registry.add(VALID);
    const admitted = await source(registry).verify(subject, requirement());
    assert.equal(admitted.format, 'notation');
    assert.deepEqual(admitted.signers, ['C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root']);
    const [e] = admitted.evidence;
    assert.ok(e);
    assert.equal(e.issuer, 'C=US, ST=WA, L=Seattle, O=Notary, CN=Notation Test Root');
    assert.equal(e.signedAt?.toISOString(), '2020-11-09T07:00:00.000Z');
    assert.equal(e.level, 'strict (trust policy statement "net-monitor")');
    assert.equal(e.key, '*');
  });

  it('a signing identity counts once toward the threshold', async () => {
    const registry = new FakeRegistry();
    registry.add(VALID);
    registry.add(Buffer.concat([VALID, Buffer.from('\n')]));
    await deniedWith(source(registry).verify(subject, requirement('strict', 2)), 'threshold', /signed by 1 of the 2 distinct signing identities/);
  });

  it('no signature, no statement for the scope, an unknown upstream: denied saying what to do', async () => {
    await deniedWith(source(new FakeRegistry()).verify(subject, requirement()), 'no_signature', /has no Notation signature: sign it \(notation sign\)/);
    await deniedWith(
      source(new FakeRegistry()).verify(subject, requirement('strict', 1, 'registry.acme-rockets.io/other')),
      'no_trust_config',
      /no statement of the Notation trust policy inline applies to registry\.acme-rockets\.io\/software\/net-monitor: add one/,
    );
    await deniedWith(source(undefined).verify(subject, requirement()), 'no_trust_config', /not an upstream of this Signet/);
  });

  it('level skip admits without asking the registry', async () => {
    const registry = new FakeRegistry();
    const admitted = await source(registry).verify(subject, requirement('skip'));
    assert.deepEqual(admitted.signers, []);
    assert.match(admitted.evidence[0]?.signer ?? '', /verification skipped by trust policy statement "net-monitor"/);
    assert.equal(registry.calls, 0);
    assert.deepEqual((await source(registry).inspect(subject, requirement('skip'))).signatures, []);
  });

  it('signature artifacts that are not one Notation envelope about this digest are refused, and the reason of the most telling one is given', async () => {
    const registry = new FakeRegistry();
    const layer = { mediaType: 'application/jose+json', digest: digestOf(VALID), size: VALID.length };
    registry.add(VALID, { layers: [layer, layer] });
    registry.add(VALID, { subjectDigest: digestOf('another image') });
    registry.add(VALID, { layers: [{ ...layer, mediaType: 'application/vnd.oci.image.layer.v1.tar' }] });
    registry.add(INVALID);
    await deniedWith(
      source(registry).verify(subject, requirement()),
      'bad_signature',
      /exactly one layer.*and 3 other signature\(s\) refused.*does not name .* as its subject.*not a Notation envelope/,
    );
    const tooLarge = new FakeRegistry();
    tooLarge.add(VALID, { layers: [{ ...layer, size: 2 * 1024 ** 2 }] });
    await deniedWith(source(tooLarge).verify(subject, requirement()), 'too_large', /over the 1048576-byte limit/);
  });

  it('a registry that cannot be asked is signatures_unavailable; a verified verdict is used meanwhile, a denial is remembered', async () => {
    const registry = new FakeRegistry();
    registry.down = true;
    await deniedWith(source(registry).verify(subject, requirement()), 'signatures_unavailable', /could not be fetched.*refused until they can be checked/);
    registry.down = false;
    registry.add(VALID);
    let now = Date.parse('2026-12-02T00:00:00Z');
    const s = source(registry, () => now, 60);
    await s.verify(subject, requirement());
    registry.down = true;
    now += 120_000;
    const again = await s.verify(subject, requirement());
    assert.equal(again.confirmedAt, Date.parse('2026-12-02T00:00:00Z'));

    const unsigned = new FakeRegistry();
    const denying = source(unsigned);
    const r = requirement();
    await deniedWith(denying.verify(subject, r), 'no_signature');
    const calls = unsigned.calls;
    await deniedWith(denying.verify(subject, r), 'no_signature');
    assert.equal(unsigned.calls, calls);
  });

  it('inspect reports every signature and why it does not count', async () => {
    const registry = new FakeRegistry();
    registry.add(VALID);
    registry.add(INVALID);
    const { statement, signatures } = await source(registry).inspect(subject, requirement());
    assert.equal(statement.name, 'net-monitor');
    assert.deepEqual(
      signatures.map((s) => s.outcome.ok),
      [true, false],
    );
    const refused = signatures[1]?.outcome;
    assert.ok(refused && !refused.ok);
    assert.equal(refused.reason, 'bad_signature');
  });

  it('a trust policy naming a store that is not there stops the start', () => {
    const r = requirement();
    const broken: NotationRequirements = {
      ...r,
      trustPolicy: {
        path: 'inline',
        json: {
          version: '1.0',
          trustPolicies: [
            { name: 'x', registryScopes: ['*'], signatureVerification: { level: 'strict' }, trustStores: ['ca:absent'], trustedIdentities: ['*'] },
          ],
        },
      },
    };
    assert.throws(() => source(new FakeRegistry()).prepare(broken), /absent/);
  });
});
