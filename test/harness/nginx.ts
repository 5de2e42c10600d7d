import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort } from './ports.js';
import { startProcess, type LongRunning } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * nginx (Debian package nginx-light) as the round-robin load balancer in front of Signet
 * replicas, in the foreground (`daemon off;`) on a free 127.0.0.1 port, with its config, pid
 * file, logs and temp paths in a temp dir. See RECIPES.md "Redis, nginx".
 *
 * What a replica killed in the middle of a blob does to a client behind it:
 * - nginx streams (`proxy_buffering off`), so the blob's first bytes have reached the client when
 *   the replica dies. nginx then cannot pass the request to another replica, whatever
 *   `proxy_next_upstream` says ("passing a request to the next server is only possible if
 *   nothing has been sent to a client yet", nginx docs, ngx_http_upstream_module): it closes the
 *   client's connection, the client sees a body shorter than its Content-Length, and retries
 *   (dockerd and containerd resume with a Range request).
 * - `proxy_next_upstream` therefore only decides what happens before the first response byte:
 *   `error timeout` (nginx's default, written out here) sends a request that meets a dead
 *   replica's closed port (or a stale keepalive connection to it) to the next replica, so the
 *   client's retry reaches a live one instead of getting a 502. `off` would hand the client a
 *   502 for every request routed to the dead replica until nginx marks it failed; `http_5xx`
 *   would re-send requests that a live Signet refused on purpose (its 503 while a backend is
 *   down). Non-idempotent requests (uploads) are never re-sent (nginx's default).
 * - `proxy_read_timeout` is long because a live replica may answer a blob only after waiting
 *   for the dead replica's download lock to expire in Redis (`DEFAULTS.blobLockTtlMs`) and
 *   after downloading the blob itself (a Range request on a miss is answered with verified
 *   bytes only); with `timeout` in `proxy_next_upstream` a short one would re-send the request
 *   to another replica, which waits on the same lock.
 *
 * `limitRate` (nginx `limit_rate`) turns it into a slow link instead: in front of an upstream
 * registry it keeps a download on loopback under way long enough for a test to act in its middle.
 */

export interface NginxOptions {
  /** `host:port` of each server of the `upstream` block, taken in turn (round robin). */
  upstreams: readonly string[];
  /** Bytes per second each response is sent at (`limit_rate`); unlimited when omitted. */
  limitRate?: number;
}

export interface NginxRequest {
  method: string;
  /** The request URI as the client sent it (path and query). */
  uri: string;
  status: number;
  /** Body bytes sent to the client: fewer than the Content-Length when the upstream died mid-body. */
  bytesSent: number;
  /** The client's Range header, '' when none. */
  range: string;
  /** Every upstream nginx tried for the request, as nginx logs it (`a:1, b:2`), '' when none. */
  upstream: string;
  /** The upstream answers' statuses, in the same order ('502' for one that failed), '' when none. */
  upstreamStatus: string;
}

export interface Nginx {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly port: number;
  /** The access log: one JSON line per completed request (nginx writes a line once the response has ended). */
  log(): Promise<string>;
  /** The access log, parsed. */
  requests(): Promise<NginxRequest[]>;
  /** The error log (failed upstreams, cut responses), at level `warn`. */
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/** Hang guard, not an assertion on speed. */
const READY_TIMEOUT_MS = 20_000;
/** Longer than Signet's wait for another replica's download lock (DEFAULTS.blobLockWaitMs). */
const READ_TIMEOUT = '610s';

const LOG_FORMAT =
  '{"method":"$request_method","uri":"$request_uri","status":$status,"bytesSent":$body_bytes_sent,' +
  '"range":"$http_range","upstream":"$upstream_addr","upstreamStatus":"$upstream_status"}';

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

function config(dir: string, port: number, options: NginxOptions): string {
  if (options.upstreams.length === 0) throw new Error('startNginx: no upstreams');
  for (const upstream of options.upstreams) {
    if (!/^[A-Za-z0-9.-]+:\d+$/.test(upstream)) throw new Error(`startNginx: upstream ${upstream} is not host:port`);
  }
  const rate = options.limitRate;
  if (rate !== undefined && !(Number.isSafeInteger(rate) && rate > 0)) throw new Error(`startNginx: limitRate ${String(rate)} is not a positive integer`);
  return `# written by test/harness/nginx.ts
daemon off;
master_process on;
worker_processes 1;
${process.getuid?.() === 0 ? '# workers as root: the temp dir is root-only (mkdtemp, 0700)\nuser root;' : ''}
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;

events {
  worker_connections 1024;
}

http {
  log_format replicas escape=json '${LOG_FORMAT}';
  access_log ${join(dir, 'access.log')} replicas;
  client_body_temp_path ${join(dir, 'tmp', 'body')};
  proxy_temp_path ${join(dir, 'tmp', 'proxy')};
  fastcgi_temp_path ${join(dir, 'tmp', 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'tmp', 'uwsgi')};
  scgi_temp_path ${join(dir, 'tmp', 'scgi')};

  upstream replicas {
${options.upstreams.map((u) => `    server ${u};`).join('\n')}
    # Idle connections kept open to the upstreams (needs HTTP/1.1 and an empty Connection header).
    keepalive 16;
  }

  server {
    listen 127.0.0.1:${port};

    location / {
      proxy_pass http://replicas;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      # The client's host:port, so that what Signet derives from Host names the balancer.
      proxy_set_header Host $http_host;
      # Blobs stream both ways, of any size.
      proxy_buffering off;
      proxy_request_buffering off;
      client_max_body_size 0;
      # Before the first byte only (see test/harness/nginx.ts): a dead replica's refused
      # connection goes to the next one; a response cut mid-body is the client's to retry.
      proxy_next_upstream error timeout;
      proxy_connect_timeout 5s;
      proxy_read_timeout ${READ_TIMEOUT};
      proxy_send_timeout ${READ_TIMEOUT};
${rate === undefined ? '' : `      limit_rate ${rate};\n`}    }
  }
}
`;
}

function parseRequests(text: string): NginxRequest[] {
  const out: NginxRequest[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch {
      continue; // a line being written
    }
    if (typeof parsed !== 'object' || parsed === null) continue;
    const r = parsed as Record<string, unknown>;
    const text = (key: string): string => (typeof r[key] === 'string' ? r[key] : '');
    const num = (key: string): number => (typeof r[key] === 'number' ? r[key] : Number.NaN);
    out.push({
      method: text('method'),
      uri: text('uri'),
      status: num('status'),
      bytesSent: num('bytesSent'),
      range: text('range'),
      upstream: text('upstream'),
      upstreamStatus: text('upstreamStatus'),
    });
  }
  return out;
}

export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const dir = await makeTempDir('nginx');
  let proc: LongRunning | undefined;
  let port = 0;
  try {
    await mkdir(join(dir, 'tmp'));
    const configPath = join(dir, 'nginx.conf');
    const logFile = join(dir, 'nginx.out');
    // The port is chosen before nginx binds it; if another process grabs it meanwhile, try again.
    for (let attempt = 1; ; attempt++) {
      port = await freePort();
      await writeFile(configPath, config(dir, port, options));
      try {
        // -p: relative paths (none are left, but nginx checks its prefix); -e: the error log
        // before the config is read, instead of the compiled-in one.
        proc = await startProcess('nginx', ['-p', `${dir}/`, '-e', join(dir, 'error.log'), '-c', configPath], {
          logFile,
          // The master forks its workers: signal the whole group.
          group: true,
          graceMs: 10_000,
          readyTimeoutMs: READY_TIMEOUT_MS,
          ready: () => listening(port),
        });
        break;
      } catch (err) {
        const errors = await readFile(join(dir, 'error.log'), 'utf8').catch(() => '');
        if (attempt >= 3 || !errors.includes('Address already in use')) throw err;
      }
    }
  } catch (err) {
    await removeDir(dir);
    throw err;
  }
  const running = proc;
  const accessLog = (): Promise<string> => readFile(join(dir, 'access.log'), 'utf8').catch(() => '');
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    port,
    log: accessLog,
    requests: async () => parseRequests(await accessLog()),
    errorLog: () => readFile(join(dir, 'error.log'), 'utf8').catch(() => ''),
    stop: async () => {
      await running.stop();
      await removeDir(dir);
    },
  };
}
