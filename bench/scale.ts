import { readFile } from 'node:fs/promises';
import type { Agent } from 'undici';
import { startNginx } from '../test/harness/nginx.js';
import { startRadosgw, type Radosgw } from '../test/harness/radosgw.js';
import { startRedis, type RedisServer } from '../test/harness/redis.js';
import { pushBlobImage, signImage, type BenchImage } from './fixtures.js';
import { download, getManifest, newAgent } from './http-clients.js';
import { own, progress } from './lifecycle.js';
import type { Params } from './params.js';
import type { Env } from './phases.js';
import type { BenchResults, FigureRow, Target } from './report.js';
import { startCompiledSignet } from './signet-compiled.js';
import { median, MiB, mibPerSecond, round, roundSummary, summarize, type Summary } from './stats.js';

/**
 * 8. Scale: Signet as several replicas sharing content in S3 (`storage.s3`, a real Ceph
 * radosgw) and state in Redis (`state.redis`, a real redis-server), behind nginx balancing
 * round-robin (DESIGN.md, scale-out).
 *
 * - **fan-out, one replica vs three**: N clients GET the same blob at once through nginx, first
 *   a blob no replica has (cold: one upstream fetch, stored in the bucket) and then again (warm:
 *   read back from the bucket). The single replica sits behind an nginx too (test/harness/nginx.ts,
 *   the same configuration), so the ratio is about replicas, not about the extra hop. Aggregate throughput = bytes / wall time; latency = each
 *   client's time to its last byte (p50 and worst client).
 * - **S3 backend vs disk backend**, one replica each, one client: a cold blob GET and warm ones.
 *
 * Each layout and each backend has a store of its own (a key prefix in the bucket and in Redis),
 * is started once and warmed up with other blobs along the paths the timed transfers take (V8
 * compiles Signet's streaming code on first use). Each repetition has a blob of its own, which
 * no replica has when it starts: its first fan-out (or GET) is the cold one, the next the warm
 * one. Repetition i runs the first layout (one replica; S3) first when i is even, the other
 * when odd. The replicas' CPU time and how busy the machine's CPUs were are recorded with each
 * fan-out: on a small machine, three replicas compete for the same cores.
 */

const WARMUP_BLOB_BYTES = 4 * MiB;
const GiB = 1024 * MiB;
/** radosgw's memstore holds 2 GiB (test/harness/radosgw.ts): past this much written, a fresh gateway is started. */
const S3_BUDGET_BYTES = 1536 * MiB;
const BUCKET = 'signet-bench';
/** Warm GETs of one blob per backend and repetition; their median is the sample. */
const WARM_GETS = 3;

export type Layout = 'one' | 'three';
export type Backend = 's3' | 'disk';
const REPLICAS: Record<Layout, number> = { one: 1, three: 3 };

export interface ScaleSettings {
  /** The blob the fan-out and backend figures move. */
  blobBytes: number;
  /** Concurrent clients of a fan-out. */
  clients: number;
}

/** Smaller than the blob phase's blob: every cold sample writes it into radosgw's in-memory OSD. */
export function scaleSettings(params: Params): ScaleSettings {
  return params.mode === 'quick' ? { blobBytes: 16 * MiB, clients: 12 } : { blobBytes: 64 * MiB, clients: 16 };
}

export interface FanoutRun {
  wallMs: number;
  bytes: number;
  aggregateMiBps: number;
  /** Each client's time to its last byte. */
  clientP50Ms: number;
  clientMaxMs: number;
  /** CPU seconds of all the layout's replicas per GiB delivered to the clients. */
  replicaCpuSecondsPerGiB: number;
  /** Busy fraction of the machine's CPUs during the fan-out (1: every CPU busy all along). */
  machineBusy: number;
}

export interface ScaleFanoutSample {
  rep: number;
  order: Layout[];
  cold: Record<Layout, FanoutRun>;
  warm: Record<Layout, FanoutRun>;
}

export interface Transfer {
  ms: number;
  mibps: number;
}

export interface ScaleBackendSample {
  rep: number;
  order: Backend[];
  cold: Record<Backend, Transfer>;
  /** Median of WARM_GETS GETs, run in alternating order. */
  warm: Record<Backend, Transfer>;
}

export interface ScaleSamples {
  fanout: ScaleFanoutSample[];
  backend: ScaleBackendSample[];
  /** CPU use of each layout's replicas, all together, while nothing is asked of them (per cent of one CPU), once per start of the layouts. */
  idleCpuPercent: Array<Record<Layout, number>>;
}

export function emptyScaleSamples(): ScaleSamples {
  return { fanout: [], backend: [], idleCpuPercent: [] };
}

const ms1 = (v: number): number => Math.round(v * 10) / 10;

function layer(image: BenchImage): { digest: string; size: number } {
  const l = image.blobs[image.blobs.length - 1];
  if (!l) throw new Error(`${image.repo} has no layer`);
  return l;
}

function blobUrl(base: string, image: BenchImage): string {
  return `${base}/v2/${image.repo}/blobs/${layer(image).digest}`;
}

// ---------------------------------------------------------------------------------------------
// components

/** `storage.s3` and `state.redis` of one store shared by replicas. */
interface SharedStore {
  s3: Record<string, unknown>;
  redis: Record<string, unknown>;
}

interface Running {
  readonly url: string;
  readonly host: string;
  readonly pid: number;
  readonly stop: () => Promise<void>;
}

/** A compiled Signet on the store replicas share (S3 content, Redis state), or on its own disk. */
async function startSignet(env: Env, shared: SharedStore | undefined): Promise<Running> {
  const d = await startCompiledSignet({ upstreamUrl: env.upstream.url, notaryUrl: env.notary.url, ...(shared ? { shared } : {}) });
  return { url: d.url, host: d.host, pid: d.pid, stop: own(d.stop) };
}

/** Ticks of CPU time (user + system) of a process, from /proc/<pid>/stat (Linux; USER_HZ is 100). */
async function processTicks(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // The command name (field 2) is in parentheses and may hold spaces: count from after it.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
}

/** Busy and total ticks of all CPUs, from /proc/stat. */
async function machineTicks(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0); // idle, iowait
  return { busy: total - idle, total };
}

const USER_HZ = 100;

/** CPU use while `fn` runs: the replicas' CPU seconds and how busy the whole machine was. */
async function withCpu<T>(pids: readonly number[], fn: () => Promise<T>): Promise<{ value: T; replicaCpuSeconds: number; machineBusy: number }> {
  const ticks = async (): Promise<number> => (await Promise.all(pids.map(processTicks))).reduce((a, b) => a + b, 0);
  const [p0, m0] = [await ticks(), await machineTicks()];
  const value = await fn();
  const [p1, m1] = [await ticks(), await machineTicks()];
  return { value, replicaCpuSeconds: round((p1 - p0) / USER_HZ), machineBusy: round((m1.busy - m0.busy) / Math.max(1, m1.total - m0.total)) };
}

/**
 * The shared backends: one redis-server and one radosgw. Nothing is deleted from the bucket
 * (radosgw would free the data only at its garbage collection, hours later), so the bytes
 * written are counted and, past the budget, the gateway is replaced by a fresh one (and the
 * deployments with it).
 */
class SharedBackends {
  #rgw: Radosgw | undefined;
  #stopRgw: (() => Promise<void>) | undefined;
  #written = 0;
  #stores = 0;
  readonly redis: RedisServer;

  private constructor(redis: RedisServer) {
    this.redis = redis;
  }

  static async start(): Promise<SharedBackends> {
    const [redis, rgw] = await Promise.all([startRedis(), startRadosgw()]);
    const backends = new SharedBackends(redis);
    own(() => redis.stop());
    await backends.#adopt(rgw);
    return backends;
  }

  async #adopt(rgw: Radosgw): Promise<void> {
    this.#rgw = rgw;
    this.#stopRgw = own(() => rgw.stop());
    await rgw.createBucket(BUCKET);
    this.#written = 0;
  }

  /** Whether `bytes` more fit in the gateway's memory. */
  fits(bytes: number): boolean {
    return this.#written + bytes <= S3_BUDGET_BYTES;
  }

  /** Counts bytes about to be written into the bucket. */
  write(bytes: number): void {
    this.#written += bytes;
  }

  async freshGateway(): Promise<void> {
    progress('  scale: radosgw memory used up, starting a fresh gateway');
    await this.#stopRgw?.();
    await this.#adopt(await startRadosgw());
  }

  /** Config of a fresh, empty shared store: a key prefix of its own in the bucket and in Redis. */
  freshStore(): SharedStore {
    const rgw = this.#rgw;
    if (!rgw) throw new Error('scale: no radosgw');
    const id = ++this.#stores;
    return {
      s3: {
        endpoint: rgw.endpoint,
        region: rgw.region,
        bucket: BUCKET,
        prefix: `store${id}/`,
        forcePathStyle: true,
        accessKeyId: rgw.accessKeyId,
        secretAccessKey: rgw.secretAccessKey,
      },
      redis: { url: this.redis.url, keyPrefix: `bench:store${id}:` },
    };
  }

  async stop(): Promise<void> {
    await this.#stopRgw?.();
  }
}

/** One layout: `replicas` Signets on one shared store, behind an nginx of their own. */
interface Deployment {
  readonly layout: Layout;
  /** test/harness/nginx.ts: round robin, bodies streamed both ways, keep-alive to the replicas. */
  readonly balancer: { readonly url: string; readonly stop: () => Promise<void> };
  readonly replicas: Running[];
}

/**
 * What the phase measures, started once and kept for every repetition (a cold sample is a
 * blob pulled for the first time, as in the other phases a cold proxy is a warmed-up process
 * meeting a blob it has not seen): the two layouts, each on a store of its own, and the
 * one-replica S3 and disk Signets of the backend figures.
 */
interface Stage {
  readonly deployments: Record<Layout, Deployment>;
  readonly backends: Record<Backend, Running>;
  stop(): Promise<void>;
}

async function startStage(env: Env, backends: SharedBackends, warmups: readonly BenchImage[], clients: number): Promise<Stage> {
  const started: Array<{ stop: () => Promise<void> }> = [];
  const stopAll = async (): Promise<void> => {
    await Promise.all(started.splice(0).map((r) => r.stop()));
  };
  try {
    const deploy = async (layout: Layout): Promise<Deployment> => {
      const store = backends.freshStore();
      const replicas = await Promise.all(Array.from({ length: REPLICAS[layout] }, () => startSignet(env, store)));
      started.push(...replicas);
      const nginx = await startNginx({ upstreams: replicas.map((r) => r.host) });
      const balancer = { url: nginx.url, stop: own(() => nginx.stop()) };
      started.push(balancer);
      return { layout, balancer, replicas };
    };
    const single = async (store: SharedStore | undefined): Promise<Running> => {
      const r = await startSignet(env, store);
      started.push(r);
      return r;
    };
    // All at once (they are idle until the warm-up); allSettled, so that none is left starting on a failure.
    const settled = await Promise.allSettled([deploy('one'), deploy('three'), single(backends.freshStore()), single(undefined)] as const);
    const value = <T>(r: PromiseSettledResult<T>): T => {
      if (r.status === 'rejected') throw r.reason instanceof Error ? r.reason : new Error(String(r.reason));
      return r.value;
    };
    const [one, three, s3, disk] = [value(settled[0]), value(settled[1]), value(settled[2]), value(settled[3])];
    for (const dep of [one, three]) {
      backends.write(warmups.slice(0, dep.replicas.length).reduce((sum, w) => sum + w.blobBytes, 0));
      await warmUp(
        dep.replicas.map((r) => r.url),
        warmups,
        dep.balancer.url,
        clients,
      );
    }
    backends.write(warmups[0]?.blobBytes ?? 0);
    for (const r of [s3, disk]) await warmUp([r.url], warmups);
    return { deployments: { one, three }, backends: { s3, disk }, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

interface Fixtures {
  /** One per repetition: the blob no replica has when its repetition starts. */
  cold: BenchImage[];
  /** One per replica of the largest layout: each replica's first fetch from the upstream. */
  warmups: BenchImage[];
}

// ---------------------------------------------------------------------------------------------
// measurements

async function pullBlob(agent: Agent, base: string, image: BenchImage): Promise<number> {
  await getManifest(agent, base, image.repo, image.tag); // authorises the blob
  return (await download(agent, blobUrl(base, image), layer(image).size)).ms;
}

/**
 * Warms each replica's code paths before the first timed transfer (V8 compiles Signet's
 * streaming code on first use): its own cold fetch (upstream → store) of a blob of its own,
 * then a warm read of another replica's (store → client); then, through the balancer, a
 * fan-out of `clients` of the first one.
 */
async function warmUp(directUrls: readonly string[], warmups: readonly BenchImage[], balancerUrl?: string, clients = 1): Promise<void> {
  const agent = newAgent();
  try {
    const n = directUrls.length;
    for (const [i, url] of directUrls.entries()) {
      const mine = warmups[i];
      if (!mine) throw new Error(`scale: no warm-up image for replica ${i + 1}`);
      await pullBlob(agent, url, mine);
    }
    for (const [i, url] of directUrls.entries()) {
      const other = warmups[(i + 1) % n];
      if (other) await pullBlob(agent, url, other);
    }
  } finally {
    await agent.close();
  }
  if (balancerUrl && warmups[0]) await fanout(balancerUrl, warmups[0], clients);
}

/** `clients` clients, one connection pool each, GET the blob at once; every body is counted and checked. */
async function fanout(base: string, image: BenchImage, clients: number): Promise<Omit<FanoutRun, 'replicaCpuSecondsPerGiB' | 'machineBusy'>> {
  const agents = Array.from({ length: clients }, () => newAgent());
  try {
    // Untimed: every client has the manifest (the blob is authorised) before the blob GETs start together.
    await Promise.all(agents.map((agent) => getManifest(agent, base, image.repo, image.tag)));
    const size = layer(image).size;
    const t0 = performance.now();
    const done = await Promise.all(agents.map((agent) => download(agent, blobUrl(base, image), size)));
    const wallMs = performance.now() - t0;
    const bytes = done.reduce((s, t) => s + t.bytes, 0);
    const times = done.map((t) => t.ms);
    return {
      wallMs: ms1(wallMs),
      bytes,
      aggregateMiBps: round(mibPerSecond(bytes, wallMs)),
      clientP50Ms: ms1(median(times)),
      clientMaxMs: ms1(Math.max(...times)),
    };
  } finally {
    await Promise.all(agents.map((a) => a.close()));
  }
}

const IDLE_MS = 2_000;

/** The replicas' CPU use while idle: what a replica costs before it serves anything. */
async function idleCpu(stage: Stage): Promise<Record<Layout, number>> {
  const pids = (layout: Layout): number[] => stage.deployments[layout].replicas.map((r) => r.pid);
  const [one, three] = await Promise.all(
    (['one', 'three'] as const).map((layout) => withCpu(pids(layout), () => new Promise<void>((resolve) => setTimeout(resolve, IDLE_MS)))),
  );
  return { one: round(((one?.replicaCpuSeconds ?? 0) / (IDLE_MS / 1000)) * 100), three: round(((three?.replicaCpuSeconds ?? 0) / (IDLE_MS / 1000)) * 100) };
}

function orderOf<T>(rep: number, pair: readonly [T, T]): T[] {
  return rep % 2 === 0 ? [pair[0], pair[1]] : [pair[1], pair[0]];
}

async function fanoutSample(stage: Stage, image: BenchImage, settings: ScaleSettings, rep: number, reps: number): Promise<ScaleFanoutSample> {
  const order = orderOf<Layout>(rep, ['one', 'three']);
  const cold = {} as Record<Layout, FanoutRun>;
  const warm = {} as Record<Layout, FanoutRun>;
  for (const layout of order) {
    const dep = stage.deployments[layout];
    const n = dep.replicas.length;
    for (const [which, into] of [
      ['cold', cold],
      ['warm', warm],
    ] as const) {
      const m = await withCpu(
        dep.replicas.map((r) => r.pid),
        () => fanout(dep.balancer.url, image, settings.clients),
      );
      const r: FanoutRun = { ...m.value, replicaCpuSecondsPerGiB: round(m.replicaCpuSeconds / (m.value.bytes / GiB)), machineBusy: m.machineBusy };
      into[layout] = r;
      progress(
        `  scale rep ${rep + 1}/${reps}: ${which} fan-out, ${n} replica${n > 1 ? 's' : ' '} ${settings.clients} clients × ${settings.blobBytes / MiB} MiB in ${Math.round(r.wallMs)} ms (${r.aggregateMiBps} MiB/s in all), client p50 ${Math.round(r.clientP50Ms)} ms, worst ${Math.round(r.clientMaxMs)} ms; replicas ${r.replicaCpuSecondsPerGiB} CPU-s/GiB, CPUs ${Math.round(r.machineBusy * 100)} % busy`,
      );
    }
  }
  return { rep, order, cold, warm };
}

async function backendSample(stage: Stage, image: BenchImage, rep: number, reps: number): Promise<ScaleBackendSample> {
  const order = orderOf<Backend>(rep, ['s3', 'disk']);
  const size = layer(image).size;
  const agent = newAgent();
  try {
    const cold = {} as Record<Backend, Transfer>;
    for (const backend of order) {
      const t = await pullBlob(agent, stage.backends[backend].url, image);
      cold[backend] = { ms: ms1(t), mibps: round(mibPerSecond(size, t)) };
      progress(`  scale rep ${rep + 1}/${reps}: cold blob GET, ${backend.padEnd(4)} backend ${cold[backend].mibps} MiB/s`);
    }
    const warmTimes: Record<Backend, number[]> = { s3: [], disk: [] };
    for (let i = 0; i < WARM_GETS; i++) {
      for (const backend of orderOf<Backend>(rep + i, ['s3', 'disk'])) {
        warmTimes[backend].push((await download(agent, blobUrl(stage.backends[backend].url, image), size)).ms);
      }
    }
    const warm = {} as Record<Backend, Transfer>;
    for (const backend of order) {
      const t = median(warmTimes[backend]);
      warm[backend] = { ms: ms1(t), mibps: round(mibPerSecond(size, t)) };
      progress(`  scale rep ${rep + 1}/${reps}: warm blob GET, ${backend.padEnd(4)} backend ${warm[backend].mibps} MiB/s (median of ${WARM_GETS})`);
    }
    return { rep, order, cold, warm };
  } finally {
    await agent.close();
  }
}

export async function phaseScale(env: Env, samples: ScaleSamples): Promise<void> {
  const { params } = env;
  const settings = scaleSettings(params);
  // RECIPES.md: this machine's AWS_CA_BUNDLE trips S3 clients, the harness's bucket client in this
  // process among them; the gateway is plain HTTP and no other phase talks to S3.
  delete process.env['AWS_CA_BUNDLE'];
  progress(
    `  starting radosgw (Ceph, memstore) and redis-server; pushing and signing ${params.reps} cold images (library/scale-<rep>:1, ${settings.blobBytes / MiB} MiB) and ${REPLICAS.three} warm-up images`,
  );
  const backendsStarting = SharedBackends.start();
  backendsStarting.catch(() => undefined); // observed below, after the images
  const cold: BenchImage[] = [];
  for (let rep = 0; rep < params.reps; rep++) cold.push(await pushBlobImage(env.upstream, `library/scale-${rep + 1}`, '1', settings.blobBytes));
  const warmups: BenchImage[] = [];
  for (let i = 0; i < REPLICAS.three; i++) warmups.push(await pushBlobImage(env.upstream, `library/scale-warmup-${i}`, '1', WARMUP_BLOB_BYTES));
  for (const im of [...cold, ...warmups]) await signImage(env.cli, im);
  const backends = await backendsStarting;
  const fx: Fixtures = { cold, warmups };
  let stage: Stage | undefined;
  try {
    progress(`  starting 1 replica and 3 replicas (S3 + Redis, each layout behind nginx), a Signet on S3 and one on disk; warming them up`);
    stage = await startStage(env, backends, warmups, settings.clients);
    const idle = await idleCpu(stage);
    samples.idleCpuPercent.push(idle);
    progress(`  started and warmed up; CPU of the idle replicas over ${IDLE_MS / 1000} s: 1 replica ${idle.one} %, 3 replicas ${idle.three} % (of one CPU)`);
    // Each repetition writes its cold blob into three stores: both layouts' and the S3 Signet's.
    const perRep = 3 * settings.blobBytes;
    for (let rep = 0; rep < params.reps; rep++) {
      if (!backends.fits(perRep)) {
        await stage.stop();
        stage = undefined;
        await backends.freshGateway();
        stage = await startStage(env, backends, warmups, settings.clients);
      }
      backends.write(perRep);
      const image = fx.cold[rep];
      if (!image) throw new Error(`scale: no cold image for repetition ${rep + 1}`);
      samples.fanout.push(await fanoutSample(stage, image, settings, rep, params.reps));
      samples.backend.push(await backendSample(stage, image, rep, params.reps));
    }
  } finally {
    await stage?.stop();
    await backends.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// results

const SCALE_PREFIX = 'scale_';

/** Adds the scale figures, ratios (no targets) and samples to `results` when the phase ran. */
export function addScaleResults(results: BenchResults, params: Params, samples: ScaleSamples): void {
  if (samples.fanout.length === 0 && samples.backend.length === 0) return;
  const settings = scaleSettings(params);
  const S = (values: number[]): Summary => roundSummary(summarize(values));
  results.params['scaleBlobMiB'] = settings.blobBytes / MiB;
  results.params['scaleClients'] = settings.clients;
  const targets: Target[] = [];
  const figures: FigureRow[] = [];
  const ratio = <T>(id: string, label: string, reps: readonly T[], num: (s: T) => number, den: (s: T) => number): void => {
    const perRep = reps.map((s) => round(num(s) / den(s)));
    const ofMedians = median(reps.map(num)) / median(reps.map(den));
    const summary = S(perRep);
    results.ratio_details[id] = { ...summary, per_rep: perRep, ratio_of_medians: round(ofMedians) };
    targets.push({ id, label, value: summary.median, unit: '×', target: '—', pass: undefined });
  };
  const f = samples.fanout;
  const what = `${settings.clients} clients × ${settings.blobBytes / MiB} MiB`;
  for (const temp of ['warm', 'cold'] as const) {
    ratio(
      `${SCALE_PREFIX}${temp}_fanout_throughput_3_vs_1`,
      `${temp} fan-out throughput, 3 replicas vs 1 (behind nginx)`,
      f,
      (s) => s[temp].three.aggregateMiBps,
      (s) => s[temp].one.aggregateMiBps,
    );
    ratio(
      `${SCALE_PREFIX}${temp}_fanout_p50_3_vs_1`,
      `${temp} fan-out client p50 latency, 3 replicas vs 1`,
      f,
      (s) => s[temp].one.clientP50Ms,
      (s) => s[temp].three.clientP50Ms,
    );
    for (const layout of ['one', 'three'] as const) {
      const who = `${REPLICAS[layout]} replica${layout === 'one' ? '' : 's'}`;
      figures.push(
        {
          id: `${SCALE_PREFIX}${temp}_fanout_${layout}`,
          label: `8. ${temp} fan-out, ${what}, ${who}`,
          unit: 'MiB/s',
          signet: S(f.map((s) => s[temp][layout].aggregateMiBps)),
        },
        {
          id: `${SCALE_PREFIX}${temp}_fanout_p50_${layout}`,
          label: `8. ${temp} fan-out client p50, ${who}`,
          unit: 'ms',
          signet: S(f.map((s) => s[temp][layout].clientP50Ms)),
        },
        {
          id: `${SCALE_PREFIX}${temp}_fanout_max_${layout}`,
          label: `8. ${temp} fan-out slowest client, ${who}`,
          unit: 'ms',
          signet: S(f.map((s) => s[temp][layout].clientMaxMs)),
        },
      );
    }
  }
  const b = samples.backend;
  for (const temp of ['cold', 'warm'] as const) {
    ratio(
      `${SCALE_PREFIX}${temp}_blob_s3_vs_disk`,
      `${temp} blob GET throughput, S3 backend vs disk (1 replica)`,
      b,
      (s) => s[temp].s3.mibps,
      (s) => s[temp].disk.mibps,
    );
    for (const backend of ['s3', 'disk'] as const) {
      figures.push({
        id: `${SCALE_PREFIX}${temp}_blob_${backend}`,
        label: `8. ${temp} blob GET (${settings.blobBytes / MiB} MiB), ${backend === 's3' ? 'S3 (radosgw) + Redis' : 'disk'} backend`,
        unit: 'MiB/s',
        signet: S(b.map((s) => s[temp][backend].mibps)),
      });
    }
  }
  results.targets.push(...targets);
  results.figures.push(...figures);
  results.samples['scale_fanout'] = [...f];
  results.samples['scale_backend'] = [...b];
  results.samples['scale_idle_cpu_percent'] = [...samples.idleCpuPercent];
  results.notes.push(
    'scale: ratios > 1 mean three replicas (or the S3 backend) are faster; both layouts are behind nginx (round robin); S3 is a single-node Ceph radosgw on an in-memory OSD on the same machine, so replicas, gateway, nginx and clients share its CPUs',
  );
  if (f.length > 0) {
    const cpu = (temp: 'cold' | 'warm', layout: Layout): string =>
      `${median(f.map((s) => s[temp][layout].replicaCpuSecondsPerGiB))} CPU-s/GiB with the CPUs ${Math.round(median(f.map((s) => s[temp][layout].machineBusy)) * 100)} % busy`;
    results.notes.push(
      `scale CPU during the fan-outs (medians; idle before: 1 replica ${median(samples.idleCpuPercent.map((x) => x.one))} %, 3 replicas ${median(samples.idleCpuPercent.map((x) => x.three))} % of one CPU; ${typeof results.machine['cpus'] === 'number' ? results.machine['cpus'] : '?'} CPUs): warm, 1 replica ${cpu('warm', 'one')}, 3 replicas ${cpu('warm', 'three')}; cold, 1 replica ${cpu('cold', 'one')}, 3 replicas ${cpu('cold', 'three')}`,
    );
  }
}

function summaryText(s: Summary | undefined): string {
  return s ? `${s.median} (${s.min}–${s.max})` : '—';
}

/** The scale rows of docs/BENCHMARKS.md's tables, printed by a run of the phase alone. */
export function scaleMarkdown(results: BenchResults): string {
  const out: string[] = ['| figure | value: median (min–max) |', '| --- | --- |'];
  for (const t of results.targets.filter((x) => x.id.startsWith(SCALE_PREFIX))) {
    const d = results.ratio_details[t.id];
    out.push(`| ${t.label} | ${d ? `${d.median}× (${d.min}–${d.max})` : '—'} |`);
  }
  out.push('', '| figure | unit | Signet |', '| --- | --- | --- |');
  for (const f of results.figures.filter((x) => x.id.startsWith(SCALE_PREFIX))) out.push(`| ${f.label} | ${f.unit} | ${summaryText(f.signet)} |`);
  const notes = results.notes.filter((n) => n.startsWith('scale'));
  if (notes.length > 0) out.push('', ...notes.map((n) => `- ${n}`));
  return out.join('\n');
}
