import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { httpGet, type HttpReply } from './notary-server.js';
import { run, runOk, type RunResult } from './process.js';
import { makeTempDir, removeDir } from './tmp.js';

/**
 * The Notary 0.7 client (`notary`), run non-interactively against a notary-server, with a
 * trust dir of its own (or a docker CLI's `$DOCKER_CONFIG/trust`, which has the same layout:
 * docker's content trust *is* the notary client library).
 *
 * Pitfalls found on this machine, handled below:
 * - Passphrases come from NOTARY_{ROOT,TARGETS,SNAPSHOT,DELEGATION}_PASSPHRASE; a missing
 *   one makes notary prompt on the terminal. When reusing a docker trust dir, docker encrypted
 *   root with DOCKER_CONTENT_TRUST_ROOT_PASSPHRASE and targets, snapshot and delegation keys
 *   with DOCKER_CONTENT_TRUST_REPOSITORY_PASSPHRASE: map them accordingly.
 * - `notary key rotate <gun> root` asks "Are you sure ... (yes/no)" on stdin; on EOF it prints
 *   "Aborting action." and still exits 0. We answer "yes" and treat "Aborting" as a failure.
 * - A failed publish leaves its change staged; every later publish of that GUN then fails
 *   again ("could not find necessary signing keys"). On a failed publishing command we run
 *   `notary reset <gun> --all`.
 * - `notary key generate --output` writes an *encrypted* private key without a "path" header,
 *   which `notary key import` then rejects ("invalid key pem block"). Delegation keys are
 *   therefore made with openssl (unencrypted PKCS#8 P-256 + self-signed certificate) and
 *   imported with `--role`; notary encrypts them with the delegation passphrase.
 * - `notary key list` truncates the GUN column ("....1:45001/acme/app"): only role and key ID
 *   are parsed from it.
 * - `notary list` shows each target name once (the `targets` hit shadows delegations unless
 *   `--roles` is given), unlike docker, which prefers `targets/releases`.
 * - There is no expiry flag anywhere, and `faketime` has no effect on notary (a Go program
 *   reads the clock through the vDSO, bypassing libfaketime): metadata that is already expired
 *   cannot be produced with this tool.
 * - The first publish of a repository made by `notary init` has a client-managed snapshot key
 *   (docker's repositories have a server-managed one); `init(gun, { serverManagedSnapshot: true })`
 *   rotates the snapshot key to the server before the first publish.
 */

export interface NotaryPassphrases {
  root: string;
  targets: string;
  snapshot: string;
  delegation: string;
}

export const DEFAULT_NOTARY_PASSPHRASES: NotaryPassphrases = {
  root: 'harness-root-passphrase',
  targets: 'harness-targets-passphrase',
  snapshot: 'harness-snapshot-passphrase',
  delegation: 'harness-delegation-passphrase',
};

export interface NotaryServerRef {
  /** http(s)://127.0.0.1:PORT */
  readonly url: string;
  /** CA (PEM) for an https server. */
  readonly tlsCertPath?: string;
}

export interface NotaryCliOptions {
  server: NotaryServerRef;
  /** Use this trust dir (e.g. a DctClient's trustDir) instead of a fresh one; close() leaves it alone. */
  trustDir?: string;
  passphrases?: Partial<NotaryPassphrases>;
}

export interface NotaryTarget {
  name: string;
  /** hex sha256 */
  sha256: string;
  size: number;
  role: string;
}

export interface NotaryKey {
  role: string;
  keyId: string;
}

export interface DelegationKey {
  role: string;
  /** Self-signed certificate to pass to delegationAdd. */
  certPath: string;
  /** Unencrypted PKCS#8 private key (already imported into the trust dir). */
  keyPath: string;
}

export interface DelegationRole {
  name: string;
  keyids: string[];
  paths: string[];
  threshold: number;
}

export type NotaryKeyRole = 'root' | 'targets' | 'snapshot' | 'timestamp';

export interface PublishOption {
  /** Publish right away (`-p`); default true. */
  publish?: boolean;
}

export interface NotaryCli {
  readonly trustDir: string;
  readonly configPath: string;
  readonly server: NotaryServerRef;
  /** Raw `notary -c <config> ...args`; never throws on a non-zero exit. */
  run(args: readonly string[], input?: string): Promise<RunResult>;
  /** Like run() but throws with the output when notary fails. */
  runOk(args: readonly string[], input?: string): Promise<RunResult>;
  /** `notary init <gun>`; publishes unless told not to. */
  init(gun: string, opts?: PublishOption & { serverManagedSnapshot?: boolean }): Promise<void>;
  publish(gun: string): Promise<void>;
  /** Drops every staged change of `gun`. */
  reset(gun: string): Promise<void>;
  /** `notary addhash <gun> <target> <size> --sha256 <hex> [-r roles]`. */
  addHash(gun: string, target: string, size: number, sha256Hex: string, opts?: PublishOption & { roles?: string[] }): Promise<void>;
  /** `notary remove <gun> <target> [-r roles]`. */
  remove(gun: string, target: string, opts?: PublishOption & { roles?: string[] }): Promise<void>;
  /** `notary delegation add <gun> <role> <certs...>`; all paths unless `paths` is given. Returns the key IDs notary reports. */
  delegationAdd(gun: string, role: string, certPaths: readonly string[], opts?: PublishOption & { paths?: string[] }): Promise<string[]>;
  /** `notary delegation remove <gun> <role> [keyIds...] -y` (the whole role without key IDs). */
  delegationRemove(gun: string, role: string, opts?: PublishOption & { keyIds?: string[] }): Promise<void>;
  /** The delegations declared in the server's current targets.json. */
  delegations(gun: string): Promise<DelegationRole[]>;
  /** An ecdsa P-256 key and certificate for a delegation role, imported into this trust dir. */
  generateDelegationKey(role: string): Promise<DelegationKey>;
  /** `notary key generate <algorithm> --role <role>` (stored in the trust dir); returns its key ID. */
  keyGenerate(role: string, algorithm?: 'ecdsa' | 'rsa' | 'ed25519'): Promise<string>;
  /** `notary key rotate <gun> <role>` (published at once). Root rotation is confirmed with "yes". */
  keyRotate(gun: string, role: NotaryKeyRole, opts?: { serverManaged?: boolean; keys?: string[] }): Promise<void>;
  keyList(): Promise<NotaryKey[]>;
  /** `notary list <gun> [-r roles]`. */
  list(gun: string, opts?: { roles?: string[] }): Promise<NotaryTarget[]>;
  /** `notary witness <gun> <roles...>`: re-sign (bump version and expiry) on the next publish. */
  witness(gun: string, roles: readonly string[], opts?: PublishOption): Promise<void>;
  /** GET <server>/v2/<gun>/_trust/tuf/<role>.json (raw bytes, any status). */
  fetchRole(gun: string, role: string): Promise<HttpReply>;
  /** Removes the trust dir if it is the CLI's own. */
  close(): Promise<void>;
}

const HANG_GUARD_MS = 5 * 60_000;

/**
 * GET `<server>/v2/<gun>/_trust/tuf/<role>.json` (role may be `targets/releases`, `2.root`,
 * `snapshot.<hex>`, ...), trusting the server's certificate for https.
 */
export function fetchTufRole(server: NotaryServerRef, gun: string, role: string): Promise<HttpReply> {
  return httpGet(`${server.url}/v2/${gun}/_trust/tuf/${role}.json`, server.tlsCertPath ? { caPath: server.tlsCertPath } : {});
}

/** Parses the table of `notary list`: NAME DIGEST SIZE (BYTES) ROLE. */
export function parseTargetList(stdout: string): NotaryTarget[] {
  const targets: NotaryTarget[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+([0-9a-f]{64})\s+(\d+)\s+(\S+)\s*$/.exec(line.trim());
    if (!m) continue;
    const [, name = '', sha256 = '', size = '0', role = ''] = m;
    targets.push({ name, sha256, size: Number(size), role });
  }
  return targets;
}

/** Parses `notary key list`: ROLE GUN KEY-ID LOCATION (the GUN may be empty or truncated). */
export function parseKeyList(stdout: string): NotaryKey[] {
  const keys: NotaryKey[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s.*?\b([0-9a-f]{64})\b/.exec(line.trim());
    if (!m || m[1] === 'ROLE') continue;
    keys.push({ role: m[1] ?? '', keyId: m[2] ?? '' });
  }
  return keys;
}

export async function createNotaryCli(opts: NotaryCliOptions): Promise<NotaryCli> {
  const home = await makeTempDir('notarycli');
  const trustDir = opts.trustDir ?? join(home, 'trust');
  const configPath = join(home, 'config.json');
  const remote: Record<string, string> = { url: opts.server.url };
  if (opts.server.tlsCertPath) remote.root_ca = opts.server.tlsCertPath;
  await writeFile(configPath, `${JSON.stringify({ trust_dir: trustDir, remote_server: remote }, null, 2)}\n`);

  const keyDirs: string[] = [];
  const pass = { ...DEFAULT_NOTARY_PASSPHRASES, ...opts.passphrases };
  const env: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith('NOTARY_')));
  Object.assign(env, {
    NOTARY_ROOT_PASSPHRASE: pass.root,
    NOTARY_TARGETS_PASSPHRASE: pass.targets,
    NOTARY_SNAPSHOT_PASSPHRASE: pass.snapshot,
    NOTARY_DELEGATION_PASSPHRASE: pass.delegation,
    // keep notary from finding a ~/.notary of the machine
    HOME: home,
  });

  const runNotary = (args: readonly string[], input?: string): Promise<RunResult> =>
    run('notary', ['-c', configPath, ...args], { env, input: input ?? '', timeoutMs: HANG_GUARD_MS });

  const describe = (args: readonly string[], r: RunResult): string =>
    `notary ${args.join(' ')} exited with ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;

  const runNotaryOk = async (args: readonly string[], input?: string): Promise<RunResult> => {
    const r = await runNotary(args, input);
    if (r.code !== 0 || /Aborting action/.test(r.stdout + r.stderr)) throw new Error(describe(args, r));
    return r;
  };

  const reset = async (gun: string): Promise<void> => {
    await runNotary(['reset', gun, '--all']);
  };

  /** Runs a staging command; on failure of a publishing run, unstages everything for `gun`. */
  const staged = async (gun: string, args: string[], publish: boolean | undefined): Promise<RunResult> => {
    const full = publish === false ? args : [...args, '-p'];
    try {
      return await runNotaryOk(full);
    } catch (err) {
      if (publish !== false) await reset(gun);
      throw err;
    }
  };

  const cli: NotaryCli = {
    trustDir,
    configPath,
    server: opts.server,
    run: runNotary,
    runOk: runNotaryOk,
    init: async (gun, o = {}) => {
      if (o.serverManagedSnapshot === true) {
        await runNotaryOk(['init', gun]);
        // publishes the new repository together with the rotation to a server-managed key
        await runNotaryOk(['key', 'rotate', gun, 'snapshot', '-r']);
        if (o.publish !== false) await cli.publish(gun);
        return;
      }
      await staged(gun, ['init', gun], o.publish);
    },
    publish: async (gun) => {
      try {
        await runNotaryOk(['publish', gun]);
      } catch (err) {
        await reset(gun);
        throw err;
      }
    },
    reset,
    addHash: async (gun, target, size, sha256Hex, o = {}) => {
      const args = ['addhash', gun, target, String(size), '--sha256', sha256Hex.replace(/^sha256:/, '')];
      if (o.roles?.length) args.push('--roles', o.roles.join(','));
      await staged(gun, args, o.publish);
    },
    remove: async (gun, target, o = {}) => {
      const args = ['remove', gun, target];
      if (o.roles?.length) args.push('--roles', o.roles.join(','));
      await staged(gun, args, o.publish);
    },
    delegationAdd: async (gun, role, certPaths, o = {}) => {
      const args = ['delegation', 'add', gun, role, ...certPaths];
      if (o.paths) args.push('--paths', o.paths.join(','));
      else args.push('--all-paths');
      const r = await staged(gun, args, o.publish);
      const m = /with keys \[([^\]]*)\]/.exec(r.stdout + r.stderr);
      return (m?.[1] ?? '').split(/[\s,]+/).filter((id) => /^[0-9a-f]{64}$/.test(id));
    },
    delegationRemove: async (gun, role, o = {}) => {
      await staged(gun, ['delegation', 'remove', gun, role, ...(o.keyIds ?? []), '-y'], o.publish);
    },
    delegations: async (gun) => {
      const reply = await fetchTufRole(opts.server, gun, 'targets');
      if (reply.status !== 200) throw new Error(`targets.json of ${gun}: HTTP ${reply.status}`);
      const parsed = JSON.parse(reply.body.toString('utf8')) as { signed?: { delegations?: { roles?: DelegationRole[] } } };
      return parsed.signed?.delegations?.roles ?? [];
    },
    generateDelegationKey: async (role) => {
      const dir = await makeTempDir('delegkey');
      const base = join(dir, role.replace(/[^A-Za-z0-9_-]/g, '_'));
      const keyPath = `${base}-key.pem`;
      const certPath = `${base}.crt`;
      // kept until close(): callers may need the certificate again (another delegationAdd)
      keyDirs.push(dir);
      await runOk('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', keyPath]);
      await runOk('openssl', ['req', '-x509', '-key', keyPath, '-out', certPath, '-days', '365', '-subj', `/CN=${role.replace(/\//g, '-')}`]);
      await runNotaryOk(['key', 'import', keyPath, '--role', role]);
      return { role, certPath, keyPath };
    },
    keyGenerate: async (role, algorithm = 'ecdsa') => {
      const r = await runNotaryOk(['key', 'generate', algorithm, '--role', role]);
      const m = /\b([0-9a-f]{64})\b/.exec(r.stdout + r.stderr);
      if (!m?.[1]) throw new Error(`no key ID in notary key generate output: ${r.stdout}${r.stderr}`);
      return m[1];
    },
    keyRotate: async (gun, role, o = {}) => {
      const args = ['key', 'rotate', gun, role];
      if (o.serverManaged === true) args.push('-r');
      for (const key of o.keys ?? []) args.push('--key', key);
      // root rotation asks for confirmation on stdin
      await runNotaryOk(args, 'yes\n');
    },
    keyList: async () => parseKeyList((await runNotaryOk(['key', 'list'])).stdout),
    list: async (gun, o = {}) => {
      const args = ['list', gun];
      if (o.roles?.length) args.push('--roles', o.roles.join(','));
      return parseTargetList((await runNotaryOk(args)).stdout);
    },
    witness: async (gun, roles, o = {}) => {
      await staged(gun, ['witness', gun, ...roles], o.publish);
    },
    fetchRole: (gun, role) => fetchTufRole(opts.server, gun, role),
    close: async () => {
      for (const dir of keyDirs.splice(0)) await removeDir(dir);
      await removeDir(home); // holds trustDir too when it is our own
    },
  };
  return cli;
}
