import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { importedState, writeIsolatedConfig } from '../test/harness/air-gap.js';
import { MEDIA_TYPES, pushBlob, pushManifest } from '../test/harness/images.js';
import { runOk } from '../test/harness/process.js';
import type { Registry } from '../test/harness/registry.js';
import { REPO_ROOT } from '../test/harness/signet.js';
import { deterministicStream } from '../test/harness/streams.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { signImage, type BenchImage } from './fixtures.js';
import { withConcurrency } from './http-clients.js';
import { own, progress } from './lifecycle.js';
import type { Params } from './params.js';
import type { Env } from './phases.js';
import { peakRssBytes } from './proc-memory.js';
import type { BenchResults, FigureRow, Target } from './report.js';
import { DIST_MAIN, signetConfig } from './signet-compiled.js';
import { MiB, round, roundSummary, summarize, type Summary } from './stats.js';

/**
 * 7. Air-gapped bundles: `signet bundle export` of one signed image of incompressible layers
 * (2 GiB; 256 MiB with --quick) from the upstream into a bundle file, then `signet bundle import`
 * of that file into a fresh isolated site, each as its own process of the compiled CLI; wall
 * time per GiB of image and the process's peak RSS (the target: under 250 MB, whatever the
 * image size, since both commands stream). `skopeo copy docker://… oci-archive:…` of the same
 * image is timed beside the export, in alternating order, as a reference.
 */

const GiB = 1024 ** 3;
const MB = 1e6;
const RSS_TARGET_MB = 250;
const REPO = 'library/bundle';
const TAG = '1';
const REF = `docker.io/${REPO}:${TAG}`;
/** GNU time reports the child's ru_maxrss, which covers its whole life; without it VmHWM is sampled. */
const GNU_TIME = '/usr/bin/time';
const RSS_SAMPLE_MS = 20;
/** Kills a command that hangs; not a limit on how long a bundle may take. */
const HANG_GUARD_MS = 60 * 60_000;

export interface BundleRun {
  wallMs: number;
  secondsPerGiB: number;
  peakRssMB: number;
  /** User + system CPU seconds (GNU time only). */
  cpuSeconds?: number;
}

export interface BundleSample {
  rep: number;
  order: string[];
  imageBytes: number;
  export: BundleRun;
  import: BundleRun;
  /** The bundle file. */
  bundleBytes: number;
  /** The imported store (`bundles.path`) on disk after the import. */
  importedBytes: number;
  skopeo: BundleRun & { archiveBytes: number };
  /** How peak RSS was taken: `ru_maxrss` (GNU time) or `VmHWM` sampled every RSS_SAMPLE_MS. */
  rssSource: 'ru_maxrss' | 'VmHWM';
}

/** `layers` layers of incompressible bytes, `totalBytes` in all, each streamed to the upstream as it is generated. */
async function pushBundleImage(upstream: Registry, spec: Params['bundleImage']): Promise<BenchImage> {
  const perLayer = Math.floor(spec.totalBytes / spec.layers);
  const layers = await withConcurrency(
    2,
    Array.from({ length: spec.layers }, (_v, i) => () => pushBlob(upstream, REPO, () => deterministicStream(perLayer, `bench:${REPO}:${TAG}:${i}`))),
  );
  const config = {
    architecture: 'amd64',
    os: 'linux',
    created: '2026-01-01T00:00:00Z',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  };
  const configRef = await pushBlob(upstream, REPO, Buffer.from(JSON.stringify(config)));
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociManifest,
    config: { mediaType: MEDIA_TYPES.ociConfig, ...configRef },
    layers: layers.map((l) => ({ mediaType: MEDIA_TYPES.ociLayerGzip, ...l })),
  };
  const ref = await pushManifest(upstream, REPO, TAG, Buffer.from(JSON.stringify(manifest)), MEDIA_TYPES.ociManifest);
  const blobs = [configRef, ...layers];
  return { repo: REPO, tag: TAG, digest: ref.digest, size: ref.size, blobs, blobBytes: blobs.reduce((s, b) => s + b.size, 0) };
}

/** The benchmark's own environment without what would change the child (tsx loader, test runner, coverage). */
function childEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.NODE_OPTIONS;
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_V8_COVERAGE;
  return env;
}

interface Measured {
  wallMs: number;
  peakRssBytes: number;
  cpuSeconds: number | undefined;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to its end and measures it: wall time from spawn to exit, peak RSS (ru_maxrss
 * through GNU time when installed, else VmHWM sampled while it runs) and CPU time. Throws with
 * its output unless it exits 0. The command gets its own process group, killed if the
 * benchmark exits first.
 */
async function measure(cmd: string, args: readonly string[], o: { env: NodeJS.ProcessEnv; timeFile: string }): Promise<Measured> {
  const timed = existsSync(GNU_TIME);
  const file = timed ? GNU_TIME : cmd;
  const argv = timed ? ['-f', '%M %U %S', '-o', o.timeFile, cmd, ...args] : [...args];
  const t0 = performance.now();
  const child = spawn(file, argv, { cwd: REPO_ROOT, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const pid = child.pid;
  const kill = (): void => {
    if (pid === undefined) return;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', kill);
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
  let sampledPeak = 0;
  const sampler =
    timed || pid === undefined
      ? undefined
      : setInterval(() => {
          peakRssBytes(pid).then(
            (bytes) => (sampledPeak = Math.max(sampledPeak, bytes)),
            () => undefined, // the process has just exited
          );
        }, RSS_SAMPLE_MS);
  const guard = setTimeout(kill, HANG_GUARD_MS);
  let code: number;
  try {
    code = await new Promise<number>((resolve, reject) => {
      child.once('error', (e) => reject(new Error(`${cmd}: ${e.message}`, { cause: e })));
      child.once('close', (exitCode, signal) => resolve(exitCode ?? (signal ? 128 : 1)));
    });
  } finally {
    clearInterval(sampler);
    clearTimeout(guard);
    process.removeListener('exit', kill);
  }
  const wallMs = performance.now() - t0;
  const stdout = Buffer.concat(out).toString('utf8');
  const stderr = Buffer.concat(err).toString('utf8');
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited with ${code}\nstdout: ${stdout}\nstderr: ${stderr.slice(-4000)}`);
  if (!timed) return { wallMs, peakRssBytes: sampledPeak, cpuSeconds: undefined, stdout, stderr };
  // GNU time writes "Command exited with non-zero status N" first when it does; the figures are the last line.
  const lines = (await readFile(o.timeFile, 'utf8')).trim().split('\n');
  const [maxKb, user, system] = (lines[lines.length - 1] ?? '').trim().split(/\s+/).map(Number);
  if (maxKb === undefined || !Number.isFinite(maxKb) || user === undefined || system === undefined) {
    throw new Error(`cannot read GNU time's output: ${lines.join(' / ')}`);
  }
  return { wallMs, peakRssBytes: maxKb * 1024, cpuSeconds: round(user + system), stdout, stderr };
}

function runFigures(m: Measured, imageBytes: number): BundleRun {
  return {
    wallMs: Math.round(m.wallMs),
    secondsPerGiB: round(m.wallMs / 1000 / (imageBytes / GiB)),
    peakRssMB: round(m.peakRssBytes / MB),
    ...(m.cpuSeconds === undefined ? {} : { cpuSeconds: m.cpuSeconds }),
  };
}

async function diskBytes(path: string): Promise<number> {
  const r = await runOk('du', ['-s', '--block-size=1', path]);
  return Number(r.stdout.split(/\s/)[0]);
}

export async function phaseBundle(env: Env, samples: BundleSample[]): Promise<void> {
  const { params } = env;
  const work = await makeTempDir('bbundle');
  const cleanup = own(() => removeDir(work));
  try {
    const image = await pushBundleImage(env.upstream, params.bundleImage);
    await signImage(env.cli, image);
    const gib = image.blobBytes / GiB;
    progress(`  ${REF}: ${params.bundleImage.layers} layers, ${round(image.blobBytes / MiB)} MiB in all, pushed and signed (notary CLI)`);

    const node = process.execPath;
    const signetEnv = childEnv();
    const timeFile = join(work, 'time.txt');
    const signet = (args: readonly string[]): Promise<Measured> => measure(node, [DIST_MAIN, ...args], { env: signetEnv, timeFile });
    await runOk(node, [DIST_MAIN, 'bundle', 'keygen', '--output', join(work, 'site')], { env: signetEnv });
    const keys = { privatePath: join(work, 'site.key'), publicPath: join(work, 'site.pub') };
    // The connected Signet is the one the other phases measure; the isolated site applies the same rules, offline.
    const connected = signetConfig({ upstreamUrl: env.upstream.url, notaryUrl: env.notary.url }, 0, work);
    const exportConfig = join(work, 'connected.yaml');
    await writeFile(exportConfig, stringify(connected));
    const rules = (connected['policy'] as { rules: unknown[] }).rules;

    for (let rep = 0; rep < params.reps; rep++) {
      const order = rep % 2 === 0 ? ['signet', 'skopeo'] : ['skopeo', 'signet'];
      const bundlePath = join(work, `bundle-${rep}.tar`);
      const siteData = join(work, `site-${rep}`);
      let signetSide: Pick<BundleSample, 'export' | 'import' | 'bundleBytes' | 'importedBytes'> | undefined;
      let skopeoSide: BundleSample['skopeo'] | undefined;
      for (const side of order) {
        if (side === 'skopeo') {
          // skopeo stages an oci-archive in TMPDIR before it writes the tar: both stay in the work dir.
          const archive = join(work, `skopeo-${rep}.tar`);
          const m = await measure(
            'skopeo',
            [
              '--insecure-policy',
              'copy',
              '--retry-times=0',
              '--src-tls-verify=false',
              `docker://${env.upstream.host}/${REPO}:${TAG}`,
              `oci-archive:${archive}`,
            ],
            { env: childEnv({ TMPDIR: work }), timeFile },
          );
          skopeoSide = { ...runFigures(m, image.blobBytes), archiveBytes: (await stat(archive)).size };
          await rm(archive, { force: true });
          progress(`  bundle rep ${rep + 1}/${params.reps}: skopeo copy → oci-archive  ${skopeoSide.secondsPerGiB} s/GiB, peak RSS ${skopeoSide.peakRssMB} MB`);
          continue;
        }
        const exported = await signet(['bundle', 'export', '--config', exportConfig, '--key', keys.privatePath, '--output', bundlePath, REF]);
        if (!exported.stdout.includes(`${REF} ${image.digest}`))
          throw new Error(`signet bundle export did not name ${REF} ${image.digest}:\n${exported.stdout}`);
        const bundleBytes = (await stat(bundlePath)).size;
        if (bundleBytes < image.blobBytes) throw new Error(`the bundle is ${bundleBytes} bytes, less than the image's ${image.blobBytes}`);

        const importConfig = await writeIsolatedConfig(join(work, `site-${rep}.yaml`), {
          upstream: 'docker.io',
          dataDir: siteData,
          keys: [keys.publicPath],
          extra: { policy: { default: 'enforce', auditLog: join(work, `site-${rep}-audit.log`), rules } },
        });
        const imported = await signet(['bundle', 'import', bundlePath, '--config', importConfig]);
        if (!imported.stdout.includes('imported into')) throw new Error(`signet bundle import did not import:\n${imported.stdout}`);
        const store = join(siteData, 'imports');
        const state = (await importedState(store)) as { repositories?: Record<string, { tags?: Record<string, string> }> } | undefined;
        const tagged = state?.repositories?.[`docker.io/${REPO}`]?.tags?.[TAG];
        if (tagged !== image.digest) throw new Error(`after the import ${REF} is ${tagged ?? 'absent'}, not ${image.digest}`);
        signetSide = {
          export: runFigures(exported, image.blobBytes),
          import: runFigures(imported, image.blobBytes),
          bundleBytes,
          importedBytes: await diskBytes(store),
        };
        await rm(bundlePath, { force: true });
        await removeDir(siteData);
        progress(
          `  bundle rep ${rep + 1}/${params.reps}: signet bundle export  ${signetSide.export.secondsPerGiB} s/GiB, peak RSS ${signetSide.export.peakRssMB} MB; import ${signetSide.import.secondsPerGiB} s/GiB, peak RSS ${signetSide.import.peakRssMB} MB (${round(gib)} GiB image)`,
        );
      }
      if (!signetSide || !skopeoSide) throw new Error('bundle: a side did not run');
      samples.push({
        rep,
        order,
        imageBytes: image.blobBytes,
        ...signetSide,
        skopeo: skopeoSide,
        rssSource: existsSync(GNU_TIME) ? 'ru_maxrss' : 'VmHWM',
      });
    }
  } finally {
    await cleanup();
  }
}

// ---------------------------------------------------------------------------------------------
// results

const BUNDLE_TARGET_IDS = ['bundle_export_peak_rss_mb', 'bundle_import_peak_rss_mb', 'bundle_export_vs_skopeo'] as const;

/** Adds the bundle figures, targets (present, "not run", when the phase did not run) and samples to `results`. */
export function addBundleResults(results: BenchResults, params: Params, samples: readonly BundleSample[]): void {
  const S = (values: number[]): Summary => roundSummary(summarize(values));
  const first = samples[0];
  const how = first?.rssSource === 'VmHWM' ? `VmHWM sampled every ${RSS_SAMPLE_MS} ms` : 'ru_maxrss (GNU time)';
  const exportPeak = first ? Math.max(...samples.map((s) => s.export.peakRssMB)) : undefined;
  const importPeak = first ? Math.max(...samples.map((s) => s.import.peakRssMB)) : undefined;
  const rssTarget = (id: string, label: string, value: number | undefined): Target => ({
    id,
    label,
    value,
    unit: 'MB',
    target: `< ${RSS_TARGET_MB} MB`,
    pass: value === undefined ? undefined : value < RSS_TARGET_MB,
    ...(first ? { note: `highest of all repetitions, ${how}` } : {}),
  });
  const targets: Target[] = [
    rssTarget('bundle_export_peak_rss_mb', 'signet bundle export peak RSS', exportPeak),
    rssTarget('bundle_import_peak_rss_mb', 'signet bundle import peak RSS', importPeak),
  ];
  results.params['bundleImageMiB'] = params.bundleImage.totalBytes / MiB;
  results.params['bundleImageLayers'] = params.bundleImage.layers;

  if (first) {
    const perRep = samples.map((s) => round(s.skopeo.wallMs / s.export.wallMs));
    const ratio = S(perRep);
    const ofMedians = median(samples.map((s) => s.skopeo.wallMs)) / median(samples.map((s) => s.export.wallMs));
    results.ratio_details['bundle_export_vs_skopeo'] = { ...ratio, per_rep: perRep, ratio_of_medians: round(ofMedians) };
    targets.push({
      id: 'bundle_export_vs_skopeo',
      label: 'bundle export time vs skopeo copy to oci-archive',
      value: ratio.median,
      unit: '×',
      target: '—',
      pass: undefined,
    });
    const image = `${round(first.imageBytes / MiB)} MiB image, ${params.bundleImage.layers} layers`;
    const figures: FigureRow[] = [
      { id: 'bundle_export', label: `7. signet bundle export (${image})`, unit: 's/GiB', signet: S(samples.map((s) => s.export.secondsPerGiB)) },
      { id: 'bundle_import', label: `7. signet bundle import (${image})`, unit: 's/GiB', signet: S(samples.map((s) => s.import.secondsPerGiB)) },
      { id: 'bundle_export_rss', label: '7. bundle export peak RSS', unit: 'MB', signet: S(samples.map((s) => s.export.peakRssMB)) },
      { id: 'bundle_import_rss', label: '7. bundle import peak RSS', unit: 'MB', signet: S(samples.map((s) => s.import.peakRssMB)) },
      { id: 'bundle_file', label: '7. bundle file', unit: 'MiB', signet: S(samples.map((s) => round(s.bundleBytes / MiB))) },
      { id: 'bundle_imported', label: '7. imported store on disk', unit: 'MiB', signet: S(samples.map((s) => round(s.importedBytes / MiB))) },
    ];
    results.figures.push(...figures);
    results.samples['bundle'] = [...samples];
    const sk = (f: (s: BundleSample) => number): string => summaryText(S(samples.map(f)));
    results.notes.push(
      `bundle reference: skopeo copy docker:// → oci-archive: of the same image took ${sk((s) => s.skopeo.secondsPerGiB)} s/GiB with a peak RSS of ${sk((s) => s.skopeo.peakRssMB)} MB (median (min–max); skopeo stages the layout in a temp dir, then writes the tar)`,
    );
  } else {
    targets.push({
      id: 'bundle_export_vs_skopeo',
      label: 'bundle export time vs skopeo copy to oci-archive',
      value: undefined,
      unit: '×',
      target: '—',
      pass: undefined,
    });
  }
  for (const t of targets) {
    if (t.pass === false) results.notes.push(`missed: ${t.label} = ${t.value === undefined ? '—' : round(t.value)} ${t.unit} (target ${t.target})`);
  }
  results.targets.push(...targets);
}

function median(values: number[]): number {
  return summarize(values).median;
}

function summaryText(s: Summary): string {
  return `${s.median} (${s.min}–${s.max})`;
}

/**
 * The bundle rows of docs/BENCHMARKS.md's two tables (ratios and targets; raw medians) and its
 * observations, printed by a run of the bundle phase alone, which leaves the page as it is.
 */
export function bundleMarkdown(results: BenchResults): string {
  const out: string[] = ['| figure | value: median (min–max) | target | result |', '| --- | --- | --- | --- |'];
  for (const t of results.targets.filter((x) => (BUNDLE_TARGET_IDS as readonly string[]).includes(x.id))) {
    const d = results.ratio_details[t.id];
    const value = d ? `${d.median}× (${d.min}–${d.max})` : t.value === undefined ? '—' : `${round(t.value)} ${t.unit}`;
    const verdict = t.target === '—' ? '' : t.pass === undefined ? 'not run' : t.pass ? '**pass**' : '**miss**';
    out.push(`| ${t.label}${t.note ? ` — ${t.note}` : ''} | ${value} | ${t.target} | ${verdict} |`);
  }
  out.push('', '| figure | unit | Signet | distribution proxy | direct from upstream |', '| --- | --- | --- | --- | --- |');
  for (const f of results.figures.filter((x) => x.id.startsWith('bundle_'))) {
    out.push(`| ${f.label} | ${f.unit} | ${f.signet ? summaryText(f.signet) : '—'} | — | — |`);
  }
  const notes = results.notes.filter((n) => n.includes('bundle'));
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return out.join('\n');
}
