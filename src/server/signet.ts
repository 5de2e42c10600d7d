import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { TLSSocket } from 'node:tls';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import Koa from 'koa';
import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import type { Config } from '../config/load.js';
import { SignetError, errorMessage } from '../errors.js';
import { JsonAuditLog, type AuditLog } from '../policy/audit-log.js';
import { Policy } from '../policy/policy.js';
import { NotaryTrustSource } from '../trust/notary/notary-source.js';
import { BlobService } from '../proxy/blobs.js';
import { ManifestService } from '../proxy/manifests.js';
import { ReferrersService } from '../proxy/referrers.js';
import { Router } from '../proxy/router.js';
import { TagListService } from '../proxy/tag-list.js';
import { UpstreamClient, type Upstream } from '../registry/upstream-client.js';
import { DiskImportedStore } from '../bundle/imported-store.js';
import { offlineNames, siteUpstreams } from '../bundle/offline-site.js';
import { Metrics } from './metrics.js';
import { authMiddleware } from './auth/auth-middleware.js';
import { rateLimitMiddleware } from './rate-limit.js';
import { ClientAuth } from './auth/client-auth.js';
import { handshakeFailure } from './auth/client-certificate.js';
import { requireAdmin, pullGuard } from './auth/guards.js';
import { tokenEndpoint } from './auth/token-endpoint.js';
import { accessLogMiddleware, errorMiddleware } from './middleware.js';
import { applyConnectionLimits } from './connection-limits.js';
import { registryRoutes } from './registry-routes.js';
import { diskStorage, type Storage } from './storage.js';
import { consoleApi } from './console/api.js';
import { consolePages } from './console/pages.js';
import { RecentDecisions } from './console/recent-decisions.js';
import { ruleFormats } from './console/rule-formats.js';
import { MetricsSampler } from './console/samples.js';
import { MemoryDecisionLog } from '../cache/memory/decision-log.js';
import { createTrustSources, prepareTrustMaterial, trustHealthReporter } from '../proxy/trust-sources.js';

export interface SignetOptions {
  config: Config;
  logger: Logger;
  /** Injected for tests: defaults to `policy.auditLog` of the config. */
  audit?: AuditLog;
  /** Injected for tests: defaults to the disk backends under `storage.path`. */
  storage?: Storage;
  clock?: () => number;
}

/**
 * The composition root: builds the stores, upstream clients, trust sources, the policy, the
 * proxy services and the Koa app from a validated config, and owns the HTTP server's life
 * cycle (graceful shutdown included).
 */
export class Signet {
  readonly metrics = new Metrics();
  readonly policy: Policy;
  readonly app: Koa;
  /** The admin endpoints' own app (`admin.listen`), served by a second, plain HTTP listener. */
  readonly adminApp: Koa | undefined;
  readonly #options: SignetOptions;
  readonly #logger: Logger;
  readonly #storage: Storage;
  readonly #upstreams: Map<string, Upstream>;
  /** Content imported from bundles, for the offline upstreams (created even when none is offline: it is only read). */
  readonly #imported: DiskImportedStore;
  readonly #audit: AuditLog;
  /**
   * With `console.enabled`: the recent decisions (the audit log, and a bounded copy for /api/v1)
   * and the cache and upstream counters over time.
   */
  readonly #console: { decisions: RecentDecisions; samples: MetricsSampler } | undefined;
  readonly #notary: NotaryTrustSource;
  readonly #auth: ClientAuth;
  #server: Server | undefined;
  #adminServer: Server | undefined;
  #ready = false;
  readonly #active = new Set<Context>();

  constructor(options: SignetOptions) {
    this.#options = options;
    const { config, logger } = options;
    this.#logger = logger;
    const clock = options.clock ?? Date.now;
    this.#storage = options.storage ?? diskStorage(config, logger, (namespace) => this.metrics.evictions.inc({ namespace }));
    this.#imported = new DiskImportedStore({ root: config.bundles.path, logger, clock });
    // Offline upstreams are answered from imported bundles and never contacted.
    const site = siteUpstreams(config, this.#imported, (upstream) => new UpstreamClient(upstream, { logger, observer: this.metrics, clock }), logger);
    this.#upstreams = site.upstreams;
    const router = new Router({
      upstreams: this.#upstreams,
      defaultUpstream: config.defaultUpstream,
      officialNamespaces: new Map([...config.upstreams.values()].map((u) => [u.name, u.officialNamespace])),
    });
    const audit =
      options.audit ??
      new JsonAuditLog(config.policy.auditLog, {
        maxBytes: config.policy.auditLogMaxBytes,
        files: config.policy.auditLogFiles,
        repeatSeconds: config.policy.auditRepeatSeconds,
        clock,
      });
    this.#console = config.console.enabled
      ? {
          decisions: new RecentDecisions({
            audit,
            store: this.#storage.decisions ?? new MemoryDecisionLog(config.console.decisionsKept),
            keep: config.console.decisionsKept,
            formatsOfRule: (rule) => ruleFormats(config, rule),
            logger,
            clock,
          }),
          samples: new MetricsSampler({ metrics: this.metrics, intervalMs: DEFAULTS.consoleSampleMs, keep: DEFAULTS.consoleSamplesKept, clock }),
        }
      : undefined;
    this.#audit = this.#console?.decisions ?? audit;
    const trust = createTrustSources({
      config,
      upstreams: this.#upstreams,
      trustState: this.#storage.trustState,
      logger,
      freshnessSeconds: config.trust.freshnessSeconds,
      missingCacheSeconds: config.trust.missingCacheSeconds,
      clock,
      observer: this.metrics,
      offlineNotary: site.notary,
      ...(this.#storage.verdicts ? { verdicts: this.#storage.verdicts } : {}),
    });
    this.#notary = trust.notary;
    const { cosign, notation } = trust;
    // Trust material is built now: a key, trusted root, trust policy or trust store that cannot be used stops the start.
    prepareTrustMaterial(config, trust);
    this.policy = new Policy({
      config,
      sources: { notary: this.#notary, cosign, notation },
      provenance: this.#storage.provenance,
      audit: this.#audit,
      observer: this.metrics,
      clock,
    });
    const manifests = new ManifestService({
      manifests: this.#storage.manifests,
      tags: this.#storage.tags,
      policy: this.policy,
      metrics: this.metrics,
      logger,
      tagCheckSeconds: config.cache.tagCheckSeconds,
      clock,
    });
    const blobs = new BlobService({
      store: this.#storage.blobs,
      buffers: this.#storage.buffers,
      policy: this.policy,
      metrics: this.metrics,
      logger,
      ...(this.#storage.fillLocks ? { fillLocks: this.#storage.fillLocks } : {}),
    });
    const referrers = new ReferrersService({
      policy: this.policy,
      fetcherFor: (target) => {
        // The router hands out configured upstreams only, and each has a fetcher.
        const fetcher = trust.fetcherFor(target.upstream.name);
        if (!fetcher) throw new SignetError('INTERNAL', `no signature fetcher for upstream ${target.upstream.name}`);
        return fetcher;
      },
    });
    const tagList = new TagListService({ policy: this.policy });
    this.#auth = new ClientAuth({
      config,
      audit: this.#audit,
      observer: this.metrics,
      logger,
      clock,
      // Token scopes name repositories as request paths do (without containerd's ns).
      resolve: (name) => {
        try {
          const target = router.resolve(name, undefined);
          return { upstream: target.upstream.name, repository: target.repository };
        } catch {
          return undefined;
        }
      },
    });

    const app = this.#koa();
    app.use(this.#track());
    app.use(accessLogMiddleware(logger, this.metrics));
    app.use(errorMiddleware(logger));
    // Per-client request limits: by address in front of authentication (so a flood of failed
    // logins, each a bcrypt check, is limited too), then by user behind it (a user is one client
    // wherever it connects from).
    app.use(rateLimitMiddleware(config.limits, { observer: this.metrics, by: 'address' }));
    app.use(authMiddleware(this.#auth));
    app.use(rateLimitMiddleware(config.limits, { observer: this.metrics, by: 'user' }));
    // With an admin listener, /metrics (and the console's API) are served there only.
    app.use(this.#operations({ metrics: config.admin.listen === undefined }));
    const consoleOptions = this.#console && {
      ...this.#console,
      auth: this.#auth,
      maxLimit: DEFAULTS.consoleApiMaxLimit,
      trustHealth: trustHealthReporter(config, trust),
      clock,
    };
    const consoleRoutes = consoleOptions ? [consoleApi(consoleOptions), consolePages(consoleOptions)] : [];
    if (config.admin.listen === undefined) for (const route of consoleRoutes) app.use(route);
    app.use(tokenEndpoint({ auth: this.#auth }));
    app.use(registryRoutes({ router, manifests, blobs, referrers, tagList, buffers: this.#storage.buffers, authorize: pullGuard(this.#auth) }));
    this.app = app;

    if (config.admin.listen) {
      const admin = this.#koa();
      admin.use(accessLogMiddleware(logger, this.metrics));
      admin.use(errorMiddleware(logger));
      admin.use(authMiddleware(this.#auth));
      admin.use(this.#operations({ metrics: true }));
      for (const route of consoleRoutes) admin.use(route);
      admin.use((ctx: Context) => {
        throw new SignetError('UNSUPPORTED', `no such admin endpoint: ${ctx.path.slice(0, 80)}`, { status: 404 });
      });
      this.adminApp = admin;
    }
  }

  /** The admin listener's address (`admin.listen`), once started. */
  get adminAddress(): AddressInfo | undefined {
    return (this.#adminServer?.address() ?? undefined) as AddressInfo | undefined;
  }

  /** Prepares storage, then listens. Resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    const { config } = this.#options;
    await this.#storage.init();
    await this.#console?.decisions.init();
    await this.#console?.samples.start();
    if (offlineNames(config).size > 0) await this.#imported.init();
    await this.#auth.init();
    const handler = handlerOf(this.app);
    const tls = config.listen.tls;
    const server = tls
      ? createHttpsServer(
          {
            cert: readFileSync(tls.certFile),
            key: readFileSync(tls.keyFile),
            maxHeaderSize: DEFAULTS.maxHeaderBytes,
            // mTLS: ask for a client certificate verified against clientCaFile; only `required`
            // refuses the handshake without one (else the request may still authenticate otherwise).
            ...(tls.clientCa === undefined ? {} : { requestCert: true, ca: tls.clientCa, rejectUnauthorized: tls.clientCertificates === 'required' }),
          },
          handler,
        )
      : createHttpServer({ maxHeaderSize: DEFAULTS.maxHeaderBytes }, handler);
    if (tls?.clientCa !== undefined) {
      // A certificate refused in the handshake (`required`) never reaches Koa: audit it here.
      server.on('tlsClientError', (err: Error, socket: TLSSocket) => {
        const failure = handshakeFailure(err, socket.authorizationError);
        if (failure)
          this.#auth.access.authenticationFailed({ reason: failure.reason, message: failure.message, credential: 'certificate' }, socket.remoteAddress);
      });
    }
    // Connection cap, client timeouts (408), send timeout, and OCI JSON answers for what Node
    // rejects before Koa sees it.
    applyConnectionLimits(server, config.listen);
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new SignetError('INTERNAL', `cannot listen on ${config.listen.host}:${config.listen.port}: ${errorMessage(err)}`, { cause: err })),
      );
      server.listen(config.listen.port, config.listen.host, () => resolve());
    });
    if (this.adminApp && config.admin.listen) {
      const admin = createHttpServer({ maxHeaderSize: DEFAULTS.maxHeaderBytes }, handlerOf(this.adminApp));
      applyConnectionLimits(admin, config.listen);
      try {
        this.#adminServer = await listen(admin, config.admin.listen, 'admin listener');
      } catch (err) {
        server.close();
        throw err;
      }
    }
    this.#ready = true;
    const address = server.address() as AddressInfo;
    this.#logger.info(
      {
        host: address.address,
        port: address.port,
        tls: Boolean(config.listen.tls),
        upstreams: [...this.#upstreams.keys()],
        auth: config.auth.enabled,
        ...(this.adminAddress ? { admin: `${this.adminAddress.address}:${this.adminAddress.port}` } : {}),
      },
      'signet listening',
    );
    return address;
  }

  /**
   * Graceful shutdown: stop accepting, let in-flight requests (blob streams included) finish
   * within the grace period, then close what is left.
   */
  async stop(graceMs: number = DEFAULTS.shutdownGraceMs): Promise<void> {
    this.#ready = false;
    this.#console?.samples.stop();
    const server = this.#server;
    if (server) {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const deadline = Date.now() + graceMs;
      while (this.#active.size > 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 50));
        server.closeIdleConnections();
      }
      server.closeAllConnections();
      await closed;
    }
    const admin = this.#adminServer;
    if (admin) {
      const closed = new Promise<void>((resolve) => admin.close(() => resolve()));
      admin.closeAllConnections();
      await closed;
    }
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
    await this.#notary.close();
    // The recent decisions are saved to the state backend: before it closes.
    await this.#audit.flush();
    await this.#storage.close();
    this.#logger.info('signet stopped');
  }

  #track() {
    return async (ctx: Context, next: Next): Promise<void> => {
      this.#active.add(ctx);
      ctx.res.once('close', () => this.#active.delete(ctx));
      await next();
    };
  }

  /** A Koa app whose errors errorMiddleware answers (Koa's default handler would print them again). */
  #koa(): Koa {
    const app = new Koa({ proxy: false });
    app.silent = true;
    app.on('error', (err: unknown) => this.#logger.debug({ err: errorMessage(err) }, 'response stream error'));
    return app;
  }

  /** Probes (open to all, revealing nothing but ok / ready) and, where `metrics`, the admin endpoint /metrics. */
  #operations(serve: { metrics: boolean }) {
    return async (ctx: Context, next: Next): Promise<void> => {
      switch (ctx.path) {
        case '/healthz':
          ctx.body = { status: 'ok' };
          return;
        case '/readyz': {
          // Shared backends (Redis, S3) are asked each time: a replica that cannot reach them is taken out of the balancer.
          const backends = (await this.#storage.health?.()) ?? [];
          const ready = this.#ready && backends.every((b) => b.ok);
          ctx.status = ready ? 200 : 503;
          ctx.body = { status: ready ? 'ready' : 'not ready', ...(backends.length > 0 ? { backends } : {}) };
          return;
        }
        case '/metrics':
          if (!serve.metrics) {
            await next();
            return;
          }
          requireAdmin(ctx, this.#auth);
          ctx.set('Content-Type', this.metrics.registry.contentType);
          ctx.body = await this.metrics.registry.metrics();
          return;
        default:
          await next();
      }
    };
  }
}

/** Koa's callback answers the request itself; node:http ignores the returned promise. */
function handlerOf(app: Koa): (req: IncomingMessage, res: ServerResponse) => void {
  const callback = app.callback();
  return (req, res) => void callback(req, res);
}

async function listen(server: Server, where: { host: string; port: number }, what: string): Promise<Server> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(new SignetError('INTERNAL', `cannot listen on ${where.host}:${where.port} (${what}): ${errorMessage(err)}`, { cause: err })),
    );
    server.listen(where.port, where.host, () => resolve());
  });
  return server;
}
