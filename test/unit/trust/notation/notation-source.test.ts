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
import { NotationTrustSource } from '../../../../src/trust/notation/notation-source.js';
import { deniedWith } from '../../../harness/denials.js';
import { FakeSignatureRegistry, nonRevokable, VECTOR_IMAGE } from '../../../harness/notation-fake-registry.js';

const FIXTURES = join(import.meta.dirname, '..', '..', '..', 'fixtures', 'notation-go');
const VALID = readFileSync(join(FIXTURES, 'internal', 'mock', 'testdata', 'ca_valid_sig_env.json'));
const INVALID = readFileSync(join(FIXTURES, 'internal', 'mock', 'testdata', 'ca_invalid_sig_env.json'));
const IMAGE = VECTOR_IMAGE;
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

function source(registry: FakeSignatureRegistry | undefined, clock = () => Date.parse('2026-12-02T00:00:00Z'), freshnessSeconds = 60): NotationTrustSource {
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
    const registry = new FakeSignatureRegistry();
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
    const registry = new FakeSignatureRegistry();
    registry.add(VALID);
    registry.add(Buffer.concat([VALID, Buffer.from('\n')]));
    await deniedWith(source(registry).verify(subject, requirement('strict', 2)), 'threshold', /signed by 1 of the 2 distinct signing identities/);
  });

  it('no signature, no statement for the scope, an unknown upstream: denied saying what to do', async () => {
    await deniedWith(
      source(new FakeSignatureRegistry()).verify(subject, requirement()),
      'no_signature',
      /has no Notation signature: sign it \(notation sign\)/,
    );
    await deniedWith(
      source(new FakeSignatureRegistry()).verify(subject, requirement('strict', 1, 'registry.acme-rockets.io/other')),
      'no_trust_config',
      /no statement of the Notation trust policy inline applies to registry\.acme-rockets\.io\/software\/net-monitor: add one/,
    );
    await deniedWith(source(undefined).verify(subject, requirement()), 'no_trust_config', /not an upstream of this Signet/);
  });

  it('level skip admits without asking the registry', async () => {
    const registry = new FakeSignatureRegistry();
    const admitted = await source(registry).verify(subject, requirement('skip'));
    assert.deepEqual(admitted.signers, []);
    assert.match(admitted.evidence[0]?.signer ?? '', /verification skipped by trust policy statement "net-monitor"/);
    assert.equal(registry.calls, 0);
    assert.deepEqual((await source(registry).inspect(subject, requirement('skip'))).signatures, []);
  });

  it('signature artifacts that are not one Notation envelope about this digest are refused, and the reason of the most telling one is given', async () => {
    const registry = new FakeSignatureRegistry();
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
    const tooLarge = new FakeSignatureRegistry();
    tooLarge.add(VALID, { layers: [{ ...layer, size: 2 * 1024 ** 2 }] });
    await deniedWith(source(tooLarge).verify(subject, requirement()), 'too_large', /over the 1048576-byte limit/);
  });

  it('a registry that cannot be asked is signatures_unavailable; a verified verdict is used meanwhile, a denial is remembered', async () => {
    const registry = new FakeSignatureRegistry();
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

    const unsigned = new FakeSignatureRegistry();
    const denying = source(unsigned);
    const r = requirement();
    await deniedWith(denying.verify(subject, r), 'no_signature');
    const calls = unsigned.calls;
    await deniedWith(denying.verify(subject, r), 'no_signature');
    assert.equal(unsigned.calls, calls);
  });

  it('inspect reports every signature and why it does not count', async () => {
    const registry = new FakeSignatureRegistry();
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
    assert.throws(() => source(new FakeSignatureRegistry()).prepare(broken), /absent/);
  });
});
