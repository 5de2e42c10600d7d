/**
 * The `rel="next"` target of an HTTP Link header (RFC 8288 §3, which obsoletes the RFC 5988 the
 * distribution-spec cites), resolved against the URL of the response that carried it:
 * `Link: </v2/app/referrers/sha256:...?last=abc>; rel="next"`. Several links may share one
 * header or come in several headers; a rel value may list several relation types.
 */
export function nextLink(header: string | string[] | undefined, base: URL): URL | undefined {
  const values = header === undefined ? [] : Array.isArray(header) ? header : [header];
  for (const value of values) {
    for (const link of parseLinks(value)) {
      const rel = link.params.get('rel');
      if (rel === undefined || !rel.toLowerCase().split(/\s+/).includes('next')) continue;
      try {
        return new URL(link.target, base);
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

interface Link {
  target: string;
  params: Map<string, string>;
}

/** link-value = "<" URI-Reference ">" *( OWS ";" OWS link-param ), separated by commas. */
function parseLinks(value: string): Link[] {
  const links: Link[] = [];
  let i = 0;
  while (i < value.length) {
    const open = value.indexOf('<', i);
    if (open < 0) break;
    const close = value.indexOf('>', open + 1);
    if (close < 0) break;
    const link: Link = { target: value.slice(open + 1, close).trim(), params: new Map() };
    i = close + 1;
    // Parameters run to the next comma outside a quoted string.
    while (i < value.length && value[i] !== ',') {
      const semi = value.indexOf(';', i);
      const comma = value.indexOf(',', i);
      if (semi < 0 || (comma >= 0 && comma < semi)) {
        i = comma < 0 ? value.length : comma;
        break;
      }
      const param = /^\s*([!#$%&'*+.^_`|~0-9A-Za-z-]+)\s*(?:=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;,]*)))?/.exec(value.slice(semi + 1));
      if (!param) {
        i = semi + 1;
        continue;
      }
      const name = (param[1] ?? '').toLowerCase();
      // RFC 8288 §3.3: occurrences after the first of rel are ignored.
      if (!link.params.has(name)) link.params.set(name, (param[2] ?? param[3] ?? '').replace(/\\(.)/g, '$1'));
      i = semi + 1 + param[0].length;
    }
    links.push(link);
    i++;
  }
  return links;
}
