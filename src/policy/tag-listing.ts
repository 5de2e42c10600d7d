import { DEFAULTS } from '../config/defaults.js';
import type { RequirementSet } from '../config/load.js';
import { Denial, type RepositorySubject } from '../trust/source.js';
import { attempt, combineDenials, type BoundRequirement } from './requirements.js';
import type { TagLister, TagPage } from './requests.js';

/** `n` and `last` of a tags/list request (distribution-spec end-8b), validated by the proxy. */
export interface ListingQuery {
  n: number | undefined;
  last: string | undefined;
}

/** A tag judged for a listing: listable, or why not. */
export interface Judged {
  tag: string;
  verdict: true | Denial;
}

export interface Listing {
  page: TagPage;
  judged: Judged[];
}

/**
 * Enforce: a page of the tags the rule admits, in lexical order. The candidates come from the
 * trust data of the sources that sign tags (no registry call) when every alternative needs one
 * of them (anyOf: all are such sources; allOf: at least one is); otherwise from a page of the
 * upstream's list (anyOf adds the signed tags in the same range: a union). allOf keeps the tags
 * every requirement admits (an intersection). At most `n` (capped by DEFAULTS.tagListPageMax)
 * candidates are judged per request, `tagListResolveConcurrency` at a time, so a listing costs at
 * most that many HEADs and signature checks; the rest is reached through `next` (the Link
 * header), which always points after the last tag judged, so pagination neither skips nor
 * repeats a tag whatever was hidden.
 */
export async function admittedPage(
  combine: RequirementSet['combine'],
  bound: readonly BoundRequirement[],
  subject: RepositorySubject,
  query: ListingQuery,
  lister: TagLister,
): Promise<Listing> {
  const size = Math.min(query.n ?? DEFAULTS.tagListPageMax, DEFAULTS.tagListPageMax);
  if (size === 0) return { page: { tags: [], next: undefined }, judged: [] };
  const { last } = query;
  const after = (tag: string): boolean => last === undefined || tag > last;
  const enumerable = bound.filter((b) => b.signedTags);
  const fromRegistry = combine === 'anyOf' ? bound.some((b) => !b.signedTags) : enumerable.length === 0;
  const candidates = new Set<string>();
  /** The end of the range this page covers, when the upstream has more after it. */
  let end: string | undefined;
  if (fromRegistry) {
    const page = await lister.page(size, last);
    for (const tag of page.tags) if (after(tag)) candidates.add(tag);
    end = page.next;
  }
  if (!fromRegistry || combine === 'anyOf') {
    const signed = await signedTags(combine, enumerable, subject, !fromRegistry);
    for (const tag of signed) if (after(tag) && (end === undefined || tag <= end)) candidates.add(tag);
  }
  const ordered = [...candidates].sort(lexical);
  const examined = ordered.slice(0, size);
  const judged = await judgeAll(combine, bound, subject, examined, lister);
  const next = ordered.length > size ? examined.at(-1) : end;
  return { page: { tags: judged.filter((j) => j.verdict === true).map((j) => j.tag), next }, judged };
}

/** Audit: the upstream's page as the client asked for it, with (up to the cap) each tag judged. */
export async function judgedPage(
  combine: RequirementSet['combine'],
  bound: readonly BoundRequirement[],
  subject: RepositorySubject,
  query: ListingQuery,
  lister: TagLister,
): Promise<Listing> {
  const page = await lister.page(query.n, query.last);
  return { page, judged: await judgeAll(combine, bound, subject, page.tags.slice(0, DEFAULTS.tagListPageMax), lister) };
}

/** Union (anyOf) or intersection (allOf) of the signed tags of `enumerable`; `required`: a refusal of them all is the answer. */
async function signedTags(
  combine: RequirementSet['combine'],
  enumerable: readonly BoundRequirement[],
  subject: RepositorySubject,
  required: boolean,
): Promise<string[]> {
  const lists: string[][] = [];
  const denials: Denial[] = [];
  for (const b of enumerable) {
    const tags = await attempt(() => (b.signedTags as NonNullable<BoundRequirement['signedTags']>)(subject));
    if (tags instanceof Denial) {
      // allOf: a requirement whose trust data is refused admits no tag, so none is listed.
      if (combine === 'allOf' && required) throw tags;
      denials.push(tags);
      continue;
    }
    lists.push(tags);
  }
  if (required && lists.length === 0) throw combineDenials(denials, `${subject.registry}/${subject.repository}`);
  if (combine === 'anyOf') return [...new Set(lists.flat())];
  const [first = [], ...rest] = lists;
  return first.filter((tag) => rest.every((l) => l.includes(tag)));
}

async function judgeAll(
  combine: RequirementSet['combine'],
  bound: readonly BoundRequirement[],
  subject: RepositorySubject,
  tags: readonly string[],
  lister: TagLister,
): Promise<Judged[]> {
  const verdicts = await mapLimit(tags, DEFAULTS.tagListResolveConcurrency, (tag) => judge(combine, bound, { ...subject, tag }, lister));
  return tags.map((tag, i) => ({ tag, verdict: verdicts[i] as true | Denial }));
}

/**
 * Whether a pull of the tag would be admitted, as admitTag decides it but without fetching a
 * manifest: sources that sign tags pin it from trust data; the others verify the digest it
 * pins to (allOf) or, when nothing pins it, the digest the upstream has under it (a HEAD).
 */
async function judge(
  combine: RequirementSet['combine'],
  bound: readonly BoundRequirement[],
  subject: RepositorySubject & { tag: string },
  lister: TagLister,
): Promise<true | Denial> {
  const pinners = bound.filter((b) => b.pin);
  const others = bound.filter((b) => !b.pin);
  const where = `${subject.registry}/${subject.repository}`;
  const resolve = async (): Promise<string | Denial> =>
    (await lister.resolve(subject.tag)) ?? new Denial('tag_not_signed', `tag "${subject.tag}" of ${where} is not at the upstream`);
  if (combine === 'allOf') {
    let digest: string | undefined;
    for (const b of pinners) {
      const pinned = await attempt(() => (b.pin as NonNullable<BoundRequirement['pin']>)(subject));
      if (pinned instanceof Denial) return pinned;
      if (digest !== undefined && pinned.digest !== digest)
        return new Denial('pin_conflict', `tag "${subject.tag}" of ${where} is signed for different digests`);
      digest = pinned.digest;
    }
    if (others.length === 0) return true;
    const resolved = digest ?? (await resolve());
    if (resolved instanceof Denial) return resolved;
    for (const b of others) {
      const admitted = await attempt(() => b.verify({ ...subject, digest: resolved }));
      if (admitted instanceof Denial) return admitted;
    }
    return true;
  }
  const denials: Denial[] = [];
  for (const b of pinners) {
    const pinned = await attempt(() => (b.pin as NonNullable<BoundRequirement['pin']>)(subject));
    if (!(pinned instanceof Denial)) return true;
    denials.push(pinned);
  }
  if (others.length > 0) {
    const resolved = await resolve();
    if (resolved instanceof Denial) denials.push(resolved);
    else {
      for (const b of others) {
        const admitted = await attempt(() => b.verify({ ...subject, digest: resolved }));
        if (!(admitted instanceof Denial)) return true;
        denials.push(admitted);
      }
    }
  }
  return combineDenials(denials, where);
}

/** Lexical order by UTF-16 code units, which for tags (ASCII) is distribution's byte order. */
function lexical(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** `work` over `items`, at most `limit` at a time; results in the order of `items`. */
async function mapLimit<T, R>(items: readonly T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let nextIndex = 0;
  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) {
      const i = nextIndex++;
      results[i] = await work(items[i] as T);
    }
  };
  await Promise.all(Array.from({ length: Math.min(Math.max(1, limit), items.length) }, worker));
  return results;
}
