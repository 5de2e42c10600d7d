/**
 * The console's only two assets, served by Signet itself (no external network at run time, and
 * a Content-Security-Policy of 'self'). They are kept as strings so that the built `dist/` needs
 * no copying step. The page works without the script: it only makes the decisions live and the
 * countdowns tick.
 */

export const CONSOLE_CSS = `
:root { color-scheme: light; --fg: #1d2430; --muted: #5b6675; --line: #d9dee5; --bg: #f5f7fa; --card: #fff;
  --ok: #17803d; --ok-bg: #e3f4e8; --bad: #b42318; --bad-bg: #fde8e6; --warn: #9a6700; --warn-bg: #fff4d6;
  --info: #1f5fbf; --info-bg: #e6efff; --accent: #2f3b52; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; align-items: center; gap: 24px; padding: 0 24px; background: var(--accent); color: #fff; height: 52px; }
header .brand { font-weight: 700; font-size: 17px; letter-spacing: .02em; }
header .brand small { font-weight: 400; opacity: .75; margin-left: 6px; }
nav { display: flex; gap: 4px; height: 100%; }
nav a { color: #dfe6f3; text-decoration: none; padding: 0 14px; display: flex; align-items: center; border-bottom: 3px solid transparent; }
nav a:hover { color: #fff; }
nav a[aria-current="page"] { color: #fff; border-bottom-color: #8fb3ff; font-weight: 600; }
nav .count { margin-left: 6px; background: var(--bad); color: #fff; border-radius: 10px; padding: 0 7px; font-size: 12px; font-weight: 600; }
header .as-of { margin-left: auto; font-size: 12px; opacity: .8; }
main { padding: 20px 24px 40px; max-width: 1400px; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.lead { color: var(--muted); margin: 0 0 16px; }
.card { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 14px 16px; margin-bottom: 14px; }
table { width: 100%; border-collapse: collapse; background: var(--card); border: 1px solid var(--line); border-radius: 8px; overflow: hidden; }
th, td { text-align: left; padding: 7px 10px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f5; font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: var(--muted); }
tr:last-child td { border-bottom: none; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
time { white-space: nowrap; }
code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, monospace; font-size: 12.5px; }
.muted { color: var(--muted); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: 600; white-space: nowrap; }
.badge.allowed { color: var(--ok); background: var(--ok-bg); }
.badge.denied, .badge.expired, .badge.critical { color: var(--bad); background: var(--bad-bg); }
.badge.audited, .badge.warning { color: var(--warn); background: var(--warn-bg); }
.badge.rotate, .badge.fmt { color: var(--info); background: var(--info-bg); }
.badge.ok { color: var(--ok); background: var(--ok-bg); }
form.filters { display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-end; margin-bottom: 14px; }
form.filters label { display: flex; flex-direction: column; font-size: 12px; color: var(--muted); gap: 3px; }
form.filters input, form.filters select { font: inherit; padding: 5px 8px; border: 1px solid var(--line); border-radius: 6px; min-width: 130px; background: #fff; }
button, .button { font: inherit; padding: 6px 14px; border-radius: 6px; border: 1px solid var(--accent); background: var(--accent); color: #fff; cursor: pointer; text-decoration: none; }
.button.secondary { background: #fff; color: var(--accent); }
.message { max-width: 520px; word-break: break-word; }
.denial h2 { margin: 0 0 6px; display: flex; gap: 10px; align-items: center; }
.denial h2 .muted { font-weight: 400; font-size: 13px; }
.denial blockquote { margin: 8px 0; padding: 8px 12px; background: #fafbfc; border-left: 3px solid var(--bad); font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12.5px; word-break: break-word; }
.denial .advice { margin: 6px 0; }
.warnings { list-style: none; padding: 0; margin: 0 0 16px; }
.warnings li { display: flex; gap: 10px; align-items: baseline; background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; margin-bottom: 8px; }
.warnings li.expired, .warnings li.critical { border-left: 4px solid var(--bad); }
.warnings li.warning { border-left: 4px solid var(--warn); }
.warnings li.rotate { border-left: 4px solid var(--info); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 14px; }
.chart { margin: 0; }
.chart h3 { margin: 0 0 6px; font-size: 14px; }
.chart svg { width: 100%; height: auto; display: block; }
.chart .axis { font-size: 11px; fill: var(--muted); }
.chart .grid { stroke: #e7eaf0; stroke-width: 1; }
.chart .series-0 { stroke: #2f6fdf; fill: none; stroke-width: 2; }
.chart .series-1 { stroke: #d9822b; fill: none; stroke-width: 2; }
.chart .area-0 { fill: rgba(47, 111, 223, .15); stroke: none; }
.chart .bar-0 { fill: #c0392b; }
.chart .bar-1 { fill: #8e44ad; }
.legend { display: flex; gap: 14px; font-size: 12px; color: var(--muted); margin-top: 4px; }
.legend i.series-0 { background: #2f6fdf; } .legend i.series-1 { background: #d9822b; }
.legend i.bar-0 { background: #c0392b; } .legend i.bar-1 { background: #8e44ad; }
.legend i { display: inline-block; width: 10px; height: 10px; border-radius: 2px; margin-right: 4px; vertical-align: -1px; }
.stats { display: flex; flex-wrap: wrap; gap: 12px; margin-bottom: 14px; }
.stat { background: var(--card); border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; min-width: 150px; }
.stat b { display: block; font-size: 20px; }
.stat span { font-size: 12px; color: var(--muted); }
.empty { padding: 24px; text-align: center; color: var(--muted); background: var(--card); border: 1px dashed var(--line); border-radius: 8px; }
.live { font-size: 12px; color: var(--muted); margin-left: 8px; }
`;

/**
 * Live updates without a framework: every few seconds the page asks for itself again and swaps
 * in the part marked `data-live` (the filter form is left alone, so typing is not lost); every
 * second each `data-expires` countdown is redrawn from the clock.
 */
export const CONSOLE_JS = `
(function () {
  'use strict';
  function duration(s) {
    var a = Math.abs(s), d = 86400, h = 3600;
    if (a >= d) return Math.floor(a / d) + ' d ' + Math.floor((a % d) / h) + ' h';
    if (a >= h) return Math.floor(a / h) + ' h ' + Math.floor((a % h) / 60) + ' min';
    if (a >= 60) return Math.floor(a / 60) + ' min';
    return Math.floor(a) + ' s';
  }
  // Countdowns count on the server's clock, not the browser's: the two may differ.
  var skew = 0;
  function syncClock(doc) {
    var at = Date.parse(doc.body && doc.body.getAttribute('data-server-time') || '');
    if (!isNaN(at)) skew = at - Date.now();
  }
  function tick() {
    var now = Date.now() + skew;
    document.querySelectorAll('[data-expires]').forEach(function (el) {
      var left = (Date.parse(el.getAttribute('data-expires')) - now) / 1000;
      el.textContent = left <= 0 ? 'expired ' + duration(left) + ' ago' : 'in ' + duration(left);
    });
  }
  function refresh() {
    var target = document.querySelector('[data-live]');
    if (!target || document.hidden) return;
    fetch(location.href, { headers: { Accept: 'text/html' }, credentials: 'same-origin' })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(new Error(String(r.status))); })
      .then(function (html) {
        var doc = new DOMParser().parseFromString(html, 'text/html');
        syncClock(doc);
        var fresh = doc.querySelector('[data-live]');
        if (fresh) target.innerHTML = fresh.innerHTML;
        var asOf = doc.querySelector('.as-of');
        var mine = document.querySelector('.as-of');
        if (asOf && mine) mine.textContent = asOf.textContent;
        document.documentElement.setAttribute('data-refreshed', String(Date.now()));
        tick();
      })
      .catch(function () { /* the next refresh tries again */ });
  }
  document.addEventListener('DOMContentLoaded', function () {
    syncClock(document);
    tick();
    setInterval(tick, 1000);
    var live = document.querySelector('[data-live]');
    if (live) setInterval(refresh, 1000 * Number(live.getAttribute('data-live') || '5'));
  });
})();
`;
