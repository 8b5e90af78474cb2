#include "harness/report/matrix.h"

#include <algorithm>
#include <map>
#include <set>
#include <atomic>
#include <functional>
#include <thread>

#include "common/json_text.h"
#include "common/strings.h"
#include "harness/diff/behaviour.h"
#include "harness/report/matrix_html.h"
#include "harness/report/reports.h"

namespace crisp::report {
namespace {

using runner::RunResult;
using runner::ScenarioResult;
using runner::Verdict;

std::string_view Cell(Verdict verdict) {
  switch (verdict) {
    case Verdict::kPass: return "✅ pass";
    case Verdict::kFail: return "❌ fail";
    case Verdict::kError: return "⚠️ error";
    case Verdict::kSkip: return "⏭️ skip";
    case Verdict::kNotApplicable: return "➖ n.a.";
    case Verdict::kKnown: return "📌 known";
  }
  return "?";
}

// Scenario ids in first-seen order over all runs.
std::vector<std::string> ScenarioOrder(const std::vector<RunResult>& runs) {
  std::vector<std::string> order;
  std::set<std::string> seen;
  for (const RunResult& run : runs) {
    for (const ScenarioResult& scenario : run.scenarios) {
      if (seen.insert(scenario.id).second) order.push_back(scenario.id);
    }
  }
  return order;
}

std::string Escape(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else if (c == '`') out += '\'';
    else out += c;
  }
  return out;
}

// Runs body(0..count-1) on a few threads, 64 items at least each: a big
// matrix is thousands of independent scenarios.
void ParallelFor(size_t count, const std::function<void(size_t)>& body) {
  size_t threads = std::min<size_t>(std::max(1u, std::thread::hardware_concurrency()), 8);
  threads = std::min(threads, std::max<size_t>(count / 64, 1));
  if (count <= 1 || threads <= 1) {
    for (size_t i = 0; i < count; ++i) body(i);
    return;
  }
  std::atomic<size_t> next{0};
  std::vector<std::thread> workers;
  for (size_t t = 0; t < threads; ++t) {
    workers.emplace_back([&] {
      for (size_t i = next++; i < count; i = next++) body(i);
    });
  }
  for (std::thread& worker : workers) worker.join();
}

std::string Short(const nlohmann::json& value) {
  std::string text = JsonText(value);
  return text.size() > 80 ? text.substr(0, 77) + "..." : text;
}

nlohmann::json DifferencesJson(const Matrix& matrix) {
  nlohmann::json differences = nlohmann::json::array();
  for (const StepDifference& difference : matrix.differences) {
    nlohmann::json codes = nlohmann::json::object();
    for (const auto& [runtime, code] : difference.codes) codes[runtime] = code;
    nlohmann::json fields = nlohmann::json::array();
    for (const StepDifference::Field& field : difference.fields) {
      nlohmann::json values = nlohmann::json::object();
      nlohmann::json absent = nlohmann::json::array();
      for (const auto& [runtime, value] : field.values) {
        if (value) {
          values[runtime] = *value;
        } else {
          absent.push_back(runtime);
        }
      }
      fields.push_back({{"path", field.path}, {"values", values}, {"absent", absent}});
    }
    differences.push_back({{"scenario", difference.scenario}, {"step", difference.step}, {"name", difference.name},
                           {"method", difference.method}, {"codes", codes}, {"fields", fields},
                           {"fields_left_out", difference.fields_left_out}});
  }
  return differences;
}

}  // namespace

Matrix BuildMatrix(const std::vector<RunResult>& runs, const diff::Normaliser& normaliser) {
  Matrix matrix;
  matrix.runs = &runs;
  std::vector<nlohmann::json> results(runs.size());
  // One after another: building the runs' documents on several threads
  // measured slower here (median 894 against 841 ms for BM_MatrixHtml),
  // their allocations competing.
  for (size_t i = 0; i < runs.size(); ++i) results[i] = ResultsJson(runs[i]);
  // Each run's scenarios by id, as results.json has them.
  std::vector<std::map<std::string, const nlohmann::json*>> by_id(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const nlohmann::json& scenario : results[i]["scenarios"]) {
      by_id[i][scenario["id"].get_ref<const std::string&>()] = &scenario;
    }
  }
  std::vector<std::string> order = ScenarioOrder(runs);
  std::vector<std::vector<StepDifference>> per_scenario(order.size());
  ParallelFor(order.size(), [&](size_t k) {
    const std::string& id = order[k];
    std::vector<const nlohmann::json*> sides;
    for (size_t i = 0; i < runs.size(); ++i) {
      auto found = by_id[i].find(id);
      sides.push_back(found == by_id[i].end() ? nullptr : found->second);
    }
    for (diff::StepDifference& step : diff::CompareBehaviour(sides, normaliser)) {
      StepDifference difference{id, step.step, step.name, step.method, {}, {}, step.fields_left_out};
      for (size_t i = 0; i < runs.size(); ++i) difference.codes.emplace_back(runs[i].endpoint.name, step.codes[i]);
      for (diff::FieldDifference& field : step.fields) {
        StepDifference::Field out{field.path, {}};
        for (size_t i = 0; i < runs.size(); ++i) {
          if (diff::HasAnswer(step.codes[i])) out.values.emplace_back(runs[i].endpoint.name, field.values[i]);
        }
        difference.fields.push_back(std::move(out));
      }
      per_scenario[k].push_back(std::move(difference));
    }
  });
  for (auto& differences : per_scenario) {
    for (StepDifference& difference : differences) matrix.differences.push_back(std::move(difference));
  }
  nlohmann::json all_runs = nlohmann::json::array();
  for (nlohmann::json& run : results) all_runs.push_back(std::move(run));
  matrix.document = nlohmann::json::object();
  matrix.document["schema"] = kMatrixSchema;
  matrix.document["runs"] = std::move(all_runs);
  matrix.document["differences"] = DifferencesJson(matrix);
  return matrix;
}

std::string MatrixMarkdown(const Matrix& matrix) {
  const std::vector<RunResult>& runs = *matrix.runs;
  std::vector<std::string> order = ScenarioOrder(runs);
  std::vector<std::map<std::string, const ScenarioResult*>> by_id(runs.size());
  for (size_t i = 0; i < runs.size(); ++i) {
    for (const ScenarioResult& scenario : runs[i].scenarios) by_id[i].emplace(scenario.id, &scenario);
  }
  std::string md = crisp::StrCat("## crisp matrix: ", order.size(), " scenarios × ", runs.size(), " runtimes\n\n");
  md += "| scenario |";
  for (const RunResult& run : runs) {
    crisp::StrAppend(&md, " ", run.endpoint.name, " (", run.runtime_version.value("runtime_name", "?"), " ",
                     run.runtime_version.value("runtime_version", "?"), ") |");
  }
  md += "\n|---|";
  for (size_t i = 0; i < runs.size(); ++i) md += "---|";
  md += "\n";
  for (const std::string& id : order) {
    crisp::StrAppend(&md, "| `", id, "` |");
    for (const auto& scenarios : by_id) {
      auto found = scenarios.find(id);
      crisp::StrAppend(&md, " ", found == scenarios.end() ? "— not run" : Cell(found->second->verdict), " |");
    }
    md += "\n";
  }
  md += "\n**Totals:**";
  for (const RunResult& run : runs) {
    crisp::StrAppend(&md, " ", run.endpoint.name, " ", run.Count(Verdict::kPass), "/", run.scenarios.size(), " pass");
    std::vector<std::string> notes;
    if (int bad = run.Count(Verdict::kFail) + run.Count(Verdict::kError); bad > 0) notes.push_back(crisp::StrCat(bad, " fail or error"));
    if (int na = run.Count(Verdict::kNotApplicable); na > 0) notes.push_back(crisp::StrCat(na, " n.a."));
    if (int known = run.Count(Verdict::kKnown); known > 0) notes.push_back(crisp::StrCat(known, " known"));
    if (int skip = run.Count(Verdict::kSkip); skip > 0) notes.push_back(crisp::StrCat(skip, " skip"));
    for (size_t i = 0; i < notes.size(); ++i) crisp::StrAppend(&md, i == 0 ? " (" : ", ", notes[i], i + 1 == notes.size() ? ")" : "");
    md += &run == &runs.back() ? "" : " ·";
  }
  md += "\n";

  std::string failures, other, fixed;
  for (const RunResult& run : runs) {
    for (const ScenarioResult& scenario : run.scenarios) {
      std::string line = crisp::StrCat("- **", run.endpoint.name, "** `", scenario.id, "` ");
      if (runner::IsFailure(scenario.verdict)) {
        crisp::StrAppend(&failures, line, runner::VerdictName(scenario.verdict), ": ", Escape(scenario.reason), "\n");
      } else if (scenario.verdict == Verdict::kKnown) {
        crisp::StrAppend(&other, line, "known failure: ", Escape(scenario.baseline->reason),
                         scenario.baseline->link.empty() ? "" : " (" + scenario.baseline->link + ")", "\n");
      } else if (scenario.verdict == Verdict::kNotApplicable || scenario.verdict == Verdict::kSkip) {
        crisp::StrAppend(&other, line, scenario.verdict == Verdict::kSkip ? "skip" : "n.a.", ": ", Escape(scenario.reason), "\n");
      } else if (scenario.IsStale()) {
        crisp::StrAppend(&fixed, line, "passes: fixed, remove it from the baseline (", Escape(scenario.baseline->reason), ")\n");
      }
    }
  }
  if (!failures.empty()) crisp::StrAppend(&md, "\n### Failing\n\n", failures);
  if (!fixed.empty()) crisp::StrAppend(&md, "\n### Fixed: remove from baseline\n\n", fixed);
  if (!other.empty()) crisp::StrAppend(&md, "\n<details><summary>Known, n.a. and skipped</summary>\n\n", other, "\n</details>\n");

  md += "\n### Where the runtimes behave differently\n\n";
  if (matrix.differences.empty()) {
    md += "Every step that two or more runtimes reached ended with the same gRPC code and, after normalisation, "
          "the same answer.\n";
  }
  constexpr size_t kFieldsShown = 5;
  for (const StepDifference& difference : matrix.differences) {
    crisp::StrAppend(&md, "- `", difference.scenario, "` step ", difference.step, " `", difference.name, "`:");
    std::set<std::string> codes;
    for (const auto& [runtime, code] : difference.codes) {
      if (!code.empty()) codes.insert(code);
    }
    if (codes.size() > 1) {
      for (const auto& [runtime, code] : difference.codes) {
        crisp::StrAppend(&md, " ", runtime, " `", code.empty() ? "not reached" : code, "`");
        md += &code == &difference.codes.back().second ? "" : ",";
      }
    }
    md += "\n";
    for (size_t i = 0; i < std::min(kFieldsShown, difference.fields.size()); ++i) {
      const StepDifference::Field& field = difference.fields[i];
      crisp::StrAppend(&md, "  - `", Escape(field.path), "`:");
      for (const auto& [runtime, value] : field.values) {
        crisp::StrAppend(&md, " ", runtime, " `", value ? Escape(Short(*value)) : "absent", "`");
        md += &value == &field.values.back().second ? "" : ",";
      }
      md += "\n";
    }
    size_t more = difference.fields_left_out + difference.fields.size() - std::min(kFieldsShown, difference.fields.size());
    if (more > 0) crisp::StrAppend(&md, "  - and ", more, " more field(s): see matrix.html\n");
  }
  return md;
}

absl::Status WriteMatrixReports(const Matrix& matrix, const std::string& summary, const std::string& directory) {
  const nlohmann::json& json = MatrixJson(matrix);
  std::vector<std::pair<std::string, std::string>> files = {
      {"summary.md", summary},
      {"results.json", JsonText(json, 2) + "\n"},
      {"matrix.html", MatrixHtml(json)}};
  for (const RunResult& run : *matrix.runs) {
    // A fleet's columns are NODE/RUNTIME: one file name each, no directory.
    std::string name = run.endpoint.name;
    std::replace(name.begin(), name.end(), '/', '_');
    files.emplace_back("junit-" + name + ".xml", JunitXml(run));
  }
  return WriteFiles(directory, files);
}

}  // namespace crisp::report
