import type { FormatRequirement, RequirementSet } from '../config/load.js';
import { SignetError } from '../errors.js';
import { Denial, type Admission, type PinnedTag, type RepositorySubject, type Subject, type TagSubject, type TrustSource } from '../trust/source.js';
import type { ManifestFacts, ManifestLoader } from './requests.js';

/** The trust sources by the format key of `require.<format>`. */
export type TrustSources = {
  [F in FormatRequirement['format']]?: TrustSource<Extract<FormatRequirement, { format: F }>['requirement']>;
};

/** One requirement bound to its source: what the evaluation below works with. */
export interface BoundRequirement {
  format: string;
  pin: ((subject: TagSubject) => Promise<PinnedTag>) | undefined;
  verify: (subject: Subject) => Promise<Admission>;
  /** The tags the source signs and admits, from its trust data alone (TUF-style sources). */
  signedTags: ((subject: RepositorySubject) => Promise<string[]>) | undefined;
}

export function bindRequirements(sources: TrustSources, set: RequirementSet): BoundRequirement[] {
  return set.entries.map((entry) => {
    // The mapped type pairs each format with its requirement; the compiler cannot follow that
    // correlation through the union (the linter's type view differs), hence the one cast.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- needed by tsc, see above
    const source = sources[entry.format] as TrustSource<typeof entry.requirement> | undefined;
    if (!source) throw new SignetError('CONFIG_INVALID', `${entry.requirement.path}: no trust source for format "${entry.format}" is configured`);
    const pinTag = source.pinTag?.bind(source);
    const signedTags = source.signedTags?.bind(source);
    return {
      format: entry.format,
      pin: pinTag ? (subject: TagSubject) => pinTag(subject, entry.requirement) : undefined,
      verify: (subject: Subject) => source.verify(subject, entry.requirement),
      signedTags: signedTags ? (subject: RepositorySubject) => signedTags(subject, entry.requirement) : undefined,
    };
  });
}

export type Outcome<M> = { admitted: true; manifest: M; admissions: Admission[] } | { admitted: false; denial: Denial; manifest: M | undefined };

/**
 * A tag: TUF-style sources pin it (the signed digest is fetched, never the registry's idea of
 * the tag); when none pins it, the tag resolves at the registry and digest-signing sources
 * verify what it resolved to. `allOf`: every requirement must admit the same digest; `anyOf`:
 * the first that admits wins, in the order of the config.
 */
export async function admitTag<M extends ManifestFacts>(
  combine: RequirementSet['combine'],
  bound: readonly BoundRequirement[],
  subject: TagSubject,
  loader: ManifestLoader<M>,
  where: string,
): Promise<Outcome<M>> {
  const pinners = bound.filter((b) => b.pin);
  const others = bound.filter((b) => !b.pin);
  if (combine === 'allOf') {
    const pins: PinnedTag[] = [];
    for (const b of pinners) {
      const pinned = await attempt(() => (b.pin as NonNullable<BoundRequirement['pin']>)(subject));
      if (pinned instanceof Denial) return { admitted: false, denial: pinned, manifest: undefined };
      pins.push(pinned);
    }
    const digests = new Set(pins.map((p) => p.digest));
    if (digests.size > 1) {
      return {
        admitted: false,
        manifest: undefined,
        denial: new Denial(
          'pin_conflict',
          `tag "${subject.tag}" of ${where} is signed for different digests: ${pins.map((p) => `${p.format} ${p.digest}`).join(', ')}`,
        ),
      };
    }
    const first = pins[0];
    let manifest: M;
    if (first) {
      const loaded = await loadPinned(first, subject, loader, where);
      if (loaded instanceof Denial) return { admitted: false, denial: loaded, manifest: undefined };
      manifest = loaded;
    } else {
      manifest = await loader.byTag(subject.tag);
    }
    const admissions: Admission[] = [...pins];
    for (const b of others) {
      const admitted = await attempt(() => b.verify({ ...subject, digest: manifest.digest }));
      if (admitted instanceof Denial) return { admitted: false, denial: admitted, manifest };
      admissions.push(admitted);
    }
    return { admitted: true, manifest, admissions };
  }

  const denials: Denial[] = [];
  let manifest: M | undefined;
  for (const b of pinners) {
    const pinned = await attempt(() => (b.pin as NonNullable<BoundRequirement['pin']>)(subject));
    if (pinned instanceof Denial) {
      denials.push(pinned);
      continue;
    }
    const loaded = await loadPinned(pinned, subject, loader, where);
    if (loaded instanceof Denial) {
      denials.push(loaded);
      continue;
    }
    return { admitted: true, manifest: loaded, admissions: [pinned] };
  }
  if (others.length > 0) {
    const resolved = await loader.byTag(subject.tag);
    manifest = resolved;
    for (const b of others) {
      const admitted = await attempt(() => b.verify({ ...subject, digest: resolved.digest }));
      if (!(admitted instanceof Denial)) return { admitted: true, manifest: resolved, admissions: [admitted] };
      denials.push(admitted);
    }
  }
  return { admitted: false, denial: combineDenials(denials, where), manifest };
}

/** A digest by itself (a pull by digest): every (`allOf`) or one (`anyOf`) requirement must admit it. */
export async function admitDigest(combine: RequirementSet['combine'], bound: readonly BoundRequirement[], subject: Subject): Promise<Admission[] | Denial> {
  const admissions: Admission[] = [];
  const denials: Denial[] = [];
  for (const b of bound) {
    const admitted = await attempt(() => b.verify(subject));
    if (admitted instanceof Denial) {
      if (combine === 'allOf') return admitted;
      denials.push(admitted);
      continue;
    }
    admissions.push(admitted);
    if (combine === 'anyOf') return admissions;
  }
  if (combine === 'anyOf' || admissions.length === 0) return combineDenials(denials, `${subject.registry}/${subject.repository}`);
  return admissions;
}

/**
 * Whether a manifest of `digest` may stand for the tag as far as the sources that sign tags are
 * concerned: none pins the tag to another digest (allOf: each pins it to this one). For a stale
 * serve: the signature, not the cache, decides what a tag means.
 */
export async function pinsAgree(combine: RequirementSet['combine'], bound: readonly BoundRequirement[], subject: TagSubject, digest: string): Promise<boolean> {
  for (const b of bound) {
    if (!b.pin) continue;
    const pinned = await attempt(() => (b.pin as NonNullable<BoundRequirement['pin']>)(subject));
    if (pinned instanceof Denial ? combine === 'allOf' : pinned.digest !== digest) return false;
  }
  return true;
}

/** The signed manifest itself, checked against the signed length. */
async function loadPinned<M extends ManifestFacts>(pinned: PinnedTag, subject: TagSubject, loader: ManifestLoader<M>, where: string): Promise<M | Denial> {
  const manifest = await loader.byDigest(pinned.digest);
  if (!manifest) {
    return new Denial(
      'signed_digest_unavailable',
      `the signed digest ${pinned.digest} of ${where}:${subject.tag} is not available at upstream ${subject.registry}: the tag was probably re-pushed without being signed again`,
    );
  }
  if (manifest.size !== pinned.size) {
    return new Denial('size_mismatch', `manifest ${pinned.digest} is ${manifest.size} bytes, but ${pinned.size} bytes were signed`);
  }
  return manifest;
}

/** Runs a source call, turning its denial into a value; anything else (infrastructure) is thrown. */
export async function attempt<T>(call: () => Promise<T>): Promise<T | Denial> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof Denial) return err;
    throw err;
  }
}

export function combineDenials(denials: readonly Denial[], where: string): Denial {
  const [first, ...rest] = denials;
  if (!first) return new Denial('no_trust_config', `no trust requirement applies to ${where}`);
  if (rest.length === 0) return first;
  return new Denial(first.reason, `no alternative of the rule admits it: ${denials.map((d) => d.message).join('; ')}`, { cause: first });
}
