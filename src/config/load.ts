import { readFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { SignetError, errorMessage } from '../errors.js';
import { configSchema, type ParsedConfig, type PolicyMode } from './schema.js';
import { Secret } from './secret.js';

export interface UpstreamCredentials {
  username: string;
  password: Secret;
}

export interface UpstreamConfig {
  name: string;
  url: URL;
  credentials: UpstreamCredentials | undefined;
  timeouts: { connectMs: number; responseMs: number; idleMs: number };
  retries: { max: number; baseDelayMs: number; maxDelayMs: number };
  maxRedirects: number;
  officialNamespace: string | undefined;
}

export interface PolicyRuleConfig {
  match: string;
  mode: PolicyMode;
}

/** The validated configuration with secrets resolved; the only shape the rest of Signet sees. */
export interface Config {
  listen: { host: string; port: number; tls: { certFile: string; keyFile: string } | undefined };
  storage: { path: string; maxBytes: number };
  cache: { manifestMemoryBytes: number; tagCheckSeconds: number };
  defaultUpstream: string | undefined;
  upstreams: Map<string, UpstreamConfig>;
  policy: { default: PolicyMode; rules: PolicyRuleConfig[] };
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

function formatIssues(issues: readonly z.core.$ZodIssue[]): string {
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

function resolve(cfg: ParsedConfig, source: string, env: NodeJS.ProcessEnv): Config {
  const upstreams = new Map<string, UpstreamConfig>();
  for (const [name, u] of Object.entries(cfg.upstreams)) {
    let credentials: UpstreamCredentials | undefined;
    if (u.credentials) {
      const c = u.credentials;
      let password: string;
      if (c.passwordFile !== undefined) {
        try {
          password = readFileSync(c.passwordFile, 'utf8').replace(/\r?\n$/, '');
        } catch (err) {
          throw new SignetError('CONFIG_INVALID', `${source}: upstreams.${name}.credentials.passwordFile: cannot read ${c.passwordFile}: ${errorMessage(err)}`);
        }
      } else if (c.passwordEnv !== undefined) {
        const value = env[c.passwordEnv];
        if (value === undefined) {
          throw new SignetError('CONFIG_INVALID', `${source}: upstreams.${name}.credentials.passwordEnv: environment variable ${c.passwordEnv} is not set`);
        }
        password = value;
      } else {
        password = c.password ?? '';
      }
      credentials = { username: c.username, password: new Secret(password) };
    }
    upstreams.set(name, {
      name,
      url: new URL(u.url),
      credentials,
      timeouts: u.timeouts,
      retries: u.retries,
      maxRedirects: u.maxRedirects,
      // Docker Hub: "alpine" is "library/alpine" (distribution/reference normalisation).
      officialNamespace: u.officialNamespace ?? (name === 'docker.io' ? 'library' : undefined),
    });
  }
  const defaultUpstream = cfg.defaultUpstream ?? (upstreams.size === 1 ? [...upstreams.keys()][0] : undefined);

  // Trust verification is not part of this build: a rule that asks for it cannot be honoured,
  // and silently serving unsigned images under "enforce" would be the worst failure mode.
  const modes: Array<[string, PolicyMode]> = [
    ['policy.default', cfg.policy.default],
    ...cfg.policy.rules.map((r, i): [string, PolicyMode] => [`policy.rules.${i}.mode`, r.mode]),
  ];
  for (const [path, mode] of modes) {
    if (mode !== 'off') {
      throw new SignetError(
        'CONFIG_INVALID',
        `${source}: ${path}: mode "${mode}" needs a trust source, which this version of Signet does not have yet; set it to "off"`,
      );
    }
  }

  return {
    listen: { host: cfg.listen.host, port: cfg.listen.port, tls: cfg.listen.tls },
    storage: cfg.storage,
    cache: cfg.cache,
    defaultUpstream,
    upstreams,
    policy: { default: cfg.policy.default, rules: cfg.policy.rules },
    log: cfg.log,
  };
}
