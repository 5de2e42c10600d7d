/**
 * `npm run bench [-- --quick] [--cpu-prof] [--only=blob,tag,herd,docker,fanout,bundle,scale] [--reps=N] [--report-only]`
 *
 * Signet (compiled, enforcing Docker Content Trust against a real notary-server) next to CNCF
 * distribution's pull-through proxy, both in front of one distribution upstream, on this
 * machine, in the same run, interleaved. Writes bench/results/latest.json and regenerates
 * docs/BENCHMARKS.md. See docs/BENCHMARKS.md for what each figure means.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { cpus, loadavg, release, totalmem, type as osType } from 'node:os';
import { join } from 'node:path';
import { startDockerd, type Dockerd } from '../test/harness/dockerd.js';
import { MANIFEST_ACCEPT } from '../test/harness/images.js';
import { createNotaryCli } from '../test/harness/notary-cli.js';
import { startNotaryServer } from '../test/harness/notary-server.js';
import { run, runOk } from '../test/harness/process.js';
import { startRegistry } from '../test/harness/registry.js';
import { REPO_ROOT } from '../test/harness/signet.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { addBundleResults, bundleMarkdown, phaseBundle, type BundleSample } from './bundle.js';
import { pushBlobImage, pushLayeredImage, signImage } from './fixtures.js';
import { own, progress, stopAll } from './lifecycle.js';
import { parseParams, type Params, type Phase } from './params.js';
import { phaseBlob, phaseDocker, phaseFanout, phaseHerd, phaseTag, profileBlob, profileTag, type Env, type Samples } from './phases.js';
import { spliceResults, type BenchResults } from './report.js';
import { buildResults, printSummary } from './results.js';
import { addScaleResults, emptyScaleSamples, phaseScale, scaleMarkdown, scaleSettings } from './scale.js';
import { buildSignet, startCompiledSignet } from './signet-compiled.js';
import { MiB } from './stats.js';
import { UpstreamLog } from './upstream-log.js';
import { killAllWrk } from './wrk.js';

/** bytes of the blob that warms a fresh proxy (JIT) before a timed cold transfer of another blob */
const WARMUP_BLOB_BYTES = 16 * 1024 * 1024;
/** Variables of the caller's docker CLI setup that would send it elsewhere or change what it does. */
const DOCKER_ENV_DROPPED = new Set(['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTENT_TRUST', 'DOCKER_API_VERSION']);

let interrupted = false;
function onSignal(signal: NodeJS.Signals): void {
  if (interrupted) return;
  interrupted = true;
  console.error(`\n${signal}: stopping everything`);
  killAllWrk();
  // process.exit runs the harness's exit hook: every started process is SIGKILLed (dockerd's
  // whole group) and every temp dir is unmounted and removed.
  process.exit(signal === 'SIGINT' ? 130 : 143);
}
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

// ---------------------------------------------------------------------------------------------
// setup

function ensure(script: string, ...args: string[]): void {
  const r = spawnSync(process.execPath, [join(REPO_ROOT, script), ...args], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${script} failed (exit ${String(r.status ?? r.signal)}): install the missing tools, see above`);
}

async function packageVersions(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const pkg of ['docker-registry', 'notary', 'docker.io', 'wrk']) {
    const r = await run('dpkg-query', ['-W', '-f=${Version}', pkg]);
    out[pkg] = r.code === 0 ? r.stdout.trim() : 'unknown';
  }
  return out;
}

async function machineInfo(): Promise<Record<string, unknown>> {
  const head = await run('git', ['rev-parse', '--short', 'HEAD'], { cwd: REPO_ROOT });
  const dirty = await run('git', ['status', '--porcelain', '--', 'src'], { cwd: REPO_ROOT });
  const cpu = cpus();
  return {
    cpuModel: cpu[0]?.model ?? 'unknown',
    cpus: cpu.length,
    memoryGiB: Math.round(totalmem() / 1024 ** 3),
    os: `${osType()} ${release()}`,
    node: process.version,
    loadavgStart: loadavg()
      .map((v) => v.toFixed(2))
      .join(' '),
    gitCommit: head.code === 0 ? head.stdout.trim() : 'unknown',
    gitDirty: dirty.stdout.trim() !== '',
  };
}

async function setup(params: Params): Promise<Env> {
  progress('checking components (scripts/ensure-components.mjs --bench)');
  ensure('scripts/ensure-components.mjs', '--bench');
  progress('building Signet (tsc -p tsconfig.build.json → dist/)');
  await buildSignet();

  progress('starting the upstream registry and notary-server');
  const [upstream, notary] = await Promise.all([startRegistry(), startNotaryServer({ tls: false })]);
  own(() => upstream.stop());
  own(() => notary.stop());
  const cli = await createNotaryCli({ server: notary });
  own(() => cli.close());
  progress(`  upstream ${upstream.url}, notary-server ${notary.url}`);

  const needBig = params.phases.includes('herd') || params.phases.includes('docker');
  const needDocker = params.phases.includes('docker');
  let dockerd: Dockerd | undefined;
  const dockerdStarting = needDocker
    ? startDockerd().then((d) => {
        dockerd = d;
        own(() => d.stop());
        return d;
      })
    : undefined;
  // If building the images fails first, the dockerd start must not be left unobserved.
  dockerdStarting?.catch(() => undefined);

  progress(
    `building images: library/blob:1 (${params.blobBytes / MiB} MiB layer), library/small:1${needBig ? `, library/big:1 (${params.bigImage.layers} gzip tar layers, ${params.bigImage.totalBytes / MiB} MiB)` : ''}`,
  );
  const blob = await pushBlobImage(upstream, 'library/blob', '1', params.blobBytes);
  const small = await pushBlobImage(upstream, 'library/small', '1', 1024);
  const warmup = await pushBlobImage(upstream, 'library/warmup', '1', WARMUP_BLOB_BYTES);
  const unsigned = await pushBlobImage(upstream, 'library/small', 'unsigned', 2048);
  const big = needBig ? await pushLayeredImage(upstream, 'library/big', '1', params.bigImage) : undefined;
  progress('signing the tags with the notary CLI (init + addhash + publish)');
  for (const image of [blob, small, warmup, ...(big ? [big] : [])]) await signImage(cli, image);

  // Sanity: Signet is enforcing (signed tag served as the signed digest, unsigned tag denied).
  const probe = await startCompiledSignet({ upstreamUrl: upstream.url, notaryUrl: notary.url });
  const stopProbe = own(probe.stop);
  try {
    const ok = await fetch(`${probe.url}/v2/${small.repo}/manifests/${small.tag}`, { headers: { accept: MANIFEST_ACCEPT } });
    await ok.arrayBuffer();
    const denied = await fetch(`${probe.url}/v2/${unsigned.repo}/manifests/${unsigned.tag}`, { headers: { accept: MANIFEST_ACCEPT } });
    const body = await denied.text();
    if (ok.status !== 200 || ok.headers.get('docker-content-digest') !== small.digest || denied.status !== 403) {
      throw new Error(`Signet is not enforcing as configured: signed tag HTTP ${ok.status}, unsigned tag HTTP ${denied.status} ${body}`);
    }
    progress('  Signet enforces: signed tag served with the signed digest, unsigned tag denied (403)');
  } finally {
    await stopProbe();
  }

  let dockerEnv: NodeJS.ProcessEnv = {};
  if (dockerdStarting) {
    progress('waiting for dockerd');
    const d = await dockerdStarting;
    const cliDir = await makeTempDir('dockercli');
    own(() => removeDir(cliDir));
    await writeFile(join(cliDir, 'config.json'), '{}\n');
    // The CLI must reach this dockerd as configured here, whatever the caller's shell points it at.
    const inherited = Object.entries(process.env).filter(([key]) => !DOCKER_ENV_DROPPED.has(key));
    dockerEnv = { ...Object.fromEntries(inherited), DOCKER_HOST: d.host, DOCKER_CONFIG: cliDir };
    const v = await runOk('/usr/bin/docker', ['version', '--format', '{{.Client.Version}} / {{.Server.Version}}'], { env: dockerEnv });
    progress(`  dockerd ready (client / server ${v.stdout.trim()})`);
  }
  return { params, upstream, upstreamLog: new UpstreamLog(upstream), notary, cli, dockerd, dockerEnv, blob, small, warmup, big, pin: pinned(params) };
}

/**
 * `--pin`: this process (and so every process it starts from now on: upstream, notary-server,
 * load generators, dockerd) on all CPUs but the last; the proxies are moved to the last one as
 * they start (phases.ts). Called before anything is started.
 */
function pinSelf(params: Params): void {
  const last = pinned(params)?.proxyCpu;
  if (last === undefined) return;
  const r = spawnSync('taskset', ['-a', '-p', '-c', last === 1 ? '0' : `0-${last - 1}`, String(process.pid)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`--pin: taskset failed: ${r.stderr}`);
  progress(`--pin: the proxies run on CPU ${last}, everything else on CPU ${last === 1 ? '0' : `0-${last - 1}`}`);
}

function pinned(params: Params): { proxyCpu: number } | undefined {
  if (!params.pin) return undefined;
  const n = cpus().length;
  if (n < 2) throw new Error('--pin needs at least two CPUs');
  return { proxyCpu: n - 1 };
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const params = parseParams(process.argv.slice(2));
  if (params.reportOnly) {
    const saved = JSON.parse(await readFile(join(REPO_ROOT, 'bench', 'results', 'latest.json'), 'utf8')) as BenchResults;
    await writeBenchmarksPage(saved);
    printSummary(saved);
    console.log(`docs/BENCHMARKS.md re-rendered from bench/results/latest.json (${saved.mode} run of ${saved.startedAt})`);
    return;
  }
  const startedAt = new Date();
  progress(`Signet vs distribution proxy, ${params.mode} run: ${params.reps} repetitions, phases ${params.phases.join(', ')}`);
  const resultsDir = join(REPO_ROOT, 'bench', 'results');
  await mkdir(resultsDir, { recursive: true });
  const machine = await machineInfo();
  const versions = await packageVersions();
  const samples: Samples = { blob: [], tag: [], tag_warmup: [], herd: [], docker: [], fanout: [] };
  const bundleSamples: BundleSample[] = [];
  const scaleSamples = emptyScaleSamples();
  const phaseSeconds: Record<string, number> = {};
  let cpuProfiles: BenchResults['cpu_profiles'];
  try {
    const t0 = Date.now();
    pinSelf(params);
    const env = await setup(params);
    phaseSeconds.setup = Math.round((Date.now() - t0) / 1000);
    const phases: Record<Phase, { title: string; run: () => Promise<void> }> = {
      blob: { title: `1+2. cold and warm blob (${params.blobBytes / MiB} MiB)`, run: () => phaseBlob(env, samples) },
      tag: { title: `3. signed tag: wrk ${params.wrkConnections} connections, ${params.tagSeconds} s`, run: () => phaseTag(env, samples) },
      herd: { title: `4. herd: ${params.herdClients} clients pull library/big:1 through a cold proxy`, run: () => phaseHerd(env, samples) },
      docker: { title: '5. docker pull library/big:1, cold and warm', run: () => phaseDocker(env, samples) },
      fanout: {
        title: `6. fan-out: ${params.fanoutClients} clients stream the ${params.blobBytes / MiB} MiB blob from a cold proxy`,
        run: () => phaseFanout(env, samples),
      },
      bundle: {
        title: `7. bundle: signet bundle export and import of a ${params.bundleImage.totalBytes / MiB} MiB image (${params.bundleImage.layers} layers)`,
        run: () => phaseBundle(env, bundleSamples),
      },
      scale: {
        title: `8. scale: 1 vs 3 replicas on S3 + Redis behind nginx, ${scaleSettings(params).clients} clients fan out; S3 vs disk backend`,
        run: () => phaseScale(env, scaleSamples),
      },
    };
    for (const phase of params.phases) {
      const p0 = Date.now();
      progress(`phase ${phases[phase].title}`);
      await phases[phase].run();
      phaseSeconds[phase] = Math.round((Date.now() - p0) / 1000);
    }
    if (params.cpuProf) {
      const p0 = Date.now();
      progress('profiling Signet (node --cpu-prof): the signed-tag path, then a cold and a warm blob');
      const tag = await profileTag(env, resultsDir);
      const blobProfile = await profileBlob(env, resultsDir);
      cpuProfiles = { ...(tag ? { tag } : {}), ...(blobProfile ? { blob: blobProfile } : {}) };
      phaseSeconds.cpuProf = Math.round((Date.now() - p0) / 1000);
    }
  } finally {
    progress('stopping everything');
    await stopAll();
  }
  const results = buildResults(params, samples, { startedAt, machine, versions, phaseSeconds, cpuProfiles });
  addBundleResults(results, params, bundleSamples);
  addScaleResults(results, params, scaleSamples);
  if (params.pin) {
    // A diagnostic of what bounds the figures, not the comparison on an unpinned machine.
    await writeFile(join(resultsDir, 'pinned.json'), `${JSON.stringify(results, null, 2)}\n`);
    printSummary(results);
    progress(`done in ${results.durationSeconds} s: bench/results/pinned.json (latest.json and docs/BENCHMARKS.md unchanged)`);
    return;
  }
  if (params.phases.every((p) => p === 'bundle' || p === 'scale')) {
    // Alone, the bundle and scale phases keep to their own file (bundle.json, scale.json):
    // latest.json and docs/BENCHMARKS.md keep the other phases' results.
    const file = `${params.phases.join('-')}.json`;
    await writeFile(join(resultsDir, file), `${JSON.stringify(results, null, 2)}\n`);
    if (params.phases.includes('bundle')) console.log(`\nbundle rows for docs/BENCHMARKS.md:\n\n${bundleMarkdown(results)}\n`);
    if (params.phases.includes('scale')) console.log(`\nscale rows for docs/BENCHMARKS.md:\n\n${scaleMarkdown(results)}\n`);
    progress(`done in ${results.durationSeconds} s: bench/results/${file} (latest.json and docs/BENCHMARKS.md unchanged)`);
    return;
  }
  await writeFile(join(resultsDir, 'latest.json'), `${JSON.stringify(results, null, 2)}\n`);
  await writeBenchmarksPage(results);
  printSummary(results);
  progress(`done in ${results.durationSeconds} s: bench/results/latest.json, docs/BENCHMARKS.md`);
}

main().catch(async (err: unknown) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : String(err));
  await stopAll();
  process.exit(1);
});

/** Writes this run's results into docs/BENCHMARKS.md, between its results markers. */
async function writeBenchmarksPage(results: BenchResults): Promise<void> {
  const path = join(REPO_ROOT, 'docs', 'BENCHMARKS.md');
  await writeFile(path, spliceResults(await readFile(path, 'utf8'), results));
}
