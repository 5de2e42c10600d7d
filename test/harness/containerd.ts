import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run, startProcess, type LongRunning, type RunResult } from './process.js';
import { unmountUnder } from './mounts.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * A private containerd: root, state, sockets and the `opt` plugin's directory all under one
 * temp dir, the CRI plugin off. ctr() talks to it and unpacks with the `native` snapshotter,
 * which copies files instead of mounting (nothing to leave mounted if a test dies).
 */

export interface Containerd {
  /** gRPC socket path (for `ctr -a` and dockerd's `containerd` setting). */
  readonly address: string;
  /** Directory for `ctr --hosts-dir`. */
  readonly hostsDir: string;
  /** Runs `ctr -a <address> <args>` (namespace `harness` unless args choose one). */
  ctr(args: readonly string[]): Promise<RunResult>;
  /**
   * Writes `<hostsDir>/<registryName>/hosts.toml` sending pulls and resolves for that registry
   * to `mirrorUrl` (plain http). The `server` is the mirror too, so containerd never falls back
   * to the real registry on the internet.
   */
  writeHosts(registryName: string, mirrorUrl: string): Promise<string>;
  /**
   * Writes `toml` verbatim as `<dir>/<registryName>/hosts.toml` (`dir`: hostsDir unless given),
   * for tests of a hosts.toml exactly as documented; returns its path.
   */
  writeHostsFile(registryName: string, toml: string, dir?: string): Promise<string>;
  stop(): Promise<void>;
}

function tomlString(value: string): string {
  return JSON.stringify(value);
}

export async function startContainerd(): Promise<Containerd> {
  const dir = await makeTempDir('ctrd');
  let proc: LongRunning | undefined;
  try {
    const address = join(dir, 'c.sock');
    if (Buffer.byteLength(`${address}.ttrpc`) > 100) throw new Error(`socket path too long: ${address}`);
    const hostsDir = join(dir, 'hosts');
    await mkdir(hostsDir);
    const configPath = join(dir, 'config.toml');
    await writeFile(
      configPath,
      [
        'version = 2',
        `root = ${tomlString(join(dir, 'root'))}`,
        `state = ${tomlString(join(dir, 'state'))}`,
        'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]',
        '[grpc]',
        `  address = ${tomlString(address)}`,
        '[ttrpc]',
        `  address = ${tomlString(`${address}.ttrpc`)}`,
        '[debug]',
        '  address = ""',
        '  level = "info"',
        '[metrics]',
        '  address = ""',
        '[plugins]',
        '  [plugins."io.containerd.internal.v1.opt"]',
        `    path = ${tomlString(join(dir, 'opt'))}`,
        '',
      ].join('\n'),
    );
    const env = { ...process.env, CONTAINERD_SNAPSHOTTER: 'native', CONTAINERD_NAMESPACE: 'harness' };
    const ctr = (args: readonly string[]): Promise<RunResult> => run('ctr', ['-a', address, ...args], { env, timeoutMs: 10 * 60_000 });

    proc = await startProcess('containerd', ['--config', configPath], {
      logFile: join(dir, 'containerd.log'),
      ready: async () => existsSync(address) && (await ctr(['version'])).code === 0,
    });
    const running = proc;

    return {
      address,
      hostsDir,
      ctr,
      writeHosts: async (registryName, mirrorUrl) => {
        const path = join(hostsDir, registryName, 'hosts.toml');
        await mkdir(join(hostsDir, registryName), { recursive: true });
        await writeFile(
          path,
          [`server = ${tomlString(mirrorUrl)}`, '', `[host.${tomlString(mirrorUrl)}]`, '  capabilities = ["pull", "resolve"]', '  skip_verify = true', ''].join(
            '\n',
          ),
        );
        return path;
      },
      writeHostsFile: async (registryName, toml, root = hostsDir) => {
        await mkdir(join(root, registryName), { recursive: true });
        const path = join(root, registryName, 'hosts.toml');
        await writeFile(path, toml);
        return path;
      },
      stop: async () => {
        await running.stop();
        await unmountUnder(dir);
        await removeDir(dir);
      },
    };
  } catch (err) {
    await proc?.stop();
    await unmountUnder(dir);
    await removeDir(dir);
    throw err;
  }
}
