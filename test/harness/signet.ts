import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { fetchMetrics, parseMetric } from './metrics.js';
import { freePort } from './ports.js';
import { startProcess, type LongRunning } from './process.js';
import { signetConfig, type SignetConfigOptions } from './signet-config.js';
import { makeTempDir, removeDir } from './tmp.js';

export type { SignetUpstream } from './signet-config.js';

/**
 * Signet itself, as a child process (`node --import tsx src/cli/main.ts serve --config <file>`)
 * with a YAML config and data dir in a temp dir, on a free port.
 */

export interface SignetOptions extends SignetConfigOptions {
  /** Storage directory; a fresh one inside the temp dir when omitted. */
  dataDir?: string;
  /** A command Signet runs under, e.g. ['faketime', '+15 days'] to move its clock. */
  wrap?: readonly string[];
  /**
   * Run without coverage instrumentation (NODE_V8_COVERAGE, which c8 sets for the whole suite),
   * for figures that must be Signet's own: V8's coverage counters cost memory.
   */
  uninstrumented?: boolean;
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

export async function startSignet(opts: SignetOptions): Promise<Signet> {
  const dir = await makeTempDir('signet');
  const dataDir = opts.dataDir ?? join(dir, 'data');
  const configPath = join(dir, 'signet.yaml');
  const logFile = join(dir, 'signet.log');
  let proc: LongRunning | undefined;
  let port = 0;

  const writeConfig = async (): Promise<void> => {
    await writeFile(configPath, stringify(signetConfig(opts, { port, dataDir, logLevel: 'info' })));
  };

  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT; // set by node --test for its children; Signet is no test
  delete env.NODE_OPTIONS;
  if (opts.uninstrumented === true) delete env.NODE_V8_COVERAGE;

  const launch = async (): Promise<LongRunning> =>
    startProcess(
      opts.wrap?.[0] ?? process.execPath,
      [...(opts.wrap ? [...opts.wrap.slice(1), process.execPath] : []), '--import', 'tsx', MAIN, 'serve', '--config', configPath],
      {
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
      },
    );

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
  const metrics = (): Promise<string> => fetchMetrics(url);

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
