import type { NotaryRequirements } from '../../config/load.js';
import { Denial, type PinnedTag, type TagSubject } from '../source.js';
import type { SignedTarget } from './verified-repo.js';

/** The part of a verified repository a tag verdict reads (VerifiedNotaryRepo has it). */
export interface TagView {
  name: string;
  versions: Record<string, number>;
  /** Roles accepted past their expiry under an offline grace. */
  expiredAccepted?: readonly string[];
  chooseTarget(tag: string): SignedTarget | undefined;
  signersOf(tag: string): Map<string, SignedTarget>;
}

/**
 * The Docker CLI's target for the tag (targets/releases, then targets), then the rule's
 * required signers: at least `threshold` of the named delegations must have signed that same
 * digest. Distinct names count once; a signer that signed another digest does not count.
 */
export function judgeTag(repo: TagView, subject: TagSubject, requirement: Pick<NotaryRequirements, 'signers' | 'threshold'>): PinnedTag {
  const where = `${subject.registry}/${subject.repository}`;
  const { tag } = subject;
  const target = repo.chooseTarget(tag);
  if (!target) {
    throw new Denial(
      'tag_not_signed',
      `tag "${tag}" of ${where} is not signed: the trust data of ${repo.name} has no target "${tag}" in targets/releases or targets`,
    );
  }
  const signedBy = repo.signersOf(tag);
  const agreeing = requirement.signers.filter((s) => signedBy.get(s)?.digest === target.digest);
  if (agreeing.length < requirement.threshold) {
    const missing = requirement.signers.filter((s) => !agreeing.includes(s));
    const disagreeing = missing.filter((s) => signedBy.has(s));
    throw new Denial(
      'required_signers',
      `tag "${tag}" of ${where} needs ${requirement.threshold} of the signers [${requirement.signers.join(', ')}] on ${target.digest}; ` +
        `signed by [${agreeing.join(', ')}]` +
        (missing.length ? `, missing [${missing.join(', ')}]` : '') +
        (disagreeing.length ? ` ([${disagreeing.join(', ')}] signed another digest)` : ''),
    );
  }
  const signers = [...signedBy.entries()].filter(([, t]) => t.digest === target.digest).map(([name]) => name);
  return {
    format: 'notary',
    digest: target.digest,
    size: target.size,
    role: target.role,
    signers,
    evidence: [
      { format: 'notary', signer: target.role, role: target.role },
      ...signers.map((name) => ({ format: 'notary', signer: name, role: `targets/${name}` })),
    ],
    trust: {
      name: repo.name,
      versions: repo.versions,
      ...(repo.expiredAccepted && repo.expiredAccepted.length > 0 ? { expiredAccepted: [...repo.expiredAccepted] } : {}),
    },
  };
}
