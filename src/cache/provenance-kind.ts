import type { Provenance } from './ports.js';

/** verified > artifact > unverified: a digest keeps the strongest kind it was ever recorded with. */
const RANK: Record<Provenance, number> = { unverified: 1, artifact: 2, verified: 3 };

export function isStronger(candidate: Provenance, current: Provenance | undefined): boolean {
  return current === undefined || RANK[candidate] > RANK[current];
}

/** The digests of `digests` (each once) whose kind `provenance` would raise. */
export function raisedDigests(known: ReadonlyMap<string, Provenance>, digests: readonly string[], provenance: Provenance): string[] {
  const raised: string[] = [];
  for (const d of digests) if (isStronger(provenance, known.get(d)) && !raised.includes(d)) raised.push(d);
  return raised;
}
