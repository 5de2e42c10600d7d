import type { Counter } from 'prom-client';
import type { Metrics } from '../metrics.js';

/** What the cache and the upstreams did in one interval (counts, bytes). */
export interface CacheSample {
  /** ISO time the interval ended. */
  at: string;
  /** Length of the interval, in seconds. */
  seconds: number;
  hits: number;
  misses: number;
  /** hits ÷ (hits + misses); null when nothing was asked. */
  hitRatio: number | null;
  /** Bytes received from upstreams (manifests and blobs). */
  upstreamBytes: number;
  /** Blob downloads started from upstreams. */
  blobFetches: number;
  evictions: number;
  /** Upstream requests that failed: network errors and 5xx answers. */
  upstreamErrors: number;
  digestMismatches: number;
}

type Totals = Omit<CacheSample, 'at' | 'seconds' | 'hitRatio'>;

export interface MetricsSamplerOptions {
  metrics: Metrics;
  /** ms between samples. */
  intervalMs: number;
  /** Samples kept (entries); the oldest go. */
  keep: number;
  clock?: () => number;
}

/**
 * The console's "over time": the process's own counters (the ones /metrics exports) read every
 * interval, kept as the differences of the last `keep` intervals, in memory (a restart starts a
 * new history; Prometheus is the place for a long one).
 */
export class MetricsSampler {
  readonly #o: MetricsSamplerOptions;
  readonly #clock: () => number;
  readonly #samples: CacheSample[] = [];
  #last: { at: number; totals: Totals } | undefined;
  #timer: NodeJS.Timeout | undefined;

  constructor(options: MetricsSamplerOptions) {
    this.#o = options;
    this.#clock = options.clock ?? Date.now;
  }

  /** Takes the baseline now and a sample every interval, until `stop`. */
  async start(): Promise<void> {
    this.#last = { at: this.#clock(), totals: await this.#totals() };
    this.#timer = setInterval(() => void this.sample(), this.#o.intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Closes the current interval as a sample. */
  async sample(): Promise<void> {
    const current = await this.current();
    if (!current) return;
    this.#samples.push(current.sample);
    if (this.#samples.length > this.#o.keep) this.#samples.splice(0, this.#samples.length - this.#o.keep);
    this.#last = { at: current.at, totals: current.totals };
  }

  /** The kept samples, oldest first. */
  samples(): CacheSample[] {
    return [...this.#samples];
  }

  /** The interval still open: what happened since the last sample (undefined before `start`). */
  async current(): Promise<{ at: number; totals: Totals; sample: CacheSample } | undefined> {
    const last = this.#last;
    if (!last) return undefined;
    const at = this.#clock();
    const totals = await this.#totals();
    const d = (k: keyof Totals): number => totals[k] - last.totals[k];
    const hits = d('hits');
    const misses = d('misses');
    return {
      at,
      totals,
      sample: {
        at: new Date(at).toISOString(),
        seconds: Math.round((at - last.at) / 100) / 10,
        hits,
        misses,
        hitRatio: hits + misses > 0 ? Math.round((hits / (hits + misses)) * 1000) / 1000 : null,
        upstreamBytes: d('upstreamBytes'),
        blobFetches: d('blobFetches'),
        evictions: d('evictions'),
        upstreamErrors: d('upstreamErrors'),
        digestMismatches: d('digestMismatches'),
      },
    };
  }

  async #totals(): Promise<Totals> {
    const m = this.#o.metrics;
    const sum = async (c: Counter, only?: (labels: Record<string, string | number>) => boolean): Promise<number> =>
      (await c.get()).values.filter((v) => !only || only(v.labels as Record<string, string | number>)).reduce((s, v) => s + v.value, 0);
    return {
      hits: await sum(m.cacheHits),
      misses: await sum(m.cacheMisses),
      upstreamBytes: await sum(m.upstreamBytes),
      blobFetches: await sum(m.upstreamBlobFetches),
      evictions: await sum(m.evictions),
      upstreamErrors: await sum(m.upstreamRequests, (l) => l.status === 'error' || Number(l.status) >= 500),
      digestMismatches: await sum(m.digestMismatches),
    };
  }
}
