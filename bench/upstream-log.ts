import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import type { Registry } from '../test/harness/registry.js';

/**
 * What the proxies asked the upstream for, from the upstream's own access log (the Apache
 * combined lines distribution writes for every request): requests and bytes per blob.
 * test/harness/registry.ts parses method, path and status; the bytes column is read here.
 */

export interface UpstreamRequest {
  method: string;
  path: string;
  status: number;
  bytes: number;
}

// 127.0.0.1 - - [25/Nov/2026:13:00:36 +0000] "GET /v2/x/blobs/sha256:.. HTTP/1.1" 200 1234 "" "ua"
const COMBINED = /^\S+ \S+ \S+ \[[^\]]*\] "([A-Z]+) (\S+) HTTP\/[0-9.]+" (\d{3}) (\d+|-) /;
const SENTINEL_PARAM = 'harness-sentinel';

export function parseCombinedLog(text: string): UpstreamRequest[] {
  const out: UpstreamRequest[] = [];
  for (const line of text.split('\n')) {
    const m = COMBINED.exec(line);
    if (!m) continue;
    const [, method = '', uri = '', status = '0', bytes = '-'] = m;
    if (uri.includes(SENTINEL_PARAM)) continue;
    out.push({ method, path: uri.split('?')[0] ?? uri, status: Number(status), bytes: bytes === '-' ? 0 : Number(bytes) });
  }
  return out;
}

/** The registry.log next to the harness registry's data dir (test/harness/registry.ts layout). */
export function upstreamLogFile(registry: Registry): string {
  return join(dirname(registry.dataDir), 'registry.log');
}

export interface BlobFetches {
  /** GETs of the blob answered 200. */
  gets: number;
  heads: number;
  /** Bytes the upstream sent for those GETs. */
  bytes: number;
}

export interface UpstreamUsage {
  perBlob: Record<string, BlobFetches>;
  manifestRequests: number;
  totalRequests: number;
  totalBytes: number;
}

/** The blobs in `blobs` that no GET in `entries` asked for. */
function missingGets(entries: readonly UpstreamRequest[], blobs: readonly string[]): string[] {
  const seen = new Set(entries.filter((e) => e.method === 'GET' && e.path.includes('/blobs/')).map((e) => e.path.split('/').pop()));
  return blobs.filter((b) => !seen.has(b));
}

export class UpstreamLog {
  readonly #registry: Registry;
  readonly #file: string;

  constructor(registry: Registry) {
    this.#registry = registry;
    this.#file = upstreamLogFile(registry);
  }

  async #entries(): Promise<UpstreamRequest[]> {
    return parseCombinedLog(await readFile(this.#file, 'utf8'));
  }

  /** How many requests are logged so far (a mark to count from). */
  async mark(): Promise<number> {
    await this.#registry.accessLog();
    return (await this.#entries()).length;
  }

  /**
   * Requests logged after `mark` for `repo`, grouped by blob. distribution logs a request just
   * after its response: wait (bounded) until every blob in `blobs` has at least one logged GET,
   * and fail if one still has none (the caller expects each to have been fetched).
   */
  async usageSince(mark: number, repo: string, blobs: readonly string[]): Promise<UpstreamUsage> {
    const prefix = `/v2/${repo}/`;
    const since = async (): Promise<UpstreamRequest[]> => {
      await this.#registry.accessLog();
      return (await this.#entries()).slice(mark).filter((e) => e.path.startsWith(prefix));
    };
    for (let attempt = 0; attempt < 40; attempt++) {
      if (missingGets(await since(), blobs).length === 0) break;
      await delay(100);
    }
    // one more sentinel round after a short pause: lines of requests that ended together
    await delay(300);
    const entries = await since();
    // Counting from a log that is still behind would report too few upstream fetches.
    const missing = missingGets(entries, blobs);
    if (missing.length > 0) throw new Error(`the upstream access log shows no GET of ${repo} blob(s) ${missing.join(', ')} after waiting for it`);
    const perBlob: Record<string, BlobFetches> = {};
    for (const digest of blobs) perBlob[digest] = { gets: 0, heads: 0, bytes: 0 };
    let manifestRequests = 0;
    let totalBytes = 0;
    for (const e of entries) {
      totalBytes += e.bytes;
      if (e.path.includes('/manifests/')) manifestRequests++;
      const m = /\/blobs\/([^/]+)$/.exec(e.path);
      if (!m?.[1]) continue;
      const slot = (perBlob[m[1]] ??= { gets: 0, heads: 0, bytes: 0 });
      if (e.method === 'HEAD') slot.heads++;
      else if (e.method === 'GET' && e.status === 200) {
        slot.gets++;
        slot.bytes += e.bytes;
      }
    }
    return { perBlob, manifestRequests, totalRequests: entries.length, totalBytes };
  }
}
