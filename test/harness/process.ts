import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { openSync, closeSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { poll } from './poll.js';
import { removeAllTempDirsSync } from './tmp.js';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Bytes written to the command's stdin. */
  input?: string | Buffer;
  /** Kill the command (SIGKILL) after this many ms; a hang guard, not an assertion. */
  timeoutMs?: number;
}

/** Runs a one-shot command and collects its output; resolves with its exit code (never rejects on non-zero). */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    const timer = opts.timeoutMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`${cmd}: ${e.message}`, { cause: e }));
    });
    child.once('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      });
    });
    child.stdin.on('error', () => {
      // the command may exit before reading its input
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** Like run() but throws with the command's output when it exits non-zero. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited with ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`);
  }
  return result;
}

export interface StartOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** File that receives the child's stdout and stderr. */
  logFile: string;
  /** Resolves true once the service is ready. Polled until it does. */
  ready: () => Promise<boolean>;
  /** Upper bound for readiness; a hang guard, not an assertion on speed. */
  readyTimeoutMs?: number;
  /** ms between SIGTERM and SIGKILL in stop(). */
  graceMs?: number;
  /** Start in its own process group and signal the whole group (for daemons that fork helpers). */
  group?: boolean;
}

export interface LongRunning {
  readonly pid: number;
  readonly child: ChildProcess;
  readonly logFile: string;
  /** true while the process has not exited. */
  running(): boolean;
  log(): Promise<string>;
  /** SIGTERM, then SIGKILL after the grace period; resolves once the process has exited. */
  stop(): Promise<void>;
}

// Safety net: if the test process is told to stop (Ctrl-C, the runner's SIGTERM) or exits
// without the tests' own cleanup having run, SIGKILL whatever is still running.
const live = new Map<number, boolean>(); // pid -> signal the process group
let hooksInstalled = false;

function killAllLive(): void {
  for (const [pid, group] of live) {
    try {
      process.kill(group ? -pid : pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

function interrupted(): void {
  killAllLive();
  removeAllTempDirsSync();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', interrupted);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted();
      process.kill(process.pid, signal); // the default action, now that the handler is gone
    });
  }
}

/** Starts a long-running child with output to a log file and waits until ready() says so. */
export async function startProcess(cmd: string, args: readonly string[], opts: StartOptions): Promise<LongRunning> {
  const fd = openSync(opts.logFile, 'a');
  let child: ChildProcess;
  try {
    const spawnOpts: SpawnOptions = {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', fd, fd],
      detached: opts.group === true,
    };
    child = spawn(cmd, args, spawnOpts);
  } finally {
    closeSync(fd);
  }
  let exited = false;
  if (child.pid !== undefined) {
    installHooks();
    live.set(child.pid, opts.group === true);
  }
  const exitPromise = new Promise<void>((resolve) => {
    child.once('exit', () => {
      exited = true;
      if (child.pid !== undefined && !(opts.group === true)) live.delete(child.pid);
      resolve();
    });
    child.once('error', () => {
      exited = true;
      resolve();
    });
  });
  const pid = child.pid;
  const group = opts.group === true;
  const graceMs = opts.graceMs ?? 10_000;

  const signal = (sig: NodeJS.Signals): void => {
    if (pid === undefined) return;
    try {
      if (group) process.kill(-pid, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };

  const handle: LongRunning = {
    pid: pid ?? -1,
    child,
    logFile: opts.logFile,
    running: () => !exited,
    log: () => readFile(opts.logFile, 'utf8').catch(() => ''),
    stop: async () => {
      if (exited) {
        if (group) signal('SIGKILL'); // leftovers of the group, if any
        if (pid !== undefined) live.delete(pid);
        return;
      }
      signal('SIGTERM');
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exitPromise;
      clearTimeout(timer);
      if (group) signal('SIGKILL');
      if (pid !== undefined) live.delete(pid);
    },
  };

  if (pid === undefined) {
    await exitPromise;
    throw new Error(`could not start ${cmd}`);
  }

  const readyTimeoutMs = opts.readyTimeoutMs ?? 60_000;
  try {
    await poll(
      `${cmd} to be ready`,
      async () => {
        if (exited) {
          throw new Error(`${cmd} exited before it was ready (code ${String(child.exitCode)})\n${await handle.log()}`);
        }
        const ok = await opts.ready().catch(() => false);
        return ok ? true : undefined;
      },
      { timeoutMs: readyTimeoutMs, failFast: true },
    );
  } catch (err) {
    if (!handle.running()) throw err; // exited before it was ready: the error has its log
    const log = await handle.log();
    await handle.stop();
    throw new Error(`${cmd} not ready after ${readyTimeoutMs} ms\n${log}`, { cause: err });
  }
  return handle;
}
