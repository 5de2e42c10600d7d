import type { Context, Next } from 'koa';
import { SignetError } from '../../errors.js';
import type { ClientAuth } from '../auth/client-auth.js';
import { requireAdmin } from '../auth/guards.js';
import type { DecisionFilter, RecentDecisions } from './recent-decisions.js';
import type { MetricsSampler } from './samples.js';
import type { TrustHealthItem } from '../../trust/health.js';
import { assessTrustHealth } from './trust-health.js';

export interface ConsoleApiOptions {
  decisions: RecentDecisions;
  samples: MetricsSampler;
  /** What the trust formats report now (src/trust/health.ts). */
  trustHealth: () => Promise<TrustHealthItem[]>;
  auth: ClientAuth;
  /** Decisions one request may ask for (entries). */
  maxLimit: number;
  clock?: () => number;
}

const PREFIX = '/api/v1';
const VERDICTS = new Set(['allowed', 'denied', 'audited']);
const FILTERS = ['verdict', 'reason', 'repository', 'client', 'format', 'upstream', 'kind'] as const;
/** Characters of one filter value: names and reasons are far shorter. */
const MAX_FILTER_CHARS = 256;
const DEFAULT_LIMIT = 100;

/**
 * The console's JSON API (docs/API.md), for the console page and for other tools: recent
 * decisions with filters, denials grouped by reason, the signed inventory they show, and the
 * cache and upstream counters over time, and the health of the trust material. Admin only (`admin.allow`), behind the
 * same client authentication as the registry.
 */
export function consoleApi(o: ConsoleApiOptions) {
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== PREFIX && !ctx.path.startsWith(`${PREFIX}/`)) {
      await next();
      return;
    }
    requireAdmin(ctx, o.auth);
    refuseWrites(ctx, PREFIX, 'the API');
    ctx.set('Cache-Control', 'no-store');
    switch (ctx.path) {
      case PREFIX:
      case `${PREFIX}/`:
        ctx.body = { endpoints: [`${PREFIX}/decisions`, `${PREFIX}/denials`, `${PREFIX}/inventory`, `${PREFIX}/trust`, `${PREFIX}/cache`] };
        return;
      case `${PREFIX}/decisions`:
        ctx.body = { decisions: o.decisions.query(decisionFilter(ctx, o.maxLimit)) };
        return;
      case `${PREFIX}/denials`:
        ctx.body = { denials: o.decisions.denials() };
        return;
      case `${PREFIX}/inventory`:
        ctx.body = { repositories: o.decisions.inventory() };
        return;
      case `${PREFIX}/trust`:
        ctx.body = assessTrustHealth(await o.trustHealth(), (o.clock ?? Date.now)());
        return;
      case `${PREFIX}/cache`:
        ctx.body = { samples: o.samples.samples(), current: (await o.samples.current())?.sample };
        return;
      default:
        throw new SignetError('UNSUPPORTED', `no such API endpoint: ${ctx.path.slice(0, 80)}; see ${PREFIX}`, { status: 404 });
    }
  };
}

/** The console's API and pages only read: any other method is 405 with the methods allowed. */
export function refuseWrites(ctx: Context, where: string, what: string): void {
  if (ctx.method === 'GET' || ctx.method === 'HEAD') return;
  ctx.set('Allow', 'GET, HEAD');
  throw new SignetError('UNSUPPORTED', `${ctx.method} is not supported on ${where}: ${what} is read-only`, { status: 405 });
}

/** The query of GET /api/v1/decisions, validated: each filter at most once, `limit` 1..maxLimit. */
export function decisionFilter(ctx: Pick<Context, 'query'>, maxLimit: number): DecisionFilter {
  const filter: DecisionFilter = { limit: DEFAULT_LIMIT > maxLimit ? maxLimit : DEFAULT_LIMIT };
  for (const [key, raw] of Object.entries(ctx.query)) {
    if (Array.isArray(raw)) throw invalid(`query parameter ${key} is given more than once`);
    if (raw === undefined) continue;
    if (key === 'limit') {
      const n = Number(raw);
      if (!/^\d+$/.test(raw) || n < 1 || n > maxLimit)
        throw invalid(`limit must be a whole number from 1 to ${maxLimit}, got ${JSON.stringify(raw.slice(0, 20))}`);
      filter.limit = n;
      continue;
    }
    if (!(FILTERS as readonly string[]).includes(key))
      throw invalid(`unknown query parameter ${JSON.stringify(key.slice(0, 40))}; filters are ${FILTERS.join(', ')} and limit`);
    if (raw.length === 0) continue;
    if (raw.length > MAX_FILTER_CHARS) throw invalid(`${key} is longer than ${MAX_FILTER_CHARS} characters`);
    if (key === 'verdict' && !VERDICTS.has(raw)) throw invalid(`verdict must be one of ${[...VERDICTS].join(', ')}`);
    filter[key as (typeof FILTERS)[number]] = raw;
  }
  return filter;
}

function invalid(message: string): SignetError {
  return new SignetError('UNSUPPORTED', message, { status: 400 });
}
