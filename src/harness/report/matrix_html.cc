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
tr.kindrow td{font-family:inherit;font-style:italic;background:#f3f0ff}.kinds ul{margin:.2em 0}.step.flash{outline:2px solid #5a3dd6}
.muted{color:#777}
.runtime{display:flex;gap:.8em;align-items:center;margin:.2em 0}
.bar{display:flex;width:16em;height:.8em;border:1px solid #d0d0d5}
.bar span{display:block;height:100%}
.bar .pass{background:#4caf50}.bar .fail{background:#e53935}.bar .error{background:#f0a000}
.bar .known{background:#9c7ae0}.bar .na{background:#c8c8cc}.bar .skip{background:#e4e4e6}
.legend{font-size:12px;color:#555;margin:.5em 0}
.legend span.sw{display:inline-block;width:1.2em;height:.9em;vertical-align:middle;border:1px solid #d0d0d5;margin:0 .2em 0 .6em}
td.sid .title{display:block;font-size:12px;color:#666;max-width:38em}
tr.focus td.sid{background:#fff8d0}
table.fleet{margin:.5em 0 1em}table.fleet td,table.fleet th{padding:2px 8px;font-size:13px}
ul.conflicts li{color:#a00}
</style></head><body>
<h1 id="heading">crisp matrix</h1>
<div id="runtimes"></div>
<div id="fleet"></div>
<div class="legend">
  <span class="sw" style="background:#e3f6e5"></span>pass <span class="sw" style="background:#fbe0e0"></span>fail
  <span class="sw" style="background:#fdf0d5"></span>error <span class="sw" style="background:#efe6fb"></span>known (baseline)
  <span class="sw" style="background:#f4f4f6"></span>n.a. <span class="sw" style="background:#eeeeee"></span>skip
  <span class="sw" style="outline:2px dashed #7a5cff;outline-offset:-3px"></span>runtimes differ: in verdict, or in what a step answered (normalised; docs/normalisation.md)
  · arrow keys move between cells, Enter opens one; a link to <code>#scenario-id</code> or <code>#scenario-id@runtime</code> opens that cell
</div>
<div class="filters">
  <label>Area <select id="area"><option value="">all</option></select></label>
  <label>Verdict <select id="verdict"><option value="">any</option><option>pass</option><option>fail</option>
    <option>error</option><option>skip</option><option value="na">n.a.</option><option>known</option>
    <option value="none">not run</option></select></label>
  <label><input type="checkbox" id="differ"> only where runtimes differ</label>
  <label>Difference <select id="kind"><option value="">any</option><option value="verdict">verdict</option>
    <option value="code">gRPC code</option><option value="presence">a field on one side only</option>
    <option value="value">a value</option></select></label>
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
// What kinds of difference each scenario has: verdict, code, presence, value.
const kinds = new Map();
const addKind = (id, k) => { if (!kinds.has(id)) kinds.set(id, new Set()); kinds.get(id).add(k); };
for (const d of data.differences) {
  if (new Set(Object.values(d.codes).filter(c => c)).size > 1) addKind(d.scenario, 'code');
  for (const f of d.fields) addKind(d.scenario, f.absent.length ? 'presence' : 'value');
}
for (const id of ids) if (new Set(runs.map((r, i) => verdictOf(i, id))).size > 1) addKind(id, 'verdict');
const esc = t => String(t).replace(/[&<>"]/g, c => ({'&':'&amp;','<':'&lt;','>':'&gt;','"':'&quot;'}[c]));
const order = ['pass', 'known', 'na', 'skip', 'error', 'fail'];
document.getElementById('heading').textContent = runs.length === 1 ? `crisp run on ${runs[0].endpoint.name}` : 'crisp matrix';
document.title = document.getElementById('heading').textContent;
document.getElementById('runtimes').innerHTML = runs.map(r => {
  const met = Object.entries((r.capabilities || {}).met || {}).filter(([k, v]) => v).map(([k]) => k);
  const sum = r.summary || {}, total = sum.total || 0;
  const bar = total ? order.filter(v => sum[v]).map(v =>
    `<span class="${v}" style="width:${(100 * sum[v] / total).toFixed(2)}%" title="${label[v]}: ${sum[v]}"></span>`).join('') : '';
  const counts = order.filter(v => sum[v]).map(v => `${sum[v]} ${label[v]}`).join(', ');
  return `<div class="runtime"><span><b>${esc(r.endpoint.name)}</b>: ${esc(r.runtime.runtime_name)} ${esc(r.runtime.runtime_version)}</span>` +
    `<span class="bar" title="${esc(counts)}">${bar}</span><span class="totals"><b>${sum.pass || 0}/${total} pass</b>` +
    (counts ? ` <span class="muted">(${esc(counts)})</span>` : '') + '</span>' +
    ` <span class="muted">API ${esc(r.runtime.runtime_api_version)}; run ${esc(r.run_id)}` +
    (met.length ? `; meets ${esc(met.join(', '))}` : '') + '</span></div>';
}).join('');
if (data.fleet) {
  const f = data.fleet;
  document.getElementById('heading').textContent =
    `crisp fleet: ${f.nodes.length} node run${f.nodes.length === 1 ? '' : 's'} in ${f.groups.length} group${f.groups.length === 1 ? '' : 's'}`;
  document.title = document.getElementById('heading').textContent;
  let html = '<table class="fleet"><thead><tr><th>group</th><th>column</th><th>node</th><th>runtime</th><th>kernel</th>' +
    '<th>OS</th><th>shards</th><th>from</th></tr></thead><tbody>' + f.nodes.map(n =>
      `<tr class="node" data-group="${n.group}"><td>G${n.group}</td><td><b>${esc(n.column)}</b></td><td>${esc(n.node)}</td>` +
      `<td>${esc(n.runtime_name)} ${esc(n.runtime_version)}</td><td>${esc(n.kernel)}</td><td>${esc(n.os)}</td>` +
      `<td>${esc(n.shards.join(', '))}</td><td class="muted">${esc(n.sources.join(', '))}</td></tr>`).join('') + '</tbody></table>';
  if (f.conflicts.length) html += `<p><b>Conflicting verdicts (${f.conflicts.length}), shown as errors:</b></p><ul class="conflicts">` +
    f.conflicts.map(c => `<li>${esc(c)}</li>`).join('') + '</ul>';
  if (f.notes.length) html += '<ul class="notes muted">' + f.notes.map(c => `<li>${esc(c)}</li>`).join('') + '</ul>';
  document.getElementById('fleet').innerHTML = html;
}
const titleOf = id => { for (const m of byId) { const s = m.get(id); if (s) return s; } return {}; };
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
  const wantKind = document.getElementById('kind').value;
  const parts = []; let shown = 0;
  for (const a of areas) {
    if (wantArea && a !== wantArea) continue;
    const rows = byArea.get(a).filter(id => {
      if (onlyDiffer && !differing.has(id)) return false;
      if (wantKind && !(kinds.get(id) || new Set()).has(wantKind)) return false;
      if (wantVerdict && !runs.some((r, i) => verdictOf(i, id) === wantVerdict)) return false;
      return true;
    });
    if (!rows.length) continue;
    const passes = runs.map((r, i) => rows.filter(id => verdictOf(i, id) === 'pass').length);
    parts.push(`<tr class="area"><td>${esc(a)}</td>` + passes.map(p => `<td>${p}/${rows.length} pass</td>`).join('') + '</tr>');
    for (const id of rows) {
      shown++;
      const d = differing.has(id) ? ' differs' : '';
      const t = titleOf(id);
      const kindText = [...(kinds.get(id) || [])].join(', ');
      parts.push(`<tr data-id="${esc(id)}" id="${esc(id)}"><td class="sid" title="${esc(t.spec_ref || '')}">` +
        `<a href="#${esc(id)}">${esc(id)}</a><span class="title">${esc(t.title || '')}` +
        (kindText ? ` <span class="diffnote">(differs: ${esc(kindText)})</span>` : '') + '</span></td>' + runs.map((r, i) => {
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
    // Grouped by kind: fields one side lacks, then values that differ.
    const group = (title, kind, fields) => fields.length ? `<tr class="kindrow" data-kind="${kind}"><td colspan="${names.length + 1}">${title}</td></tr>` +
      fields.map(f => `<tr data-kind="${kind}"><td>${esc(f.path)}</td>` + names.map(n => `<td>${show_json(f.values[n])}</td>`).join('') + '</tr>').join('') : '';
    html += '<table class="diff"><tr><th>field (normalised)</th>' + names.map(n =>
      `<th>${esc(n)}${n === self ? ' (this)' : ''}</th>`).join('') + '</tr>' +
      group('present on one side only', 'presence', d.fields.filter(f => f.absent.length)) +
      group('values differ', 'value', d.fields.filter(f => !f.absent.length)) + '</table>';
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
  // The differing steps, grouped by kind of difference, each a link to its step.
  const byKind = {code: [], presence: [], value: []};
  for (const step of s.steps) {
    const d = stepDiffs.get(step.index);
    if (!d) continue;
    if (new Set(Object.values(d.codes).filter(c => c)).size > 1) byKind.code.push(step);
    if (d.fields.some(f => f.absent.length)) byKind.presence.push(step);
    if (d.fields.some(f => !f.absent.length)) byKind.value.push(step);
  }
  const kindTitles = {code: 'gRPC code', presence: 'a field on one side only', value: 'a value'};
  const kindItems = Object.entries(byKind).filter(([, steps]) => steps.length).map(([kind, steps]) =>
    `<li data-kind="${kind}">${kindTitles[kind]}: ` + steps.map(st =>
      `<a href="#" class="steplink" data-step="${st.index}">step ${st.index} ${esc(st.name)}</a>`).join(', ') + '</li>');
  if (kindItems.length) html += `<div class="kinds"><b>Differing steps by kind</b><ul>${kindItems.join('')}</ul></div>`;
  for (const step of s.steps) {
    const obs = step.observations[step.observations.length - 1] || {};
    const d = stepDiffs.get(step.index);
    html += `<div class="step ${esc(step.verdict)}" id="step-${step.index}"><b>step ${step.index} ${esc(step.name)}</b>: ${esc(label[step.verdict] || step.verdict)}` +
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

document.getElementById('details').addEventListener('click', e => {
  const link = e.target.closest('a.steplink');
  if (!link) return;
  e.preventDefault();  // the address keeps pointing at the cell
  const step = document.getElementById(`step-${link.dataset.step}`);
  document.querySelectorAll('.step.flash').forEach(el => el.classList.remove('flash'));
  step.classList.add('flash');
  step.scrollIntoView({block: 'nearest'});
});
document.querySelector('#matrix tbody').addEventListener('click', e => {
  const cell = e.target.closest('td.cell');
  if (cell) { show(cell); history.replaceState(null, '', `#${cell.dataset.id}@${runs[+cell.dataset.run].endpoint.name}`); }
});
for (const id of ['area', 'verdict', 'differ', 'kind']) document.getElementById(id).addEventListener('change', render);

// #scenario-id or #scenario-id@runtime opens that cell (a PR comment can
// point at one); the filters are cleared so the row is there.
function openFromHash() {
  const hash = decodeURIComponent(location.hash.slice(1));
  if (!hash) return;
  const [id, runtime] = hash.split('@');
  if (!seen.has(id)) return;
  areaSelect.value = ''; document.getElementById('verdict').value = ''; document.getElementById('kind').value = '';
  document.getElementById('differ').checked = false;
  render();
  const index = Math.max(0, runs.findIndex(r => r.endpoint.name === runtime));
  const cell = document.querySelector(`td.cell[data-run="${index}"][data-id="${CSS.escape(id)}"]`);
  if (!cell) return;
  show(cell);
  document.querySelectorAll('tr.focus').forEach(r => r.classList.remove('focus'));
  cell.parentElement.classList.add('focus');
  cell.scrollIntoView({block: 'center'});
}
window.addEventListener('hashchange', openFromHash);

// Arrow keys move the selection between cells; Enter shows it again.
document.addEventListener('keydown', e => {
  if (e.target.closest && e.target.closest('select, input, textarea')) return;
  const cells = [...document.querySelectorAll('td.cell')];
  if (!cells.length) return;
  const current = document.querySelector('td.selected') || null;
  let next = null;
  if (!current && ['ArrowDown', 'ArrowUp', 'ArrowLeft', 'ArrowRight', 'Enter'].includes(e.key)) next = cells[0];
  else if (current) {
    const row = current.parentElement, run = current.dataset.run;
    const rows = [...document.querySelectorAll('tbody tr[data-id]')];
    const at = rows.indexOf(row);
    if (e.key === 'ArrowRight') next = current.nextElementSibling;
    else if (e.key === 'ArrowLeft') next = current.previousElementSibling;
    else if (e.key === 'ArrowDown' && at + 1 < rows.length) next = rows[at + 1].querySelector(`td.cell[data-run="${run}"]`);
    else if (e.key === 'ArrowUp' && at > 0) next = rows[at - 1].querySelector(`td.cell[data-run="${run}"]`);
    else if (e.key === 'Enter') next = current;
  }
  if (next && next.classList.contains('cell')) {
    e.preventDefault();
    show(next);
    next.scrollIntoView({block: 'nearest'});
  }
});
render();
openFromHash();
document.body.dataset.rendered = 'true';
</script></body></html>
)HTML";

}  // namespace

std::string PageWithData(std::string_view page, const nlohmann::json& data) {
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
  size_t marker = page.find("@DATA@");
  std::string html;
  html.reserve(page.size() + (size_t{1} << 20));
  html.append(page.substr(0, marker));
  nlohmann::detail::serializer<nlohmann::json> serializer(std::make_shared<ScriptSafe>(html), ' ',
                                                          nlohmann::json::error_handler_t::replace);
  serializer.dump(data, false, false, 0);
  html.append(page.substr(marker + 6));
  return html;
}

std::string MatrixHtml(const nlohmann::json& matrix_json) { return PageWithData(kPage, matrix_json); }

}  // namespace crisp::report
