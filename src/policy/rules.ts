import picomatch from 'picomatch';

/**
 * Policy rule matching on `<registry>/<repository>`. Patterns are anchored globs: `*` stays
 * within one path component and `**` spans components, so `docker.io/acme/*` can never match
 * `docker.io/acme-evil/x`. When several rules match, the most specific wins: the one with the
 * most literal characters, then the fewest wildcards, then the first in the file.
 */
export interface MatchableRule {
  match: string;
}

export interface CompiledRule<R extends MatchableRule> {
  rule: R;
  index: number;
  test: (subject: string) => boolean;
  literalChars: number;
  wildcards: number;
}

export function compileRules<R extends MatchableRule>(rules: readonly R[]): Array<CompiledRule<R>> {
  return rules.map((rule, index) => ({
    rule,
    index,
    // Braces, extglobs and negation are off: a policy pattern should read as what it matches.
    test: picomatch(rule.match, { dot: true, nobrace: true, noextglob: true, nonegate: true }),
    literalChars: rule.match.replace(/\*+|\?/g, '').length,
    wildcards: (rule.match.match(/\*+|\?/g) ?? []).length,
  }));
}

/** The most specific rule matching `subject`, or undefined. */
export function mostSpecific<R extends MatchableRule>(compiled: ReadonlyArray<CompiledRule<R>>, subject: string): CompiledRule<R> | undefined {
  let best: CompiledRule<R> | undefined;
  for (const c of compiled) {
    if (!c.test(subject)) continue;
    if (!best || c.literalChars > best.literalChars || (c.literalChars === best.literalChars && c.wildcards < best.wildcards)) {
      best = c;
    }
  }
  return best;
}
