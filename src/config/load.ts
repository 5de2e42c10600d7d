import { readFile } from 'node:fs/promises';
import { readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { SignetError, errorMessage } from '../errors.js';
import { DEFAULTS } from './defaults.js';
import { configSchema, type ParsedConfig, type PolicyMode } from './schema.js';
import { Secret } from './secret.js';

export interface UpstreamCredentials {
  username: string;
  password: Secret;
}

/** Where a repository's Notary v1 trust data lives, with secrets and the CA resolved. */
export interface NotaryServerConfig {
  url: URL;
  /** PEM bundle verifying the server's TLS certificate; system roots when absent. */
  ca: string | undefined;
  credentials: UpstreamCredentials | undefined;
  /** GUN template with `{registry}` and `{repository}`. */
  gun: string;
  /** Hosts besides the server's origin its token realm may be on. */
  allowedHosts: string[];
  allowPrivateAddresses: boolean;
  /** Config path of this server (`upstreams.<name>.trust.notary`), for messages that name the key to fix. */
  path?: string;
}

export interface NotaryRequirements {
  /** The rule's own trust server (`policy.rules[].trust.notary`); else the upstream's is used. */
  server: NotaryServerConfig | undefined;
  roots: { keyIds: string[]; caPems: Array<{ path: string; pem: string }>; tofu: boolean };
  signers: string[];
  threshold: number;
  /** Offline upstreams: days an expired imported timestamp or snapshot is still accepted (0: none). */
  offlineExpiryGraceDays?: number;
  /** Config path of the requirement, for messages ("policy.rules.2.require.notary"). */
  path: string;
}

/** A certificate identity of keyless cosign signatures; `subject` says how the SAN is matched. */
export interface CosignIdentity {
  issuer: string;
  subject: { kind: 'exact' | 'glob' | 'regexp'; value: string };
  /** Fulcio extensions (by name or OID) that must be equal. */
  extensions: Record<string, string>;
}

export interface CosignRequirements {
  keys: Array<{ path: string; pem: string }>;
  identities: CosignIdentity[];
  /** trusted_root.json as read (validated by the cosign source when it builds trust material). */
  trustedRoot: { path: string; json: unknown } | undefined;
  tlog: boolean;
  threshold: number;
  /** Repository holding the signatures, at the same upstream (cosign's COSIGN_REPOSITORY). */
  repository: string | undefined;
  /** Config path of the requirement, for messages ("policy.rules.2.require.cosign"). */
  path: string;
}

/** S3-compatible object storage for content (`storage.s3`), secrets resolved. */
export interface S3StorageConfig {
  /** Undefined: AWS's own endpoint for the region. */
  endpoint: string | undefined;
  region: string;
  bucket: string;
  prefix: string;
  forcePathStyle: boolean;
  /** Undefined: the AWS SDK's default provider chain (environment, instance role). */
  credentials: { accessKeyId: Secret; secretAccessKey: Secret } | undefined;
}

/** Redis for shared state (`state.redis`), secrets resolved. */
export interface RedisStateConfig {
  url: string;
  username: string | undefined;
  password: Secret | undefined;
  /** PEM CA bundle for rediss:// with a private CA. */
  caPem: string | undefined;
  keyPrefix: string;
  connectTimeoutMs: number;
  /** ms a download lock lives without a refresh. */
  downloadLockTtlMs: number;
}

/** The certificate files of Notation trust stores, by type and name, as read. */
export type NotationStoreFiles = Record<'ca' | 'signingAuthority' | 'tsa', Record<string, Array<{ path: string; pem: string }>>>;

export interface NotationRequirements {
  /** The trust policy document as read (validated by the Notation source), and where it came from. */
  trustPolicy: { path: string; json: unknown };
  /** A notation trust store directory (`x509/<type>/<name>/`), or the files of each store given inline. */
  trustStore: { kind: 'directory'; path: string } | { kind: 'inline'; stores: NotationStoreFiles };
  threshold: number;
  /** Repository holding the signatures, at the same upstream. */
  repository: string | undefined;
  /** Config path of the requirement, for messages ("policy.rules.2.require.notation"). */
  path: string;
}

/** One format's requirement; adding a format adds a member here and a source in src/trust. */
export type FormatRequirement =
  | { format: 'notary'; requirement: NotaryRequirements }
  | { format: 'cosign'; requirement: CosignRequirements }
  | { format: 'notation'; requirement: NotationRequirements };

/**
 * What a rule requires: every entry (`allOf`) or at least one (`anyOf`). A rule without
 * `require` (and the default) asks Notary with no roots pinned, so a pull is denied with a
 * message naming the keys to set.
 */
export interface RequirementSet {
  combine: 'allOf' | 'anyOf';
  entries: FormatRequirement[];
}

/** Who an access rule or the admin endpoints admit. */
export type Principal = { kind: 'anonymous' } | { kind: 'authenticated' } | { kind: 'user'; name: string } | { kind: 'group'; name: string };

export interface AccessRuleConfig {
  /** Position in `auth.access`, for messages and the audit log. */
  index: number;
  match: string;
  pull: Principal[];
}

export interface TokenIssuerConfig {
  /** The signing key, as read (PKCS#8 PEM); parsed by the server at start. */
  key: { path: string; pem: string };
  issuer: string;
  service: string;
  lifetimeSeconds: number;
  realm: URL | undefined;
}

/**
 * Client authentication. `enabled: false` (no `auth` section): every client is anonymous and may
 * pull everything, which the schema allows only on loopback listeners.
 */
export interface AuthConfig {
  enabled: boolean;
  htpasswd: string | undefined;
  groups: Map<string, string[]>;
  token: TokenIssuerConfig | undefined;
  clientCertificates: { user: 'commonName' | 'email' } | undefined;
  access: AccessRuleConfig[];
}

export interface UpstreamConfig {
  name: string;
  /** The registry root; for an offline upstream, a placeholder that is never contacted. */
  url: URL;
  /** Air-gapped: answered from imported bundles only, never contacted. */
  offline?: boolean;
  credentials: UpstreamCredentials | undefined;
  timeouts: { connectMs: number; responseMs: number; idleMs: number };
  retries: { max: number; baseDelayMs: number; maxDelayMs: number };
  maxRedirects: number;
  /** PEM CA bundle for TLS to the upstream and its token realm; system roots when absent. */
  ca: string | undefined;
  /** Hosts (`host`, `host:port`, `*.domain`) besides the upstream's origin that redirects and realms may reach. */
  allowedHosts: string[];
  allowPrivateAddresses: boolean;
  officialNamespace: string | undefined;
  trust: { notary: NotaryServerConfig | undefined };
}

export interface PolicyRuleConfig {
  /** Position in `policy.rules`, for messages that point at the rule. */
  index: number;
  match: string;
  mode: PolicyMode;
  require: RequirementSet;
}

/** The validated configuration with secrets resolved; the only shape the rest of Signet sees. */
export interface ListenConfig {
  host: string;
  port: number;
  tls:
    | {
        certFile: string;
        keyFile: string;
        /** PEM bundle client certificates must chain to (mTLS), as read. */
        clientCa: string | undefined;
        clientCertificates: 'optional' | 'required';
      }
    | undefined;
  maxConnections: number;
  timeouts: { headersMs: number; requestMs: number; keepAliveMs: number; sendMs: number };
}

export interface Config {
  listen: ListenConfig;
  auth: AuthConfig;
  /** Admin endpoints (`/metrics`): an own listener (if set), and who may use them. */
  admin: { listen: { host: string; port: number } | undefined; allow: Principal[] };
  limits: { clientRequestsPerSecond: number; clientBurst: number };
  /** The console's API: on or off, and how many recent decisions it keeps. */
  console: { enabled: boolean; decisionsKept: number };
  storage: { path: string; maxBytes: number; s3: S3StorageConfig | undefined };
  /** State shared by replicas; undefined: files under `storage.path`. */
  state: { redis: RedisStateConfig | undefined };
  cache: { manifestMemoryBytes: number; tagCheckSeconds: number };
  defaultUpstream: string | undefined;
  upstreams: Map<string, UpstreamConfig>;
  policy: {
    default: PolicyMode;
    rules: PolicyRuleConfig[];
    auditLog: string;
    auditLogMaxBytes: number;
    auditLogFiles: number;
    auditRepeatSeconds: number;
    defaultRequire: RequirementSet;
  };
  trust: {
    freshnessSeconds: number;
    missingCacheSeconds: number;
    /** Where certificate revocation may be checked (OCSP responders, CRL distribution points) and its limits. */
    revocation: { allowedHosts: string[]; timeoutMs: number; maxResponseBytes: number };
  };
  /** Air-gapped bundles: the pinned signing keys (PEM Ed25519 public keys) and where imported content lives. */
  bundles: { keys: Array<{ path: string; pem: string }>; path: string };
  log: { level: ParsedConfig['log']['level'] };
}

export const DEFAULT_CONFIG_PATH = fileURLToPath(new URL('../../config/default.yaml', import.meta.url));

export interface LoadOptions {
  /** Environment used for passwordEnv; injected so tests need not touch process.env. */
  env?: NodeJS.ProcessEnv;
}

export async function loadConfigFile(path: string, options: LoadOptions = {}): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new SignetError('CONFIG_INVALID', `cannot read config file ${path}: ${errorMessage(err)}`, { cause: err });
  }
  return parseConfig(text, path, options);
}

/** Parses and validates YAML text. `source` names the file in error messages. */
export function parseConfig(text: string, source: string, options: LoadOptions = {}): Config {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    throw new SignetError('CONFIG_INVALID', `${source}: invalid YAML: ${first?.message ?? 'parse error'}`);
  }
  const raw: unknown = doc.toJS() ?? {};
  const result = configSchema.safeParse(raw);
  if (!result.success) {
    throw new SignetError('CONFIG_INVALID', `${source}: ${formatIssues(result.error.issues)}`);
  }
  return resolve(result.data, source, options.env ?? process.env);
}

/** Zod issues of a YAML document as one message, each naming its key path. */
export function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
  return issues
    .map((issue) => {
      const base = issue.path.map(String).join('.');
      if (issue.code === 'unrecognized_keys') {
        return issue.keys.map((k) => `unknown key "${base ? `${base}.` : ''}${k}"`).join('; ');
      }
      if (issue.code === 'invalid_key') {
        return `${base}: invalid name: ${issue.issues.map((i) => i.message).join('; ')}`;
      }
      return `${base || '(top level)'}: ${issue.message}`;
    })
    .join('; ');
}

type RawCredentials = NonNullable<ParsedConfig['upstreams'][string]['credentials']>;
type RawNotary = NonNullable<NonNullable<ParsedConfig['upstreams'][string]['trust']>['notary']>;
type RawFormats = NonNullable<NonNullable<ParsedConfig['policy']['rules'][number]['require']>['anyOf']>[number];
type RawRequirements = NonNullable<ParsedConfig['policy']['rules'][number]['require']>;

function readSecretFile(source: string, path: string, file: string, maxBytes?: number): string {
  try {
    if (maxBytes !== undefined && statSync(file).size > maxBytes) {
      throw new SignetError('CONFIG_INVALID', `${source}: ${path}: ${file} is over the ${maxBytes}-byte limit`);
    }
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (err instanceof SignetError) throw err;
    throw new SignetError('CONFIG_INVALID', `${source}: ${path}: cannot read ${file}: ${errorMessage(err)}`);
  }
}

function resolveCredentials(c: RawCredentials | undefined, source: string, path: string, env: NodeJS.ProcessEnv): UpstreamCredentials | undefined {
  if (!c) return undefined;
  let password: string;
  if (c.passwordFile !== undefined) {
    password = readSecretFile(source, `${path}.passwordFile`, c.passwordFile).replace(/\r?\n$/, '');
  } else if (c.passwordEnv !== undefined) {
    const value = env[c.passwordEnv];
    if (value === undefined) {
      throw new SignetError('CONFIG_INVALID', `${source}: ${path}.passwordEnv: environment variable ${c.passwordEnv} is not set`);
    }
    password = value;
  } else {
    password = c.password ?? '';
  }
  return { username: c.username, password: new Secret(password) };
}

function resolveNotary(n: RawNotary | undefined, source: string, path: string, env: NodeJS.ProcessEnv): NotaryServerConfig | undefined {
  if (!n) return undefined;
  return {
    url: new URL(n.url),
    ca: n.caFile === undefined ? undefined : readSecretFile(source, `${path}.caFile`, n.caFile),
    credentials: resolveCredentials(n.credentials, source, `${path}.credentials`, env),
    gun: n.gun,
    allowedHosts: n.allowedHosts,
    allowPrivateAddresses: n.allowPrivateAddresses,
    path,
  };
}

function resolveNotaryRequirements(
  r: NonNullable<RawFormats['notary']>,
  server: NotaryServerConfig | undefined,
  source: string,
  path: string,
): NotaryRequirements {
  return {
    server,
    roots: {
      keyIds: r.roots.keyIds,
      caPems: r.roots.caFiles.map((file, i) => ({ path: file, pem: readSecretFile(source, `${path}.roots.caFiles.${i}`, file) })),
      tofu: r.roots.tofu,
    },
    signers: r.signers,
    threshold: r.threshold ?? r.signers.length,
    offlineExpiryGraceDays: r.offlineExpiryGraceDays,
    path,
  };
}

function resolveCosignRequirements(r: NonNullable<RawFormats['cosign']>, source: string, path: string): CosignRequirements {
  let trustedRoot: CosignRequirements['trustedRoot'];
  if (r.trustedRoot !== undefined) {
    const text = readSecretFile(source, `${path}.trustedRoot`, r.trustedRoot);
    try {
      trustedRoot = { path: r.trustedRoot, json: JSON.parse(text) as unknown };
    } catch (err) {
      throw new SignetError('CONFIG_INVALID', `${source}: ${path}.trustedRoot: ${r.trustedRoot} is not JSON: ${errorMessage(err)}`);
    }
  }
  return {
    keys: r.keys.map((file, i) => ({ path: file, pem: readSecretFile(source, `${path}.keys.${i}`, file) })),
    identities: r.identities.map((id) => ({
      issuer: id.issuer,
      subject:
        id.subject !== undefined
          ? { kind: 'exact', value: id.subject }
          : id.subjectGlob !== undefined
            ? { kind: 'glob', value: id.subjectGlob }
            : { kind: 'regexp', value: id.subjectRegExp ?? '' },
      extensions: id.extensions,
    })),
    trustedRoot,
    tlog: r.tlog,
    threshold: r.threshold,
    repository: r.repository,
    path,
  };
}

function resolveNotationRequirements(r: NonNullable<RawFormats['notation']>, source: string, path: string): NotationRequirements {
  let trustPolicy: NotationRequirements['trustPolicy'];
  if (typeof r.trustPolicy === 'string') {
    const text = readSecretFile(source, `${path}.trustPolicy`, r.trustPolicy, DEFAULTS.notationTrustPolicyMaxBytes);
    try {
      trustPolicy = { path: r.trustPolicy, json: JSON.parse(text) as unknown };
    } catch (err) {
      throw new SignetError('CONFIG_INVALID', `${source}: ${path}.trustPolicy: ${r.trustPolicy} is not JSON: ${errorMessage(err)}`);
    }
  } else {
    trustPolicy = { path: `${path}.trustPolicy`, json: r.trustPolicy };
  }
  let trustStore: NotationRequirements['trustStore'];
  if (r.trustStores !== undefined) {
    const inline = r.trustStores;
    const read = (stores: Record<string, string[]>, type: string): Record<string, Array<{ path: string; pem: string }>> =>
      Object.fromEntries(
        Object.entries(stores).map(([name, files]) => [
          name,
          files.map((file, i) => ({
            path: file,
            pem: readSecretFile(source, `${path}.trustStores.${type}.${name}.${i}`, file, DEFAULTS.notationTrustStoreFileMaxBytes),
          })),
        ]),
      );
    trustStore = {
      kind: 'inline',
      stores: { ca: read(inline.ca, 'ca'), signingAuthority: read(inline.signingAuthority, 'signingAuthority'), tsa: read(inline.tsa, 'tsa') },
    };
  } else if (r.trustStore === undefined) {
    // notation keeps its trust store beside the trust policy: <config dir>/truststore (notation-go dir/path.go).
    trustStore = { kind: 'directory', path: join(dirname(trustPolicy.path), 'truststore') };
  } else {
    trustStore = { kind: 'directory', path: r.trustStore };
  }
  return { trustPolicy, trustStore, threshold: r.threshold, repository: r.repository, path };
}

/** A secret given inline, as a file (its first line) or as an environment variable; undefined when none is. */
function resolveSecret(
  given: { value: string | undefined; file: string | undefined; env: string | undefined },
  source: string,
  path: string,
  env: NodeJS.ProcessEnv,
): Secret | undefined {
  if (given.file !== undefined) return new Secret(readSecretFile(source, `${path}File`, given.file).replace(/\r?\n$/, ''));
  if (given.env !== undefined) {
    const value = env[given.env];
    if (value === undefined) throw new SignetError('CONFIG_INVALID', `${source}: ${path}Env: environment variable ${given.env} is not set`);
    return new Secret(value);
  }
  return given.value === undefined ? undefined : new Secret(given.value);
}

function resolveS3(s: ParsedConfig['storage']['s3'], source: string, env: NodeJS.ProcessEnv): S3StorageConfig | undefined {
  if (!s) return undefined;
  const accessKeyId = resolveSecret({ value: s.accessKeyId, file: s.accessKeyIdFile, env: s.accessKeyIdEnv }, source, 'storage.s3.accessKeyId', env);
  const secretAccessKey = resolveSecret(
    { value: s.secretAccessKey, file: s.secretAccessKeyFile, env: s.secretAccessKeyEnv },
    source,
    'storage.s3.secretAccessKey',
    env,
  );
  return {
    endpoint: s.endpoint,
    region: s.region,
    bucket: s.bucket,
    prefix: s.prefix,
    forcePathStyle: s.forcePathStyle,
    credentials: accessKeyId && secretAccessKey ? { accessKeyId, secretAccessKey } : undefined,
  };
}

function resolveRedis(r: ParsedConfig['state']['redis'], source: string, env: NodeJS.ProcessEnv): RedisStateConfig | undefined {
  if (!r) return undefined;
  return {
    url: r.url,
    username: r.username,
    password: resolveSecret({ value: r.password, file: r.passwordFile, env: r.passwordEnv }, source, 'state.redis.password', env),
    caPem: r.caFile === undefined ? undefined : readSecretFile(source, 'state.redis.caFile', r.caFile),
    keyPrefix: r.keyPrefix,
    connectTimeoutMs: r.connectTimeoutMs,
    downloadLockTtlMs: r.downloadLockTtlMs,
  };
}

function resolveFormats(f: RawFormats, server: NotaryServerConfig | undefined, source: string, path: string): FormatRequirement[] {
  const out: FormatRequirement[] = [];
  if (f.notation) out.push({ format: 'notation', requirement: resolveNotationRequirements(f.notation, source, `${path}.notation`) });
  if (f.notary) out.push({ format: 'notary', requirement: resolveNotaryRequirements(f.notary, server, source, `${path}.notary`) });
  if (f.cosign) out.push({ format: 'cosign', requirement: resolveCosignRequirements(f.cosign, source, `${path}.cosign`) });
  return out;
}

/** Nothing required explicitly: Notary with nothing pinned (denies, naming the keys to set). */
function implicitRequirements(server: NotaryServerConfig | undefined, path: string): RequirementSet {
  return {
    combine: 'allOf',
    entries: [
      {
        format: 'notary',
        requirement: {
          server,
          roots: { keyIds: [], caPems: [], tofu: false },
          signers: [],
          threshold: 0,
          offlineExpiryGraceDays: 0,
          path: `${path}.require.notary`,
        },
      },
    ],
  };
}

function resolveRequirements(r: RawRequirements | undefined, server: NotaryServerConfig | undefined, source: string, path: string): RequirementSet {
  if (!r) return implicitRequirements(server, path);
  if (r.anyOf) return { combine: 'anyOf', entries: r.anyOf.flatMap((alt, i) => resolveFormats(alt, server, source, `${path}.require.anyOf.${i}`)) };
  if (r.allOf) return { combine: 'allOf', entries: r.allOf.flatMap((alt, i) => resolveFormats(alt, server, source, `${path}.require.allOf.${i}`)) };
  const entries = resolveFormats(r, server, source, `${path}.require`);
  return entries.length > 0 ? { combine: 'allOf', entries } : implicitRequirements(server, path);
}

function resolve(cfg: ParsedConfig, source: string, env: NodeJS.ProcessEnv): Config {
  const upstreams = new Map<string, UpstreamConfig>();
  for (const [name, u] of Object.entries(cfg.upstreams)) {
    upstreams.set(name, {
      name,
      // An offline upstream is never contacted; its url (if any) only names it.
      url: new URL(u.url ?? `https://${name}/`),
      offline: u.offline,
      credentials: resolveCredentials(u.credentials, source, `upstreams.${name}.credentials`, env),
      timeouts: u.timeouts,
      retries: u.retries,
      maxRedirects: u.maxRedirects,
      ca: u.caFile === undefined ? undefined : readSecretFile(source, `upstreams.${name}.caFile`, u.caFile),
      allowedHosts: u.allowedHosts,
      allowPrivateAddresses: u.allowPrivateAddresses,
      // Docker Hub: "alpine" is "library/alpine" (distribution/reference normalisation).
      officialNamespace: u.officialNamespace ?? (name === 'docker.io' ? 'library' : undefined),
      trust: { notary: resolveNotary(u.trust?.notary, source, `upstreams.${name}.trust.notary`, env) },
    });
  }
  const defaultUpstream = cfg.defaultUpstream ?? (upstreams.size === 1 ? [...upstreams.keys()][0] : undefined);
  const rules = cfg.policy.rules.map((r, index): PolicyRuleConfig => {
    const server = resolveNotary(r.trust?.notary, source, `policy.rules.${index}.trust.notary`, env);
    return { index, match: r.match, mode: r.mode, require: resolveRequirements(r.require, server, source, `policy.rules.${index}`) };
  });
  const tls = cfg.listen.tls;
  return {
    listen: {
      host: cfg.listen.host,
      port: cfg.listen.port,
      tls: tls && {
        certFile: tls.certFile,
        keyFile: tls.keyFile,
        clientCa: tls.clientCaFile === undefined ? undefined : readSecretFile(source, 'listen.tls.clientCaFile', tls.clientCaFile),
        clientCertificates: tls.clientCertificates,
      },
      maxConnections: cfg.listen.maxConnections,
      timeouts: cfg.listen.timeouts,
    },
    auth: resolveAuth(cfg.auth, source),
    admin: {
      listen: cfg.admin?.listen,
      // Without client authentication everyone is the anonymous local user (loopback only).
      allow: cfg.admin ? cfg.admin.allow.map(parsePrincipal) : cfg.auth ? [] : [{ kind: 'anonymous' }],
    },
    limits: cfg.limits,
    console: cfg.console,
    storage: { path: cfg.storage.path, maxBytes: cfg.storage.maxBytes, s3: resolveS3(cfg.storage.s3, source, env) },
    state: { redis: resolveRedis(cfg.state.redis, source, env) },
    cache: cfg.cache,
    defaultUpstream,
    upstreams,
    policy: {
      default: cfg.policy.default,
      rules,
      auditLog: cfg.policy.auditLog,
      auditLogMaxBytes: cfg.policy.auditLogMaxBytes,
      auditLogFiles: cfg.policy.auditLogFiles,
      auditRepeatSeconds: cfg.policy.auditRepeatSeconds,
      defaultRequire: implicitRequirements(undefined, 'policy.rules[]'),
    },
    trust: cfg.trust,
    bundles: {
      keys: cfg.bundles.keys.map((file, i) => ({ path: file, pem: readSecretFile(source, `bundles.keys.${i}`, file) })),
      path: cfg.bundles.path ?? join(cfg.storage.path, 'imports'),
    },
    log: cfg.log,
  };
}

export function parsePrincipal(text: string): Principal {
  if (text === 'anonymous') return { kind: 'anonymous' };
  if (text === 'authenticated') return { kind: 'authenticated' };
  if (text.startsWith('group:')) return { kind: 'group', name: text.slice(6) };
  return { kind: 'user', name: text.slice(5) };
}

type RawAuth = NonNullable<ParsedConfig['auth']>;

function resolveAuth(a: RawAuth | undefined, source: string): AuthConfig {
  if (!a) {
    return { enabled: false, htpasswd: undefined, groups: new Map(), token: undefined, clientCertificates: undefined, access: [] };
  }
  return {
    enabled: true,
    htpasswd: a.htpasswd,
    groups: new Map(Object.entries(a.groups)),
    token: a.token && {
      key: { path: a.token.keyFile, pem: readSecretFile(source, 'auth.token.keyFile', a.token.keyFile) },
      issuer: a.token.issuer,
      service: a.token.service,
      lifetimeSeconds: a.token.lifetimeSeconds,
      realm: a.token.realm === undefined ? undefined : new URL(a.token.realm),
    },
    clientCertificates: a.clientCertificates,
    access: a.access.map((r, index) => ({ index, match: r.match, pull: r.pull.map(parsePrincipal) })),
  };
}
