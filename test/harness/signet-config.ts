/**
 * The config tests give Signet, as a plain object for YAML: the same for Signet as a child
 * process (signet.ts) and Signet in the test process (signet-in-process.ts). Policy is "off"
 * unless a test's `extra` says otherwise.
 */

export interface SignetUpstream {
  url: string;
  credentials?: { username: string; password: string };
}

export interface SignetConfigOptions {
  upstreams: Record<string, SignetUpstream>;
  defaultUpstream?: string;
  storageMaxBytes?: number;
  /** Deep-merged into the generated config (objects merge, everything else replaces). */
  extra?: Record<string, unknown>;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function deepMerge(base: Record<string, unknown>, extra: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

/** The config for `opts`, listening on 127.0.0.1:`port` with its storage in `dataDir`. */
export function signetConfig(opts: SignetConfigOptions, where: { port: number; dataDir: string; logLevel: string }): Record<string, unknown> {
  const upstreams: Record<string, unknown> = {};
  for (const [name, upstream] of Object.entries(opts.upstreams)) {
    upstreams[name] = upstream.credentials ? { url: upstream.url, credentials: upstream.credentials } : { url: upstream.url };
  }
  const config: Record<string, unknown> = {
    listen: { host: '127.0.0.1', port: where.port },
    storage: { path: where.dataDir, ...(opts.storageMaxBytes === undefined ? {} : { maxBytes: opts.storageMaxBytes }) },
    ...(opts.defaultUpstream === undefined ? {} : { defaultUpstream: opts.defaultUpstream }),
    upstreams,
    policy: { default: 'off' },
    log: { level: where.logLevel },
  };
  return opts.extra ? deepMerge(config, opts.extra) : config;
}
