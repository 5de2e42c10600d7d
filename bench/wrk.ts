import { spawn, type ChildProcess } from 'node:child_process';

/**
 * `wrk` (Debian package wrk 4.1): a fixed number of keep-alive connections hammering one URL
 * for a fixed time. Its text report is parsed for requests/s, latency percentiles and errors.
 */

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  seconds: number;
  headers?: Record<string, string>;
}

export interface WrkResult {
  requests: number;
  requestsPerSecond: number;
  /** Latency percentiles, ms. */
  p50Ms: number;
  p75Ms: number;
  p90Ms: number;
  p99Ms: number;
  /** Non-2xx/3xx responses. */
  non2xx: number;
  socketErrors: { connect: number; read: number; write: number; timeout: number };
}

const live = new Set<ChildProcess>();

/** Kills every wrk still running (Ctrl-C / failure cleanup); synchronous on purpose. */
export function killAllWrk(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // gone
    }
  }
  live.clear();
}

/** "5.23ms", "812.00us", "1.02s", "2.00m" → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^([\d.]+)(us|ms|s|m|h)$/.exec(text.trim());
  if (!m?.[1] || !m[2]) throw new Error(`wrk: cannot parse duration "${text}"`);
  const value = Number(m[1]);
  const factor: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  return value * (factor[m[2]] ?? Number.NaN);
}

/** Parses wrk's `--latency` report. */
export function parseWrk(output: string): WrkResult {
  const percentile = (p: string): number => {
    const m = new RegExp(`^\\s*${p}%\\s+(\\S+)\\s*$`, 'm').exec(output);
    if (!m?.[1]) throw new Error(`wrk: no ${p}% latency in output:\n${output}`);
    return parseDuration(m[1]);
  };
  const rps = /^Requests\/sec:\s+([\d.]+)/m.exec(output);
  const total = /^\s*(\d+) requests in /m.exec(output);
  if (!rps?.[1] || !total?.[1]) throw new Error(`wrk: unexpected output:\n${output}`);
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  return {
    requests: Number(total[1]),
    requestsPerSecond: Number(rps[1]),
    p50Ms: percentile('50'),
    p75Ms: percentile('75'),
    p90Ms: percentile('90'),
    p99Ms: percentile('99'),
    non2xx: non2xx?.[1] ? Number(non2xx[1]) : 0,
    socketErrors: {
      connect: Number(sock?.[1] ?? 0),
      read: Number(sock?.[2] ?? 0),
      write: Number(sock?.[3] ?? 0),
      timeout: Number(sock?.[4] ?? 0),
    },
  };
}

export function runWrk(opts: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(opts.threads), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--latency', '--timeout', '10s'];
  for (const [name, value] of Object.entries(opts.headers ?? {})) args.push('-H', `${name}: ${value}`);
  args.push(opts.url);
  return new Promise((resolve, reject) => {
    const child = spawn('wrk', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    // hang guard: wrk stops by itself after `seconds`
    const timer = setTimeout(() => child.kill('SIGKILL'), (opts.seconds + 60) * 1000);
    child.once('error', (err) => {
      clearTimeout(timer);
      live.delete(child);
      reject(new Error(`wrk: ${err.message}`, { cause: err }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      const text = Buffer.concat(out).toString('utf8');
      if (code !== 0) {
        reject(new Error(`wrk exited with ${String(code)}:\n${text}`));
        return;
      }
      try {
        resolve(parseWrk(text));
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}
