import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assessTrustHealth, formatDuration } from '../../../src/server/console/trust-health.js';
import type { TrustHealthItem } from '../../../src/trust/health.js';

const NOW = Date.parse('2026-12-01T00:00:00Z');
const DAY = 86_400_000;
const iso = (ms: number): string => new Date(NOW + ms).toISOString();
const notary = (role: string, expiresIn: number): TrustHealthItem => ({
  format: 'notary',
  scope: 'docker.io/library/app on https://notary:4443',
  kind: 'metadata',
  name: role,
  role,
  expires: iso(expiresIn),
});

describe('trust health assessment', () => {
  it('warns about a Notary timestamp only in its last 72 hours, and about other roles in their last 30 days', () => {
    const r = assessTrustHealth([notary('timestamp', 4 * DAY), notary('targets', 20 * DAY)], NOW);
    assert.deepEqual(
      r.warnings.map((w) => [w.item.name, w.severity]),
      [['targets', 'warning']],
    );
    assert.match(
      r.warnings[0]?.message ?? '',
      /targets metadata of docker\.io\/library\/app .* expires in 20 d 0 h .*docker trust sign or notary publish on docker\.io\/library\/app/,
    );
    const soon = assessTrustHealth([notary('timestamp', 2 * DAY), notary('timestamp', 12 * 3600_000)], NOW);
    assert.deepEqual(
      soon.warnings.map((w) => w.severity),
      ['critical', 'warning'],
    );
  });

  it('sorts by urgency: expired, critical, warning, then keys due for rotation, oldest first', () => {
    const cert = (name: string, ageDays: number, expiresIn: number): TrustHealthItem => ({
      format: 'notation',
      scope: 'policy.rules.0.require.notation trust store ca/corp',
      kind: 'certificate',
      name,
      position: 'ca',
      notBefore: iso(-ageDays * DAY),
      expires: iso(expiresIn),
    });
    const r = assessTrustHealth(
      [cert('CN=old', 800, 900 * DAY), cert('CN=older', 1200, 900 * DAY), notary('root', 3 * DAY), notary('snapshot', -DAY), cert('CN=soon', 100, 10 * DAY)],
      NOW,
    );
    assert.deepEqual(
      r.warnings.map((w) => [w.item.name, w.severity]),
      [
        ['snapshot', 'expired'],
        ['root', 'critical'],
        ['CN=soon', 'warning'],
        ['CN=older', 'rotate'],
        ['CN=old', 'rotate'],
      ],
    );
    assert.match(r.warnings[0]?.message ?? '', /expired 1 d 0 h ago/);
    assert.match(r.warnings[3]?.message ?? '', /is 1200 days old: .*renew|is 1200 days old: replace/);
    assert.equal(r.items.find((i) => i.name === 'CN=old')?.ageDays, 800);
  });

  it('treats a retired window of a Sigstore trusted root as history, and plain keys as never expiring', () => {
    const r = assessTrustHealth(
      [
        {
          format: 'cosign',
          scope: 'policy.rules.0.require.cosign trusted root',
          kind: 'key',
          name: 'Rekor log key',
          notBefore: iso(-900 * DAY),
          expires: iso(-400 * DAY),
        },
        { format: 'cosign', scope: 'policy.rules.0.require.cosign keys', kind: 'key', name: 'key 0123' },
      ],
      NOW,
    );
    assert.deepEqual(r.warnings, []);
    assert.equal(r.items[0]?.remainingSeconds, -400 * 86_400);
    assert.equal(r.items[1]?.remainingSeconds, undefined);
  });

  it('formats durations at the precision an operator needs', () => {
    assert.equal(formatDuration(3 * 86_400 + 4 * 3600 + 59), '3 d 4 h');
    assert.equal(formatDuration(5 * 3600 + 12 * 60), '5 h 12 min');
    assert.equal(formatDuration(-125), '2 min');
    assert.equal(formatDuration(40), '40 s');
  });
});
