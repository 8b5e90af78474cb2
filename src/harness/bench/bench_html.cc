#include "harness/bench/bench_html.h"

#include "harness/report/matrix_html.h"

namespace crisp::bench {
namespace {

constexpr char kPage[] = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>crisp bench</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f}
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.15em;margin:1.4em 0 .4em;border-top:2px solid #d0d0d5;padding-top:.8em}
table{border-collapse:collapse;margin:.5em 0}th,td{border:1px solid #d0d0d5;padding:.3em .6em;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f2f2f5}
.plots{display:flex;flex-wrap:wrap;gap:1em}.plot{border:1px solid #e2e2e6;padding:.3em}
.plot h3{font-size:12px;margin:.1em .3em;font-weight:600}
.muted{color:#777}.err{color:#c33;font-weight:600}
svg text{font:11px system-ui,sans-serif;fill:#444}
</style></head><body>
<h1>crisp bench</h1>
<div id="head"></div>
<div id="body"></div>
<script id="data" type="application/json">@DATA@</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
const esc = t => String(t).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const names = data.runtimes.map(r => r.name);
const colors = ['#1f6fd1', '#d1541f', '#2e9d4a', '#8a4fd1', '#c9a227'];
const color = name => colors[names.indexOf(name) % colors.length];
const fmt = v => v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2);

// Round tick steps: 1, 2 or 5 times a power of ten.
function ticks(lo, hi, count = 5) {
  if (!(hi > lo)) hi = lo + 1;
  const raw = (hi - lo) / count, power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map(m => m * power).find(s => raw <= s);
  // From a step at or below lo to one at or above hi: every point is inside.
  const out = [], end = Math.ceil(hi / step - 1e-9) * step;
  for (let v = Math.floor(lo / step + 1e-9) * step; v <= end + step * 1e-9; v += step) out.push(+v.toPrecision(12));
  return out;
}

// series: [{name, points: [[x, y], ...]}]; a line per series, dots unless step.
function plot(title, xlabel, ylabel, series, step = false) {
  const W = 360, H = 220, L = 48, R = 22, T = 10, B = 34;
  const xs = series.flatMap(s => s.points.map(p => p[0])), ys = series.flatMap(s => s.points.map(p => p[1]));
  if (!xs.length) return '';
  const x0 = step ? Math.min(...xs) : Math.min(0, ...xs), x1 = Math.max(...xs), y0 = 0, y1 = Math.max(...ys);
  const xt = ticks(x0, x1), yt = ticks(y0, y1);
  const X = v => L + (v - xt[0]) / ((xt[xt.length - 1] - xt[0]) || 1) * (W - L - R);
  const Y = v => H - B - (v - yt[0]) / ((yt[yt.length - 1] - yt[0]) || 1) * (H - T - B);
  let svg = `<svg width="${W}" height="${H}" role="img" aria-label="${esc(title)}">`;
  for (const v of yt) svg += `<line x1="${L}" x2="${W - R}" y1="${Y(v)}" y2="${Y(v)}" stroke="#eee"/><text x="${L - 4}" y="${Y(v) + 4}" text-anchor="end">${fmt(v)}</text>`;
  for (const v of xt) svg += `<text x="${X(v)}" y="${H - B + 14}" text-anchor="middle">${fmt(v)}</text>`;
  svg += `<line x1="${L}" x2="${L}" y1="${T}" y2="${H - B}" stroke="#888"/><line x1="${L}" x2="${W - R}" y1="${H - B}" y2="${H - B}" stroke="#888"/>`;
  svg += `<text x="${(L + W - R) / 2}" y="${H - 4}" text-anchor="middle">${esc(xlabel)}</text>`;
  svg += `<text transform="translate(11 ${(T + H - B) / 2}) rotate(-90)" text-anchor="middle">${esc(ylabel)}</text>`;
  for (const s of series) {
    if (!s.points.length) continue;
    let d = '';
    s.points.forEach(([x, y], i) => {
      if (step && i > 0) d += `H${X(x)}`;
      d += `${i ? (step ? 'V' : 'L') : 'M'}${step && i ? '' : X(x) + ','}${Y(y)}`;
    });
    svg += `<path class="series" data-runtime="${esc(s.name)}" d="${d}" fill="none" stroke="${color(s.name)}" stroke-width="1.8"/>`;
    if (!step) for (const [x, y] of s.points) svg += `<circle cx="${X(x)}" cy="${Y(y)}" r="2.5" fill="${color(s.name)}"/>`;
  }
  series.forEach((s, i) => svg += `<rect x="${L + 8}" y="${T + 4 + i * 14}" width="10" height="3" fill="${color(s.name)}"/>` +
    `<text x="${L + 22}" y="${T + 9 + i * 14}">${esc(s.name)}</text>`);
  return `<div class="plot"><h3>${esc(title)}</h3>${svg}</div>`;
}

// The empirical CDF of a sample list: [[ms, fraction at or below], ...].
const cdf = samples => [...samples].sort((a, b) => a - b).map((v, i, all) => [v, (i + 1) / all.length]);

const overhead = data.crisp_overhead ? `<p>crisp's own cost per call: <b>${data.crisp_overhead.overhead_p50_us} µs</b> at p50 ` +
  `(Version on ${esc(data.crisp_overhead.runtime)}: ${data.crisp_overhead.crisp_p50_us} µs through crisp's recording client, ` +
  `${data.crisp_overhead.raw_p50_us} µs through a plain stub).</p>` : '';
let head = overhead + `<p>${data.workloads.length} workload(s) × ${names.length} runtime(s), ${data.iterations} measured iteration(s) each after ${data.warmup} warm-up, the runtimes interleaved (crisp ${esc(data.crisp_version)}).</p><ul>`;
for (const r of data.runtimes) head += `<li><b style="color:${color(r.name)}">${esc(r.name)}</b>: ${esc(r.runtime.runtime_name)} ${esc(r.runtime.runtime_version)} <span class="muted">${esc(r.address)}</span></li>`;
document.getElementById('head').innerHTML = head + '</ul>';

let body = '';
for (const w of data.workloads) {
  body += `<h2 id="${esc(w.id)}">${esc(w.id)}: ${esc(w.title)}</h2>`;
  if (w.results) {
    const rpcs = [...new Set(names.flatMap(n => Object.keys((w.results[n] || {}).rpcs || {})))].sort();
    body += '<table><tr><th>p50 / p99 ms</th>' + names.map(n => `<th>${esc(n)}</th>`).join('') + '</tr>';
    const row = (label, of) => '<tr><td>' + label + '</td>' + names.map(n => {
      const s = of(w.results[n] || {});
      return `<td>${s && s.count ? fmt(s.p50_ms) + ' / ' + fmt(s.p99_ms) + (s.errors ? ` <span class="err">${s.errors} errors</span>` : '') : '—'}</td>`;
    }).join('') + '</tr>';
    body += row('<b>whole iteration</b>', r => r.iteration);
    for (const rpc of rpcs) body += row(esc(rpc), r => (r.rpcs || {})[rpc]);
    body += '<tr><td>ops/s</td>' + names.map(n => `<td>${fmt((w.results[n] || {}).ops_per_s || 0)}</td>`).join('') + '</tr>';
    body += '<tr><td>runtime CPU s / peak RSS MiB</td>' + names.map(n => {
      const c = (w.results[n] || {}).runtime_cost || {};
      return `<td>${c.cpu_seconds !== undefined ? fmt(c.cpu_seconds) + ' / ' + fmt(c.peak_rss_kib / 1024) : '—'}</td>`;
    }).join('') + '</tr></table>';
    body += '<div class="plots">';
    body += plot('whole iteration: latency CDF', 'ms', 'fraction', names.map(n => ({name: n, points: cdf((((w.results[n] || {}).iteration) || {}).samples_ms || [])})), true);
    for (const rpc of rpcs) {
      body += plot(`${rpc}: latency CDF`, 'ms', 'fraction',
                   names.map(n => ({name: n, points: cdf(((((w.results[n] || {}).rpcs) || {})[rpc] || {}).samples_ms || [])})), true);
    }
    body += '</div>';
  }
  if (w.concurrency) {
    const levels = [[1, w.results], ...Object.entries(w.concurrency).map(([k, v]) => [+k, v.results])].filter(([, r]) => r).sort((a, b) => a[0] - b[0]);
    body += '<div class="plots">' + plot('throughput by copies in flight', 'copies in flight', 'ops/s',
      names.map(n => ({name: n, points: levels.map(([level, r]) => [level, (r[n] || {}).ops_per_s || 0])}))) + '</div>';
  }
  if (w.population) {
    // The same workload with pods present: each RPC's p50 by their number.
    const levels = [[0, w.results], ...Object.entries(w.population).map(([k, v]) => [+k, v.results])].filter(([, r]) => r).sort((a, b) => a[0] - b[0]);
    const rpcs = [...new Set(levels.flatMap(([, r]) => names.flatMap(n => Object.keys((r[n] || {}).rpcs || {}))))].sort();
    body += '<div class="plots population">';
    for (const rpc of rpcs) {
      body += plot(`${rpc}: p50 with pods present`, 'pods present', 'ms', names.map(n => ({name: n,
        points: levels.filter(([, r]) => (((r[n] || {}).rpcs || {})[rpc] || {}).count).map(([level, r]) => [level, r[n].rpcs[rpc].p50_ms])})));
    }
    body += '</div>';
  }
}
if (data.density) {
  const d = data.density;
  body += `<h2 id="density">density: pods with a running container, ${d.batch} at a time, up to ${d.pods}</h2><div class="plots">`;
  for (const rpc of ['RunPodSandbox', 'CreateContainer', 'StartContainer', 'ListPodSandbox']) {
    body += plot(`${rpc}: p50 by pods present`, 'pods', 'ms', names.map(n => ({name: n,
      points: ((d.runtimes[n] || {}).batches || []).filter(b => b.rpcs[rpc]).map(b => [b.pods, b.rpcs[rpc].p50_ms])})));
  }
  body += '</div><p>' + names.map(n => `${esc(n)}: ${(d.runtimes[n] || {}).errors || 0} errors, ${(d.runtimes[n] || {}).removed || 0} removed`).join('; ') + '</p>';
}
document.getElementById('body').innerHTML = body;
document.body.dataset.rendered = 'true';
</script></body></html>
)HTML";

}  // namespace

std::string BenchHtml(const nlohmann::json& bench) { return report::PageWithData(kPage, bench); }

}  // namespace crisp::bench
