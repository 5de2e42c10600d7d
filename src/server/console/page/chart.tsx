import { scaleLinear, scaleUtc } from 'd3-scale';
import { area, line } from 'd3-shape';

export interface Series {
  label: string;
  /** One value per point; null: nothing to show there (a gap). */
  values: Array<number | null>;
}

export interface ChartProps {
  title: string;
  /** Point times (epoch ms), oldest first, one per value of each series. */
  times: number[];
  series: Series[];
  /** 'line' draws lines (the first one filled below); 'bars' draws grouped bars. */
  type: 'line' | 'bars';
  /** Fixed top of the y axis (a ratio: 1); else the largest value. */
  max?: number;
  format: (v: number) => string;
}

const W = 560;
const H = 200;
const M = { top: 10, right: 12, bottom: 22, left: 58 };

/**
 * One chart as inline SVG, drawn on the server (d3-scale for the axes, d3-shape for the paths):
 * no script is needed to see it, and nothing is fetched from elsewhere.
 */
export function Chart(p: ChartProps) {
  const t0 = p.times[0];
  const t1 = p.times.at(-1);
  if (t0 === undefined || t1 === undefined) {
    return (
      <figure class="chart card">
        <h3>{p.title}</h3>
        <p class="muted">No samples yet: the first one is taken 10 s after start.</p>
      </figure>
    );
  }
  const largest = Math.max(0, ...p.series.flatMap((s) => s.values.filter((v): v is number => v !== null)));
  // At least a minute wide: a Signet that just started has a point or two seconds apart.
  const x = scaleUtc()
    .domain([Math.min(t0, t1 - 60_000), t1])
    .range([M.left, W - M.right]);
  const y = scaleLinear()
    .domain([0, p.max ?? (largest > 0 ? largest : 1)])
    .nice(4)
    .range([H - M.bottom, M.top]);
  const yTicks = y.ticks(4);
  const xTicks = x.ticks(5);
  // d3's multi-scale format: seconds, minutes or hours as the span needs, in UTC as every time on the console.
  const xFormat = x.tickFormat();
  const at = (i: number): number => x(p.times[i] ?? t0);
  const defined = (v: number | null): v is number => v !== null;
  const band = p.series.length > 0 && p.times.length > 0 ? Math.max(1, ((W - M.left - M.right) / p.times.length) * 0.8) : 1;
  return (
    <figure class="chart card" data-chart={p.title}>
      <h3>{p.title}</h3>
      <svg viewBox={`0 0 ${W} ${H}`} role="img" aria-label={p.title}>
        {yTicks.map((v) => (
          <g key={`y${v}`}>
            <line class="grid" x1={M.left} x2={W - M.right} y1={y(v)} y2={y(v)} />
            <text class="axis" x={M.left - 6} y={y(v) + 3} text-anchor="end">
              {p.format(v)}
            </text>
          </g>
        ))}
        {xTicks.map((d) => (
          <text key={`x${d.getTime()}`} class="axis" x={x(d)} y={H - 6} text-anchor="middle">
            {xFormat(d)}
          </text>
        ))}
        {p.type === 'line'
          ? p.series.map((s, si) => {
              const pts = s.values.map((v, i) => [i, v] as const);
              const lineGen = line<readonly [number, number | null]>()
                .defined((d) => defined(d[1]))
                .x((d) => at(d[0]))
                .y((d) => y(d[1] ?? 0));
              const areaGen = area<readonly [number, number | null]>()
                .defined((d) => defined(d[1]))
                .x((d) => at(d[0]))
                .y0(y(0))
                .y1((d) => y(d[1] ?? 0));
              return (
                <g key={s.label}>
                  {si === 0 ? <path class="area-0" d={areaGen(pts) ?? ''} /> : null}
                  <path class={`series-${si}`} d={lineGen(pts) ?? ''} />
                </g>
              );
            })
          : p.series.map((s, si) =>
              s.values.map((v, i) =>
                v === null || v === 0 ? null : (
                  <rect
                    key={`${s.label}${i}`}
                    class={`bar-${si}`}
                    x={at(i) - band / 2 + (band / p.series.length) * si}
                    width={band / p.series.length}
                    y={y(v)}
                    height={Math.max(1, y(0) - y(v))}
                  >
                    <title>{`${s.label}: ${p.format(v)}`}</title>
                  </rect>
                ),
              ),
            )}
      </svg>
      <figcaption class="legend">
        {p.series.map((s, si) => (
          <span key={s.label}>
            <i class={p.type === 'line' ? `series-${si}` : `bar-${si}`} />
            {s.label}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
