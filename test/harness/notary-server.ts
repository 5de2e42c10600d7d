import { readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { poll } from './poll.js';
import { runOk, startProcess, type LongRunning } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Notary 0.7's `notary-server` (Debian package notary): memory storage, the local trust service (which
 * signs timestamps, and snapshots of repositories that asked for a server-managed snapshot key,
 * with ed25519 keys), on a port the OS picks.
 *
 * Pitfalls handled here:
 * - notary-server accepts `http_addr: 127.0.0.1:0` but never logs the port it got, so the port
 *   is read back from the kernel: the process's socket inodes (/proc/<pid>/fd) matched against
 *   the LISTEN entries of /proc/<pid>/net/tcp.
 * - The docker CLI talks to a trust server only over https and checks the certificate against
 *   `$DOCKER_CONFIG/tls/<host:port>/ca.crt`; the self-signed certificate therefore carries
 *   SAN IP:127.0.0.1 (Go ignores the CN) and is its own CA.
 * - The server's clock cannot be shifted: notary-server is a Go program and Go reads the time
 *   through the vDSO, bypassing libfaketime's LD_PRELOAD (libfaketime's README says so). And the
 *   server re-signs an expired timestamp on every GET, so clients never see one.
 */

export interface NotaryServerOptions {
  /** Serve https with a fresh self-signed certificate (SAN IP:127.0.0.1), as the docker CLI needs. */
  tls: boolean;
}

export interface NotaryServer {
  /** https://127.0.0.1:PORT (tls) or http://127.0.0.1:PORT */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  readonly port: number;
  /** PEM certificate of the server, which is also the CA to trust (tls only). */
  readonly tlsCertPath?: string;
  /** The server's temp dir (config, certificate, log). */
  readonly dir: string;
  log(): Promise<string>;
  stop(): Promise<void>;
}

export interface HttpReply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A GET to a loopback http(s) URL, trusting `caPath` (PEM) for https. Never follows redirects. */
export async function httpGet(url: string, opts: { caPath?: string; headers?: Record<string, string> } = {}): Promise<HttpReply> {
  const target = new URL(url);
  if (target.hostname !== '127.0.0.1') throw new Error(`httpGet: refusing non-loopback URL ${url}`);
  const ca = opts.caPath === undefined ? undefined : await readFile(opts.caPath);
  return new Promise((resolve, reject) => {
    const onResponse = (res: IncomingMessage): void => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.once('error', reject);
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    };
    const req =
      target.protocol === 'https:'
        ? httpsRequest(target, { method: 'GET', headers: opts.headers, ...(ca ? { ca } : {}) }, onResponse)
        : httpRequest(target, { method: 'GET', headers: opts.headers }, onResponse);
    req.once('error', reject);
    req.end();
  });
}

/** The TCP port `pid` listens on at 127.0.0.1 (undefined while it has none). Linux only. */
export async function listeningPort(pid: number): Promise<number | undefined> {
  const inodes = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`)) {
    const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const m = /^socket:\[(\d+)\]$/.exec(link);
    if (m?.[1]) inodes.add(m[1]);
  }
  const table = await readFile(`/proc/${pid}/net/tcp`, 'utf8');
  for (const line of table.split('\n').slice(1)) {
    // sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid timeout inode
    const cols = line.trim().split(/\s+/);
    const [local, state, inode] = [cols[1], cols[3], cols[9]];
    if (!local || state !== '0A' || !inode || !inodes.has(inode)) continue;
    const [addr, portHex] = local.split(':');
    if (addr === '0100007F' && portHex) return parseInt(portHex, 16);
  }
  return undefined;
}

/** Writes a self-signed P-256 certificate for 127.0.0.1 (SAN IP:127.0.0.1, DNS:localhost). */
export async function writeSelfSignedCert(dir: string, name = 'tls'): Promise<{ certPath: string; keyPath: string }> {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  await runOk('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:prime256v1',
    '-nodes',
    '-keyout',
    keyPath,
    '-out',
    certPath,
    '-days',
    '30',
    '-subj',
    '/CN=127.0.0.1',
    '-addext',
    'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ]);
  return { certPath, keyPath };
}

export async function startNotaryServer(opts: NotaryServerOptions): Promise<NotaryServer> {
  const dir = await makeTempDir('notary');
  let proc: LongRunning | undefined;
  try {
    const server: Record<string, string> = { http_addr: '127.0.0.1:0' };
    let tlsCertPath: string | undefined;
    if (opts.tls) {
      const pair = await writeSelfSignedCert(dir);
      tlsCertPath = pair.certPath;
      server.tls_cert_file = pair.certPath;
      server.tls_key_file = pair.keyPath;
    }
    const config = {
      server,
      // "local": an in-process signer; it only does ed25519 (whatever key_algorithm says).
      trust_service: { type: 'local', hostname: '', port: '', key_algorithm: 'ed25519' },
      logging: { level: 'info' },
      storage: { backend: 'memory' },
    };
    const configPath = join(dir, 'server.json');
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

    const scheme = opts.tls ? 'https' : 'http';
    // startProcess() gives no pid to its ready() callback, and the port can only be found from
    // the pid: accept the spawn at once, then wait for the port and the health endpoint here.
    proc = await startProcess('notary-server', ['-config', configPath], {
      logFile: join(dir, 'notary-server.log'),
      ready: () => Promise.resolve(true),
      graceMs: 5_000,
    });
    const running = proc;
    // A process that has exited will never listen: failFast ends the wait with its log.
    const port = await poll(
      'notary-server to listen',
      async () => {
        if (!running.running()) throw new Error(`notary-server exited early\n${await running.log()}`);
        return listeningPort(running.pid);
      },
      { timeoutMs: 60_000, failFast: true },
    );
    const host = `127.0.0.1:${port}`;
    const url = `${scheme}://${host}`;
    await poll(
      'notary-server health',
      async () => {
        if (!running.running()) throw new Error(`notary-server exited early\n${await running.log()}`);
        const reply = await httpGet(`${url}/_notary_server/health`, tlsCertPath ? { caPath: tlsCertPath } : {}).catch(() => undefined);
        return reply?.status === 200 ? true : undefined;
      },
      { timeoutMs: 60_000, failFast: true },
    );

    return {
      url,
      host,
      port,
      ...(tlsCertPath ? { tlsCertPath } : {}),
      dir,
      log: () => running.log(),
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
