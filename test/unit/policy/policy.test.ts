/**
 * The decision core, table-driven with fakes: for every mode × outcome of the trust source ×
 * provenance, the verdict, the one audit record and the counted metric of the decision.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignetError } from '../../../src/errors.js';
import { Denial, type DenyReason } from '../../../src/trust/source.js';
import type { Provenance } from '../../../src/cache/ports.js';
import { admission, core, digestOf, FakeLoader, FakeSource, manifest, pinned } from './decision-core.js';

const req = (repository: string) => ({ upstream: 'docker.io', repository, client: '127.0.0.1' });

/** Asserts the one audit record of the request and that the metric counted it. */
async function decided(c: ReturnType<typeof core>, expected: { verdict: string; reason: string; digest?: string | undefined; kind?: string }): Promise<void> {
  assert.equal(c.audit.records.length, 1, `one decision recorded, got ${JSON.stringify(c.audit.records)}`);
  const record = c.audit.records[0];
  assert.ok(record);
  assert.equal(record.verdict, expected.verdict);
  assert.equal(record.reason, expected.reason);
  if ('digest' in expected) assert.equal(record.digest, expected.digest);
  if (expected.kind) assert.equal(record.kind, expected.kind);
  assert.equal(await c.decisions(expected.verdict, expected.reason), 1);
}

/** What a trust source or the fetched bytes say about tag "1.0". */
type TagCase = { name: string; reason: DenyReason | 'signed'; setup: (source: FakeSource, loader: FakeLoader) => void };

const signedManifest = manifest('signed');
const registryManifest = manifest('registry-says');

const TAG_CASES: TagCase[] = [
  { name: 'signed', reason: 'signed', setup: (s, l) => (l.add(signedManifest), s.pins.set('1.0', pinned(signedManifest, ['alice']))) },
  { name: 'tag not signed', reason: 'tag_not_signed', setup: () => undefined },
  ...(['no_trust_data', 'expired', 'rollback', 'threshold', 'root_not_pinned', 'trust_unavailable', 'required_signers', 'trust_state_unreadable'] as const).map(
    (reason): TagCase => ({ name: reason, reason, setup: (s) => s.pins.set('1.0', new Denial(reason, `source says ${reason}`)) }),
  ),
  // Found by the proxy's fetch, decided by the policy: the signed digest is gone, or has another length.
  { name: 'signed digest unavailable', reason: 'signed_digest_unavailable', setup: (s) => s.pins.set('1.0', pinned(signedManifest)) },
  { name: 'size mismatch', reason: 'size_mismatch', setup: (s, l) => (l.add(signedManifest), s.pins.set('1.0', pinned(signedManifest, [], 99))) },
];

describe('manifest by tag: mode × outcome', () => {
  for (const mode of ['enforce', 'audit', 'off'] as const) {
    const repository = { enforce: 'enforced/app', audit: 'audited/app', off: 'open/app' }[mode];
    for (const tc of TAG_CASES) {
      it(`${mode}: ${tc.name}`, async () => {
        const c = core();
        const loader = new FakeLoader();
        loader.add(registryManifest, '1.0');
        tc.setup(c.source, loader);
        const request = { ...req(repository), tag: '1.0' };
        if (mode === 'off') {
          const served = await c.policy.manifestByTag(request, loader);
          assert.equal(served.digest, registryManifest.digest, 'off: the registry decides');
          assert.equal(c.source.calls, 0, 'off: no trust source is asked');
          await decided(c, { verdict: 'allowed', reason: 'policy_off', digest: registryManifest.digest, kind: 'manifest' });
          assert.equal(await c.provenance.get('docker.io', repository, registryManifest.children[0] as string), 'unverified');
          return;
        }
        if (tc.reason === 'signed') {
          const served = await c.policy.manifestByTag(request, loader);
          assert.equal(served.digest, signedManifest.digest, "the signed digest, not the registry's tag");
          assert.ok(!loader.asked.includes('tag 1.0'), 'the registry is never asked what the tag means');
          await decided(c, { verdict: 'allowed', reason: 'signed', digest: signedManifest.digest });
          assert.deepEqual(c.audit.records[0]?.signers, ['alice']);
          assert.equal(c.audit.records[0].trust?.name, 'docker.io/library/app');
          for (const d of [signedManifest.digest, ...signedManifest.children]) assert.equal(await c.provenance.get('docker.io', repository, d), 'verified');
          return;
        }
        if (mode === 'enforce') {
          await assert.rejects(c.policy.manifestByTag(request, loader), (err: unknown) => {
            assert.ok(err instanceof Denial);
            assert.equal(err.reason, tc.reason);
            assert.ok(err instanceof SignetError && err.code === 'DENIED');
            assert.deepEqual(err.detail, { reason: tc.reason });
            return true;
          });
          await decided(c, { verdict: 'denied', reason: tc.reason });
          for (const d of [...registryManifest.children, ...signedManifest.children])
            assert.equal(await c.provenance.get('docker.io', repository, d), undefined);
          return;
        }
        // audit: let through, logged as what would have been denied, never recorded as verified.
        const served = await c.policy.manifestByTag(request, loader);
        await decided(c, { verdict: 'audited', reason: tc.reason });
        assert.match(c.audit.records[0]?.message ?? '', /\w/);
        for (const d of [served.digest, ...served.children]) assert.equal(await c.provenance.get('docker.io', repository, d), 'unverified');
      });
    }
  }
});

describe('manifest by digest: mode × provenance × signed', () => {
  const child = manifest('child');
  const PROVENANCE: Array<Provenance | undefined> = ['verified', 'artifact', 'unverified', undefined];
  for (const mode of ['enforce', 'audit', 'off'] as const) {
    const repository = { enforce: 'enforced/app', audit: 'audited/app', off: 'open/app' }[mode];
    for (const known of PROVENANCE) {
      for (const signed of [false, true]) {
        it(`${mode}: provenance ${known ?? 'none'}, ${signed ? 'signed digest' : 'not signed'}`, async () => {
          const c = core();
          const loader = new FakeLoader();
          loader.add(child);
          if (known) await c.provenance.record('docker.io', repository, [child.digest], known);
          if (signed) c.source.digests.set(child.digest, admission(child, ['bob']));
          const request = { ...req(repository), digest: child.digest };
          const expected =
            mode === 'off'
              ? { verdict: 'allowed', reason: 'policy_off' }
              : known === 'verified'
                ? { verdict: 'allowed', reason: 'provenance' }
                : signed
                  ? { verdict: 'allowed', reason: 'signed' }
                  : { verdict: mode === 'audit' ? 'audited' : 'denied', reason: 'digest_not_authorised' };
          if (expected.verdict === 'denied') {
            await assert.rejects(
              c.policy.manifestByDigest(request, loader),
              (err: unknown) => err instanceof Denial && err.reason === 'digest_not_authorised' && /pull it through a signed tag/.test(err.message),
            );
          } else {
            assert.equal((await c.policy.manifestByDigest(request, loader)).digest, child.digest);
          }
          await decided(c, { ...expected, digest: child.digest });
          const after = await c.provenance.get('docker.io', repository, child.children[0] as string);
          const wanted =
            expected.verdict === 'denied' ? undefined : expected.reason === 'provenance' || expected.reason === 'signed' ? 'verified' : 'unverified';
          assert.equal(after, wanted);
        });
      }
    }
  }

  it('a denial of the trust data itself (not "digest not signed") keeps its reason', async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(child);
    c.source.digests.set(child.digest, new Denial('expired', 'timestamp expired'));
    await assert.rejects(
      c.policy.manifestByDigest({ ...req('enforced/app'), digest: child.digest }, loader),
      (err: unknown) => err instanceof Denial && err.reason === 'expired',
    );
    await decided(c, { verdict: 'denied', reason: 'expired' });
  });

  it('a digest the upstream does not have is MANIFEST_UNKNOWN, not a decision to allow', async () => {
    const c = core();
    await c.provenance.record('docker.io', 'enforced/app', [child.digest], 'verified');
    await assert.rejects(
      c.policy.manifestByDigest({ ...req('enforced/app'), digest: child.digest }, new FakeLoader()),
      (err: unknown) => err instanceof SignetError && err.code === 'MANIFEST_UNKNOWN',
    );
  });
});

describe('blobs: mode × provenance', () => {
  const blob = digestOf('blob');
  for (const mode of ['enforce', 'audit', 'off'] as const) {
    const repository = { enforce: 'enforced/app', audit: 'audited/app', off: 'open/app' }[mode];
    for (const known of ['verified', 'artifact', 'unverified', undefined] as const) {
      it(`${mode}: provenance ${known ?? 'none'}`, async () => {
        const c = core();
        if (known) await c.provenance.record('docker.io', repository, [blob], known);
        const expected =
          mode === 'off'
            ? { verdict: 'allowed', reason: 'policy_off' }
            : known === 'verified'
              ? { verdict: 'allowed', reason: 'provenance' }
              : known === 'artifact'
                ? { verdict: 'allowed', reason: 'signature_artifact' }
                : { verdict: mode === 'audit' ? 'audited' : 'denied', reason: 'digest_not_authorised' };
        const call = c.policy.blob({ ...req(repository), digest: blob });
        if (expected.verdict === 'denied') await assert.rejects(call, (err: unknown) => err instanceof Denial && err.reason === 'digest_not_authorised');
        else await call;
        await decided(c, { ...expected, digest: blob, kind: 'blob' });
        assert.equal(c.source.calls, 0, 'blobs are judged by provenance alone');
      });
    }
  }
  it('provenance is per repository: a blob verified in one repository is not authorised in another', async () => {
    const c = core();
    await c.provenance.record('docker.io', 'enforced/app', [blob], 'verified');
    await assert.rejects(c.policy.blob({ ...req('enforced/other'), digest: blob }), Denial);
  });
});

describe('composition of requirements', () => {
  const m = manifest('composed');
  const first = 'policy.rules.3.require.anyOf.0.notary';
  const second = 'policy.rules.3.require.anyOf.1.notary';
  const run = async (repository: string, setup: (s: FakeSource) => void) => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(m, '1.0');
    setup(c.source);
    const result = await c.policy.manifestByTag({ ...req(repository), tag: '1.0' }, loader).then(
      (served) => served.digest,
      (err: unknown) => err,
    );
    return { c, result };
  };

  it('anyOf: the second alternative admits when the first denies', async () => {
    const { c, result } = await run('either/app', (s) => {
      s.pins.set(`${first} 1.0`, new Denial('root_not_pinned', 'not pinned'));
      s.pins.set(`${second} 1.0`, pinned(m));
    });
    assert.equal(result, m.digest);
    await decided(c, { verdict: 'allowed', reason: 'signed' });
  });

  it('anyOf: every alternative denies → the first reason, every message', async () => {
    const { c, result } = await run('either/app', (s) => {
      s.pins.set(`${first} 1.0`, new Denial('root_not_pinned', 'first says no'));
      s.pins.set(`${second} 1.0`, new Denial('expired', 'second says no'));
    });
    assert.ok(result instanceof Denial);
    assert.equal(result.reason, 'root_not_pinned');
    assert.match(result.message, /first says no.*second says no/);
    await decided(c, { verdict: 'denied', reason: 'root_not_pinned' });
  });

  it('allOf: one denial denies', async () => {
    const { c, result } = await run('both/app', (s) => {
      s.pins.set('policy.rules.4.require.allOf.0.notary 1.0', pinned(m));
      s.pins.set('policy.rules.4.require.allOf.1.notary 1.0', new Denial('required_signers', 'bob missing'));
    });
    assert.ok(result instanceof Denial && result.reason === 'required_signers');
    await decided(c, { verdict: 'denied', reason: 'required_signers' });
  });

  it('allOf: two pins for different digests are a conflict', async () => {
    const other = manifest('other');
    const { c, result } = await run('both/app', (s) => {
      s.pins.set('policy.rules.4.require.allOf.0.notary 1.0', pinned(m));
      s.pins.set('policy.rules.4.require.allOf.1.notary 1.0', pinned(other));
    });
    assert.ok(result instanceof Denial && result.reason === 'pin_conflict');
    await decided(c, { verdict: 'denied', reason: 'pin_conflict' });
  });

  it('a digest-signing source (no pinning) verifies the digest the tag resolves to at the registry', async () => {
    const source = new FakeSource(false);
    const c = core(source);
    const loader = new FakeLoader();
    loader.add(m, '1.0');
    source.digests.set(m.digest, admission(m, ['ci@example.com']));
    assert.equal((await c.policy.manifestByTag({ ...req('enforced/app'), tag: '1.0' }, loader)).digest, m.digest);
    assert.deepEqual(loader.asked, ['tag 1.0']);
    await decided(c, { verdict: 'allowed', reason: 'signed' });
    assert.deepEqual(c.audit.records[0]?.signers, ['ci@example.com']);
  });
});

describe('signature artifacts of admitted digests', () => {
  const image = manifest('image');
  const sig = manifest('sig', { signatureArtifact: true, children: [digestOf('sig/config'), digestOf('sig/payload')] });
  const runnable = manifest('runnable-with-subject', { subject: image.digest });
  const referrer = manifest('referrer', { signatureArtifact: true, subject: image.digest });
  const sigTag = `sha256-${image.digest.slice('sha256:'.length)}.sig`;

  it("cosign's .sig tag of an admitted digest is served, and its blobs with it", async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(sig, sigTag);
    c.source.digests.set(image.digest, admission(image));
    assert.equal((await c.policy.manifestByTag({ ...req('enforced/app'), tag: sigTag }, loader)).digest, sig.digest);
    await decided(c, { verdict: 'allowed', reason: 'signature_artifact' });
    assert.equal(await c.provenance.get('docker.io', 'enforced/app', digestOf('sig/payload')), 'artifact');
  });

  it('the .sig tag of a digest that is not admitted is judged like any tag (denied)', async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(sig, sigTag);
    await assert.rejects(
      c.policy.manifestByTag({ ...req('enforced/app'), tag: sigTag }, loader),
      (err: unknown) => err instanceof Denial && err.reason === 'tag_not_signed',
    );
    await decided(c, { verdict: 'denied', reason: 'tag_not_signed' });
  });

  it('a runnable image under a .sig tag is not a signature artifact', async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(manifest('evil'), sigTag);
    c.source.digests.set(image.digest, admission(image));
    await assert.rejects(c.policy.manifestByTag({ ...req('enforced/app'), tag: sigTag }, loader), Denial);
  });

  it('a referrer (OCI subject) of an admitted digest is served by digest', async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(referrer);
    await c.provenance.record('docker.io', 'enforced/app', [image.digest], 'verified');
    assert.equal((await c.policy.manifestByDigest({ ...req('enforced/app'), digest: referrer.digest }, loader)).digest, referrer.digest);
    await decided(c, { verdict: 'allowed', reason: 'signature_artifact' });
  });

  it('an image that names an admitted subject is still denied: a subject does not make an image runnable through Signet', async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(runnable);
    await c.provenance.record('docker.io', 'enforced/app', [image.digest], 'verified');
    await assert.rejects(
      c.policy.manifestByDigest({ ...req('enforced/app'), digest: runnable.digest }, loader),
      (err: unknown) => err instanceof Denial && err.reason === 'digest_not_authorised',
    );
    await decided(c, { verdict: 'denied', reason: 'digest_not_authorised' });
  });

  it('a signature artifact already served for an admitted digest is served again by digest', async () => {
    const c = core();
    const loader = new FakeLoader();
    loader.add(sig);
    await c.provenance.record('docker.io', 'enforced/app', [sig.digest], 'artifact');
    assert.equal((await c.policy.manifestByDigest({ ...req('enforced/app'), digest: sig.digest }, loader)).digest, sig.digest);
    await decided(c, { verdict: 'allowed', reason: 'signature_artifact' });
    assert.equal(c.source.calls, 0, 'no trust source is asked');
  });

  it('referrers of any digest are listed where the policy is off', async () => {
    const c = core();
    await c.policy.referrers({ ...req('open/app'), digest: image.digest });
    await decided(c, { verdict: 'allowed', reason: 'policy_off', kind: 'referrers' });
  });

  it('referrers are listed for admitted digests only', async () => {
    const c = core();
    await assert.rejects(c.policy.referrers({ ...req('enforced/app'), digest: image.digest }), Denial);
    await c.provenance.record('docker.io', 'enforced/app', [image.digest], 'verified');
    await c.policy.referrers({ ...req('enforced/app'), digest: image.digest });
    assert.deepEqual(
      c.audit.records.map((r) => [r.kind, r.verdict, r.reason]),
      [
        ['referrers', 'denied', 'digest_not_authorised'],
        ['referrers', 'allowed', 'provenance'],
      ],
    );
  });
});

describe('tag listings', () => {
  for (const [repository, reason] of [
    ['enforced/app', 'listing'],
    ['open/app', 'policy_off'],
  ] as const) {
    it(`${repository}: allowed and recorded (${reason})`, async () => {
      const c = core();
      const page = await c.policy.tagList(
        req(repository),
        { n: undefined, last: undefined },
        { page: async () => ({ tags: [], next: undefined }), resolve: async () => undefined },
      );
      await decided(c, { verdict: 'allowed', reason, kind: 'tags' });
      assert.equal(page === undefined, reason === 'policy_off', 'off passes the upstream list through');
    });
  }
});

describe('rule resolution', () => {
  it('the most specific rule wins; no match is the default (enforce, implicit Notary requirement)', () => {
    const c = core();
    assert.equal(c.policy.resolve('docker.io', 'open/app').mode, 'off');
    const fallback = c.policy.resolve('docker.io', 'library/alpine');
    assert.equal(fallback.mode, 'enforce');
    assert.equal(fallback.path, 'policy.default');
    assert.deepEqual(
      fallback.require.entries.map((e) => e.format),
      ['notary'],
    );
  });
});
