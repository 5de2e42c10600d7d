import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { poll } from './poll.js';
import { runOk, startProcess, type LongRunning } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';
import type { TokenIssuer } from './token-issuer.js';

/** CNCF distribution 2.8 (`docker-registry`) as an upstream, on a port the OS picks. */

export interface BasicCredentials {
  username: string;
  password: string;
}

export type RegistryAuth = { basic: BasicCredentials } | { token: TokenIssuer };

export interface RegistryOptions {
  auth?: RegistryAuth;
  proxy?: { remoteurl: string; username?: string; password?: string };
}

export interface AccessLogEntry {
  method: string;
  /** Request path without the query string. */
  path: string;
  /** Full request URI as logged (path and query). */
  uri: string;
  status: number;
}

export interface Registry {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  /** distribution's storage root (`storage.filesystem.rootdirectory`). */
  readonly dataDir: string;
  /** Credentials clients need, when the registry has auth. */
  readonly credentials: BasicCredentials | undefined;
  /**
   * Every request the registry has completed so far, in log order. distribution logs a request
   * just after its last byte went out, so a line may lag behind what a client has already seen;
   * `until` waits (bounded) for the lines a caller knows must come.
   */
  accessLog(opts?: { until?: (entries: AccessLogEntry[]) => boolean }): Promise<AccessLogEntry[]>;
  /** Where distribution keeps a blob's bytes on disk. */
  blobDataPath(digest: string): string;
  stop(): Promise<void>;
}

// Apache combined log line written by distribution's access-log handler for every request:
// 127.0.0.1 - - [25/Nov/2026:13:00:36 +0000] "GET /v2/ HTTP/1.1" 200 2 "" "curl/7.88.1"
const COMBINED = /^\S+ \S+ \S+ \[[^\]]*\] "([A-Z]+) (\S+) HTTP\/[0-9.]+" (\d{3}) /;

/** Parses distribution's output: combined-log request lines, or (if there are none) the JSON "response completed" lines. */
export function parseAccessLog(text: string): AccessLogEntry[] {
  const combined: AccessLogEntry[] = [];
  const json: AccessLogEntry[] = [];
  for (const line of text.split('\n')) {
    const m = COMBINED.exec(line);
    if (m) {
      const [, method = '', uri = '', status = '0'] = m;
      combined.push({ method, uri, path: uri.split('?')[0] ?? uri, status: Number(status) });
      continue;
    }
    if (!line.startsWith('{')) continue;
    try {
      const record = JSON.parse(line) as Record<string, unknown>;
      const method = record['http.request.method'];
      const uri = record['http.request.uri'];
      const status = record['http.response.status'];
      if (typeof method === 'string' && typeof uri === 'string' && typeof status === 'number') {
        json.push({ method, uri, path: uri.split('?')[0] ?? uri, status });
      }
    } catch {
      // not a JSON log line
    }
  }
  return combined.length > 0 ? combined : json;
}

const SENTINEL = '/v2/';
const SENTINEL_PARAM = 'harness-sentinel';

export async function startRegistry(opts: RegistryOptions = {}): Promise<Registry> {
  const dir = await makeTempDir('registry');
  let proc: LongRunning | undefined;
  try {
    const dataDir = join(dir, 'data');
    await mkdir(dataDir);
    const logFile = join(dir, 'registry.log');
    const configPath = join(dir, 'config.yml');

    const config: Record<string, unknown> = {
      version: 0.1,
      log: { level: 'info', formatter: 'json', accesslog: { disabled: false } },
      storage: {
        filesystem: { rootdirectory: dataDir },
        delete: { enabled: true },
        maintenance: { uploadpurging: { enabled: false } },
      },
      // Port 0: distribution binds a free port itself and logs "listening on 127.0.0.1:PORT".
      http: { addr: '127.0.0.1:0', secret: randomBytes(16).toString('hex') },
    };
    let credentials: BasicCredentials | undefined;
    if (opts.auth && 'basic' in opts.auth) {
      credentials = opts.auth.basic;
      const entry = await runOk('htpasswd', ['-Bbn', credentials.username, credentials.password]);
      const htpasswd = join(dir, 'htpasswd');
      await writeFile(htpasswd, `${entry.stdout.trim()}\n`);
      config.auth = { htpasswd: { realm: 'harness', path: htpasswd } };
    } else if (opts.auth && 'token' in opts.auth) {
      const issuer = opts.auth.token;
      credentials = issuer.credentials;
      config.auth = {
        token: {
          realm: issuer.realm,
          service: issuer.service,
          issuer: issuer.issuer,
          rootcertbundle: issuer.rootCertBundle,
        },
      };
    }
    if (opts.proxy) config.proxy = opts.proxy;
    // JSON is valid YAML.
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

    let port = 0;
    proc = await startProcess('docker-registry', ['serve', configPath], {
      logFile,
      ready: async () => {
        if (port === 0) {
          const log = await readFile(logFile, 'utf8').catch(() => '');
          const m = /listening on 127\.0\.0\.1:(\d+)/.exec(log);
          if (!m?.[1]) return false;
          port = Number(m[1]);
        }
        const res = await fetch(`http://127.0.0.1:${port}/v2/`);
        await res.arrayBuffer();
        return res.status === 200 || res.status === 401;
      },
    });
    const running = proc;
    const host = `127.0.0.1:${port}`;
    const url = `http://${host}`;

    return {
      url,
      host,
      dataDir,
      credentials,
      accessLog: async (opts = {}) => {
        // A sentinel request made now is (practically always) logged after everything the
        // caller has already seen complete; `until` covers the rest.
        const id = randomUUID();
        const res = await fetch(`${url}${SENTINEL}?${SENTINEL_PARAM}=${id}`);
        await res.arrayBuffer();
        return poll(`registry access-log sentinel ${id}`, async () => {
          const entries = parseAccessLog(await running.log());
          if (!entries.some((e) => e.uri.includes(id))) return undefined;
          const requests = entries.filter((e) => !e.uri.includes(SENTINEL_PARAM));
          return !opts.until || opts.until(requests) ? requests : undefined;
        });
      },
      blobDataPath: (digest: string) => {
        const [algorithm = '', hex = ''] = digest.split(':');
        return join(dataDir, 'docker', 'registry', 'v2', 'blobs', algorithm, hex.slice(0, 2), hex, 'data');
      },
      stop: async () => {
        await running.stop();
        await removeDir(dir);
      },
    };
  } catch (err) {
    await proc?.stop();
    await removeDir(dir);
    throw err;
  }
}
