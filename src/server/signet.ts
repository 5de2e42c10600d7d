import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
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
import { UpstreamClient } from '../registry/upstream-client.js';
import { Metrics } from './metrics.js';
import { accessLogMiddleware, errorMiddleware } from './middleware.js';
import { rawErrorResponse } from './oci-errors.js';
import { registryRoutes } from './registry-routes.js';
import { diskStorage, type Storage } from './storage.js';
import { createTrustSources } from './trust-sources.js';

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
  readonly #options: SignetOptions;
  readonly #logger: Logger;
  readonly #storage: Storage;
  readonly #upstreams = new Map<string, UpstreamClient>();
  readonly #audit: AuditLog;
  readonly #notary: NotaryTrustSource;
  #server: Server | undefined;
  #ready = false;
  readonly #active = new Set<Context>();

  constructor(options: SignetOptions) {
    this.#options = options;
    const { config, logger } = options;
    this.#logger = logger;
    const clock = options.clock ?? Date.now;
    this.#storage = options.storage ?? diskStorage(config, logger, (namespace) => this.metrics.evictions.inc({ namespace }));
    for (const upstream of config.upstreams.values()) {
      this.#upstreams.set(upstream.name, new UpstreamClient(upstream, { logger, observer: this.metrics, clock }));
    }
    const router = new Router({
      upstreams: this.#upstreams,
      defaultUpstream: config.defaultUpstream,
      officialNamespaces: new Map([...config.upstreams.values()].map((u) => [u.name, u.officialNamespace])),
    });
    this.#audit = options.audit ?? new JsonAuditLog(config.policy.auditLog);
    const trust = createTrustSources({
      config,
      upstreams: this.#upstreams,
      trustState: this.#storage.trustState,
      logger,
      freshnessSeconds: config.trust.freshnessSeconds,
      missingCacheSeconds: config.trust.missingCacheSeconds,
      clock,
      observer: this.metrics,
    });
    this.#notary = trust.notary;
    const { cosign } = trust;
    // Trust material is built now: a key or trusted root that cannot be used stops the start.
    for (const rule of config.policy.rules) for (const entry of rule.require.entries) if (entry.format === 'cosign') cosign.prepare(entry.requirement);
    this.policy = new Policy({
      config,
      sources: { notary: this.#notary, cosign },
      provenance: this.#storage.provenance,
      audit: this.#audit,
      observer: this.metrics,
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
    const blobs = new BlobService({ store: this.#storage.blobs, policy: this.policy, metrics: this.metrics, logger });
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

    const app = new Koa({ proxy: false });
    // Errors are answered by errorMiddleware; Koa's default handler would print them again.
    app.silent = true;
    app.on('error', (err: unknown) => this.#logger.debug({ err: errorMessage(err) }, 'response stream error'));
    app.use(this.#track());
    app.use(accessLogMiddleware(logger, this.metrics));
    app.use(errorMiddleware(logger));
    app.use(this.#operations());
    app.use(registryRoutes({ router, manifests, blobs, referrers, tagList }));
    this.app = app;
  }

  /** Prepares storage, then listens. Resolves with the bound address. */
  async start(): Promise<AddressInfo> {
    const { config } = this.#options;
    await this.#storage.init();
    const callback = this.app.callback();
    // Koa's callback answers the request itself; node:http ignores the returned promise.
    const handler = (req: IncomingMessage, res: ServerResponse): void => void callback(req, res);
    const server = config.listen.tls
      ? createHttpsServer(
          { cert: readFileSync(config.listen.tls.certFile), key: readFileSync(config.listen.tls.keyFile), maxHeaderSize: DEFAULTS.maxHeaderBytes },
          handler,
        )
      : createHttpServer({ maxHeaderSize: DEFAULTS.maxHeaderBytes }, handler);
    // Requests Node rejects before Koa sees them still get an OCI JSON answer.
    server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
      if (!socket.writable) return socket.destroy();
      if (err.code === 'HPE_HEADER_OVERFLOW') {
        socket.end(rawErrorResponse(431, 'Request Header Fields Too Large', 'UNSUPPORTED', `request headers exceed ${DEFAULTS.maxHeaderBytes} bytes`));
      } else {
        socket.end(rawErrorResponse(400, 'Bad Request', 'UNSUPPORTED', 'malformed HTTP request'));
      }
    });
    this.#server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) =>
        reject(new SignetError('INTERNAL', `cannot listen on ${config.listen.host}:${config.listen.port}: ${errorMessage(err)}`, { cause: err })),
      );
      server.listen(config.listen.port, config.listen.host, () => resolve());
    });
    this.#ready = true;
    const address = server.address() as AddressInfo;
    this.#logger.info(
      { host: address.address, port: address.port, tls: Boolean(config.listen.tls), upstreams: [...this.#upstreams.keys()] },
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
    await Promise.all([...this.#upstreams.values()].map((u) => u.close()));
    await this.#notary.close();
    await this.#storage.close();
    await this.#audit.flush();
    this.#logger.info('signet stopped');
  }

  #track() {
    return async (ctx: Context, next: Next): Promise<void> => {
      this.#active.add(ctx);
      ctx.res.once('close', () => this.#active.delete(ctx));
      await next();
    };
  }

  #operations() {
    return async (ctx: Context, next: Next): Promise<void> => {
      switch (ctx.path) {
        case '/healthz':
          ctx.body = { status: 'ok' };
          return;
        case '/readyz':
          ctx.status = this.#ready ? 200 : 503;
          ctx.body = { status: this.#ready ? 'ready' : 'not ready' };
          return;
        case '/metrics':
          ctx.set('Content-Type', this.metrics.registry.contentType);
          ctx.body = await this.metrics.registry.metrics();
          return;
        default:
          await next();
      }
    };
  }
}
