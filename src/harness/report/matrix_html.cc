#include "harness/report/matrix_html.h"

#include "common/strings.h"

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
th,td{border:1px solid #d0d0d5;padding:.35em .7em;text-align:left;vertical-align:top}
th{background:#f2f2f5}
tr.area td{background:#e8ecf5;font-weight:600}
td.cell{cursor:pointer;text-align:center;min-width:7em}
td.pass{background:#e3f6e5}td.fail{background:#fbe0e0}td.error{background:#fdf0d5}
td.skip{background:#eeeeee}td.na{background:#f4f4f6;color:#666}td.known{background:#efe6fb}
td.none{background:#fafafa;color:#aaa}td.fixed{font-weight:600}
td.differs{outline:2px dashed #7a5cff;outline-offset:-3px}
td.selected{box-shadow:inset 0 0 0 3px #1d1d1f}
#details{margin-top:1.5em;border-top:2px solid #d0d0d5;padding-top:1em}
#details pre{background:#f6f6f8;padding:.6em;overflow:auto;max-height:18em;font-size:12px}
.step{margin:.6em 0;padding:.4em .6em;border-left:4px solid #ccc}
.step.pass{border-color:#3a3}.step.fail{border-color:#c33}.step.error{border-color:#d90}.step.na{border-color:#999}
table.diff{margin:.4em 0;font-size:12px}table.diff td{font-family:ui-monospace,monospace}
.diffnote{color:#5a3dd6;font-weight:600}
.muted{color:#777}
</style></head><body>
<h1>crisp matrix</h1>
<div id="runtimes"></div>
<div class="filters">
  <label>Area <select id="area"><option value="">all</option></select></label>
  <label>Verdict <select id="verdict"><option value="">any</option><option>pass</option><option>fail</option>
    <option>error</option><option>skip</option><option value="na">n.a.</option><option>known</option>
    <option value="none">not run</option></select></label>
  <label><input type="checkbox" id="differ"> only where runtimes differ</label>
  <span id="count" class="muted"></span>
</div>
<table id="matrix"><thead></thead><tbody></tbody></table>
<div id="details"><p class="muted">Click a cell to see its steps.</p></div>
<script id="data" type="application/json">@DATA@</script>
<script>
const data = JSON.parse(document.getElementById('data').textContent);
const runs = data.runs;
const ids = [], seen = new Set();
const byId = runs.map(run => {
  const m = new Map();
  for (const s of run.scenarios) { m.set(s.id, s); if (!seen.has(s.id)) { seen.add(s.id); ids.push(s.id); } }
  return m;
});
const area = id => id.split('.')[0];
const verdictOf = (i, id) => { const s = byId[i].get(id); return s ? s.verdict : 'none'; };
const label = {pass: 'pass', fail: 'fail', error: 'error', skip: 'skip', na: 'n.a.', known: 'known', none: 'not run'};
const diffs = new Map();  // scenario -> step -> difference
for (const d of data.differences) {
  if (!diffs.has(d.scenario)) diffs.set(d.scenario, new Map());
  diffs.get(d.scenario).set(d.step, d);
}
const differing = new Set(diffs.keys());
for (const id of ids) if (new Set(runs.map((r, i) => verdictOf(i, id))).size > 1) differing.add(id);
const esc = t => String(t).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
document.getElementById('runtimes').innerHTML = runs.map(r => {
  const met = Object.entries((r.capabilities || {}).met || {}).filter(([k, v]) => v).map(([k]) => k);
  return `<div><b>${esc(r.endpoint.name)}</b>: ${esc(r.runtime.runtime_name)} ${esc(r.runtime.runtime_version)}` +
    ` <span class="muted">(API ${esc(r.runtime.runtime_api_version)}; run ${esc(r.run_id)}` +
    (met.length ? `; meets ${esc(met.join(', '))}` : '') + ')</span></div>';
}).join('');
const areas = [...new Set(ids.map(area))].sort();
const areaSelect = document.getElementById('area');
for (const a of areas) areaSelect.insertAdjacentHTML('beforeend', `<option>${esc(a)}</option>`);
document.querySelector('#matrix thead').innerHTML =
  '<tr><th>scenario</th>' + runs.map(r => `<th>${esc(r.endpoint.name)}<br><span class="muted">` +
  `${esc(r.runtime.runtime_name)} ${esc(r.runtime.runtime_version)}</span></th>`).join('') + '</tr>';
const byArea = new Map(areas.map(a => [a, []]));
for (const id of ids) byArea.get(area(id)).push(id);

function render() {
  const wantArea = areaSelect.value, wantVerdict = document.getElementById('verdict').value;
  const onlyDiffer = document.getElementById('differ').checked;
  const parts = []; let shown = 0;
  for (const a of areas) {
    if (wantArea && a !== wantArea) continue;
    const rows = byArea.get(a).filter(id => {
      if (onlyDiffer && !differing.has(id)) return false;
      if (wantVerdict && !runs.some((r, i) => verdictOf(i, id) === wantVerdict)) return false;
      return true;
    });
    if (!rows.length) continue;
    const passes = runs.map((r, i) => rows.filter(id => verdictOf(i, id) === 'pass').length);
    parts.push(`<tr class="area"><td>${esc(a)}</td>` + passes.map(p => `<td>${p}/${rows.length} pass</td>`).join('') + '</tr>');
    for (const id of rows) {
      shown++;
      const d = differing.has(id) ? ' differs' : '';
      parts.push(`<tr data-id="${esc(id)}"><td>${esc(id)}</td>` + runs.map((r, i) => {
        const s = byId[i].get(id), v = s ? s.verdict : 'none';
        const fixed = s && s.baseline && s.baseline.fixed;
        return `<td class="cell ${v}${d}${fixed ? ' fixed' : ''}" data-run="${i}" data-id="${esc(id)}"` +
          (fixed ? ' title="fixed: remove from baseline"' : '') + `>${label[v]}${fixed ? ' (fixed)' : ''}</td>`;
      }).join('') + '</tr>');
    }
  }
  document.querySelector('#matrix tbody').innerHTML = parts.join('');
  document.getElementById('count').textContent = `${shown} of ${ids.length} scenarios`;
}

const show_json = v => v === undefined ? '<i>absent</i>' : esc(JSON.stringify(v));
function diffTable(d, self) {
  let html = '';
  const codes = Object.entries(d.codes).filter(([, c]) => c);
  if (new Set(codes.map(([, c]) => c)).size > 1)
    html += '<div class="diffnote">codes differ: ' + codes.map(([r, c]) => `${esc(r)} ${esc(c)}`).join(', ') + '</div>';
  if (d.fields.length) {
    const names = runs.map(r => r.endpoint.name).filter(n => d.fields.some(f => n in f.values || f.absent.includes(n)));
    html += '<table class="diff"><tr><th>field (normalised)</th>' + names.map(n =>
      `<th>${esc(n)}${n === self ? ' (this)' : ''}</th>`).join('') + '</tr>' +
      d.fields.map(f => `<tr><td>${esc(f.path)}</td>` + names.map(n => `<td>${show_json(f.values[n])}</td>`).join('') + '</tr>').join('') +
      '</table>';
    if (d.fields_left_out) html += `<div class="muted">and ${d.fields_left_out} more field(s) in results.json</div>`;
  }
  return html;
}

function show(cell) {
  document.querySelectorAll('td.selected').forEach(c => c.classList.remove('selected'));
  cell.classList.add('selected');
  const i = +cell.dataset.run, run = runs[i], id = cell.dataset.id, s = byId[i].get(id);
  const box = document.getElementById('details');
  if (!s) { box.innerHTML = `<h2>${esc(id)} on ${esc(run.endpoint.name)}</h2><p>not run here: the scenario was not selected for this runtime.</p>`; return; }
  let html = `<h2>${esc(id)} on ${esc(run.endpoint.name)}: ${esc(label[s.verdict])}</h2><p>${esc(s.title)}</p>`;
  if (s.spec_ref) html += `<p class="muted">spec: ${esc(s.spec_ref)}</p>`;
  if (s.baseline) html += `<p><b>baseline:</b> ${esc(s.baseline.reason)}` +
    (s.baseline.link ? ` <span class="muted">${esc(s.baseline.link)}</span>` : '') +
    (s.baseline.fixed ? ' — <b>fixed: remove from baseline</b>' : ` (actual: ${esc(s.baseline.actual)})`) + '</p>';
  if (s.reason) html += `<p><b>${esc(s.reason)}</b></p>`;
  const stepDiffs = diffs.get(id) || new Map();
  for (const step of s.steps) {
    const obs = step.observations[step.observations.length - 1] || {};
    const d = stepDiffs.get(step.index);
    html += `<div class="step ${esc(step.verdict)}"><b>step ${step.index} ${esc(step.name)}</b>: ${esc(label[step.verdict] || step.verdict)}` +
      (obs.code_name ? ` — ${esc(obs.code_name)}` : '') + (step.attempts > 1 ? ` <span class="muted">(${step.attempts} attempts)</span>` : '') +
      (step.message ? `<div>${esc(step.message)}</div>` : '') +
      (d ? diffTable(d, run.endpoint.name) : (runs.length > 1 ? '<div class="muted">same behaviour on the other runtimes that reached this step</div>' : '')) +
      `<details><summary>request and response</summary><pre>${esc(JSON.stringify(obs.request ?? obs.path, null, 2))}</pre>` +
      `<pre>${esc(JSON.stringify(obs.response ?? obs.log ?? obs.message, null, 2))}</pre></details></div>`;
  }
  if (s.cleanup && s.cleanup.length) html += `<p class="muted">cleanup: ${s.cleanup.map(esc).join('; ')}</p>`;
  if (s.findings && s.findings.length) html += `<p>findings: ${s.findings.map(esc).join('; ')}</p>`;
  box.innerHTML = html;
}

document.querySelector('#matrix tbody').addEventListener('click', e => {
  const cell = e.target.closest('td.cell');
  if (cell) show(cell);
});
for (const id of ['area', 'verdict', 'differ']) document.getElementById(id).addEventListener('change', render);
render();
document.body.dataset.rendered = 'true';
</script></body></html>
)HTML";

}  // namespace

std::string MatrixHtml(const nlohmann::json& matrix_json) {
  // The data is serialised straight into the page, with every '<' escaped
  // on the way, so that a 20 MB matrix is not copied three times over.
  class ScriptSafe final : public nlohmann::detail::output_adapter_protocol<char> {
   public:
    explicit ScriptSafe(std::string& out) : out_(out) {}
    void write_character(char c) override {
      if (c == '<') {
        out_ += "\\u003c";
      } else {
        out_ += c;
      }
    }
    void write_characters(const char* text, std::size_t length) override {
      std::string_view chunk(text, length);
      for (size_t at = chunk.find('<'); at != std::string_view::npos; at = chunk.find('<')) {
        out_.append(chunk.substr(0, at));
        out_ += "\\u003c";
        chunk.remove_prefix(at + 1);
      }
      out_.append(chunk);
    }

   private:
    std::string& out_;
  };
  std::string_view page = kPage;
  size_t marker = page.find("@DATA@");
  std::string html;
  html.reserve(page.size() + (size_t{1} << 20));
  html.append(page.substr(0, marker));
  nlohmann::detail::serializer<nlohmann::json> serializer(std::make_shared<ScriptSafe>(html), ' ',
                                                          nlohmann::json::error_handler_t::replace);
  serializer.dump(matrix_json, false, false, 0);
  html.append(page.substr(marker + 6));
  return html;
}

}  // namespace crisp::report
