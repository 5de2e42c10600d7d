/**
 * Signet's Prometheus metrics as tests read them: GET /metrics, then the sum of the samples of
 * one metric whose labels include the given ones (text exposition format 0.0.4).
 */

const SAMPLE = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const LABEL = /([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Label values escape `\`, `"` and newline with a backslash. */
function unescapeLabelValue(value: string): string {
  return value.replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
}

/** Sum of the samples of `name` whose labels include `labels`; 0 when there are none. */
export function parseMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = SAMPLE.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(LABEL)) {
      if (l[1]) found[l[1]] = unescapeLabelValue(l[2] ?? '');
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) total += Number(m[3]);
  }
  return total;
}

/** The text of GET <baseUrl>/metrics; throws unless it answers 200. */
export async function fetchMetrics(baseUrl: string): Promise<string> {
  const res = await fetch(`${baseUrl}/metrics`);
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${baseUrl}/metrics answered ${res.status}: ${text.slice(0, 500)}`);
  return text;
}

/** One metric of the Signet at `baseUrl` (see parseMetric). */
export async function readMetric(baseUrl: string, name: string, labels: Record<string, string> = {}): Promise<number> {
  return parseMetric(await fetchMetrics(baseUrl), name, labels);
}
