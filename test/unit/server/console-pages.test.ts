import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderToString } from 'hono/jsx/dom/server';
import { DecisionsView, DenialsView, InventoryView } from '../../../src/server/console/page/decision-views.js';
import { CacheView } from '../../../src/server/console/page/health-views.js';
import type { RecentDecision } from '../../../src/server/console/recent-decisions.js';
import type { CacheSample } from '../../../src/server/console/samples.js';

// The console's views as HTML: whatever a client or an upstream put in a decision (a tag, a
// message, a user name) is printed as text, never as markup.

const HOSTILE = '<script>alert(1)</script>"><img src=x onerror=alert(2)>';

const decision = (over: Partial<RecentDecision>): RecentDecision => ({
  at: '2026-12-01T10:00:00.000Z',
  verdict: 'denied',
  reason: 'tag_not_signed',
  kind: 'manifest',
  upstream: 'docker.io',
  repository: 'library/app',
  reference: '1.0',
  mode: 'enforce',
  rule: 'policy.rules.0',
  formats: ['notary'],
  ...over,
});

describe('console views', () => {
  it('escapes what clients and upstreams control, in text and in attributes', () => {
    const html = renderToString(
      DecisionsView({
        filter: { limit: 100, repository: HOSTILE },
        decisions: [decision({ message: HOSTILE, reference: HOSTILE, user: HOSTILE })],
        reasons: [HOSTILE],
      }),
    );
    assert.ok(!html.includes('<script>'), html);
    assert.ok(!html.includes('<img'), html);
    assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
    assert.ok(html.includes('value="&lt;script&gt;'), 'the filter value is an escaped attribute');
    const denials = renderToString(
      DenialsView({
        groups: [
          { reason: 'tag_not_signed', count: 2, lastAt: '2026-12-01T10:00:00.000Z', message: HOSTILE, advice: 'sign it', repositories: [HOSTILE], clients: 1 },
        ],
      }),
    );
    assert.ok(!denials.includes('<script>') && !denials.includes('<img'));
    const inventory = renderToString(
      InventoryView({
        repositories: [
          {
            upstream: 'docker.io',
            repository: 'library/app',
            tags: [{ tag: HOSTILE, digest: 'sha256:ab', formats: ['cosign'], signers: [HOSTILE], signedAt: undefined, admittedAt: '2026-12-01T10:00:00.000Z' }],
          },
        ],
      }),
    );
    assert.ok(!inventory.includes('<script>') && !inventory.includes('<img'));
  });

  it('keeps the chosen filters selected, and links a denial group to its decisions', () => {
    const html = renderToString(DecisionsView({ filter: { limit: 100, verdict: 'denied', format: 'cosign' }, decisions: [], reasons: ['no_signature'] }));
    assert.match(html, /<option value="denied" selected="">denied<\/option>/);
    assert.match(html, /<option value="cosign" selected="">cosign<\/option>/);
    assert.match(html, /No decisions match this filter/);
    const denials = renderToString(
      DenialsView({
        groups: [{ reason: 'no_signature', count: 1, lastAt: '2026-12-01T10:00:00.000Z', message: 'm', advice: 'a', repositories: [], clients: 1 }],
      }),
    );
    assert.match(denials, /href="\/console\/decisions\?verdict=&amp;reason=no_signature"/);
  });

  it('draws the cache charts as SVG paths, and says so when there is nothing to draw yet', () => {
    const sample = (at: string, hits: number, misses: number): CacheSample => ({
      at,
      seconds: 10,
      hits,
      misses,
      hitRatio: hits + misses > 0 ? hits / (hits + misses) : null,
      upstreamBytes: misses * 1024,
      blobFetches: misses,
      evictions: 0,
      upstreamErrors: misses > 2 ? 1 : 0,
      digestMismatches: 0,
    });
    const html = renderToString(
      CacheView({
        samples: [sample('2026-12-01T10:00:00.000Z', 1, 3), sample('2026-12-01T10:00:10.000Z', 4, 0), sample('2026-12-01T10:00:20.000Z', 0, 0)],
        current: undefined,
      }),
    );
    assert.equal(html.match(/<svg /g)?.length, 4);
    assert.match(html, /<path class="series-0" d="M[\d.,LM]+"/);
    assert.match(html, /<rect class="bar-0"/);
    assert.match(html, /<b>62\.5 %<\/b><span>hit ratio<\/span>/);
    const empty = renderToString(CacheView({ samples: [], current: undefined }));
    assert.match(empty, /No samples yet/);
  });
});
