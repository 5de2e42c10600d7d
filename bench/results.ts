import { loadavg } from 'node:os';
import type { Params } from './params.js';
import { RATIO_KEYS, type BenchResults, type FigureRow, type RatioKey, type Target } from './report.js';
import type { Samples } from './phases.js';
import { MiB, round, roundSummary, summarize, type Summary } from './stats.js';

/** Raw samples → figures, ratios (median of per-repetition ratios), targets and notes. */

function perRepRatio<T>(reps: readonly T[], f: (s: T) => number): Summary & { per_rep: number[] } {
  const values = reps.map(f).map((v) => round(v));
  return { ...roundSummary(summarize(values)), per_rep: values };
}

export function buildResults(
  params: Params,
  samples: Samples,
  meta: {
    startedAt: Date;
    machine: Record<string, unknown>;
    versions: Record<string, string>;
    phaseSeconds: Record<string, number>;
    cpuProfiles: BenchResults['cpu_profiles'];
  },
): BenchResults {
  const ratios: Partial<Record<RatioKey, number>> = {};
  const details: BenchResults['ratio_details'] = {};
  const figures: FigureRow[] = [];
  const notes: string[] = [];
  const S = (values: number[]): Summary => roundSummary(summarize(values));
  /** Summary of the values present (results of older runs lack the newer fields). */
  const optional = (values: Array<number | undefined>): Summary | undefined => {
    const present = values.filter((v): v is number => v !== undefined);
    return present.length > 0 ? S(present) : undefined;
  };
  const pair = (id: string, label: string, unit: string, signet: Summary | undefined, distribution: Summary | undefined): void => {
    if (signet && distribution) figures.push({ id, label, unit, signet, distribution });
  };

  const addRatio = (key: string, detail: Summary & { per_rep: number[] }, ofMedians: number): void => {
    details[key] = { ...detail, ratio_of_medians: round(ofMedians) };
    if ((RATIO_KEYS as readonly string[]).includes(key)) ratios[key as RatioKey] = detail.median;
  };

  if (samples.blob.length > 0) {
    const b = samples.blob;
    const cs = S(b.map((x) => x.cold.signet.mibps));
    const cd = S(b.map((x) => x.cold.distribution.mibps));
    const ws = S(b.map((x) => x.warm.signet.mibps));
    const wd = S(b.map((x) => x.warm.distribution.mibps));
    const wu = S(b.map((x) => x.warm.direct.mibps));
    addRatio(
      'cold_blob_vs_distribution',
      perRepRatio(b, (x) => x.cold.signet.mibps / x.cold.distribution.mibps),
      cs.median / cd.median,
    );
    addRatio(
      'warm_blob_vs_distribution',
      perRepRatio(b, (x) => x.warm.signet.mibps / x.warm.distribution.mibps),
      ws.median / wd.median,
    );
    addRatio(
      'warm_blob_vs_direct',
      perRepRatio(b, (x) => x.warm.signet.mibps / x.warm.direct.mibps),
      ws.median / wu.median,
    );
    figures.push({ id: 'cold_blob', label: `1. cold blob (${params.blobBytes / MiB} MiB)`, unit: 'MiB/s', signet: cs, distribution: cd });
    pair(
      'cold_first_byte',
      '1. cold blob: time to the first byte',
      'ms',
      optional(b.map((x) => x.cold.signet.firstByteMs)),
      optional(b.map((x) => x.cold.distribution.firstByteMs)),
    );
    pair(
      'cold_cpu',
      '1. cold blob: proxy CPU per GiB served',
      's/GiB',
      optional(b.map((x) => x.cold.signet.cpuSPerGiB)),
      optional(b.map((x) => x.cold.distribution.cpuSPerGiB)),
    );
    figures.push({ id: 'warm_blob', label: `2. warm blob (${params.blobBytes / MiB} MiB)`, unit: 'MiB/s', signet: ws, distribution: wd, direct: wu });
    pair(
      'warm_cpu',
      '2. warm blob: proxy CPU per GiB served',
      's/GiB',
      optional(b.map((x) => x.warm.signet.cpuSPerGiB)),
      optional(b.map((x) => x.warm.distribution.cpuSPerGiB)),
    );
  }
  if (samples.tag.length > 0) {
    const t = samples.tag;
    const rs = S(t.map((x) => x.signet.requestsPerSecond));
    const rd = S(t.map((x) => x.distribution.requestsPerSecond));
    addRatio(
      'tag_rps_vs_distribution',
      perRepRatio(t, (x) => x.signet.requestsPerSecond / x.distribution.requestsPerSecond),
      rs.median / rd.median,
    );
    figures.push({ id: 'tag_rps', label: '3. signed tag, 64 connections', unit: 'req/s', signet: rs, distribution: rd });
    figures.push({
      id: 'tag_p50',
      label: '3. signed tag p50',
      unit: 'ms',
      signet: S(t.map((x) => x.signet.p50Ms)),
      distribution: S(t.map((x) => x.distribution.p50Ms)),
    });
    figures.push({
      id: 'tag_p99',
      label: '3. signed tag p99',
      unit: 'ms',
      signet: S(t.map((x) => x.signet.p99Ms)),
      distribution: S(t.map((x) => x.distribution.p99Ms)),
    });
  }
  if (samples.herd.length > 0) {
    const h = samples.herd;
    const ts = S(h.map((x) => x.signet.wallMs));
    const td = S(h.map((x) => x.distribution.wallMs));
    addRatio(
      'herd_time_vs_distribution',
      perRepRatio(h, (x) => x.distribution.wallMs / x.signet.wallMs),
      td.median / ts.median,
    );
    figures.push({ id: 'herd_time', label: `4. herd: ${params.herdClients} clients pull library/big:1 cold`, unit: 'ms', signet: ts, distribution: td });
    figures.push({
      id: 'herd_fetches',
      label: '4. herd: upstream GETs per blob (max over blobs)',
      unit: 'GETs',
      signet: S(h.map((x) => x.signet.maxFetchesPerBlob)),
      distribution: S(h.map((x) => x.distribution.maxFetchesPerBlob)),
    });
    figures.push({
      id: 'herd_upstream_bytes',
      label: '4. herd: upstream blob bytes / image size',
      unit: '×',
      signet: S(h.map((x) => x.signet.upstreamBlobBytesPerImage)),
      distribution: S(h.map((x) => x.distribution.upstreamBlobBytesPerImage)),
    });
    pair(
      'herd_upstream_per_client_byte',
      '4. herd: upstream bytes per byte delivered to clients',
      '×',
      optional(h.map((x) => x.signet.upstreamBytesPerClientByte)),
      optional(h.map((x) => x.distribution.upstreamBytesPerClientByte)),
    );
    pair(
      'herd_cpu',
      '4. herd: proxy CPU per GiB served',
      's/GiB',
      optional(h.map((x) => x.signet.cpuSPerGiB)),
      optional(h.map((x) => x.distribution.cpuSPerGiB)),
    );
  }
  if (samples.docker.length > 0) {
    const d = samples.docker;
    const cs = S(d.map((x) => x.cold.signet));
    const cd = S(d.map((x) => x.cold.distribution));
    const ws = S(d.map((x) => x.warm.signet));
    const wd = S(d.map((x) => x.warm.distribution));
    addRatio(
      'docker_pull_cold_vs_distribution',
      perRepRatio(d, (x) => x.cold.distribution / x.cold.signet),
      cd.median / cs.median,
    );
    addRatio(
      'docker_pull_warm_vs_distribution',
      perRepRatio(d, (x) => x.warm.distribution / x.warm.signet),
      wd.median / ws.median,
    );
    figures.push({ id: 'docker_cold', label: '5. docker pull, cold proxy', unit: 'ms', signet: cs, distribution: cd });
    figures.push({ id: 'docker_warm', label: '5. docker pull, warm proxy', unit: 'ms', signet: ws, distribution: wd });
  }
  if (samples.fanout.length > 0) {
    const f = samples.fanout;
    const ts = S(f.map((x) => x.signet.wallMs));
    const td = S(f.map((x) => x.distribution.wallMs));
    addRatio(
      'fanout_time_vs_distribution',
      perRepRatio(f, (x) => x.distribution.wallMs / x.signet.wallMs),
      td.median / ts.median,
    );
    figures.push({
      id: 'fanout_time',
      label: `6. fan-out: ${params.fanoutClients} clients × ${params.blobBytes / MiB} MiB blob, cold`,
      unit: 'ms',
      signet: ts,
      distribution: td,
    });
    pair(
      'fanout_cpu',
      '6. fan-out: proxy CPU per GiB served',
      's/GiB',
      optional(f.map((x) => x.signet.cpuSPerGiB)),
      optional(f.map((x) => x.distribution.cpuSPerGiB)),
    );
  }

  const rssSignet: Record<string, Summary> = {};
  const rssDist: Record<string, Summary> = {};
  if (samples.tag.length > 0) {
    rssSignet.tag = S(samples.tag.map((x) => x.signet.peakRssMB));
    rssDist.tag = S(samples.tag.map((x) => x.distribution.peakRssMB));
  }
  if (samples.herd.length > 0) {
    rssSignet.herd = S(samples.herd.map((x) => x.signet.peakRssMB));
    rssDist.herd = S(samples.herd.map((x) => x.distribution.peakRssMB));
  }
  if (samples.fanout.length > 0) {
    rssSignet.fanout = S(samples.fanout.map((x) => x.signet.peakRssMB));
    rssDist.fanout = S(samples.fanout.map((x) => x.distribution.peakRssMB));
  }
  for (const [phase, s] of Object.entries(rssSignet)) {
    figures.push({
      id: `rss_${phase}`,
      label: `6. peak RSS during ${phase === 'fanout' ? 'fan-out' : phase}`,
      unit: 'MB',
      signet: s,
      ...(rssDist[phase] ? { distribution: rssDist[phase] } : {}),
    });
  }
  const rssPeaks = Object.values(rssSignet).map((s) => s.max);
  const signetPeak = rssPeaks.length > 0 ? Math.max(...rssPeaks) : undefined;
  const herdFetches = samples.herd.length > 0 ? Math.max(...samples.herd.map((x) => x.signet.maxFetchesPerBlob)) : undefined;
  const herdFetchesDist = samples.herd.length > 0 ? Math.max(...samples.herd.map((x) => x.distribution.maxFetchesPerBlob)) : undefined;
  const p99 = samples.tag.length > 0 ? roundSummary(summarize(samples.tag.map((x) => x.signet.p99Ms))) : undefined;

  const atLeast = (key: string, min: number, label: string): Target => {
    const v = details[key]?.median;
    return { id: key, label, value: v, unit: '×', target: `≥ ${min}×`, pass: v === undefined ? undefined : v >= min };
  };
  const targets: Target[] = [
    atLeast('cold_blob_vs_distribution', 1.0, 'cold blob throughput vs distribution proxy'),
    atLeast('warm_blob_vs_distribution', 1.0, 'warm blob throughput vs distribution proxy'),
    atLeast('warm_blob_vs_direct', 0.9, 'warm blob throughput vs direct from the upstream'),
    atLeast('tag_rps_vs_distribution', 20, 'signed tag req/s vs distribution proxy'),
    {
      id: 'tag_p99_ms',
      label: 'signed tag p99 (Signet)',
      value: p99?.median,
      unit: 'ms',
      target: '< 20 ms',
      pass: p99 === undefined ? undefined : p99.median < 20,
      note: p99 ? `median of reps (max ${p99.max} ms)` : undefined,
    },
    {
      id: 'herd_time_vs_distribution',
      label: 'herd wall time vs distribution proxy',
      value: details['herd_time_vs_distribution']?.median,
      unit: '×',
      target: '—',
      pass: undefined,
    },
    {
      id: 'herd_upstream_fetches_per_blob',
      label: 'herd: upstream fetches per blob (Signet)',
      value: herdFetches,
      unit: '',
      target: '= 1',
      pass: herdFetches === undefined ? undefined : herdFetches === 1,
      note: 'worst blob, worst repetition',
    },
    atLeast('docker_pull_cold_vs_distribution', 1.0, 'docker pull, cold, vs distribution proxy (time)'),
    atLeast('docker_pull_warm_vs_distribution', 1.1, 'docker pull, warm, vs distribution proxy (time)'),
    {
      id: 'signet_peak_rss_mb',
      label: 'Signet peak RSS (tag, herd, fan-out)',
      value: signetPeak,
      unit: 'MB',
      target: '< 250 MB',
      pass: signetPeak === undefined ? undefined : signetPeak < 250,
      note: 'highest of all repetitions',
    },
    atLeast('fanout_time_vs_distribution', 1.5, 'fan-out wall time vs distribution proxy'),
  ];

  for (const t of targets) {
    if (t.pass === false)
      notes.push(`missed: ${t.label} = ${t.value === undefined ? '—' : round(t.value)}${t.unit === '×' ? '×' : ` ${t.unit}`} (target ${t.target})`);
  }
  if (herdFetchesDist !== undefined)
    notes.push(
      `distribution proxy in the herd: up to ${herdFetchesDist} upstream GETs for one blob (distribution 2.8 streams every request for a blob that is still being fetched straight from the upstream)`,
    );
  const firstP99 = samples.tag[0]?.signet.p99Ms;
  if (firstP99 !== undefined && p99 !== undefined && firstP99 > 2 * p99.median)
    notes.push(
      `Signet's signed-tag p99 was ${firstP99} ms in the first repetition and ${p99.median} ms as the median: the first seconds under load are slower (see the findings below)`,
    );

  const finishedAt = new Date();
  return {
    schema: 1,
    mode: params.mode,
    startedAt: meta.startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - meta.startedAt.getTime()) / 1000),
    phasesRun: params.phases,
    phaseSeconds: meta.phaseSeconds,
    params: {
      reps: params.reps,
      blobMiB: params.blobBytes / MiB,
      tagSeconds: params.tagSeconds,
      tagWarmupSeconds: params.tagWarmupSeconds,
      wrkConnections: params.wrkConnections,
      wrkThreads: params.wrkThreads,
      herdClients: params.herdClients,
      fanoutClients: params.fanoutClients,
      bigImageLayers: params.bigImage.layers,
      bigImageMiB: params.bigImage.totalBytes / MiB,
      cpuProf: params.cpuProf,
      pin: params.pin,
    },
    machine: {
      ...meta.machine,
      loadavgEnd: loadavg()
        .map((v) => v.toFixed(2))
        .join(' '),
    },
    versions: meta.versions,
    samples: { ...samples },
    ratios,
    ratio_details: details,
    signet_peak_rss_mb: signetPeak,
    signet_peak_rss_by_phase_mb: rssSignet,
    distribution_peak_rss_by_phase_mb: rssDist,
    herd_upstream_fetches_per_blob: herdFetches,
    herd_upstream_fetches_per_blob_distribution: herdFetchesDist,
    figures,
    targets,
    ...(meta.cpuProfiles ? { cpu_profiles: meta.cpuProfiles } : {}),
    notes,
  };
}

export function printSummary(r: BenchResults): void {
  console.log('\nratios (> 1: Signet faster), median (min–max) of the repetitions:');
  for (const t of r.targets) {
    const d = r.ratio_details[t.id];
    const value = d ? `${d.median}× (${d.min}–${d.max})` : t.value === undefined ? '—' : `${round(t.value)} ${t.unit}`;
    const verdict = t.pass === undefined ? '' : t.pass ? 'pass' : 'MISS';
    console.log(`  ${t.label.padEnd(52)} ${value.padEnd(24)} target ${t.target.padEnd(9)} ${verdict}`);
  }
}
