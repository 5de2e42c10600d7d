import { round, type Summary } from './stats.js';

/**
 * The results file (bench/results/latest.json) and its rendering as docs/BENCHMARKS.md.
 */

export const RATIO_KEYS = [
  'cold_blob_vs_distribution',
  'warm_blob_vs_distribution',
  'warm_blob_vs_direct',
  'tag_rps_vs_distribution',
  'herd_time_vs_distribution',
  'docker_pull_cold_vs_distribution',
  'docker_pull_warm_vs_distribution',
] as const;
export type RatioKey = (typeof RATIO_KEYS)[number];

export interface Target {
  /** Stable id (a ratio key or another figure's name). */
  id: string;
  label: string;
  /** The figure checked (median ratio, worst-case count, ...). */
  value: number | undefined;
  unit: string;
  /** Human form of the target: "≥ 1.2×", "< 50 ms", "= 1". */
  target: string;
  pass: boolean | undefined;
  /** How the value was formed, for the table. */
  note?: string;
}

export interface FigureRow {
  id: string;
  label: string;
  unit: string;
  signet?: Summary;
  distribution?: Summary;
  direct?: Summary;
}

export interface BenchResults {
  schema: 1;
  mode: 'quick' | 'full';
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  phasesRun: string[];
  phaseSeconds: Record<string, number>;
  params: Record<string, unknown>;
  machine: Record<string, unknown>;
  versions: Record<string, string>;
  /** Every raw sample, per figure and repetition. */
  samples: Record<string, unknown[]>;
  /** Median of the per-repetition ratios; > 1 means Signet is faster. Absent when the phase did not run. */
  ratios: Partial<Record<RatioKey, number>>;
  ratio_details: Record<string, Summary & { per_rep: number[]; ratio_of_medians: number }>;
  signet_peak_rss_mb: number | undefined;
  signet_peak_rss_by_phase_mb: Record<string, Summary>;
  distribution_peak_rss_by_phase_mb: Record<string, Summary>;
  herd_upstream_fetches_per_blob: number | undefined;
  herd_upstream_fetches_per_blob_distribution: number | undefined;
  figures: FigureRow[];
  targets: Target[];
  /** Self-time summaries of `node --cpu-prof` runs of Signet (`--cpu-prof`), by workload. */
  cpu_profiles?: Record<
    string,
    { workload: string; file: string; totalMs: number; top: Array<{ function: string; location: string; selfMs: number; percent: number }> }
  >;
  notes: string[];
}

function fmt(value: number | undefined, digits = 3): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  return String(round(value, digits));
}

function fmtSummary(s: Summary | undefined): string {
  if (!s || s.n === 0) return '—';
  return `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})`;
}

function passText(pass: boolean | undefined): string {
  if (pass === undefined) return 'not run';
  return pass ? '**pass**' : '**miss**';
}

/**
 * What was found out about the figures while the benchmark was written (not recomputed per run:
 * dated, with the commit measured). Update it when Signet's hot paths change.
 */

/** Markers in docs/BENCHMARKS.md between which each run writes its results; the rest of the page is prose. */
export const RESULTS_BEGIN = '<!-- bench:results:begin (written by npm run bench from bench/results/latest.json) -->';
export const RESULTS_END = '<!-- bench:results:end -->';

/** Replaces the results section of the benchmarks page, keeping everything around it. */
export function spliceResults(page: string, r: BenchResults): string {
  const begin = page.indexOf(RESULTS_BEGIN);
  const end = page.indexOf(RESULTS_END);
  if (begin < 0 || end < begin) throw new Error(`docs/BENCHMARKS.md has no ${RESULTS_BEGIN} … ${RESULTS_END} section`);
  return `${page.slice(0, begin + RESULTS_BEGIN.length)}\n\n${renderResults(r)}\n${page.slice(end)}`;
}

/** The run-dependent part of docs/BENCHMARKS.md. */
export function renderResults(r: BenchResults): string {
  const m = r.machine;
  const out: string[] = [];
  out.push(`## Latest results (${r.mode} run)`);
  out.push('');
  out.push(`Run ${r.startedAt} → ${r.finishedAt} (${Math.round(r.durationSeconds)} s), phases: ${r.phasesRun.join(', ')}.`);
  const p = r.params;
  out.push(
    `Repetitions: ${String(p['reps'])}; blob ${String(p['blobMiB'])} MiB; image library/big:1 ${String(p['bigImageLayers'])} layers, ${String(p['bigImageMiB'])} MiB; wrk ${String(p['tagSeconds'])} s.`,
  );
  out.push('');
  out.push('Machine (shared, noisy):');
  out.push('');
  out.push(`- CPU: ${String(m['cpuModel'])} × ${String(m['cpus'])}; memory ${String(m['memoryGiB'])} GiB; ${String(m['os'])}`);
  out.push(`- Node ${String(m['node'])}; load average at start ${String(m['loadavgStart'])}, at end ${String(m['loadavgEnd'])}`);
  out.push(
    `- ${Object.entries(r.versions)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}`,
  );
  out.push(`- Signet at ${String(m['gitCommit'])}${m['gitDirty'] ? ' (with uncommitted changes)' : ''}`);
  out.push('');
  out.push('### Ratios and targets');
  out.push('');
  out.push('| figure | value: median (min–max) | target | result |');
  out.push('| --- | --- | --- | --- |');
  for (const t of r.targets) {
    const detail = r.ratio_details[t.id];
    const value = detail ? `${fmt(detail.median)}× (${fmt(detail.min)}–${fmt(detail.max)})` : t.value === undefined ? '—' : `${fmt(t.value)} ${t.unit}`.trim();
    out.push(`| ${t.label}${t.note ? ` — ${t.note}` : ''} | ${value} | ${t.target} | ${t.target === '—' ? '' : passText(t.pass)} |`);
  }
  out.push('');
  out.push('### Raw medians');
  out.push('');
  out.push('| figure | unit | Signet | distribution proxy | direct from upstream |');
  out.push('| --- | --- | --- | --- | --- |');
  for (const f of r.figures) {
    out.push(`| ${f.label} | ${f.unit} | ${fmtSummary(f.signet)} | ${fmtSummary(f.distribution)} | ${fmtSummary(f.direct)} |`);
  }
  out.push('');
  if (r.notes.length > 0) {
    out.push('### Observations of this run');
    out.push('');
    for (const n of r.notes) out.push(`- ${n}`);
    out.push('');
  }
  for (const [name, prof] of Object.entries(r.cpu_profiles ?? {})) {
    out.push(`### Where Signet spends its CPU: ${name}`);
    out.push('');
    out.push(`\`node --cpu-prof\` of a separate Signet during ${prof.workload} (${prof.totalMs} ms sampled); top self time:`);
    out.push('');
    out.push('| self % | self ms | function | location |');
    out.push('| --- | --- | --- | --- |');
    for (const f of prof.top.slice(0, 15)) out.push(`| ${f.percent} | ${f.selfMs} | \`${f.function}\` | ${f.location} |`);
    out.push('');
  }
  out.push('Every raw sample (per repetition, in run order) is in `bench/results/latest.json` under `samples`.');
  out.push('');
  return out.join('\n');
}
