import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dockerd } from '../test/harness/dockerd.js';
import { MANIFEST_ACCEPT } from '../test/harness/images.js';
import type { NotaryCli } from '../test/harness/notary-cli.js';
import type { NotaryServer } from '../test/harness/notary-server.js';
import { run, runOk, type RunResult } from '../test/harness/process.js';
import type { Registry } from '../test/harness/registry.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { formatSelfTimes, summarizeCpuProfileFile } from './cpuprofile.js';
import { startDistributionProxy } from './distribution-proxy.js';
import type { BenchImage } from './fixtures.js';
import { download, getManifest, newAgent, pullImage } from './http-clients.js';
import { own, progress } from './lifecycle.js';
import type { Params } from './params.js';
import type { BenchResults } from './report.js';
import { cpuSeconds } from './proc-memory.js';
import { newestCpuProfile, startCompiledSignet } from './signet-compiled.js';
import { MiB, mibPerSecond, round, roundSummary, summarize, type Summary } from './stats.js';
import type { UpstreamLog, UpstreamUsage } from './upstream-log.js';
import { runWrk, type WrkResult } from './wrk.js';

/**
 * The six figures, each a function running its repetitions against both proxies, interleaved
 * (repetition i runs Signet first when i is even), and appending raw samples.
 */

export type Side = 'signet' | 'distribution';

export interface Proxy {
  readonly side: Side;
  readonly url: string;
  readonly host: string;
  readonly pid: number;
  peakRssBytes(): Promise<number>;
  resetPeakRss(): Promise<void>;
  /** CPU seconds the proxy process has used so far (all threads, user + system). */
  cpuSeconds(): Promise<number>;
  stop(): Promise<void>;
}

export interface Env {
  params: Params;
  upstream: Registry;
  upstreamLog: UpstreamLog;
  notary: NotaryServer;
  cli: NotaryCli;
  dockerd: Dockerd | undefined;
  dockerEnv: NodeJS.ProcessEnv;
  blob: BenchImage;
  small: BenchImage;
  /** A different signed blob pulled through a fresh proxy before the timed cold transfer. */
  warmup: BenchImage;
  big: BenchImage | undefined;
  /** `--pin`: the CPU the proxies run on (the rest of the machine runs everything else). */
  pin: { proxyCpu: number } | undefined;
}

export async function startProxy(env: Env, side: Side, cpuProfDir?: string): Promise<Proxy> {
  if (side === 'signet') {
    const s = await startCompiledSignet({ upstreamUrl: env.upstream.url, notaryUrl: env.notary.url, ...(cpuProfDir ? { cpuProfDir } : {}) });
    await pinProxy(env, s.pid);
    return {
      side,
      url: s.url,
      host: s.host,
      pid: s.pid,
      peakRssBytes: s.peakRssBytes,
      resetPeakRss: s.resetPeakRss,
      cpuSeconds: () => cpuSeconds(s.pid),
      stop: own(s.stop),
    };
  }
  const d = await startDistributionProxy(env.upstream.url);
  await pinProxy(env, d.pid);
  return {
    side,
    url: d.url,
    host: d.host,
    pid: d.pid,
    peakRssBytes: d.peakRssBytes,
    resetPeakRss: d.resetPeakRss,
    cpuSeconds: () => cpuSeconds(d.pid),
    stop: own(d.stop),
  };
}

/**
 * `--pin`: the proxies run on the last CPU, everything else (upstream, notary-server, the load
 * generators, dockerd) on the others, which the benchmark process pinned itself and its
 * children to at start (`taskset`).
 */
async function pinProxy(env: Env, pid: number): Promise<void> {
  if (env.pin === undefined) return;
  await runOk('taskset', ['-a', '-p', '-c', String(env.pin.proxyCpu), String(pid)]);
}

/** Fresh instances of both proxies (empty storage), stopped when `fn` is done. */
export async function withFreshProxies<T>(env: Env, fn: (p: Record<Side, Proxy>) => Promise<T>): Promise<T> {
  const [signet, distribution] = await Promise.all([startProxy(env, 'signet'), startProxy(env, 'distribution')]);
  try {
    return await fn({ signet, distribution });
  } finally {
    await Promise.all([signet.stop(), distribution.stop()]);
  }
}

/** Repetition i runs Signet first when i is even, distribution first when odd. */
export function orderFor(rep: number): Side[] {
  return rep % 2 === 0 ? ['signet', 'distribution'] : ['distribution', 'signet'];
}

const MB = 1e6;
/** CPU seconds per GiB served. */
const perGiB = (seconds: number, bytes: number): number => round(seconds / (bytes / 1024 ** 3));
const toMB = (bytes: number): number => round(bytes / MB);
const ms = (v: number): number => Math.round(v * 10) / 10;

// ---------------------------------------------------------------------------------------------
// samples

export interface BlobSample {
  rep: number;
  order: string[];
  /** firstByteMs: the request to the first body byte; cpuSPerGiB: the proxy's CPU seconds per GiB served. */
  cold: Record<Side, { ms: number; mibps: number; firstByteMs?: number; cpuSPerGiB?: number }>;
  warm: Record<Side | 'direct', { ms: number; mibps: number; cpuSPerGiB?: number }>;
  warmOrder: string[];
}

export interface TagSample {
  rep: number;
  order: string[];
  signet: WrkResult & { peakRssMB: number };
  distribution: WrkResult & { peakRssMB: number };
}

export interface HerdSide {
  wallMs: number;
  clientMs: Summary;
  bytes: number;
  upstream: UpstreamUsage;
  /** Most GETs the upstream served for any one blob. */
  maxFetchesPerBlob: number;
  meanFetchesPerBlob: number;
  /** Upstream bytes for blobs / sum of blob sizes. */
  upstreamBlobBytesPerImage: number;
  /** Upstream bytes for blobs / blob bytes the clients received: what the herd cost the site's uplink per byte delivered. */
  upstreamBytesPerClientByte?: number;
  cpuSPerGiB?: number;
  peakRssMB: number;
}

export interface HerdSample {
  rep: number;
  order: string[];
  signet: HerdSide;
  distribution: HerdSide;
}

export interface DockerSample {
  rep: number;
  order: string[];
  cold: Record<Side, number>;
  warm: Record<Side, number>;
}

export interface FanoutSide {
  wallMs: number;
  bytes: number;
  aggregateMiBps: number;
  peakRssMB: number;
  cpuSPerGiB?: number;
}

export interface FanoutSample {
  rep: number;
  order: string[];
  signet: FanoutSide;
  distribution: FanoutSide;
}

export interface Samples {
  blob: BlobSample[];
  tag: TagSample[];
  /** The warm-up wrk run of each proxy before the measured repetitions (not in any figure). */
  tag_warmup: Array<WrkResult & { side: Side; seconds: number }>;
  herd: HerdSample[];
  docker: DockerSample[];
  fanout: FanoutSample[];
}

// ---------------------------------------------------------------------------------------------
// phases

function blobUrl(base: string, image: BenchImage): string {
  const layer = image.blobs[image.blobs.length - 1];
  if (!layer) throw new Error(`${image.repo} has no layer`);
  return `${base}/v2/${image.repo}/blobs/${layer.digest}`;
}

function layerSize(image: BenchImage): number {
  return image.blobs[image.blobs.length - 1]?.size ?? 0;
}

export async function phaseBlob(env: Env, samples: Samples): Promise<void> {
  const { params, blob } = env;
  const size = layerSize(blob);
  const mibLabel = `${Math.round(size / MiB)} MiB`;
  for (let rep = 0; rep < params.reps; rep++) {
    const order = orderFor(rep);
    const sample = await withFreshProxies(env, async (proxies) => {
      const agent = newAgent();
      try {
        const cold = {} as BlobSample['cold'];
        for (const side of order) {
          const proxy = proxies[side];
          // A fresh process is a cold cache, not a cold runtime: warm both proxies' code paths with
          // another blob first (V8's JIT would otherwise be measured, not the cache miss).
          await getManifest(agent, proxy.url, env.warmup.repo, env.warmup.tag);
          await download(agent, blobUrl(proxy.url, env.warmup), layerSize(env.warmup));
          await getManifest(agent, proxy.url, blob.repo, blob.tag); // authorises the blob in Signet
          const cpu0 = await proxy.cpuSeconds();
          const t = await download(agent, blobUrl(proxy.url, blob), size);
          const cpu = perGiB((await proxy.cpuSeconds()) - cpu0, size);
          cold[side] = { ms: ms(t.ms), mibps: round(mibPerSecond(size, t.ms)), firstByteMs: ms(t.firstByteMs), cpuSPerGiB: cpu };
          progress(
            `  blob rep ${rep + 1}/${params.reps}: cold ${mibLabel} via ${side.padEnd(12)} ${cold[side].mibps} MiB/s, first byte after ${cold[side].firstByteMs} ms, ${cpu} CPU s/GiB`,
          );
        }
        const warmOrder = (['signet', 'distribution', 'direct'] as const).map((_v, i, all) => all[(i + rep) % all.length] ?? 'direct');
        const warm = {} as BlobSample['warm'];
        for (const which of warmOrder) {
          const proxy = which === 'direct' ? undefined : proxies[which];
          const cpu0 = await proxy?.cpuSeconds();
          const t = await download(agent, blobUrl(proxy ? proxy.url : env.upstream.url, blob), size);
          const cpu = proxy && cpu0 !== undefined ? perGiB((await proxy.cpuSeconds()) - cpu0, size) : undefined;
          warm[which] = { ms: ms(t.ms), mibps: round(mibPerSecond(size, t.ms)), ...(cpu === undefined ? {} : { cpuSPerGiB: cpu }) };
          progress(
            `  blob rep ${rep + 1}/${params.reps}: warm ${mibLabel} via ${which.padEnd(12)} ${warm[which].mibps} MiB/s${cpu === undefined ? '' : `, ${cpu} CPU s/GiB`}`,
          );
        }
        return { rep, order, cold, warm, warmOrder: [...warmOrder] };
      } finally {
        await agent.close();
      }
    });
    samples.blob.push(sample);
  }
}

const ACCEPT_HEADER = { Accept: MANIFEST_ACCEPT };

export async function phaseTag(env: Env, samples: Samples): Promise<void> {
  const { params, small } = env;
  const proxies = {
    signet: await startProxy(env, 'signet'),
    distribution: await startProxy(env, 'distribution'),
  } as Record<Side, Proxy>;
  try {
    const agent = newAgent();
    for (const side of ['signet', 'distribution'] as const) {
      const reply = await getManifest(agent, proxies[side].url, small.repo, small.tag);
      if (reply.digest !== small.digest) throw new Error(`${side} served ${small.repo}:${small.tag} as ${reply.digest ?? '?'}, signed ${small.digest}`);
      const warm = await runWrk({
        url: `${proxies[side].url}/v2/${small.repo}/manifests/${small.tag}`,
        connections: params.wrkConnections,
        threads: params.wrkThreads,
        seconds: params.tagWarmupSeconds,
        headers: ACCEPT_HEADER,
      });
      samples.tag_warmup.push({ side, seconds: params.tagWarmupSeconds, ...warm });
      progress(
        `  tag warm-up (${params.tagWarmupSeconds} s, not counted): ${side.padEnd(12)} ${Math.round(warm.requestsPerSecond)} req/s, p99 ${warm.p99Ms} ms`,
      );
    }
    await agent.close();
    for (let rep = 0; rep < params.reps; rep++) {
      const order = orderFor(rep);
      const results = {} as Record<Side, WrkResult & { peakRssMB: number }>;
      for (const side of order) {
        const proxy = proxies[side];
        await proxy.resetPeakRss();
        const r = await runWrk({
          url: `${proxy.url}/v2/${small.repo}/manifests/${small.tag}`,
          connections: params.wrkConnections,
          threads: params.wrkThreads,
          seconds: params.tagSeconds,
          headers: ACCEPT_HEADER,
        });
        const errors = r.non2xx + r.socketErrors.connect + r.socketErrors.read + r.socketErrors.write + r.socketErrors.timeout;
        if (errors > 0) throw new Error(`${side}: ${r.non2xx} non-2xx answers and socket errors ${JSON.stringify(r.socketErrors)} in the signed-tag run`);
        results[side] = { ...r, peakRssMB: toMB(await proxy.peakRssBytes()) };
        progress(
          `  tag rep ${rep + 1}/${params.reps}: ${side.padEnd(12)} ${Math.round(r.requestsPerSecond)} req/s, p50 ${r.p50Ms} ms, p99 ${r.p99Ms} ms, peak RSS ${results[side].peakRssMB} MB`,
        );
      }
      samples.tag.push({ rep, order, signet: results.signet, distribution: results.distribution });
    }
  } finally {
    await Promise.all([proxies.signet.stop(), proxies.distribution.stop()]);
  }
}

export type CpuProfileSummary = NonNullable<BenchResults['cpu_profiles']>[string];

/**
 * Runs `workload` against a Signet started under `node --cpu-prof`, stops it (node writes the
 * profile on exit), keeps the profile as bench/results/signet-<name>.cpuprofile and summarises
 * the functions with the most self time.
 */
async function profileSignet(env: Env, resultsDir: string, name: string, workload: (proxy: Proxy) => Promise<string>): Promise<CpuProfileSummary | undefined> {
  const profDir = await makeTempDir('cpuprof');
  try {
    const proxy = await startProxy(env, 'signet', profDir);
    let what: string;
    try {
      what = await workload(proxy);
    } finally {
      await proxy.stop(); // SIGTERM: node writes the profile on its way out
    }
    const file = await newestCpuProfile(profDir);
    if (!file) {
      progress(`  cpu profile ${name}: no .cpuprofile was written`);
      return undefined;
    }
    const kept = join(resultsDir, `signet-${name}.cpuprofile`);
    await copyFile(file, kept);
    const summary = await summarizeCpuProfileFile(file, 25);
    progress(`  cpu profile ${name}: ${what}; top self time:`);
    console.log(formatSelfTimes({ totalMs: summary.totalMs, functions: summary.functions.slice(0, 15) }).replace(/^/gm, '    '));
    return { workload: what, file: `bench/results/signet-${name}.cpuprofile`, totalMs: summary.totalMs, top: summary.functions };
  } finally {
    await removeDir(profDir);
  }
}

export async function profileTag(env: Env, resultsDir: string): Promise<CpuProfileSummary | undefined> {
  const { params, small } = env;
  return profileSignet(env, resultsDir, 'tag', async (proxy) => {
    const agent = newAgent();
    await getManifest(agent, proxy.url, small.repo, small.tag);
    await agent.close();
    const r = await runWrk({
      url: `${proxy.url}/v2/${small.repo}/manifests/${small.tag}`,
      connections: params.wrkConnections,
      threads: params.wrkThreads,
      seconds: params.tagSeconds,
      headers: ACCEPT_HEADER,
    });
    return `signed tag, wrk ${params.wrkConnections} connections ${params.tagSeconds} s: ${Math.round(r.requestsPerSecond)} req/s, p99 ${r.p99Ms} ms`;
  });
}

export async function profileBlob(env: Env, resultsDir: string): Promise<CpuProfileSummary | undefined> {
  const { blob } = env;
  const size = layerSize(blob);
  return profileSignet(env, resultsDir, 'blob', async (proxy) => {
    const agent = newAgent();
    try {
      await getManifest(agent, proxy.url, blob.repo, blob.tag);
      const cold = await download(agent, blobUrl(proxy.url, blob), size);
      const warm = await download(agent, blobUrl(proxy.url, blob), size);
      return `one cold then one warm GET of the ${Math.round(size / MiB)} MiB blob: ${round(mibPerSecond(size, cold.ms))} and ${round(mibPerSecond(size, warm.ms))} MiB/s`;
    } finally {
      await agent.close();
    }
  });
}

async function herdOnce(env: Env, proxy: Proxy, image: BenchImage): Promise<HerdSide> {
  const { params } = env;
  const mark = await env.upstreamLog.mark();
  await proxy.resetPeakRss();
  const agents = Array.from({ length: params.herdClients }, () => newAgent());
  const cpu0 = await proxy.cpuSeconds();
  const t0 = performance.now();
  let transfers;
  try {
    transfers = await Promise.all(agents.map((agent) => pullImage(agent, proxy.url, image.repo, image.tag, 3)));
  } finally {
    await Promise.all(agents.map((a) => a.close()));
  }
  const wallMs = performance.now() - t0;
  const cpu = (await proxy.cpuSeconds()) - cpu0;
  const peakRssMB = toMB(await proxy.peakRssBytes());
  const digests = image.blobs.map((b) => b.digest);
  const upstream = await env.upstreamLog.usageSince(mark, image.repo, digests);
  const gets = digests.map((d) => upstream.perBlob[d]?.gets ?? 0);
  const blobBytes = digests.reduce((sum, d) => sum + (upstream.perBlob[d]?.bytes ?? 0), 0);
  return {
    wallMs: ms(wallMs),
    clientMs: roundSummary(summarize(transfers.map((t) => t.ms))),
    bytes: transfers.reduce((s, t) => s + t.bytes, 0),
    upstream,
    maxFetchesPerBlob: Math.max(...gets),
    meanFetchesPerBlob: round(gets.reduce((a, b) => a + b, 0) / gets.length),
    upstreamBlobBytesPerImage: round(blobBytes / image.blobBytes),
    upstreamBytesPerClientByte: round(blobBytes / (params.herdClients * image.blobBytes)),
    cpuSPerGiB: perGiB(cpu, params.herdClients * image.blobBytes),
    peakRssMB,
  };
}

export async function phaseHerd(env: Env, samples: Samples): Promise<void> {
  const { params } = env;
  const big = env.big;
  if (!big) throw new Error('herd needs library/big');
  for (let rep = 0; rep < params.reps; rep++) {
    const order = orderFor(rep);
    const sample = await withFreshProxies(env, async (proxies) => {
      const sides = {} as Record<Side, HerdSide>;
      for (const side of order) {
        sides[side] = await herdOnce(env, proxies[side], big);
        const h = sides[side];
        progress(
          `  herd rep ${rep + 1}/${params.reps}: ${side.padEnd(12)} ${params.herdClients} clients in ${Math.round(h.wallMs)} ms; upstream GETs per blob max ${h.maxFetchesPerBlob} (mean ${h.meanFetchesPerBlob}), upstream bytes ${h.upstreamBlobBytesPerImage}× the image (${h.upstreamBytesPerClientByte} per byte delivered); ${h.cpuSPerGiB} CPU s/GiB; peak RSS ${h.peakRssMB} MB`,
        );
      }
      return { rep, order, signet: sides.signet, distribution: sides.distribution };
    });
    samples.herd.push(sample);
  }
}

async function docker(env: Env, args: string[]): Promise<RunResult> {
  return run('/usr/bin/docker', args, { env: env.dockerEnv, timeoutMs: 15 * 60_000 });
}

async function removeImages(env: Env): Promise<void> {
  const list = await docker(env, ['images', '-aq']);
  const ids = [
    ...new Set(
      list.stdout
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean),
    ),
  ];
  if (ids.length > 0) await docker(env, ['rmi', '-f', ...ids]);
  await docker(env, ['image', 'prune', '-af']);
  const left = await docker(env, ['images', '-aq']);
  if (left.stdout.trim() !== '') throw new Error(`dockerd still has images: ${left.stdout}`);
}

async function dockerPull(env: Env, proxy: Proxy, image: BenchImage): Promise<number> {
  await removeImages(env);
  const ref = `${proxy.host}/${image.repo}:${image.tag}`;
  const t0 = performance.now();
  const r = await docker(env, ['pull', '-q', ref]);
  const took = performance.now() - t0;
  if (r.code !== 0) throw new Error(`docker pull ${ref} (via ${proxy.side}) failed: ${r.stderr || r.stdout}`);
  const inspect = await docker(env, ['image', 'inspect', '--format', '{{.Id}}', ref]);
  const config = image.blobs[0]?.digest;
  if (inspect.stdout.trim() !== config) throw new Error(`docker pull ${ref} gave image ${inspect.stdout.trim()}, expected ${config ?? '?'}`);
  return ms(took);
}

export async function phaseDocker(env: Env, samples: Samples): Promise<void> {
  const { params } = env;
  const big = env.big;
  if (!big || !env.dockerd) throw new Error('docker phase needs dockerd and library/big');
  for (let rep = 0; rep < params.reps; rep++) {
    const order = orderFor(rep);
    const sample = await withFreshProxies(env, async (proxies) => {
      const cold = {} as Record<Side, number>;
      const warm = {} as Record<Side, number>;
      for (const side of order) {
        cold[side] = await dockerPull(env, proxies[side], big);
        progress(`  docker rep ${rep + 1}/${params.reps}: cold pull via ${side.padEnd(12)} ${(cold[side] / 1000).toFixed(2)} s`);
      }
      for (const side of order) {
        warm[side] = await dockerPull(env, proxies[side], big);
        progress(`  docker rep ${rep + 1}/${params.reps}: warm pull via ${side.padEnd(12)} ${(warm[side] / 1000).toFixed(2)} s`);
      }
      return { rep, order, cold, warm };
    });
    await removeImages(env);
    samples.docker.push(sample);
  }
}

export async function phaseFanout(env: Env, samples: Samples): Promise<void> {
  const { params, blob } = env;
  const size = layerSize(blob);
  for (let rep = 0; rep < params.reps; rep++) {
    const order = orderFor(rep);
    const sample = await withFreshProxies(env, async (proxies) => {
      const sides = {} as Record<Side, FanoutSide>;
      for (const side of order) {
        const proxy = proxies[side];
        await proxy.resetPeakRss();
        const agents = Array.from({ length: params.fanoutClients }, () => newAgent());
        const cpu0 = await proxy.cpuSeconds();
        const t0 = performance.now();
        let bytes: number;
        try {
          const done = await Promise.all(
            agents.map(async (agent) => {
              await getManifest(agent, proxy.url, blob.repo, blob.tag);
              return download(agent, blobUrl(proxy.url, blob), size);
            }),
          );
          bytes = done.reduce((s, t) => s + t.bytes, 0);
        } finally {
          await Promise.all(agents.map((a) => a.close()));
        }
        const wallMs = performance.now() - t0;
        const cpu = perGiB((await proxy.cpuSeconds()) - cpu0, bytes);
        sides[side] = {
          wallMs: ms(wallMs),
          bytes,
          aggregateMiBps: round(mibPerSecond(bytes, wallMs)),
          peakRssMB: toMB(await proxy.peakRssBytes()),
          cpuSPerGiB: cpu,
        };
        progress(
          `  fan-out rep ${rep + 1}/${params.reps}: ${side.padEnd(12)} ${params.fanoutClients} clients × ${Math.round(size / MiB)} MiB cold in ${Math.round(wallMs)} ms (${sides[side].aggregateMiBps} MiB/s in all), ${cpu} CPU s/GiB, peak RSS ${sides[side].peakRssMB} MB`,
        );
      }
      return { rep, order, signet: sides.signet, distribution: sides.distribution };
    });
    samples.fanout.push(sample);
  }
}
