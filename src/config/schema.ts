import { z } from 'zod';
import { DEFAULTS } from './defaults.js';

/**
 * The YAML configuration schema. Every object is strict: an unknown key is an error that names
 * its path (zod's `unrecognized_keys`), so a typo never silently falls back to a default.
 */

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  tib: 1024 ** 4,
};

/** A byte size: a non-negative integer, or a string such as "512MiB" or "20 GB". */
const size = z.union([z.number(), z.string()], { error: 'expected a size: bytes or a string such as "512MiB"' }).transform((value, ctx) => {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    ctx.addIssue({ code: 'custom', message: `${value} is not a size: use a whole number of bytes` });
    return z.NEVER;
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(value);
  const unit = m ? SIZE_UNITS[(m[2] ?? '').toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    ctx.addIssue({ code: 'custom', message: `"${value}" is not a size: use bytes or a number with B, KiB, MiB, GiB, TiB, KB, MB, GB or TB` });
    return z.NEVER;
  }
  return Math.floor(Number(m[1]) * unit);
});

const port = z.number().int().min(0).max(65535);
/** `host`, `host:port` or `*.domain` (any subdomain). */
const ALLOWED_HOST = /^(?:\*\.)?[a-zA-Z0-9.-]+(?::[0-9]{1,5})?$|^\[[0-9a-fA-F:.]+\](?::[0-9]{1,5})?$/;
const positiveMs = z.number().int().positive();

/** Registry host names as Docker spells them ("docker.io", "ghcr.io", "registry.corp:5000"). */
export const UPSTREAM_NAME = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*(?::[0-9]{1,5})?$/;

const credentials = z
  .object({
    username: z.string().min(1),
    password: z.string().optional(),
    passwordFile: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional(),
  })
  .strict()
  .refine((c) => [c.password, c.passwordFile, c.passwordEnv].filter((v) => v !== undefined).length === 1, {
    error: 'set exactly one of password, passwordFile or passwordEnv',
  });

/** Where a repository's Notary v1 trust data lives. */
const notaryServer = z
  .object({
    url: z.url().refine((u) => /^https?:$/.test(new URL(u).protocol), { error: 'notary url must be http:// or https://' }),
    /** PEM CA bundle to verify the trust server's TLS certificate (instead of the system roots). */
    caFile: z.string().min(1).optional(),
    credentials: credentials.optional(),
    /** Hosts besides the trust server's origin its Bearer realm may be on (`host`, `host:port`, `*.domain`). */
    allowedHosts: z.array(z.string().regex(ALLOWED_HOST, 'allowed hosts are host, host:port or *.domain')).default([]),
    allowPrivateAddresses: z.boolean().default(false),
    /** Notary GUN for a repository; `{registry}` and `{repository}` are replaced. */
    gun: z
      .string()
      .min(1)
      .refine((g) => g.includes('{repository}'), { error: 'gun must contain {repository}' })
      .default('{registry}/{repository}'),
  })
  .strict();

const trustServers = z.object({ notary: notaryServer.optional() }).strict();

const upstream = z
  .object({
    url: z
      .url()
      .refine((u) => /^https?:$/.test(new URL(u).protocol), { error: 'upstream url must be http:// or https://' })
      .refine((u) => new URL(u).pathname.replace(/\/+$/, '') === '', {
        error: 'upstream url must be the registry root (no path): /v2/ is added by Signet',
      })
      .optional(),
    /**
     * Air-gapped: the upstream is never contacted. Pulls are answered from imported bundles
     * (`signet bundle import`), still decided by the policy.
     */
    offline: z.boolean().default(false),
    credentials: credentials.optional(),
    timeouts: z
      .object({
        connectMs: positiveMs.default(DEFAULTS.upstreamConnectTimeoutMs),
        responseMs: positiveMs.default(DEFAULTS.upstreamResponseTimeoutMs),
        idleMs: positiveMs.default(DEFAULTS.upstreamIdleTimeoutMs),
      })
      .strict()
      .default({
        connectMs: DEFAULTS.upstreamConnectTimeoutMs,
        responseMs: DEFAULTS.upstreamResponseTimeoutMs,
        idleMs: DEFAULTS.upstreamIdleTimeoutMs,
      }),
    retries: z
      .object({
        max: z.number().int().min(0).max(10).default(DEFAULTS.upstreamRetries),
        baseDelayMs: positiveMs.default(DEFAULTS.upstreamRetryBaseDelayMs),
        maxDelayMs: positiveMs.default(DEFAULTS.upstreamRetryMaxDelayMs),
      })
      .strict()
      .default({
        max: DEFAULTS.upstreamRetries,
        baseDelayMs: DEFAULTS.upstreamRetryBaseDelayMs,
        maxDelayMs: DEFAULTS.upstreamRetryMaxDelayMs,
      }),
    maxRedirects: z.number().int().min(0).max(20).default(DEFAULTS.upstreamMaxRedirects),
    /** PEM CA bundle for the upstream's TLS certificates (and its token realm's), instead of the system roots. */
    caFile: z.string().min(1).optional(),
    /**
     * Hosts besides the upstream's own origin that its redirects (blob storage) and Bearer
     * realms (token servers) may point to: `host`, `host:port` or `*.domain`.
     */
    allowedHosts: z.array(z.string().regex(ALLOWED_HOST, 'allowed hosts are host, host:port or *.domain')).default([]),
    /** Let redirects and realms reach loopback, link-local and private addresses (off: SSRF guard). */
    allowPrivateAddresses: z.boolean().default(false),
    /** Docker Hub convention: a one-component name means "library/<name>". */
    officialNamespace: z.string().optional(),
    trust: trustServers.optional(),
  })
  .strict()
  .superRefine((u, ctx) => {
    if (u.url === undefined && !u.offline) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'an upstream needs a url (the registry root), unless it is offline: true (served from imported bundles only)',
      });
    }
  });

/**
 * Who an access rule grants: `anonymous` (every client), `authenticated` (any known user),
 * `user:<name>` or `group:<name>` (a group of `auth.groups`).
 */
const PRINCIPAL = /^(?:anonymous|authenticated|user:[^\s:]+|group:[^\s:]+)$/;
const principal = z.string().regex(PRINCIPAL, 'principals are anonymous, authenticated, user:<name> or group:<name>');

const accessRule = z
  .object({
    /** `<registry>/<repository>` glob, as in policy rules; the most specific match decides. */
    match: z.string().min(1),
    pull: z.array(principal).default([]),
  })
  .strict();

const auth = z
  .object({
    /** Apache htpasswd file with bcrypt hashes (`htpasswd -B`); re-read when it changes. */
    htpasswd: z.string().min(1).optional(),
    /** Group name → user names, for `group:<name>` principals. */
    groups: z.record(z.string().regex(/^[^\s:]+$/, 'group names have no spaces or colons'), z.array(z.string().min(1))).default({}),
    /** Signet as its own Docker token issuer (`/token`): `docker login` and containerd host credentials. */
    token: z
      .object({
        /** PKCS#8 PEM private key (EC P-256, Ed25519 or RSA) that signs the tokens. */
        keyFile: z.string().min(1),
        issuer: z.string().min(1).default('signet'),
        /** The `service` clients name in token requests (and the tokens' audience). */
        service: z.string().min(1).default('signet'),
        lifetimeSeconds: z.number().int().positive().max(86_400).default(DEFAULTS.tokenLifetimeSeconds),
        /** Absolute URL of `/token` for the challenge; default: the request's own origin. */
        realm: z.url().optional(),
      })
      .strict()
      .optional(),
    /** Users from TLS client certificates (needs listen.tls.clientCaFile). */
    clientCertificates: z
      .object({ user: z.enum(['commonName', 'email']).default('commonName') })
      .strict()
      .optional(),
    /** Who may pull what; a repository no rule matches cannot be pulled by anyone. */
    access: z.array(accessRule).default([]),
  })
  .strict();

export const POLICY_MODES = ['enforce', 'audit', 'off'] as const;
export type PolicyMode = (typeof POLICY_MODES)[number];

const KEY_ID = /^[a-f0-9]{64}$/;

const notaryRequirements = z
  .object({
    roots: z
      .object({
        /** Root key IDs (hex sha256, as `notary key list` / `docker trust inspect` print them). */
        keyIds: z.array(z.string().regex(KEY_ID, 'key IDs are 64 lowercase hex characters')).default([]),
        /** PEM CA bundles: a root certificate chaining to one of them is trusted. */
        caFiles: z.array(z.string().min(1)).default([]),
        /** Trust-on-first-use: accept the first root seen, then pin it. Off unless set. */
        tofu: z.boolean().default(false),
      })
      .strict()
      .default({ keyIds: [], caFiles: [], tofu: false }),
    /** Delegation names (`targets/<name>`) that must have signed the same digest. */
    signers: z.array(z.string().regex(/^[a-z0-9][a-z0-9_-]*$/, 'signer names are Docker trust signer names (lowercase, digits, _ and -)')).default([]),
    /** How many of `signers` must agree; defaults to all of them. */
    threshold: z.number().int().positive().optional(),
    /**
     * Offline upstreams only: days an imported timestamp or snapshot may be past its expiry and
     * still be accepted (Notary timestamps last 14 days). Never an expired root or targets. 0: none.
     */
    offlineExpiryGraceDays: z.number().int().min(0).max(DEFAULTS.bundleExpiryGraceDaysMax).default(0),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.threshold !== undefined && r.threshold > r.signers.length) {
      ctx.addIssue({ code: 'custom', path: ['threshold'], message: `threshold ${r.threshold} is more than the ${r.signers.length} signer(s) listed` });
    }
  });

/**
 * A certificate identity a keyless cosign signature must carry: the OIDC issuer (exact) and the
 * subject (SAN email or URI) exactly, as an anchored glob (`*` within a path segment, `**`
 * across), or as a regular expression Signet anchors; optionally Fulcio certificate extensions
 * (by name, e.g. githubWorkflowRepository, or by OID) that must be equal.
 */
const cosignIdentity = z
  .object({
    issuer: z.string().min(1),
    subject: z.string().min(1).optional(),
    subjectGlob: z.string().min(1).optional(),
    subjectRegExp: z
      .string()
      .min(1)
      .refine(
        (r) => {
          try {
            new RegExp(r, 'u');
            return true;
          } catch {
            return false;
          }
        },
        { error: 'not a valid regular expression' },
      )
      .optional(),
    extensions: z.record(z.string().min(1), z.string()).default({}),
  })
  .strict()
  .refine((i) => [i.subject, i.subjectGlob, i.subjectRegExp].filter((v) => v !== undefined).length === 1, {
    error: 'set exactly one of subject, subjectGlob or subjectRegExp',
  });

/** Sigstore cosign: pinned keys and/or keyless identities under a pinned trusted root. */
const cosignRequirements = z
  .object({
    /** PEM public keys (ECDSA P-256/P-384, Ed25519, RSA) whose signatures count. */
    keys: z.array(z.string().min(1)).default([]),
    /** Certificate identities whose keyless signatures count (needs trustedRoot). */
    identities: z.array(cosignIdentity).default([]),
    /** trusted_root.json: Fulcio CAs, Rekor and CT log keys, timestamp authorities. */
    trustedRoot: z.string().min(1).optional(),
    /** Require a transparency-log entry (off only for key-based signatures made with --tlog-upload=false). */
    tlog: z.boolean().default(true),
    /** Distinct keys or identities that must have signed the digest. */
    threshold: z.number().int().positive().default(1),
    /** Where the signatures are stored, if not with the image (cosign's COSIGN_REPOSITORY), at the same upstream. */
    repository: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.keys.length === 0 && r.identities.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'name at least one of keys or identities: who must have signed' });
    }
    if (r.identities.length > 0 && r.trustedRoot === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['trustedRoot'],
        message: 'keyless identities need a trustedRoot (trusted_root.json with the Fulcio CAs and log keys)',
      });
    }
    if (r.tlog && r.trustedRoot === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['trustedRoot'],
        message:
          'a transparency-log entry is required (tlog: true) and needs the log keys of a trustedRoot; set trustedRoot, or tlog: false for key-based signatures made without one',
      });
    }
    if (!r.tlog && r.identities.length > 0) {
      ctx.addIssue({
        code: 'custom',
        path: ['tlog'],
        message: 'tlog: false applies to key-based signatures only: keyless signatures need the log (or a timestamp) for their signing time',
      });
    }
    if (r.threshold > r.keys.length + r.identities.length) {
      ctx.addIssue({
        code: 'custom',
        path: ['threshold'],
        message: `threshold ${r.threshold} is more than the ${r.keys.length + r.identities.length} keys and identities listed`,
      });
    }
  });

/** Files of one Notation trust store each name lists (PEM or DER certificates). */
const notationStores = z.record(
  z.string().regex(/^[a-zA-Z0-9_.-]+$/, 'trust store names are letters, digits, _, . and - (as notation allows)'),
  z.array(z.string().min(1)).min(1),
);

/**
 * Notation (Notary Project): a trust policy and trust stores exactly as the `notation` CLI reads
 * them (trust-store-trust-policy.md), from their files or given inline here.
 */
const notationRequirements = z
  .object({
    /**
     * The trust policy: a `trustpolicy.oci.json` / `trustpolicy.json` file, or the same document
     * inline (`{version: "1.0", trustPolicies: [...]}`).
     */
    trustPolicy: z.union([z.string().min(1), z.record(z.string(), z.unknown())], {
      error: 'expected the path of a trustpolicy.oci.json file, or the trust policy document inline',
    }),
    /**
     * The trust store directory holding `x509/{ca,signingAuthority,tsa}/<name>/` (notation's
     * `truststore`). Default: the `truststore` directory beside a trust policy file, where
     * notation keeps it.
     */
    trustStore: z.string().min(1).optional(),
    /** Instead of a directory: the PEM certificate files of each trust store, by type and name. */
    trustStores: z
      .object({ ca: notationStores.default({}), signingAuthority: notationStores.default({}), tsa: notationStores.default({}) })
      .strict()
      .optional(),
    /** Distinct signing identities (leaf certificate subjects) that must have signed the digest. */
    threshold: z.number().int().positive().default(1),
    /** Where the signatures are stored, if not with the image, at the same upstream. */
    repository: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.trustStore !== undefined && r.trustStores !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['trustStores'], message: 'set trustStore (a directory) or trustStores (files inline), not both' });
    }
    if (r.trustStore === undefined && r.trustStores === undefined && typeof r.trustPolicy !== 'string') {
      ctx.addIssue({
        code: 'custom',
        path: ['trustStore'],
        message: 'an inline trust policy needs trustStore (a truststore directory) or trustStores (the certificate files of each store)',
      });
    }
  });

/** The trust formats a rule can require, keyed by `require.<format>`. */
export const TRUST_FORMATS = ['notary', 'cosign', 'notation'] as const;
export type TrustFormat = (typeof TRUST_FORMATS)[number];

const formatRequirements = z
  .object({ notary: notaryRequirements.optional(), cosign: cosignRequirements.optional(), notation: notationRequirements.optional() })
  .strict();

/**
 * `require: {notary: ...}` (every format listed must admit the image), or
 * `require: {anyOf: [{notary: ...}, {cosign: ...}]}` (one alternative is enough: how a site moves
 * from one format to another without a flag day), or `require: {allOf: [...]}`.
 */
const requirements = z
  .object({
    ...formatRequirements.shape,
    anyOf: z.array(formatRequirements).min(1).optional(),
    allOf: z.array(formatRequirements).min(1).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    const formats = TRUST_FORMATS.filter((f) => r[f] !== undefined);
    const forms = [formats.length > 0, r.anyOf !== undefined, r.allOf !== undefined].filter(Boolean).length;
    if (forms > 1) ctx.addIssue({ code: 'custom', message: 'use one form: format keys (all required), anyOf: [...] or allOf: [...]' });
    for (const key of ['anyOf', 'allOf'] as const) {
      r[key]?.forEach((alt, i) => {
        const n = TRUST_FORMATS.filter((f) => alt[f] !== undefined).length;
        if (n !== 1) ctx.addIssue({ code: 'custom', path: [key, i], message: `each entry names exactly one format (${TRUST_FORMATS.join(', ')})` });
      });
    }
  });

const rule = z
  .object({
    /** `<registry>/<repository>` glob: `*` within a path component, `**` across components. */
    match: z.string().min(1),
    mode: z.enum(POLICY_MODES).default('enforce'),
    trust: trustServers.optional(),
    require: requirements.optional(),
  })
  .strict();

/**
 * S3-compatible object storage for blobs and manifests, shared by replicas (distribution's
 * `storage.s3`, Harbor, Zot): verified content under its digest, nothing visible before the
 * digest matched. `storage.path` still holds what is local (blobs being downloaded).
 */
const s3Storage = z
  .object({
    endpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL of the S3 endpoint' }).optional(),
    region: z.string().min(1).default('us-east-1'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'S3 bucket names are 3-63 lowercase letters, digits, dots and hyphens'),
    /** Key prefix of everything Signet writes ("signet/"), so a bucket can be shared. */
    prefix: z
      .string()
      .regex(/^(?:[A-Za-z0-9!_.*'()-]+\/)*$/, 'a key prefix ends with "/" and holds no spaces')
      .default(''),
    /** Path-style addressing (`endpoint/bucket/key`), which most self-hosted gateways need. */
    forcePathStyle: z.boolean().default(false),
    accessKeyId: z.string().min(1).optional(),
    accessKeyIdFile: z.string().min(1).optional(),
    accessKeyIdEnv: z.string().min(1).optional(),
    secretAccessKey: z.string().min(1).optional(),
    secretAccessKeyFile: z.string().min(1).optional(),
    secretAccessKeyEnv: z.string().min(1).optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    for (const name of ['accessKeyId', 'secretAccessKey'] as const) {
      const given = [s[name], s[`${name}File`], s[`${name}Env`]].filter((v) => v !== undefined).length;
      if (given > 1) ctx.addIssue({ code: 'custom', path: [name], message: `set one of ${name}, ${name}File or ${name}Env` });
    }
    const ids = [s.accessKeyId, s.accessKeyIdFile, s.accessKeyIdEnv].some((v) => v !== undefined);
    const secrets = [s.secretAccessKey, s.secretAccessKeyFile, s.secretAccessKeyEnv].some((v) => v !== undefined);
    if (ids !== secrets) {
      ctx.addIssue({
        code: 'custom',
        path: [ids ? 'secretAccessKey' : 'accessKeyId'],
        message: 'give both the access key ID and the secret access key, or neither (the SDK then reads its usual environment)',
      });
    }
  });

/** Redis for state shared by replicas: tags, provenance, verdicts, trust state and rollback floors, locks. */
const redisState = z
  .object({
    url: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    passwordFile: z.string().min(1).optional(),
    passwordEnv: z.string().min(1).optional(),
    /** PEM CA bundle for rediss:// servers with a private CA. */
    caFile: z.string().min(1).optional(),
    /** Prefix of every key Signet writes, so a Redis can be shared. */
    keyPrefix: z.string().min(1).default('signet:'),
    connectTimeoutMs: positiveMs.default(DEFAULTS.redisConnectTimeoutMs),
    /** A replica's download lock of a blob lives this long without a refresh: how long others wait out a replica that died mid-download. */
    downloadLockTtlMs: z.number().int().min(1000).default(DEFAULTS.blobLockTtlMs),
  })
  .strict()
  .superRefine((r, ctx) => {
    if ([r.password, r.passwordFile, r.passwordEnv].filter((v) => v !== undefined).length > 1) {
      ctx.addIssue({ code: 'custom', path: ['password'], message: 'set one of password, passwordFile or passwordEnv' });
    }
    if (r.caFile !== undefined && !r.url.startsWith('rediss:'))
      ctx.addIssue({ code: 'custom', path: ['caFile'], message: 'caFile applies to rediss:// (TLS) URLs only' });
  });

const REVOCATION_DEFAULTS = { allowedHosts: [], timeoutMs: DEFAULTS.revocationTimeoutMs, maxResponseBytes: DEFAULTS.revocationResponseMaxBytes };

const CLIENT_TIMEOUTS = {
  headersMs: DEFAULTS.clientHeadersTimeoutMs,
  requestMs: DEFAULTS.clientRequestTimeoutMs,
  keepAliveMs: DEFAULTS.clientKeepAliveTimeoutMs,
  sendMs: DEFAULTS.clientSendTimeoutMs,
};

/** Host names and addresses that only this machine reaches. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h);
}

export const configSchema = z
  .object({
    listen: z
      .object({
        host: z.string().min(1).default(DEFAULTS.listenHost),
        port: port.default(DEFAULTS.listenPort),
        tls: z
          .object({
            certFile: z.string().min(1),
            keyFile: z.string().min(1),
            /** PEM CA bundle for client certificates (mTLS); clients without one are asked for other credentials unless required. */
            clientCaFile: z.string().min(1).optional(),
            clientCertificates: z.enum(['optional', 'required']).default('optional'),
          })
          .strict()
          .optional(),
        maxConnections: z.number().int().positive().default(DEFAULTS.maxConnections),
        timeouts: z
          .object({
            headersMs: positiveMs.default(DEFAULTS.clientHeadersTimeoutMs),
            requestMs: positiveMs.default(DEFAULTS.clientRequestTimeoutMs),
            keepAliveMs: positiveMs.default(DEFAULTS.clientKeepAliveTimeoutMs),
            sendMs: positiveMs.default(DEFAULTS.clientSendTimeoutMs),
          })
          .strict()
          .default(CLIENT_TIMEOUTS),
      })
      .strict()
      .default({ host: DEFAULTS.listenHost, port: DEFAULTS.listenPort, maxConnections: DEFAULTS.maxConnections, timeouts: CLIENT_TIMEOUTS }),
    /** Client authentication and per-repository pull permissions. Absent: anonymous pulls, loopback listeners only. */
    auth: auth.optional(),
    /** `/metrics` (and other admin endpoints): their own listener, and who may use them. */
    admin: z
      .object({
        listen: z
          .object({ host: z.string().min(1).default('127.0.0.1'), port: port })
          .strict()
          .optional(),
        /** Principals allowed on the admin endpoints (on the main listener, or the admin listener). */
        allow: z.array(principal).default([]),
      })
      .strict()
      .optional(),
    /** The console's API (/api/v1/): off unless enabled; an admin endpoint. */
    console: z
      .object({
        enabled: z.boolean().default(false),
        decisionsKept: z.number().int().positive().max(1_000_000).default(DEFAULTS.consoleDecisionsKept),
      })
      .strict()
      .default({ enabled: false, decisionsKept: DEFAULTS.consoleDecisionsKept }),
    limits: z
      .object({
        clientRequestsPerSecond: z.number().nonnegative().default(DEFAULTS.clientRequestsPerSecond),
        clientBurst: z.number().int().positive().default(DEFAULTS.clientBurst),
      })
      .strict()
      .default({ clientRequestsPerSecond: DEFAULTS.clientRequestsPerSecond, clientBurst: DEFAULTS.clientBurst }),
    storage: z
      .object({
        path: z.string().min(1).default(DEFAULTS.storagePath),
        maxBytes: size.default(DEFAULTS.storageMaxBytes),
        /** Content in S3-compatible object storage instead of under `path` (needs `state.redis`). */
        s3: s3Storage.optional(),
      })
      .strict()
      .default({ path: DEFAULTS.storagePath, maxBytes: DEFAULTS.storageMaxBytes }),
    /** State shared by replicas; absent: files under `storage.path`. */
    state: z.object({ redis: redisState.optional() }).strict().default({}),
    cache: z
      .object({
        manifestMemoryBytes: size.default(DEFAULTS.manifestMemoryBytes),
        tagCheckSeconds: z.number().nonnegative().default(DEFAULTS.tagCheckSeconds),
      })
      .strict()
      .default({ manifestMemoryBytes: DEFAULTS.manifestMemoryBytes, tagCheckSeconds: DEFAULTS.tagCheckSeconds }),
    defaultUpstream: z.string().optional(),
    upstreams: z.record(z.string().regex(UPSTREAM_NAME, 'upstream names are registry host names such as docker.io'), upstream),
    policy: z
      .object({
        default: z.enum(POLICY_MODES).default('enforce'),
        rules: z.array(rule).default([]),
        /** Audit log destination: a file path, or "-" for stdout. */
        auditLog: z.string().min(1).default('-'),
        /** A file audit log is rotated at this size (`<file>.1` ... `<file>.<auditLogFiles>`). */
        auditLogMaxBytes: size.default(DEFAULTS.auditLogMaxBytes),
        auditLogFiles: z.number().int().min(1).max(100).default(DEFAULTS.auditLogFiles),
        /** Repeated identical denials of one client within this many seconds are summarised (0: every one logged). */
        auditRepeatSeconds: z.number().nonnegative().default(DEFAULTS.auditRepeatSeconds),
      })
      .strict()
      .default({
        default: 'enforce',
        rules: [],
        auditLog: '-',
        auditLogMaxBytes: DEFAULTS.auditLogMaxBytes,
        auditLogFiles: DEFAULTS.auditLogFiles,
        auditRepeatSeconds: DEFAULTS.auditRepeatSeconds,
      }),
    trust: z
      .object({
        /** Seconds a verified trust state is used before the timestamp is fetched again. */
        freshnessSeconds: z.number().nonnegative().default(DEFAULTS.trustFreshnessSeconds),
        /** Seconds a denial is remembered ("no trust data"; other denials at most freshnessSeconds). */
        missingCacheSeconds: z.number().nonnegative().default(DEFAULTS.trustMissingCacheSeconds),
        /**
         * Certificate revocation checks (Notation: OCSP, then CRL). Endpoints come from the
         * certificates being checked, so only hosts listed here are ever contacted; any other
         * endpoint gives the status "unknown", handled as the trust policy's level says.
         */
        revocation: z
          .object({
            /** `host`, `host:port` or `*.domain` of OCSP responders and CRL distribution points. */
            allowedHosts: z.array(z.string().regex(ALLOWED_HOST, 'expected host, host:port or *.domain')).default([]),
            timeoutMs: positiveMs.default(DEFAULTS.revocationTimeoutMs),
            maxResponseBytes: size.default(DEFAULTS.revocationResponseMaxBytes),
          })
          .strict()
          .default(REVOCATION_DEFAULTS),
      })
      .strict()
      .default({ freshnessSeconds: DEFAULTS.trustFreshnessSeconds, missingCacheSeconds: DEFAULTS.trustMissingCacheSeconds, revocation: REVOCATION_DEFAULTS }),
    bundles: z
      .object({
        /** PEM Ed25519 public keys (`signet bundle keygen`) a bundle must be signed by to be imported. */
        keys: z.array(z.string().min(1)).default([]),
        /** Where imported content lives; default `<storage.path>/imports`. */
        path: z.string().min(1).optional(),
      })
      .strict()
      .default({ keys: [] }),
    log: z
      .object({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .strict()
      .default({ level: 'info' }),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    if (cfg.auth === undefined && !isLoopbackHost(cfg.listen.host)) {
      ctx.addIssue({
        code: 'custom',
        path: ['auth'],
        message: `listen.host ${cfg.listen.host} accepts clients from the network, and without an auth section every one of them would pull anonymously with Signet's upstream credentials: configure auth (htpasswd, token) with access rules, or grant anonymous pull explicitly with auth: {access: [{match: "**", pull: [anonymous]}]}`,
      });
    }
    if (cfg.auth) {
      const groups = cfg.auth.groups;
      const check = (list: readonly string[], path: Array<string | number>): void =>
        list.forEach((p, i) => {
          if (p.startsWith('group:') && !(p.slice(6) in groups)) {
            ctx.addIssue({ code: 'custom', path: [...path, i], message: `group ${p.slice(6)} is not defined in auth.groups` });
          }
        });
      cfg.auth.access.forEach((r, i) => check(r.pull, ['auth', 'access', i, 'pull']));
      if (cfg.admin) check(cfg.admin.allow, ['admin', 'allow']);
      if (cfg.auth.clientCertificates && !cfg.listen.tls?.clientCaFile) {
        ctx.addIssue({
          code: 'custom',
          path: ['auth', 'clientCertificates'],
          message: 'client certificates need listen.tls.clientCaFile (the CA bundle they must chain to)',
        });
      }
    }
    if (cfg.listen.tls?.clientCertificates === 'required' && !cfg.listen.tls.clientCaFile) {
      ctx.addIssue({ code: 'custom', path: ['listen', 'tls', 'clientCertificates'], message: 'required client certificates need listen.tls.clientCaFile' });
    }
    if (cfg.admin?.listen && cfg.admin.listen.port === cfg.listen.port && cfg.admin.listen.port !== 0 && cfg.admin.listen.host === cfg.listen.host) {
      ctx.addIssue({ code: 'custom', path: ['admin', 'listen', 'port'], message: 'the admin listener needs a port of its own' });
    }
    if (cfg.state.redis) {
      for (const [name, u] of Object.entries(cfg.upstreams)) {
        if (!u.offline) continue;
        ctx.addIssue({
          code: 'custom',
          path: ['upstreams', name, 'offline'],
          message:
            'imported bundles and their trust state are kept on the machine that imported them, not in state.redis: run an air-gapped site without state.redis (one Signet per machine)',
        });
      }
    }
    if (cfg.storage.s3 && !cfg.state.redis) {
      ctx.addIssue({
        code: 'custom',
        path: ['storage', 's3'],
        message: 'content in S3 is shared by replicas, whose state must be shared too: configure state.redis',
      });
    }
    if (cfg.defaultUpstream !== undefined && !(cfg.defaultUpstream in cfg.upstreams)) {
      ctx.addIssue({
        code: 'custom',
        path: ['defaultUpstream'],
        message: `"${cfg.defaultUpstream}" is not one of upstreams (${Object.keys(cfg.upstreams).join(', ') || 'none configured'})`,
      });
    }
  });

export type RawConfig = z.input<typeof configSchema>;
export type ParsedConfig = z.output<typeof configSchema>;
