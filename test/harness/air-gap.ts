import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { stopAll } from './cleanup.js';
import { cosignKeyPair, signBundleWithKey, startMockSigstore, writeTrustedRoot, type MockSigstore } from './cosign.js';
import { pushImage, type ImageSpec, type PushedImage } from './images.js';
import { createNotaryCli, type NotaryCli } from './notary-cli.js';
import { startNotaryServer, type NotaryServer } from './notary-server.js';
import { run, type RunResult } from './process.js';
import { freePort } from './ports.js';
import { startRegistry, type Registry } from './registry.js';
import { REPO_ROOT, startSignet, type Signet } from './signet.js';
import { deepMerge } from './signet-config.js';
import { makeTempDir, removeDir } from './tmp.js';

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

/** The upstream a connected site exports from and an isolated site serves offline. */
const UPSTREAM = 'docker.io';

/**
 * What a connected site's signatures verify with, for the policies of both sites. The
 * requirements are fresh objects on each call: YAML would write a shared one as an alias.
 */
export interface SiteTrust {
  /** The public key of the site's cosign signatures. */
  readonly cosignKeyPath: string;
  /** trusted_root.json of the mock Sigstore that logged them. */
  readonly trustedRootPath: string;
  /** A policy requirement: a cosign signature by the site's key, logged in the mock Sigstore. */
  cosignRequirement(): Record<string, unknown>;
  /** A policy requirement: Notary trust data (roots trusted on first use) or cosignRequirement(). */
  notaryOrCosignRequirement(): Record<string, unknown>;
}

function siteTrust(cosignKeyPath: string, trustedRootPath: string): SiteTrust {
  const cosignRequirement = (): Record<string, unknown> => ({ cosign: { keys: [cosignKeyPath], trustedRoot: trustedRootPath } });
  return {
    cosignKeyPath,
    trustedRootPath,
    cosignRequirement,
    notaryOrCosignRequirement: () => ({ anyOf: [{ notary: { roots: { tofu: true } } }, cosignRequirement()] }),
  };
}

/** An isolated site: its config (see writeIsolatedConfig), storage and imported store. */
export interface IsolatedSite {
  readonly config: string;
  readonly data: string;
  /** `<data>/imports`, where imports land. */
  readonly store: string;
  /**
   * A Signet serving this site's storage with its policy, its upstream offline (on a closed
   * port). Start it after the imports it should see; the connected site's stop() stops it at the
   * latest.
   */
  serve(): Promise<Signet>;
}

export interface ConnectedSite extends SiteTrust {
  /** The site's temp dir: keys, configs, bundles (removed by stop()). */
  readonly dir: string;
  readonly registry: Registry;
  readonly notary: NotaryServer;
  readonly notaryCli: NotaryCli;
  readonly sigstore: MockSigstore;
  /** The bundle signing key pair (`signet bundle keygen`) an isolated site pins. */
  readonly keys: { privatePath: string; publicPath: string };
  /** The connected site's config: the registry as docker.io with the notary-server, the given policy. */
  readonly connectedConfig: string;
  /** Signs a pushed image: Notary trust data for its tag (the GUN initialised once), or a cosign 3 bundle logged in the mock Rekor. */
  sign(by: 'notary' | 'cosign', image: PushedImage): Promise<void>;
  /** pushImage to the registry, then sign(). */
  pushSigned(by: 'notary' | 'cosign', repo: string, tag: string, spec?: ImageSpec): Promise<PushedImage>;
  /** `signet bundle export` with the connected config and the bundle key into `<dir>/<name>`; `args` are images and flags. Throws unless it exits 0. */
  exportBundle(name: string, args: readonly string[]): Promise<{ path: string; stdout: string }>;
  /** A fresh isolated site (empty store) pinning the bundle key, with `policy` or else the connected site's. */
  isolatedSite(policy?: Record<string, unknown>): Promise<IsolatedSite>;
  /** Stops the Signets isolated sites served, then the components, and removes the temp dir. */
  stop(): Promise<void>;
}

export interface ConnectedSiteOptions {
  /** Prefix of the temp dir. */
  name: string;
  /** The config's policy section (`{ policy: ... }`), built once the cosign key and trusted root exist. */
  policy: (trust: SiteTrust) => Record<string, unknown>;
}

/**
 * A connected site that exports bundles: a real distribution registry, notary-server with the
 * notary CLI, a mock Sigstore, a cosign key, bundle keys, and a connected config. Push and sign
 * images with pushSigned(); stop() it in the suite's `after` (stopAll).
 */
export async function startConnectedSite(opts: ConnectedSiteOptions): Promise<ConnectedSite> {
  const dir = await makeTempDir(opts.name);
  let registry: Registry | undefined;
  let notary: NotaryServer | undefined;
  let sigstore: MockSigstore | undefined;
  let notaryCli: NotaryCli | undefined;
  try {
    // Started together; each one that did start is kept so that a failure stops it.
    const [r, n, s] = await Promise.allSettled([startRegistry(), startNotaryServer({ tls: false }), startMockSigstore()]);
    registry = r.status === 'fulfilled' ? r.value : undefined;
    notary = n.status === 'fulfilled' ? n.value : undefined;
    sigstore = s.status === 'fulfilled' ? s.value : undefined;
    for (const result of [r, n, s]) if (result.status === 'rejected') throw result.reason;
    if (!registry || !notary || !sigstore) throw new Error('a component of the connected site did not start');
    notaryCli = await createNotaryCli({ server: notary });
    const cosignKey = cosignKeyPair('ecdsa-p256');
    const trust = siteTrust(await cosignKey.writePublicKey(dir), await writeTrustedRoot(sigstore, dir));
    const keys = await bundleKeys(dir, 'site');
    const policy = opts.policy(trust);
    const connectedConfig = join(dir, 'connected.yaml');
    await writeFile(
      connectedConfig,
      stringify({
        listen: { host: '127.0.0.1', port: await freePort() },
        storage: { path: join(dir, 'connected-data') },
        defaultUpstream: UPSTREAM,
        upstreams: { [UPSTREAM]: { url: registry.url, trust: { notary: { url: notary.url } } } },
        ...policy,
      }),
    );

    // Constants for the closures below, which do not see the narrowing of the variables above.
    const reg = registry;
    const cli = notaryCli;
    const rekor = sigstore.rekor;
    /** GUN → its `notary init`, run once. */
    const initialised = new Map<string, Promise<void>>();
    const served: Signet[] = [];
    let made = 0;

    const sign = async (by: 'notary' | 'cosign', image: PushedImage): Promise<void> => {
      if (by === 'cosign') {
        await signBundleWithKey(reg, image.repo, image, cosignKey, { tlog: rekor });
        return;
      }
      const gun = `${UPSTREAM}/${image.repo}`;
      let init = initialised.get(gun);
      if (!init) {
        init = cli.init(gun);
        initialised.set(gun, init);
      }
      await init;
      await cli.addHash(gun, image.tag, image.size, image.digest.slice('sha256:'.length));
    };

    const isolatedSite = async (sitePolicy: Record<string, unknown> = policy): Promise<IsolatedSite> => {
      const name = `site-${++made}`;
      const data = join(dir, `${name}-data`);
      const config = await writeIsolatedConfig(join(dir, `${name}.yaml`), { upstream: UPSTREAM, dataDir: data, keys: [keys.publicPath], extra: sitePolicy });
      return {
        config,
        data,
        store: join(data, 'imports'),
        serve: async () => {
          const signet = await startSignet({
            upstreams: { [UPSTREAM]: { url: `http://127.0.0.1:${await freePort()}` } },
            defaultUpstream: UPSTREAM,
            dataDir: data,
            extra: { upstreams: { [UPSTREAM]: { offline: true } }, bundles: { keys: [keys.publicPath] }, ...sitePolicy },
          });
          served.push(signet);
          return signet;
        },
      };
    };

    return {
      ...trust,
      dir,
      registry: reg,
      notary,
      notaryCli: cli,
      sigstore,
      keys,
      connectedConfig,
      sign,
      pushSigned: async (by, repo, tag, spec = {}) => {
        const image = await pushImage(reg, repo, tag, spec);
        await sign(by, image);
        return image;
      },
      exportBundle: async (name, args) => {
        const path = join(dir, name);
        const result = await signetCliOk(['bundle', 'export', '--config', connectedConfig, '--key', keys.privatePath, '--output', path, ...args]);
        return { path, stdout: result.stdout };
      },
      isolatedSite,
      stop: async () => {
        try {
          await stopAll(...served, cli, reg, notary, sigstore);
        } finally {
          await removeDir(dir);
        }
      },
    };
  } catch (err) {
    // What failed to start is the error to report, not a stop that fails after it.
    await stopAll(notaryCli, registry, notary, sigstore).catch(() => undefined);
    await removeDir(dir);
    throw err;
  }
}
