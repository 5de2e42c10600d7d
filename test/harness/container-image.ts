import { chmod, chown, copyFile, cp, mkdir, readFile, realpath, rm, symlink, appendFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Dockerd } from './dockerd.js';
import { unmountUnder } from './mounts.js';
import { runOk, type RunResult } from './process.js';
import { REPO_ROOT } from './signet.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Signet's container image, built from the repository's Dockerfile by a harness dockerd that
 * cannot reach Docker Hub. The Dockerfile's base (`ARG NODE_IMAGE`) is replaced by a stand-in:
 * a Debian bookworm root file system made with `debootstrap --variant=minbase` from the
 * machine's own Debian mirror, plus the Node.js binary of the `node` devDependency and the
 * machine's npm, with a `node` user (uid/gid 1000) as the official Node.js images have.
 *
 *   const base = await makeStandInBase();                  // ~20 s; once per test file
 *   await base.importInto(dockerd, 'signet-base:bookworm');
 *   const built = await buildSignetImage(dockerd, { tag: 'signet:test', nodeImage: 'signet-base:bookworm' });
 *   await base.remove();
 */

/** The uid and gid of the `node` user of the official Node.js images. */
export const NODE_UID = 1000;

export interface StandInBase {
  /** A tar of the root file system, for `docker import`. */
  readonly tarPath: string;
  /** `docker import`s the root file system into `dockerd` as `tag`. */
  importInto(dockerd: Dockerd, tag: string): Promise<void>;
  remove(): Promise<void>;
}

const FALLBACK_MIRROR = 'http://deb.debian.org/debian';
const SYSTEM_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';
const DEBOOTSTRAP_TIMEOUT_MS = 10 * 60_000;

/**
 * The Debian archive apt already uses on this machine: the first URI of a deb822 `URIs:` field
 * (/etc/apt/sources.list.d/*.sources) or of a one-line `deb` entry (/etc/apt/sources.list).
 */
async function debianMirror(): Promise<string> {
  const deb822 = await readFile('/etc/apt/sources.list.d/debian.sources', 'utf8').catch(() => '');
  for (const block of deb822.split(/\n\s*\n/)) {
    if (!/^Types:.*\bdeb\b/m.test(block) || !/^Suites:.*\bbookworm\b/m.test(block)) continue;
    const uri = /^URIs:\s*(\S+)/m.exec(block)?.[1];
    if (uri) return uri;
  }
  const oneLine = await readFile('/etc/apt/sources.list', 'utf8').catch(() => '');
  const match = /^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+bookworm\s/m.exec(oneLine);
  return match?.[1] ?? FALLBACK_MIRROR;
}

/** The npm package directory behind the `npm` on PATH (e.g. /usr/lib/node_modules/npm). */
async function npmPackageDir(): Promise<string> {
  const which = await runOk('sh', ['-c', 'command -v npm']);
  const cli = await realpath(which.stdout.trim()); // …/npm/bin/npm-cli.js
  return dirname(dirname(cli));
}

/** Debootstraps the stand-in base and packs it as a tar (needs root, and debootstrap). */
export async function makeStandInBase(): Promise<StandInBase> {
  const dir = await makeTempDir('nodebase');
  const rootfs = join(dir, 'rootfs');
  const tarPath = join(dir, 'rootfs.tar');
  try {
    const mirror = await debianMirror();
    await runOk('debootstrap', ['--variant=minbase', 'bookworm', rootfs, mirror], { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS });
    // Where the official Node.js images keep them: /usr/local/bin/node and a global npm.
    await copyFile(await realpath(join(REPO_ROOT, 'node_modules', '.bin', 'node')), join(rootfs, 'usr/local/bin/node'));
    await chmod(join(rootfs, 'usr/local/bin/node'), 0o755);
    const globalModules = join(rootfs, 'usr/local/lib/node_modules');
    await mkdir(globalModules, { recursive: true });
    await cp(await npmPackageDir(), join(globalModules, 'npm'), { recursive: true, verbatimSymlinks: true });
    await symlink('../lib/node_modules/npm/bin/npm-cli.js', join(rootfs, 'usr/local/bin/npm'));
    await appendFile(join(rootfs, 'etc/passwd'), `node:x:${NODE_UID}:${NODE_UID}::/home/node:/bin/sh\n`);
    await appendFile(join(rootfs, 'etc/group'), `node:x:${NODE_UID}:\n`);
    await mkdir(join(rootfs, 'home/node'));
    await chown(join(rootfs, 'home/node'), NODE_UID, NODE_UID);
    // The CAs this machine trusts (NODE_EXTRA_CA_CERTS, else the system bundle), as the image's
    // own: npm in the build reaches its registry through whatever TLS interception the machine has.
    const caBundle = process.env.NODE_EXTRA_CA_CERTS ?? SYSTEM_CA_BUNDLE;
    if (existsSync(caBundle)) {
      await mkdir(join(rootfs, dirname(SYSTEM_CA_BUNDLE)), { recursive: true });
      await copyFile(caBundle, join(rootfs, SYSTEM_CA_BUNDLE));
    }
    // Documentation and translations no image needs: every build step copies the whole file
    // system with the harness dockerd's vfs storage driver.
    for (const unneeded of ['usr/share/doc', 'usr/share/man', 'usr/share/info', 'usr/share/locale', 'var/cache/apt', 'var/lib/apt/lists']) {
      await rm(join(rootfs, unneeded), { recursive: true, force: true });
    }
    await unmountUnder(rootfs);
    await runOk('tar', ['-C', rootfs, '--numeric-owner', '-cf', tarPath, '.'], { timeoutMs: DEBOOTSTRAP_TIMEOUT_MS });
    await removeDir(rootfs);
  } catch (err) {
    await unmountUnder(dir);
    await removeDir(dir);
    throw err;
  }
  return {
    tarPath,
    importInto: async (dockerd, tag) => {
      const imported = await dockerd.docker(['import', '--change', `ENV NODE_EXTRA_CA_CERTS=${SYSTEM_CA_BUNDLE}`, '--change', 'CMD ["node"]', tarPath, tag]);
      if (imported.code !== 0) throw new Error(`docker import ${tag}: ${imported.stderr}`);
    },
    remove: () => removeDir(dir),
  };
}

export interface BuildOptions {
  tag: string;
  /** The Dockerfile's NODE_IMAGE. */
  nodeImage: string;
  buildArgs?: Record<string, string>;
}

/**
 * `docker build` of the repository (classic builder, host network so npm reaches its registry).
 * Resolves with the build's output; it throws with that output when the build fails.
 */
export async function buildSignetImage(dockerd: Dockerd, opts: BuildOptions): Promise<RunResult> {
  const args = ['build', '--network', 'host', '--tag', opts.tag, '--build-arg', `NODE_IMAGE=${opts.nodeImage}`];
  for (const [name, value] of Object.entries(opts.buildArgs ?? {})) args.push('--build-arg', `${name}=${value}`);
  const built = await dockerd.docker([...args, REPO_ROOT]);
  if (built.code !== 0) throw new Error(`docker build exited with ${built.code}\n${built.stdout}\n${built.stderr}`);
  return built;
}

/** `docker inspect --format <format> <target>`, trimmed; throws when the object does not exist. */
export async function dockerInspect(dockerd: Dockerd, target: string, format: string): Promise<string> {
  const result = await dockerd.docker(['inspect', '--format', format, target]);
  if (result.code !== 0) throw new Error(`docker inspect ${target}: ${result.stderr}`);
  return result.stdout.trim();
}

/** `docker logs` of a container: its stdout and its stderr. */
export async function dockerLogs(dockerd: Dockerd, container: string): Promise<RunResult> {
  return dockerd.docker(['logs', container]);
}

/** Removes a container, running or not; never throws (cleanup). */
export async function removeContainer(dockerd: Dockerd, container: string): Promise<void> {
  await dockerd.docker(['rm', '--force', '--volumes', container]).catch(() => undefined);
}
