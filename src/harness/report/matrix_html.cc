#include "harness/report/matrix_html.h"

#include "common/strings.h"
#include "harness/report/matrix.h"

namespace crisp::report {
namespace {

// The page; the data goes where @DATA@ is, as JSON that cannot close the
// script element (every '<' is escaped).
constexpr char kPage[] = R"HTML(<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>crisp matrix</title>
<style>
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#1d1d1f}
h1{font-size:1.4em;margin:0 0 .3em}
.filters{margin:1em 0;display:flex;gap:1em;align-items:center;flex-wrap:wrap}
table{border-collapse:collapse}
th,td{border:1px solid #d0d0d5;padding:.35em .7em;text-align:left}
th{background:#f2f2f5}
tr.area td{background:#e8ecf5;font-weight:600}
td.cell{cursor:pointer;text-align:center;min-width:7em}
td.pass{background:#e3f6e5}td.fail{background:#fbe0e0}td.error{background:#fdf0d5}
td.skip{background:#eeeeee}td.na{background:#fafafa;color:#888}
td.differs{outline:2px dashed #7a5cff;outline-offset:-3px}
td.selected{box-shadow:inset 0 0 0 3px #1d1d1f}
#details{margin-top:1.5em;border-top:2px solid #d0d0d5;padding-top:1em}
#details pre{background:#f6f6f8;padding:.6em;overflow:auto;max-height:18em;font-size:12px}
.step{margin:.6em 0;padding:.4em .6em;border-left:4px solid #ccc}
.step.pass{border-color:#3a3}.step.fail{border-color:#c33}.step.error{border-color:#d90}
.muted{color:#777}
</style></head><body>
<h1>crisp matrix</h1>
<div id="runtimes" class="muted"></div>
<div class="filters">
  <label>Area <select id="area"><option value="">all</option></select></label>
  <label>Verdict <select id="verdict"><option value="">any</option><option>pass</option><option>fail</option>
    <option>error</option><option>skip</option><option value="na">n.a.</option></select></label>
  <label><input type="checkbox" id="differ"> only where runtimes differ</label>
  <span id="count" class="muted"></span>
</div>
<table id="matrix"><thead></thead><tbody></tbody></table>
<div id="details"><p class="muted">Click a cell to see its steps.</p></div>
<script id="data" type="application/json">@DATA@</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
const runs = data.runs;
const ids = [];
for (const run of runs) for (const s of run.scenarios) if (!ids.includes(s.id)) ids.push(s.id);
const area = id => id.split('.')[0];
const find = (run, id) => run.scenarios.find(s => s.id === id);
const differing = new Set(data.differences.map(d => d.scenario));
for (const id of ids) {
  const verdicts = new Set(runs.map(r => (find(r, id) || {verdict: 'na'}).verdict));
  if (verdicts.size > 1) differing.add(id);
}
const esc = t => String(t).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
document.getElementById('runtimes').textContent = runs.map(r =>
  `${r.endpoint.name}: ${r.runtime.runtime_name} ${r.runtime.runtime_version}`).join(' · ');
const areas = [...new Set(ids.map(area))].sort();
const areaSelect = document.getElementById('area');
for (const a of areas) areaSelect.insertAdjacentHTML('beforeend', `<option>${esc(a)}</option>`);
document.querySelector('#matrix thead').innerHTML =
  '<tr><th>scenario</th>' + runs.map(r => `<th>${esc(r.endpoint.name)}</th>`).join('') + '</tr>';

function render() {
  const wantArea = areaSelect.value, wantVerdict = document.getElementById('verdict').value;
  const onlyDiffer = document.getElementById('differ').checked;
  let html = '', shown = 0;
  for (const a of areas) {
    const rows = ids.filter(id => area(id) === a).filter(id => {
      if (wantArea && a !== wantArea) return false;
      if (onlyDiffer && !differing.has(id)) return false;
      if (wantVerdict && !runs.some(r => (find(r, id) || {verdict: 'na'}).verdict === wantVerdict)) return false;
      return true;
    });
    if (!rows.length) continue;
    const passes = runs.map(r => rows.filter(id => (find(r, id) || {}).verdict === 'pass').length);
    html += `<tr class="area"><td>${esc(a)}</td>` + passes.map(p => `<td>${p}/${rows.length} pass</td>`).join('') + '</tr>';
    for (const id of rows) {
      shown++;
      html += `<tr data-id="${esc(id)}"><td>${esc(id)}</td>` + runs.map((r, i) => {
        const s = find(r, id), v = s ? s.verdict : 'na';
        return `<td class="cell ${v}${differing.has(id) ? ' differs' : ''}" data-run="${i}" data-id="${esc(id)}">${v === 'na' ? 'n.a.' : v}</td>`;
      }).join('') + '</tr>';
    }
  }
  document.querySelector('#matrix tbody').innerHTML = html;
  document.getElementById('count').textContent = `${shown} of ${ids.length} scenarios`;
}

function show(cell) {
  document.querySelectorAll('td.selected').forEach(c => c.classList.remove('selected'));
  cell.classList.add('selected');
  const run = runs[+cell.dataset.run], id = cell.dataset.id, s = find(run, id);
  const box = document.getElementById('details');
  if (!s) { box.innerHTML = `<h2>${esc(id)} on ${esc(run.endpoint.name)}</h2><p>n.a.: not run here.</p>`; return; }
  let html = `<h2>${esc(id)} on ${esc(run.endpoint.name)}: ${esc(s.verdict)}</h2><p>${esc(s.title)}</p>`;
  if (s.spec_ref) html += `<p class="muted">spec: ${esc(s.spec_ref)}</p>`;
  if (s.reason) html += `<p><b>${esc(s.reason)}</b></p>`;
  for (const step of s.steps) {
    const obs = step.observations[step.observations.length - 1] || {};
    const others = runs.map((r, i) => {
      if (i === +cell.dataset.run) return '';
      const o = find(r, id), st = o && o.steps[step.index - 1];
      const ob = st && st.observations[st.observations.length - 1];
      return `${esc(r.endpoint.name)}: ${ob ? esc(ob.code_name || 'log') : 'not reached'}`;
    }).filter(Boolean).join(', ');
    html += `<div class="step ${esc(step.verdict)}"><b>step ${step.index} ${esc(step.name)}</b>: ${esc(step.verdict)}` +
      (obs.code_name ? ` — ${esc(obs.code_name)}` : '') + (others ? ` <span class="muted">(others: ${others})</span>` : '') +
      (step.message ? `<div>${esc(step.message)}</div>` : '') +
      `<details><summary>request and response</summary><pre>${esc(JSON.stringify(obs.request ?? obs.path, null, 2))}</pre>` +
      `<pre>${esc(JSON.stringify(obs.response ?? obs.log ?? obs.message, null, 2))}</pre></details></div>`;
  }
  box.innerHTML = html;
}

document.querySelector('#matrix tbody').addEventListener('click', e => {
  const cell = e.target.closest('td.cell');
  if (cell) show(cell);
});
for (const id of ['area', 'verdict', 'differ']) document.getElementById(id).addEventListener('change', render);
render();
</script></body></html>
)HTML";

}  // namespace

std::string MatrixHtml(const std::vector<runner::RunResult>& runs) {
  std::string json = MatrixJson(runs).dump();
  std::string safe;
  safe.reserve(json.size());
  for (char c : json) {
    if (c == '<') {
      safe += "\\u003c";
    } else {
      safe += c;
    }
  }
  std::string page = kPage;
  page.replace(page.find("@DATA@"), 6, safe);
  return page;
}

}  // namespace crisp::report
