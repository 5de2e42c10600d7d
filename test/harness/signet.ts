import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { freePort } from './ports.js';
import { startProcess, type LongRunning } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Signet itself, as a child process (`node --import tsx src/cli/main.ts serve --config <file>`)
 * with a YAML config and data dir in a temp dir, on a free port.
 */

export interface SignetUpstream {
  url: string;
  credentials?: { username: string; password: string };
}

export interface SignetOptions {
  upstreams: Record<string, SignetUpstream>;
  defaultUpstream?: string;
  storageMaxBytes?: number;
  /** Storage directory; a fresh one inside the temp dir when omitted. */
  dataDir?: string;
  /** Deep-merged into the generated config (objects merge, everything else replaces). */
  extra?: Record<string, unknown>;
  /** A command Signet runs under, e.g. ['faketime', '+15 days'] to move its clock. */
  wrap?: readonly string[];
}

export interface Signet {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly port: number;
  /** pid of the current Signet process (changes on restart). */
  readonly pid: number;
  readonly dataDir: string;
  readonly configPath: string;
  /** Text of GET /metrics. */
  metrics(): Promise<string>;
  /** Sum of the samples of `name` whose labels include `labels`; 0 when there are none. */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Peak resident set size (VmHWM) of the Signet process, in bytes. */
  peakRssBytes(): Promise<number>;
  /** Signet's JSON log lines (stdout and stderr; other lines are skipped). */
  logLines(): Promise<Array<Record<string, unknown>>>;
  /** Stops Signet and removes its temp dir (a caller-provided dataDir is left alone). */
  stop(): Promise<void>;
  /** Stops and starts Signet again with the same config, port and data dir. */
  restart(): Promise<void>;
}

export const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** Parses Prometheus text: sum of the samples of `name` whose labels include `labels`. */
export function parseMetric(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !line.startsWith(name)) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const found: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (l[1]) found[l[1]] = (l[2] ?? '').replace(/\\(.)/g, (_s, c: string) => (c === 'n' ? '\n' : c));
    }
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) total += Number(m[3]);
  }
  return total;
}

export async function startSignet(opts: SignetOptions): Promise<Signet> {
  const dir = await makeTempDir('signet');
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const configPath = join(dir, 'signet.yaml');
  const logFile = join(dir, 'signet.log');
  let proc: LongRunning | undefined;
  let port = 0;

  const upstreams: Record<string, unknown> = {};
  for (const [name, upstream] of Object.entries(opts.upstreams)) {
    upstreams[name] = upstream.credentials ? { url: upstream.url, credentials: upstream.credentials } : { url: upstream.url };
  }
  const writeConfig = async (): Promise<void> => {
    let config: Record<string, unknown> = {
      listen: { host: '127.0.0.1', port },
      storage: { path: dataDir, ...(opts.storageMaxBytes === undefined ? {} : { maxBytes: opts.storageMaxBytes }) },
      ...(opts.defaultUpstream === undefined ? {} : { defaultUpstream: opts.defaultUpstream }),
      upstreams,
      policy: { default: 'off' },
      log: { level: 'info' },
    };
    if (opts.extra) config = deepMerge(config, opts.extra);
    await writeFile(configPath, stringify(config));
  };

  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set by node --test for its children; Signet is no test
  delete env.NODE_OPTIONS;

  const launch = async (): Promise<LongRunning> =>
    startProcess(opts.wrap?.[0] ?? process.execPath, [...(opts.wrap ? [...opts.wrap.slice(1), process.execPath] : []), '--import', 'tsx', MAIN, 'serve', '--config', configPath], {
      cwd: REPO_ROOT,
      env,
      logFile,
      graceMs: 15_000,
      readyTimeoutMs: 60_000,
      // A wrapper such as faketime forks Signet and waits: signal the whole group, or Signet outlives stop().
      group: opts.wrap !== undefined,
      ready: async () => {
        const res = await fetch(`http://127.0.0.1:${port}/readyz`);
        await res.arrayBuffer();
        return res.status === 200;
      },
    });

  try {
    // The port is chosen before Signet binds it; if another process grabs it meanwhile, try again.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeConfig();
      try {
        proc = await launch();
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

  const current = (): LongRunning => {
    if (!proc) throw new Error('Signet is not running');
    return proc;
  };
  const url = `http://127.0.0.1:${port}`;
  const metrics = async (): Promise<string> => {
    const res = await fetch(`${url}/metrics`);
    const text = await res.text();
    if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${text}`);
    return text;
  };

  return {
    url,
    host: `127.0.0.1:${port}`,
    port,
    get pid() {
      return current().pid;
    },
    dataDir,
    configPath,
    metrics,
    metric: async (name, labels) => parseMetric(await metrics(), name, labels),
    peakRssBytes: async () => {
      const status = await readFile(`/proc/${current().pid}/status`, 'utf8');
      const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
      if (!m?.[1]) throw new Error('no VmHWM in /proc/<pid>/status');
      return Number(m[1]) * 1024;
    },
    logLines: async () => {
      const text = await readFile(logFile, 'utf8').catch(() => '');
      const lines: Array<Record<string, unknown>> = [];
      for (const line of text.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const parsed: unknown = JSON.parse(line);
          if (isPlainObject(parsed)) lines.push(parsed);
        } catch {
          // a partial or non-JSON line
        }
      }
      return lines;
    },
    stop: async () => {
      await proc?.stop();
      proc = undefined;
      await removeDir(dir);
    },
    restart: async () => {
      await proc?.stop();
      proc = undefined;
      proc = await launch();
    },
  };
}
