import { Denial, type DenyReason } from './source.js';

/**
 * When no signature of a digest admits it, the denial that tells the user most about what to
 * fix (the first reason of `order`; a reason not listed ranks last), its message followed by how
 * many other signatures were refused and why. For sources that find several signatures per digest.
 */
export function mostTelling(denials: readonly Denial[], where: string, order: readonly DenyReason[], format: string): Denial {
  const rank = (d: Denial): number => {
    const i = order.indexOf(d.reason);
    return i < 0 ? order.length : i;
  };
  const sorted = [...denials].sort((a, b) => rank(a) - rank(b));
  const first = sorted[0];
  if (!first) return new Denial('no_signature', `${where} has no ${format} signature`);
  const others = new Set(sorted.slice(1).map((d) => d.message));
  others.delete(first.message);
  return new Denial(
    first.reason,
    others.size > 0 ? `${first.message} (and ${others.size} other signature(s) refused: ${[...others].join('; ')})` : first.message,
    {
      cause: first,
    },
  );
}
