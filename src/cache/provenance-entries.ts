import { DEFAULTS } from '../config/defaults.js';
import { SignetError } from '../errors.js';
import { isTag, parseDigest } from '../registry/names.js';
import type { Provenance, ProvenanceEntry, ProvenanceRoot } from './ports.js';
import { isStronger } from './provenance-kind.js';

/**
 * The provenance of one repository as both backends hold it in memory, and the one set of rules
 * for changing it (records raise kinds and add roots; a dropped root is removed everywhere), so
 * the disk store's file replays to exactly what the memory store would hold.
 */
export type Entries = Map<string, { kind: Provenance; roots: ProvenanceRoot[] }>;

/** One change a record made: what the disk store appends as a line. */
export interface Change {
  kind: Provenance;
  digest: string;
  /** Undefined: the digest is its own root (a record without roots, the line earlier versions wrote). */
  root: ProvenanceRoot | undefined;
}

/**
 * Applies a record to `entries` and answers the changes it made (none for a digest that keeps a
 * stronger kind, or that already has each root): the hot path of a manifest served again
 * changes nothing. `ownRootAt`: when a digest recorded without roots counts as verified.
 */
export function applyRecord(
  entries: Entries,
  digests: readonly string[],
  kind: Provenance,
  roots: readonly ProvenanceRoot[] | undefined,
  ownRootAt: number,
): Change[] {
  const changes: Change[] = [];
  for (const digest of new Set(digests)) {
    let entry = entries.get(digest);
    if (entry && !isStronger(kind, entry.kind) && entry.kind !== kind) continue;
    if (!entry || entry.kind !== kind) {
      entry = { kind, roots: [] };
      entries.set(digest, entry);
      if (kind === 'unverified') {
        changes.push({ kind, digest, root: undefined });
        continue;
      }
    }
    if (kind === 'unverified') continue;
    // No root given: the digest is its own root (never an entry no root vouches for).
    const wanted =
      roots === undefined || roots.length === 0 ? [{ root: { digest, verifiedAt: ownRootAt }, own: true }] : roots.map((root) => ({ root, own: false }));
    for (const { root, own } of wanted) {
      if (entry.roots.some((r) => r.digest === root.digest)) continue;
      entry.roots.push({ ...root });
      changes.push({ kind, digest, root: own ? undefined : root });
    }
    keepNewest(entry.roots);
  }
  return changes;
}

/** Removes `root` from every entry; answers whether anything changed. */
export function applyDrop(entries: Entries, root: string): boolean {
  let changed = false;
  for (const [digest, entry] of entries) {
    const kept = entry.roots.filter((r) => r.digest !== root);
    if (kept.length === entry.roots.length) continue;
    changed = true;
    if (kept.length === 0) entries.delete(digest);
    else entry.roots = kept;
  }
  return changed;
}

/** A copy for callers: what is held stays the store's. */
export function snapshot(entry: { kind: Provenance; roots: ProvenanceRoot[] } | undefined): ProvenanceEntry | undefined {
  return entry ? { kind: entry.kind, roots: entry.roots.map((r) => ({ ...r })) } : undefined;
}

/** Refuses anything that is not a digest, root digest or tag before it reaches a store (or a line of its file). */
export function validateRecord(digests: readonly string[], roots: readonly ProvenanceRoot[] | undefined): void {
  for (const d of digests) parseDigest(d);
  for (const r of roots ?? []) {
    parseDigest(r.digest);
    if (r.tag !== undefined && !isTag(r.tag)) throw new SignetError('INTERNAL', `provenance root tag "${r.tag.slice(0, 130)}" is not a tag`);
    if (!Number.isSafeInteger(r.verifiedAt) || r.verifiedAt < 0)
      throw new SignetError('INTERNAL', `provenance root time ${String(r.verifiedAt)} is not epoch ms`);
  }
}

/**
 * Bounded: a layer shared by many signed images keeps the most recently verified roots; one
 * dropped here costs at most a digest pull that must go through its tag again.
 */
function keepNewest(roots: ProvenanceRoot[]): void {
  while (roots.length > DEFAULTS.provenanceRootsPerDigest) {
    let oldest = 0;
    for (let i = 1; i < roots.length; i++) if ((roots[i] as ProvenanceRoot).verifiedAt < (roots[oldest] as ProvenanceRoot).verifiedAt) oldest = i;
    roots.splice(oldest, 1);
  }
}
