/**
 * Required signers and thresholds of `require.notary` (judgeTag), as a table: which delegations
 * signed which digest, what the rule requires, and the verdict.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { judgeTag, type TagView } from '../../../../src/trust/notary/tag-verdict.js';
import type { SignedTarget } from '../../../../src/trust/notary/verified-repo.js';
import { Denial } from '../../../../src/trust/source.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;

function repo(chosen: string | undefined, signed: Record<string, string>): TagView {
  const target = (digest: string, role: string): SignedTarget => ({ digest, size: 10, role });
  return {
    name: 'docker.io/acme/app',
    versions: { root: 1 },
    chooseTarget: () => (chosen ? target(chosen, 'targets/releases') : undefined),
    signersOf: () => new Map(Object.entries(signed).map(([name, digest]) => [name, target(digest, `targets/${name}`)])),
  };
}

const subject = { registry: 'docker.io', repository: 'acme/app', tag: '1.0' };

const CASES: Array<{ name: string; chosen: string | undefined; signed: Record<string, string>; signers: string[]; threshold: number; expect: string }> = [
  { name: 'no requirement', chosen: A, signed: {}, signers: [], threshold: 0, expect: 'allow' },
  { name: 'not signed at all', chosen: undefined, signed: { alice: A }, signers: [], threshold: 0, expect: 'tag_not_signed' },
  { name: 'one of one', chosen: A, signed: { alice: A }, signers: ['alice'], threshold: 1, expect: 'allow' },
  { name: 'required signer missing', chosen: A, signed: { bob: A }, signers: ['alice'], threshold: 1, expect: 'required_signers' },
  { name: 'two of two', chosen: A, signed: { alice: A, bob: A }, signers: ['alice', 'bob'], threshold: 2, expect: 'allow' },
  {
    name: 'two of two, one signed another digest',
    chosen: A,
    signed: { alice: A, bob: B },
    signers: ['alice', 'bob'],
    threshold: 2,
    expect: 'required_signers',
  },
  { name: 'one of two, one signed another digest', chosen: A, signed: { alice: B, bob: A }, signers: ['alice', 'bob'], threshold: 1, expect: 'allow' },
  { name: 'two of three', chosen: A, signed: { alice: A, carol: A }, signers: ['alice', 'bob', 'carol'], threshold: 2, expect: 'allow' },
  {
    name: 'two of three, only one agrees',
    chosen: A,
    signed: { alice: A, bob: B },
    signers: ['alice', 'bob', 'carol'],
    threshold: 2,
    expect: 'required_signers',
  },
  {
    name: 'an unlisted signer does not count',
    chosen: A,
    signed: { mallory: A, alice: A },
    signers: ['alice', 'bob'],
    threshold: 2,
    expect: 'required_signers',
  },
];

describe('required signers and thresholds', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const view = repo(c.chosen, c.signed);
      if (c.expect === 'allow') {
        const pinned = judgeTag(view, subject, { signers: c.signers, threshold: c.threshold });
        assert.equal(pinned.digest, c.chosen);
        assert.deepEqual(
          pinned.signers.sort(),
          Object.entries(c.signed)
            .filter(([, d]) => d === c.chosen)
            .map(([n]) => n)
            .sort(),
        );
        assert.equal(pinned.trust?.name, 'docker.io/acme/app');
        return;
      }
      assert.throws(
        () => judgeTag(view, subject, { signers: c.signers, threshold: c.threshold }),
        (err: unknown) => {
          assert.ok(err instanceof Denial);
          assert.equal(err.reason, c.expect);
          if (c.expect === 'required_signers') assert.match(err.message, new RegExp(`needs ${c.threshold} of the signers`));
          return true;
        },
      );
    });
  }
});
