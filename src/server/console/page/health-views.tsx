import type { CacheSample } from '../samples.js';
import { formatDuration, type AssessedItem, type TrustHealthReport } from '../trust-health.js';
import { Chart } from './chart.js';
import { Empty, Time } from './layout.js';

/** Trust health: the warning list, most urgent first, then every item with its countdown. */
export function TrustView({ report }: { report: TrustHealthReport }) {
  const scopes = new Map<string, AssessedItem[]>();
  for (const item of report.items) {
    const key = `${item.format}\u0000${item.scope}`;
    scopes.set(key, [...(scopes.get(key) ?? []), item]);
  }
  return (
    <>
      <h1>Trust health</h1>
      <p class="lead">
        What is about to break: signed metadata about to expire, keys and certificates near their end or due for rotation. Notary repositories appear once
        verified (here, before a restart, or by another replica); cosign and Notation material comes from the policy and the signatures that verified.
      </p>
      <div data-live="30">
        <h2>Warnings</h2>
        {report.warnings.length === 0 ? (
          <Empty>
            <span class="badge ok">ok</span> Nothing expires soon and no key is due for rotation.
          </Empty>
        ) : (
          <ol class="warnings" id="warnings">
            {report.warnings.map((w, i) => (
              <li key={i} class={`warning-item ${w.severity}`}>
                <span class={`badge ${w.severity}`}>{w.severity}</span>
                <span>{w.message}</span>
              </li>
            ))}
          </ol>
        )}
        {[...scopes.entries()].map(([key, items]) => {
          const first = items[0] as AssessedItem;
          return (
            <section key={key} class="trust-scope">
              <h2>
                <span class="badge fmt">{first.format}</span> <code>{first.scope}</code>
                {first.saved ? <span class="muted"> as last saved: not verified since Signet started</span> : null}
              </h2>
              <table>
                <thead>
                  <tr>
                    <th>Item</th>
                    <th>Kind</th>
                    <th class="num">Version</th>
                    <th>Valid from (UTC)</th>
                    <th class="num">Age</th>
                    <th>Expires (UTC)</th>
                    <th>Countdown</th>
                  </tr>
                </thead>
                <tbody>
                  {items.map((item, i) => (
                    <tr key={i} class={`health-item ${item.severity ?? 'ok'}`}>
                      <td>
                        <code>{item.name}</code>
                        {item.position && item.kind === 'certificate' ? <span class="muted"> ({item.position})</span> : null}
                      </td>
                      <td>{item.kind}</td>
                      <td class="num">{item.version ?? ''}</td>
                      <td>
                        <Time at={item.notBefore} />
                      </td>
                      <td class="num">{item.ageDays === undefined ? '' : `${item.ageDays} d`}</td>
                      <td>
                        <Time at={item.expires} />
                      </td>
                      <td>
                        {item.expires === undefined || item.remainingSeconds === undefined ? (
                          <span class="muted">no expiry</span>
                        ) : (
                          <>
                            <span class={`badge ${item.severity ?? 'ok'}`} data-expires={item.expires}>
                              {item.remainingSeconds <= 0
                                ? `expired ${formatDuration(item.remainingSeconds)} ago`
                                : `in ${formatDuration(item.remainingSeconds)}`}
                            </span>
                          </>
                        )}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </section>
          );
        })}
      </div>
    </>
  );
}

export interface CacheViewProps {
  samples: CacheSample[];
  current: CacheSample | undefined;
}

/** Cache and upstream health over the kept samples, as charts drawn on the server. */
export function CacheView({ samples, current }: CacheViewProps) {
  const all = current ? [...samples, current] : samples;
  const times = all.map((s) => Date.parse(s.at));
  const sum = (k: 'hits' | 'misses' | 'upstreamBytes' | 'evictions' | 'upstreamErrors' | 'digestMismatches' | 'blobFetches'): number =>
    all.reduce((n, s) => n + s[k], 0);
  const hits = sum('hits');
  const misses = sum('misses');
  return (
    <>
      <h1>Cache &amp; upstreams</h1>
      <p class="lead">What each {samples[0]?.seconds ?? 10} s interval added to Signet's counters, over the last hour (since start, if later).</p>
      <div data-live="10">
        <div class="stats">
          <Stat label="hit ratio" value={hits + misses > 0 ? `${((hits / (hits + misses)) * 100).toFixed(1)} %` : '—'} />
          <Stat label="cache hits / misses" value={`${hits} / ${misses}`} />
          <Stat label="from upstreams" value={bytes(sum('upstreamBytes'))} />
          <Stat label="blob downloads" value={String(sum('blobFetches'))} />
          <Stat label="evictions" value={String(sum('evictions'))} />
          <Stat label="upstream errors" value={String(sum('upstreamErrors'))} />
          <Stat label="digest mismatches" value={String(sum('digestMismatches'))} />
        </div>
        <div class="charts">
          <Chart
            title="Cache hit ratio"
            type="line"
            times={times}
            max={1}
            format={(v) => `${Math.round(v * 100)} %`}
            series={[{ label: 'hit ratio', values: all.map((s) => s.hitRatio) }]}
          />
          <Chart
            title="Cache hits and misses"
            type="line"
            times={times}
            format={(v) => String(v)}
            series={[
              { label: 'hits', values: all.map((s) => s.hits) },
              { label: 'misses', values: all.map((s) => s.misses) },
            ]}
          />
          <Chart
            title="Bytes from upstreams"
            type="line"
            times={times}
            format={bytes}
            series={[{ label: 'bytes per interval', values: all.map((s) => s.upstreamBytes) }]}
          />
          <Chart
            title="Upstream errors and evictions"
            type="bars"
            times={times}
            format={(v) => String(v)}
            series={[
              { label: 'upstream errors', values: all.map((s) => s.upstreamErrors) },
              { label: 'evictions', values: all.map((s) => s.evictions) },
            ]}
          />
        </div>
      </div>
    </>
  );
}

function Stat({ label, value }: { label: string; value: string }) {
  return (
    <div class="stat">
      <b>{value}</b>
      <span>{label}</span>
    </div>
  );
}

function bytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? String(v) : v.toFixed(1)} ${units[u] ?? 'B'}`;
}
