import { renderToString } from 'hono/jsx/dom/server';
import type { Context, Next } from 'koa';
import { SignetError } from '../../errors.js';
import { requireAdmin } from '../auth/guards.js';
import { decisionFilter, refuseWrites, type ConsoleApiOptions } from './api.js';
import { CONSOLE_CSS, CONSOLE_JS } from './page/assets.js';
import { DecisionsView, DenialsView, InventoryView } from './page/decision-views.js';
import { CacheView, TrustView } from './page/health-views.js';
import { CONSOLE_PATH, Layout, VIEWS, type ViewId } from './page/layout.js';
import { assessTrustHealth } from './trust-health.js';

/** The same collaborators as the API: the pages show what it returns. */
export type ConsolePagesOptions = ConsoleApiOptions;

/**
 * The console's pages are the browser's view of the API: nothing but the page itself, its
 * stylesheet and its script is loaded, all from Signet.
 */
const SECURITY_HEADERS = {
  'Content-Security-Policy':
    "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
};

const ASSETS: Record<string, { type: string; body: string }> = {
  [`${CONSOLE_PATH}/assets/console.css`]: { type: 'text/css; charset=utf-8', body: CONSOLE_CSS },
  [`${CONSOLE_PATH}/assets/console.js`]: { type: 'text/javascript; charset=utf-8', body: CONSOLE_JS },
};

/**
 * The operator console at /console: server-rendered pages (hono/jsx, which escapes every
 * value it prints) that work without JavaScript; a small script makes the
 * decisions live. Admin only, as the API. A browser cannot follow a Bearer token challenge, so
 * the console always asks for Basic credentials (checked against `auth.htpasswd`).
 */
export function consolePages(o: ConsolePagesOptions) {
  const clock = o.clock ?? Date.now;
  return async (ctx: Context, next: Next): Promise<void> => {
    if (ctx.path !== CONSOLE_PATH && !ctx.path.startsWith(`${CONSOLE_PATH}/`)) {
      await next();
      return;
    }
    try {
      requireAdmin(ctx, o.auth);
    } catch (err) {
      if (err instanceof SignetError && err.code === 'UNAUTHORIZED') ctx.set('WWW-Authenticate', 'Basic realm="Signet console", charset="UTF-8"');
      throw err;
    }
    refuseWrites(ctx, CONSOLE_PATH, 'the console');
    ctx.set(SECURITY_HEADERS);
    const asset = ASSETS[ctx.path];
    if (asset) {
      ctx.type = asset.type;
      ctx.body = asset.body;
      return;
    }
    if (ctx.path === CONSOLE_PATH || ctx.path === `${CONSOLE_PATH}/`) {
      ctx.redirect(`${CONSOLE_PATH}/decisions`);
      return;
    }
    const view = ctx.path.slice(CONSOLE_PATH.length + 1) as ViewId;
    if (!VIEWS.some((v) => v.id === view)) {
      throw new SignetError(
        'UNSUPPORTED',
        `no such console view: ${ctx.path.slice(0, 80)}; the views are ${VIEWS.map((v) => `${CONSOLE_PATH}/${v.id}`).join(', ')}`,
        {
          status: 404,
        },
      );
    }
    const now = clock();
    const health = assessTrustHealth(await o.trustHealth(), now);
    const urgent = health.warnings.filter((w) => w.severity === 'expired' || w.severity === 'critical').length;
    const body = await render(view, ctx, o, health);
    ctx.type = 'text/html; charset=utf-8';
    // hono/jsx escapes every value it prints, in attributes and in text.
    const html = renderToString(
      <Layout view={view} at={new Date(now).toISOString()} urgent={urgent}>
        {body}
      </Layout>,
    );
    ctx.body = `<!doctype html>${html}`;
  };
}

async function render(view: ViewId, ctx: Context, o: ConsolePagesOptions, health: ReturnType<typeof assessTrustHealth>) {
  switch (view) {
    case 'decisions': {
      const filter = decisionFilter(ctx, o.maxLimit);
      // A first visit shows pull verdicts (manifests); blob, tag-list and access decisions are a choice away.
      if (ctx.querystring === '') filter.kind = 'manifest';
      const reasons = [...new Set(o.decisions.query({ limit: Number.POSITIVE_INFINITY }).map((d) => d.reason))].sort();
      return <DecisionsView filter={filter} decisions={o.decisions.query(filter)} reasons={reasons} />;
    }
    case 'denials':
      return <DenialsView groups={o.decisions.denials()} />;
    case 'inventory':
      return <InventoryView repositories={o.decisions.inventory()} />;
    case 'trust':
      return <TrustView report={health} />;
    case 'cache':
      return <CacheView samples={o.samples.samples()} current={(await o.samples.current())?.sample} />;
  }
}
