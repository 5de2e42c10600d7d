import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { startContainerd, type Containerd } from './containerd.js';
import { unmountUnder } from './mounts.js';
import { freePort } from './ports.js';
import { run, startProcess, type LongRunning, type RunResult } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * A private Docker daemon (Debian docker.io 20.10): vfs storage, no iptables, no bridge, data-root,
 * exec-root, pidfile and API socket under a temp dir. Normally dockerd supervises a containerd
 * of its own under exec-root; but dockerd 20.10 silently uses the *system* containerd whenever
 * /run/containerd/containerd.sock exists, so in that case the harness starts a private
 * containerd and points dockerd at it.
 */

export interface DockerdOptions {
  registryMirrors?: string[];
  /** Storage driver: vfs (the default) works everywhere; overlay2 builds images far faster where overlay mounts work. */
  storageDriver?: 'vfs' | 'overlay2';
  insecureRegistries?: string[];
  /** Use a harness-started containerd even without a system one (default: only when there is one). */
  privateContainerd?: boolean;
  /**
   * HTTP(S)_PROXY of the daemon: where its fallback to registry-1.docker.io goes (a fake registry
   * records the CONNECT). Default: a closed loopback port, so the fallback goes nowhere.
   */
  proxy?: string;
}

export interface Dockerd {
  /** unix:///.../d.sock */
  readonly host: string;
  /** Runs the docker CLI against this daemon with a throwaway DOCKER_CONFIG. */
  docker(args: readonly string[]): Promise<RunResult>;
  stop(): Promise<void>;
}

const SYSTEM_CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
// libnetwork and containerd put sockets below exec-root (e.g. libnetwork/<64 hex>.sock);
// a unix socket path must fit in 108 bytes.
const MAX_EXEC_ROOT_LENGTH = 30;

function ping(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ socketPath, path: '/_ping', method: 'GET' }, (res) => {
      res.resume();
      resolve(res.statusCode === 200);
    });
    req.once('error', () => resolve(false));
    req.end();
  });
}

export async function startDockerd(opts: DockerdOptions = {}): Promise<Dockerd> {
  const dir = await makeTempDir('dk');
  let execRoot = join(dir, 'x');
  let separateExecRoot: string | undefined;
  let proc: LongRunning | undefined;
  let containerd: Containerd | undefined;
  const cleanup = async (): Promise<void> => {
    await proc?.stop();
    await containerd?.stop();
    await unmountUnder(dir);
    if (separateExecRoot) await unmountUnder(separateExecRoot);
    await removeDir(dir);
    if (separateExecRoot) await removeDir(separateExecRoot);
  };
  try {
    if (execRoot.length > MAX_EXEC_ROOT_LENGTH) {
      // a long TMPDIR: keep the exec-root short under /tmp
      separateExecRoot = await mkdtemp('/tmp/dkx-');
      execRoot = separateExecRoot;
    }
    const socketPath = join(dir, 'd.sock');
    const cliConfig = join(dir, 'cli');
    await mkdir(cliConfig);
    await writeFile(join(cliConfig, 'config.json'), '{}\n');

    const config: Record<string, unknown> = {
      'storage-driver': opts.storageDriver ?? 'vfs',
      iptables: false,
      ip6tables: false,
      'ip-forward': false,
      'ip-masq': false,
      bridge: 'none',
      'data-root': join(dir, 'root'),
      'exec-root': execRoot,
      pidfile: join(dir, 'docker.pid'),
      hosts: [`unix://${socketPath}`],
      'log-level': 'info',
      'registry-mirrors': opts.registryMirrors ?? [],
      'insecure-registries': opts.insecureRegistries ?? [],
    };
    if (opts.privateContainerd === true || existsSync(SYSTEM_CONTAINERD_SOCKET)) {
      containerd = await startContainerd();
      config.containerd = containerd.address;
    }
    const configPath = join(dir, 'daemon.json');
    await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);

    // When a mirror answers with an error dockerd falls back to the real registry. Point its
    // proxy settings at a closed loopback port so that fallback (and its DNS lookup) goes
    // nowhere; Go never proxies loopback addresses, so the mirrors are reached directly.
    const deadProxy = opts.proxy ?? `http://127.0.0.1:${await freePort()}`;
    const daemonEnv: NodeJS.ProcessEnv = {
      ...process.env,
      HTTP_PROXY: deadProxy,
      HTTPS_PROXY: deadProxy,
      http_proxy: deadProxy,
      https_proxy: deadProxy,
      NO_PROXY: 'localhost,127.0.0.1',
      no_proxy: 'localhost,127.0.0.1',
    };
    proc = await startProcess('dockerd', ['--config-file', configPath], {
      env: daemonEnv,
      logFile: join(dir, 'dockerd.log'),
      // dockerd's supervised containerd is its child: signal the whole group on stop.
      group: true,
      graceMs: 20_000,
      readyTimeoutMs: 120_000,
      ready: () => ping(socketPath),
    });

    const unset = new Set(['DOCKER_CONTEXT', 'DOCKER_TLS_VERIFY', 'DOCKER_CERT_PATH', 'DOCKER_CONTENT_TRUST', 'DOCKER_API_VERSION']);
    const env: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !unset.has(key))),
      DOCKER_CONFIG: cliConfig,
      DOCKER_HOST: `unix://${socketPath}`,
    };

    return {
      host: `unix://${socketPath}`,
      docker: (args) => run('docker', args, { env, timeoutMs: 10 * 60_000 }),
      stop: cleanup,
    };
  } catch (err) {
    await cleanup();
    throw err;
  }
}
