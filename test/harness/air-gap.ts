import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { run, type RunResult } from './process.js';
import { freePort } from './ports.js';
import { REPO_ROOT } from './signet.js';
import { deepMerge } from './signet-config.js';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');

export interface CliOptions {
  /** A command the CLI runs under, e.g. ['faketime', '+20 days']. */
  wrap?: readonly string[];
  timeoutMs?: number;
}

/** `signet ...` as a child process (`node --import tsx src/cli/main.ts`), never rejecting on a non-zero exit. */
export function signetCli(args: readonly string[], opts: CliOptions = {}): Promise<RunResult> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_TEST_CONTEXT;
  delete env.NODE_OPTIONS;
  const node = [process.execPath, '--import', 'tsx', MAIN, ...args];
  const [cmd, ...rest] = opts.wrap ? [...opts.wrap, ...node] : node;
  return run(cmd ?? process.execPath, rest, { cwd: REPO_ROOT, env, timeoutMs: opts.timeoutMs ?? 300_000 });
}

/** Like signetCli, but throws with the output unless the command exits 0. */
export async function signetCliOk(args: readonly string[], opts: CliOptions = {}): Promise<RunResult> {
  const result = await signetCli(args, opts);
  if (result.code !== 0) throw new Error(`signet ${args.join(' ')} exited with ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  return result;
}

/** A bundle key pair written by `signet bundle keygen`. */
export async function bundleKeys(dir: string, name: string): Promise<{ privatePath: string; publicPath: string }> {
  const prefix = join(dir, name);
  await signetCliOk(['bundle', 'keygen', '--output', prefix]);
  return { privatePath: `${prefix}.key`, publicPath: `${prefix}.pub` };
}

/**
 * The config of an isolated site: `upstream` is offline (its url a closed loopback port, so a
 * contact attempt would fail loudly), `keys` pinned, storage in `dataDir`; `extra` deep-merged
 * (its policy, notably).
 */
export async function writeIsolatedConfig(
  path: string,
  o: { upstream: string; dataDir: string; keys: readonly string[]; extra?: Record<string, unknown> },
): Promise<string> {
  const closed = await freePort();
  const base: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: await freePort() },
    storage: { path: o.dataDir },
    defaultUpstream: o.upstream,
    upstreams: { [o.upstream]: { url: `http://127.0.0.1:${closed}`, offline: true } },
    bundles: { keys: [...o.keys] },
    policy: { default: 'enforce' },
    log: { level: 'info' },
  };
  await writeFile(path, stringify(o.extra ? deepMerge(base, o.extra) : base));
  return path;
}

/** The imported index of a store, or undefined before the first import. */
export async function importedState(storeDir: string): Promise<unknown> {
  try {
    return JSON.parse(await readFile(join(storeDir, 'state.json'), 'utf8')) as unknown;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}
