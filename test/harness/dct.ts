import { existsSync } from 'node:fs';
import { copyFile, mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Dockerd } from './dockerd.js';
import { writeLayout, type ImageSpec } from './images.js';
import type { NotaryPassphrases } from './notary-cli.js';
import { run, runOk, type RunResult } from './process.js';
import { skopeoCopy } from './skopeo.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * Docker Content Trust as the Docker 20.10 CLI does it (`docker push` signing, `docker trust
 * ...`, and the client-side verdict of `DOCKER_CONTENT_TRUST=1 docker pull`), against a
 * harness dockerd and a harness notary-server.
 *
 * One DctClient = one DOCKER_CONFIG = one identity: its own `trust/private` keys and its own
 * `trust/tuf` cache of trusted metadata (the root it pinned on first use, last-seen versions).
 * A repository owner, each delegation signer and a pure consumer are separate clients, like
 * separate people/hosts; the consumer's verdicts are the reference.
 *
 * Pitfalls found on this machine, handled below:
 * - `docker` on PATH is /usr/local/bin/docker 28.x; Debian's docker.io 20.10 CLI is
 *   /usr/bin/docker. We run the 20.10 one (override: SIGNET_DCT_DOCKER_CLI). dockerd.ts's own
 *   docker() uses PATH, and its environment has no trust settings, so it is not used here.
 * - The CLI reaches the trust server only over https and trusts only
 *   `$DOCKER_CONFIG/tls/<host:port>/ca.crt` (not the system store, not SSL_CERT_FILE).
 * - Passphrases: DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE (root key) and
 *   DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE (targets key, and delegation keys made by
 *   `docker trust key generate`). Without them the CLI prompts on the terminal and hangs.
 * - `docker load` of Docker 20.10 reads docker-archive tars only; an OCI archive fails with
 *   "open .../blobs/json: no such file or directory". Images are loaded from a docker-archive
 *   written by skopeo from an OCI layout (images.ts writeLayout). Pulling the image from a
 *   local registry (plain, DOCKER_CONTENT_TRUST=0) works as well.
 * - The digest that gets signed is the one of the manifest the *daemon* pushes (Docker
 *   schema 2, layers compressed by dockerd), not any digest computed before: read it from the
 *   push output ("<tag>: digest: sha256:... size: N").
 * - `docker trust sign` on a repository without trust data initialises it with a delegation
 *   named after the registry user; with an anonymous registry that name is empty and it fails
 *   ("invalid delegation role name"), and it has already written a local root and keys into the
 *   config, which then conflict with the real ones ("could not rotate trust to a new trusted
 *   root"). Initialise repositories with a signed `docker push` or `docker trust signer add`.
 * - Once a repository has delegations, docker signs only into the direct children of
 *   `targets` whose key this config holds (`targets/releases` and `targets/<signer>`), never
 *   into `targets`; an owner without a delegation key cannot sign ("no valid signing keys
 *   for delegation roles"), although the image push itself has already happened.
 * - `docker trust sign <ref>` pushes the local image only when the tag is not signed yet; for an
 *   already signed tag it re-signs the signed digest into this signer's roles without pushing.
 * - `docker trust revoke` asks for confirmation: `-y`.
 * - `docker rmi <ref>` only untags when another tag still names the same image: verdict pulls
 *   remove every tag and digest reference of the repository first, so the CLI resolves the
 *   tag through trust data and the daemon fetches the manifest by digest from the registry
 *   every time (shared layers may stay cached; they are content-addressed).
 */

export interface DctPassphrases {
  root: string;
  repository: string;
}

export const DEFAULT_DCT_PASSPHRASES: DctPassphrases = {
  root: 'harness-dct-root-passphrase',
  repository: 'harness-dct-repository-passphrase',
};

export interface DctNotary {
  /** https://127.0.0.1:PORT (the docker CLI refuses plain http). */
  readonly url: string;
  /** 127.0.0.1:PORT */
  readonly host: string;
  /** The server's certificate / CA (PEM). */
  readonly tlsCertPath?: string;
}

export interface DctOptions {
  dockerd: Pick<Dockerd, 'host'>;
  notary: DctNotary;
  passphrases?: Partial<DctPassphrases>;
  /** A docker CLI that still does content trust (< 29); default SIGNET_DCT_DOCKER_CLI or /usr/bin/docker. */
  dockerCli?: string;
  /** A label for the temp dir (e.g. "alice"). */
  name?: string;
}

export interface PushResult {
  ref: string;
  /** Digest of the manifest the daemon pushed (and, for pushSigned, signed). */
  digest: string;
  size: number;
  output: string;
}

export interface PullVerdict {
  /** What `DOCKER_CONTENT_TRUST=1 docker pull <ref>` decided: exit code 0. */
  allowed: boolean;
  /** The digest the CLI resolved from the trust data ("Pull (1 of 1): ref@sha256:..."). */
  digest?: string;
  /** stdout + stderr of the pull. */
  output: string;
  code: number;
}

export interface TrustInspection {
  Name: string;
  SignedTags: Array<{ SignedTag: string; Digest: string; Signers: string[] }>;
  Signers: Array<{ Name: string; Keys: Array<{ ID: string }> }>;
  AdministrativeKeys: Array<{ Name: string; Keys: Array<{ ID: string }> }>;
}

export interface DctCommandOptions {
  /** DOCKER_CONTENT_TRUST=1 (default) or 0. */
  contentTrust?: boolean;
  input?: string;
}

export interface DctClient {
  /** DOCKER_CONFIG of this identity. */
  readonly configDir: string;
  /** `$DOCKER_CONFIG/trust`: a notary trust dir (keys under private/, cached metadata under tuf/). */
  readonly trustDir: string;
  readonly dockerCli: string;
  readonly name: string;
  /** Passphrases to open trustDir with the notary CLI (createNotaryCli({ trustDir, passphrases })). */
  readonly notaryPassphrases: NotaryPassphrases;
  /** Runs the docker CLI with this identity's environment. */
  docker(args: readonly string[], opts?: DctCommandOptions): Promise<RunResult>;
  /** Like docker() but throws with the output on a non-zero exit. */
  dockerOk(args: readonly string[], opts?: DctCommandOptions): Promise<RunResult>;
  /** Builds an image (images.ts writeLayout) and `docker load`s it as `localTag` via a docker-archive. */
  loadImage(localTag: string, spec?: ImageSpec & { label?: string }): Promise<void>;
  /** `docker tag` + signed `docker push` (DOCKER_CONTENT_TRUST=1: pushes, then signs the tag). */
  pushSigned(localTag: string, remoteRef: string): Promise<PushResult>;
  /** `docker tag` + `docker push` with DOCKER_CONTENT_TRUST=0 (no trust data written). */
  pushUnsigned(localTag: string, remoteRef: string): Promise<PushResult>;
  /**
   * `docker trust key generate <name>` in a new identity (its own DOCKER_CONFIG) and
   * `docker trust signer add --key <name>.pub <name> <repo>` by this one (the repository owner);
   * returns the signer's client. Creates targets/<name> and targets/releases.
   */
  signerAdd(name: string, repo: string): Promise<DctClient>;
  /** `docker trust signer remove -f <name> <repo>`. */
  signerRemove(name: string, repo: string): Promise<RunResult>;
  /** `docker trust sign <ref>`. */
  trustSign(ref: string): Promise<RunResult>;
  /** `docker trust revoke -y <ref>` (a tag, or the whole repository). */
  trustRevoke(ref: string): Promise<RunResult>;
  /** `docker trust inspect <repo>`, parsed. [] when there is no trust data. */
  trustInspect(repo: string): Promise<TrustInspection[]>;
  /**
   * The client-side verdict: removes local references of the repository, then
   * `DOCKER_CONTENT_TRUST=1 docker pull <ref>`. `freshTrustCache` first forgets the cached
   * metadata of this repository (trust on first use again).
   */
  pullVerdict(ref: string, opts?: { freshTrustCache?: boolean }): Promise<PullVerdict>;
  /** Removes this identity's DOCKER_CONFIG (and those of signers it created). */
  close(): Promise<void>;
}

const HANG_GUARD_MS = 5 * 60_000;

/** The docker CLI used for content trust. */
export function dctDockerCli(): string {
  const configured = process.env.SIGNET_DCT_DOCKER_CLI;
  if (configured) return configured;
  return existsSync('/usr/bin/docker') ? '/usr/bin/docker' : 'docker';
}

/** Splits `host:port/name[:tag][@digest]` into the repository (with host) and tag. */
export function splitRef(ref: string): { repository: string; tag?: string; digest?: string } {
  let rest = ref;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  const slash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > slash) {
    return { repository: rest.slice(0, colon), tag: rest.slice(colon + 1), ...(digest ? { digest } : {}) };
  }
  return { repository: rest, ...(digest ? { digest } : {}) };
}

/** Reads "<tag>: digest: sha256:... size: N" for `ref` from the output of a docker push (or a trust sign that pushed). */
export function parsePushOutput(ref: string, output: string): PushResult {
  const tag = splitRef(ref).tag ?? 'latest';
  const escaped = tag.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const m = new RegExp(`(?:^|\\n)${escaped}: digest: (sha256:[0-9a-f]{64}) size: (\\d+)`).exec(output);
  if (!m?.[1] || !m[2]) throw new Error(`no digest in the push output of ${ref}:\n${output}`);
  return { ref, digest: m[1], size: Number(m[2]), output };
}

export async function createDctClient(opts: DctOptions): Promise<DctClient> {
  const dockerCli = opts.dockerCli ?? dctDockerCli();
  const version = await runOk(dockerCli, ['--version']);
  const major = Number(/version (\d+)\./.exec(version.stdout)?.[1] ?? 'NaN');
  if (!(major < 29)) throw new Error(`${dockerCli} (${version.stdout.trim()}) does not do content trust; use a CLI < 29`);
  if (!opts.notary.tlsCertPath || !opts.notary.url.startsWith('https://')) {
    throw new Error('the docker CLI needs the notary server over https (startNotaryServer({ tls: true }))');
  }

  const name = opts.name ?? 'dct';
  const configDir = await makeTempDir(`dct${name}`);
  const signers: DctClient[] = [];
  try {
    await writeFile(join(configDir, 'config.json'), '{}\n');
    const caDir = join(configDir, 'tls', opts.notary.host);
    await mkdir(caDir, { recursive: true });
    await copyFile(opts.notary.tlsCertPath, join(caDir, 'ca.crt'));
  } catch (err) {
    await removeDir(configDir);
    throw err;
  }
  const trustDir = join(configDir, 'trust');
  const pass = { ...DEFAULT_DCT_PASSPHRASES, ...opts.passphrases };

  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('DOCKER_')));
  Object.assign(env, {
    DOCKER_HOST: opts.dockerd.host,
    DOCKER_CONFIG: configDir,
    DOCKER_CONTENT_TRUST_SERVER: opts.notary.url,
    DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE: pass.root,
    DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE: pass.repository,
    NO_PROXY: '127.0.0.1,localhost',
    no_proxy: '127.0.0.1,localhost',
  });

  const docker = (args: readonly string[], o: DctCommandOptions = {}): Promise<RunResult> =>
    run(dockerCli, args, {
      env: { ...env, DOCKER_CONTENT_TRUST: o.contentTrust === false ? '0' : '1' },
      input: o.input ?? '',
      timeoutMs: HANG_GUARD_MS,
    });
  const dockerOk = async (args: readonly string[], o: DctCommandOptions = {}): Promise<RunResult> => {
    const r = await docker(args, o);
    if (r.code !== 0) {
      throw new Error(`docker ${args.join(' ')} (DOCKER_CONFIG=${configDir}) exited with ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
    }
    return r;
  };

  const removeLocalReferences = async (repository: string): Promise<void> => {
    const list = await docker(['image', 'ls', '--digests', '--format', '{{.Repository}} {{.Tag}} {{.Digest}}', repository], { contentTrust: false });
    const refs = new Set<string>();
    for (const line of list.stdout.split('\n')) {
      const [repo, tag, digest] = line.trim().split(' ');
      if (!repo) continue;
      if (tag && tag !== '<none>') refs.add(`${repo}:${tag}`);
      if (digest && digest !== '<none>') refs.add(`${repo}@${digest}`);
    }
    for (const ref of refs) await docker(['image', 'rm', '-f', ref], { contentTrust: false });
  };

  const client: DctClient = {
    configDir,
    trustDir,
    dockerCli,
    name,
    notaryPassphrases: { root: pass.root, targets: pass.repository, snapshot: pass.repository, delegation: pass.repository },
    docker,
    dockerOk,
    loadImage: async (localTag, spec = {}) => {
      const dir = await makeTempDir('dctimg');
      try {
        const layout = join(dir, 'layout');
        await mkdir(layout);
        await writeLayout(layout, 'image', { label: localTag, ...spec });
        const archive = join(dir, 'image.tar');
        await skopeoCopy(`oci:${layout}:image`, `docker-archive:${archive}:${localTag}`);
        await dockerOk(['load', '-i', archive], { contentTrust: false });
      } finally {
        await removeDir(dir);
      }
    },
    pushSigned: async (localTag, remoteRef) => {
      await dockerOk(['tag', localTag, remoteRef], { contentTrust: false });
      const r = await dockerOk(['push', remoteRef], { contentTrust: true });
      const output = r.stdout + r.stderr;
      if (!/Successfully signed/.test(output)) throw new Error(`docker push ${remoteRef} did not sign:\n${output}`);
      return parsePushOutput(remoteRef, output);
    },
    pushUnsigned: async (localTag, remoteRef) => {
      await dockerOk(['tag', localTag, remoteRef], { contentTrust: false });
      const r = await dockerOk(['push', remoteRef], { contentTrust: false });
      return parsePushOutput(remoteRef, r.stdout + r.stderr);
    },
    signerAdd: async (signerName, repo) => {
      const signer = await createDctClient({ ...opts, name: signerName, passphrases: pass, dockerCli });
      signers.push(signer);
      const keyDir = join(signer.configDir, 'keys');
      await mkdir(keyDir); // `docker trust key generate --dir` wants an existing directory
      await signer.dockerOk(['trust', 'key', 'generate', signerName, '--dir', keyDir]);
      await dockerOk(['trust', 'signer', 'add', '--key', join(keyDir, `${signerName}.pub`), signerName, repo]);
      return signer;
    },
    signerRemove: (signerName, repo) => dockerOk(['trust', 'signer', 'remove', '-f', signerName, repo]),
    trustSign: (ref) => dockerOk(['trust', 'sign', ref]),
    trustRevoke: (ref) => dockerOk(['trust', 'revoke', '-y', ref]),
    trustInspect: async (repo) => {
      const r = await docker(['trust', 'inspect', repo]);
      const text = r.stdout.trim();
      try {
        return JSON.parse(text === '' ? '[]' : text) as TrustInspection[];
      } catch {
        throw new Error(`docker trust inspect ${repo} exited with ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`);
      }
    },
    pullVerdict: async (ref, o = {}) => {
      const { repository } = splitRef(ref);
      await removeLocalReferences(repository);
      if (o.freshTrustCache === true) {
        await rm(join(trustDir, 'tuf', repository), { recursive: true, force: true });
      }
      const r = await docker(['pull', ref], { contentTrust: true });
      const output = r.stdout + r.stderr;
      const m = /Pull \(1 of 1\): \S+@(sha256:[0-9a-f]{64})/.exec(output);
      return { allowed: r.code === 0, ...(m?.[1] ? { digest: m[1] } : {}), output, code: r.code };
    },
    close: async () => {
      for (const signer of signers.splice(0)) await signer.close();
      await removeDir(configDir);
    },
  };
  return client;
}
