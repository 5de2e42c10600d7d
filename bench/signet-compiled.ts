import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../test/harness/ports.js';
import { runOk, startProcess, type LongRunning } from '../test/harness/process.js';
import { REPO_ROOT } from '../test/harness/signet.js';
import { makeTempDir, removeDir } from '../test/harness/tmp.js';
import { peakRssBytes, resetPeakRss } from './proc-memory.js';

/**
 * Signet as it runs in production: the compiled entry point (`node --max-semi-space-size=8 dist/cli/main.js serve
 * --config <yaml>`) as a child process, enforcing Docker Content Trust for `docker.io/**` with
 * trust data from a notary-server, quiet logs (per-request logging at info would dominate the
 * figures), decisions to an audit-log file. Every start gets a fresh temp dir (config, storage,
 * audit log, process log), so a new instance has empty caches.
 */

export const DIST_MAIN = join(REPO_ROOT, 'dist', 'cli', 'main.js');
/** The Node.js flags Signet runs with in production (`npm start`, the image, the `signet` command's first line). */
export const SERVE_NODE_FLAGS = ['--max-semi-space-size=8'];

export interface CompiledSignetOptions {
  /** The upstream registry (named docker.io in Signet's config). */
  upstreamUrl: string;
  /** The notary-server holding the trust data of docker.io/** (GUN docker.io/<repository>). */
  notaryUrl: string;
  /** Write a V8 CPU profile (node --cpu-prof) into this directory when the process exits. */
  cpuProfDir?: string;
  /** Replicas: `storage.s3` and `state.redis` of the store they share (else the disk backends). */
  shared?: { s3: Record<string, unknown>; redis: Record<string, unknown> };
}

export interface CompiledSignet {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly pid: number;
  readonly dataDir: string;
  readonly auditLogPath: string;
  // Closures over the process, not methods: callers pass them on unbound (own(signet.stop)).
  readonly peakRssBytes: () => Promise<number>;
  readonly resetPeakRss: () => Promise<void>;
  /** Text of the process log (stdout + stderr). */
  readonly log: () => Promise<string>;
  /** SIGTERM (graceful shutdown; a CPU profile is written then), and removes the temp dir. */
  readonly stop: () => Promise<void>;
}

/** `tsc -p tsconfig.build.json`: dist/ must be the code under src/ before it is measured. */
export async function buildSignet(): Promise<void> {
  const tsc = join(REPO_ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
  await runOk(process.execPath, [tsc, '-p', join(REPO_ROOT, 'tsconfig.build.json')], { cwd: REPO_ROOT, timeoutMs: 5 * 60_000 });
}

export function signetConfig(opts: CompiledSignetOptions, port: number, dir: string): Record<string, unknown> {
  return {
    listen: { host: '127.0.0.1', port },
    storage: { path: join(dir, 'data'), maxBytes: '64GiB', ...(opts.shared ? { s3: opts.shared.s3 } : {}) },
    ...(opts.shared ? { state: { redis: opts.shared.redis } } : {}),
    defaultUpstream: 'docker.io',
    upstreams: {
      'docker.io': { url: opts.upstreamUrl, trust: { notary: { url: opts.notaryUrl } } },
    },
    policy: {
      default: 'enforce',
      auditLog: join(dir, 'audit.log'),
      rules: [{ match: 'docker.io/**', mode: 'enforce', require: { notary: { roots: { tofu: true } } } }],
    },
    trust: { freshnessSeconds: 60 },
    // The one load generator stands for a whole site's daemons: a per-client limit would measure itself.
    limits: { clientRequestsPerSecond: 0 },
    log: { level: 'warn' },
  };
}

export async function startCompiledSignet(opts: CompiledSignetOptions): Promise<CompiledSignet> {
  const dir = await makeTempDir('bsignet');
  const configPath = join(dir, 'signet.yaml');
  const logFile = join(dir, 'signet.log');
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS; // the benchmark runs under tsx; Signet must not
  delete env.NODE_TEST_CONTEXT;
  // RECIPES.md: this machine's AWS_CA_BUNDLE trips S3 clients; the test gateway is plain HTTP.
  delete env['AWS_CA_BUNDLE'];

  let proc: LongRunning | undefined;
  let port: number;
  try {
    // The port is chosen before Signet binds it; if another process grabs it meanwhile, try again.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeFile(configPath, stringify(signetConfig(opts, port, dir)));
      const args = [
        ...SERVE_NODE_FLAGS,
        ...(opts.cpuProfDir ? ['--cpu-prof', '--cpu-prof-dir', opts.cpuProfDir] : []),
        DIST_MAIN,
        'serve',
        '--config',
        configPath,
      ];
      const probe = port;
      try {
        proc = await startProcess(process.execPath, args, {
          cwd: REPO_ROOT,
          env,
          logFile,
          graceMs: 15_000,
          readyTimeoutMs: 60_000,
          ready: async () => {
            const res = await fetch(`http://127.0.0.1:${probe}/readyz`);
            await res.arrayBuffer();
            return res.status === 200;
          },
        });
        break;
      } catch (err) {
        const log = await readFile(logFile, 'utf8').catch(() => '');
        if (attempt >= 3 || !log.includes('EADDRINUSE')) throw err;
      }
    }
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  const running = proc;
  const host = `127.0.0.1:${port}`;
  return {
    url: `http://${host}`,
    host,
    pid: running.pid,
    dataDir: join(dir, 'data'),
    auditLogPath: join(dir, 'audit.log'),
    peakRssBytes: () => peakRssBytes(running.pid),
    resetPeakRss: () => resetPeakRss(running.pid),
    log: () => running.log(),
    stop: async () => {
      await running.stop();
      await removeDir(dir);
    },
  };
}

/** The newest .cpuprofile file in `dir`, if any. */
export async function newestCpuProfile(dir: string): Promise<string | undefined> {
  const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith('.cpuprofile')).sort();
  const last = names[names.length - 1];
  return last === undefined ? undefined : join(dir, last);
}
