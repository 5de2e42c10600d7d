import type { Context, Next } from 'koa';
import type { Logger } from 'pino';
import { DEFAULTS } from '../config/defaults.js';
import { SignetError } from '../errors.js';
import type { Metrics } from './metrics.js';
import { toOciError } from './oci-errors.js';

export interface RequestState {
  route: string;
  /** The authenticated user, when the client proved one (Basic, Bearer token, client certificate). */
  user?: string;
  upstream?: string;
  repository?: string;
  cache?: 'hit' | 'miss';
}

/**
 * The outermost middleware: every error becomes an OCI JSON body (Koa's own handler would write
 * text/plain). Errors after the headers went out (a stream failing, a digest mismatch found at
 * the end of a blob) cut the connection, so the client cannot take a short or wrong body for a
 * complete one.
 */
export function errorMiddleware(logger: Logger) {
  return async (ctx: Context, next: Next): Promise<void> => {
    try {
      await next();
    } catch (err) {
      const mapped = toOciError(err);
      if (mapped.status >= 500 && !(err instanceof SignetError && String(err.code).startsWith('UPSTREAM'))) {
        logger.error({ err, path: ctx.path }, 'request failed');
      }
      if (ctx.headerSent || !ctx.writable) {
        ctx.req.socket.destroy();
        return;
      }
      ctx.status = mapped.status;
      ctx.set('Content-Type', 'application/json');
      if (err instanceof SignetError && err.code === 'TOOMANYREQUESTS') {
        const after = (err.detail as { retryAfterSeconds?: number } | undefined)?.retryAfterSeconds;
        if (after !== undefined) ctx.set('Retry-After', String(after));
      }
      if (err instanceof SignetError && err.code === 'STORAGE_ERROR') ctx.set('Retry-After', String(DEFAULTS.storageRetryAfterSeconds));
      if (err instanceof SignetError && err.code === 'RANGE_INVALID') {
        const size = (err.detail as { size?: number } | undefined)?.size;
        if (size !== undefined) ctx.set('Content-Range', `bytes */${size}`);
      }
      // For HEAD, Koa sends the headers of this body but not the body itself (RFC 9110).
      ctx.body = mapped.body;
    }
  };
}

/** One JSON log line and one metrics sample per request, after the response ended. */
export function accessLogMiddleware(logger: Logger, metrics: Metrics) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const started = process.hrtime.bigint();
    const socket = ctx.req.socket;
    const bytesBefore = socket.bytesWritten;
    (ctx.state as RequestState).route = 'other';
    const done = (): void => {
      const state = ctx.state as RequestState;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      const aborted = !ctx.res.writableFinished;
      metrics.httpRequests.inc({ method: ctx.method, route: state.route, status: String(ctx.status) });
      logger.info(
        {
          method: ctx.method,
          path: ctx.path,
          upstream: state.upstream,
          repository: state.repository,
          status: ctx.status,
          bytes: socket.bytesWritten - bytesBefore,
          ms: Math.round(ms * 10) / 10,
          cache: state.cache,
          client: ctx.request.ip,
          ...(aborted ? { aborted: true } : {}),
        },
        'request',
      );
    };
    ctx.res.once('close', done);
    await next();
  };
}
