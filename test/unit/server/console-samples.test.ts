import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MetricsSampler } from '../../../src/server/console/samples.js';
import { Metrics } from '../../../src/server/metrics.js';

describe('MetricsSampler', () => {
  it('keeps what each interval added: hits, misses and their ratio, upstream bytes, errors, evictions', async () => {
    const metrics = new Metrics();
    let now = Date.parse('2026-12-01T10:00:00Z');
    const sampler = new MetricsSampler({ metrics, intervalMs: 60_000, keep: 2, clock: () => now });
    metrics.cacheHits.inc({ kind: 'blob' }, 5); // before the baseline: not counted
    await sampler.start();
    sampler.stop(); // the test drives the intervals itself
    metrics.cacheHits.inc({ kind: 'blob' }, 3);
    metrics.cacheHits.inc({ kind: 'manifest' });
    metrics.cacheMisses.inc({ kind: 'blob' });
    metrics.upstreamBytes.inc({ upstream: 'docker.io' }, 1000);
    metrics.upstreamRequests.inc({ upstream: 'docker.io', method: 'GET', status: '200' });
    metrics.upstreamRequests.inc({ upstream: 'docker.io', method: 'GET', status: '503' });
    metrics.upstreamRequests.inc({ upstream: 'docker.io', method: 'GET', status: 'error' });
    metrics.evictions.inc({ namespace: 'blobs' });
    now += 10_000;
    const open = await sampler.current();
    assert.equal(open?.sample.hits, 4, 'the open interval is visible before it closes');
    await sampler.sample();
    const [first] = sampler.samples();
    assert.deepEqual(first, {
      at: '2026-12-01T10:00:10.000Z',
      seconds: 10,
      hits: 4,
      misses: 1,
      hitRatio: 0.8,
      upstreamBytes: 1000,
      blobFetches: 0,
      evictions: 1,
      upstreamErrors: 2,
      digestMismatches: 0,
    });
    now += 10_000;
    await sampler.sample();
    now += 10_000;
    await sampler.sample();
    const kept = sampler.samples();
    assert.equal(kept.length, 2, 'at most `keep`');
    assert.ok(kept.every((s) => s.hits === 0 && s.hitRatio === null));
  });
});
