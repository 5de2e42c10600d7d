/**
 * Parses a `WWW-Authenticate` header (RFC 7235) into scheme and parameters.
 * Docker token spec: `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`.
 */
export interface AuthChallenge {
  scheme: string; // lower-cased: "bearer", "basic"
  params: Record<string, string>;
}

export function parseChallenges(header: string | string[] | undefined): AuthChallenge[] {
  if (header === undefined) return [];
  const values = Array.isArray(header) ? header : [header];
  const out: AuthChallenge[] = [];
  for (const value of values) {
    // One header may carry several challenges; a new one starts at a token followed by a space.
    const re = /([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)(?:\s+|$)((?:[A-Za-z0-9!#$%&'*+.^_`|~-]+\s*=\s*(?:"(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?\s*)*)/g;
    let m: RegExpExecArray | null;
    while ((m = re.exec(value)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++;
        continue;
      }
      const params: Record<string, string> = {};
      const paramRe = /([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
      let p: RegExpExecArray | null;
      while ((p = paramRe.exec(m[2] ?? '')) !== null) {
        const key = (p[1] ?? '').toLowerCase();
        params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, '$1') : (p[3] ?? '');
      }
      out.push({ scheme: (m[1] ?? '').toLowerCase(), params });
    }
  }
  return out;
}
