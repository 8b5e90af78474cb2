#include "harness/report/matrix.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/strings.h"
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
  }
  return "?";
}

std::string LastCode(const runner::StepResult& step) {
  if (step.observations.empty()) return "";
  const nlohmann::json& last = step.observations.back();
  return last.contains("code_name") ? last["code_name"].get<std::string>() : "";
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

const ScenarioResult* FindScenario(const RunResult& run, const std::string& id) {
  for (const ScenarioResult& scenario : run.scenarios) {
    if (scenario.id == id) return &scenario;
  }
  return nullptr;
}

std::string Escape(std::string text) {
  std::string out;
  for (char c : text) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

}  // namespace

std::vector<StepDifference> StepDifferences(const std::vector<RunResult>& runs) {
  std::vector<StepDifference> differences;
  for (const std::string& id : ScenarioOrder(runs)) {
    size_t most_steps = 0;
    for (const RunResult& run : runs) {
      if (const ScenarioResult* scenario = FindScenario(run, id)) most_steps = std::max(most_steps, scenario->steps.size());
    }
    for (size_t i = 0; i < most_steps; ++i) {
      StepDifference difference{id, static_cast<int>(i) + 1, "", {}};
      std::set<std::string> reached_codes;
      for (const RunResult& run : runs) {
        const ScenarioResult* scenario = FindScenario(run, id);
        std::string code;
        if (scenario != nullptr && i < scenario->steps.size()) {
          code = LastCode(scenario->steps[i]);
          difference.name = scenario->steps[i].name;
          if (!code.empty()) reached_codes.insert(code);
        }
        difference.codes.emplace_back(run.endpoint.name, code);
      }
      if (reached_codes.size() > 1) differences.push_back(std::move(difference));
    }
  }
  return differences;
}

std::string MatrixMarkdown(const std::vector<RunResult>& runs) {
  std::vector<std::string> order = ScenarioOrder(runs);
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
    for (const RunResult& run : runs) {
      const ScenarioResult* scenario = FindScenario(run, id);
      crisp::StrAppend(&md, " ", scenario == nullptr ? "n.a." : Cell(scenario->verdict), " |");
    }
    md += "\n";
  }
  md += "\n**Totals:**";
  for (const RunResult& run : runs) {
    crisp::StrAppend(&md, " ", run.endpoint.name, " ", run.Count(Verdict::kPass), "/", run.scenarios.size(), " pass");
    int bad = run.Count(Verdict::kFail) + run.Count(Verdict::kError);
    if (bad > 0) crisp::StrAppend(&md, " (", bad, " fail or error)");
    md += &run == &runs.back() ? "" : " ·";
  }
  md += "\n";

  std::string failures;
  for (const RunResult& run : runs) {
    for (const ScenarioResult& scenario : run.scenarios) {
      if (scenario.verdict == Verdict::kFail || scenario.verdict == Verdict::kError || scenario.verdict == Verdict::kSkip) {
        crisp::StrAppend(&failures, "- **", run.endpoint.name, "** `", scenario.id, "` ",
                         runner::VerdictName(scenario.verdict), ": ", Escape(scenario.reason), "\n");
      }
    }
  }
  if (!failures.empty()) crisp::StrAppend(&md, "\n### Not passing\n\n", failures);

  std::vector<StepDifference> differences = StepDifferences(runs);
  md += "\n### Where the runtimes answer differently\n\n";
  if (differences.empty()) md += "Every step that every runtime reached ended with the same gRPC code.\n";
  for (const StepDifference& difference : differences) {
    crisp::StrAppend(&md, "- `", difference.scenario, "` step ", difference.step, " `", difference.name, "`:");
    for (const auto& [runtime, code] : difference.codes) {
      crisp::StrAppend(&md, " ", runtime, " `", code.empty() ? "not reached" : code, "`");
      md += &code == &difference.codes.back().second ? "" : ",";
    }
    md += "\n";
  }
  return md;
}

nlohmann::json MatrixJson(const std::vector<RunResult>& runs) {
  nlohmann::json results = nlohmann::json::array();
  for (const RunResult& run : runs) results.push_back(ResultsJson(run));
  nlohmann::json differences = nlohmann::json::array();
  for (const StepDifference& difference : StepDifferences(runs)) {
    nlohmann::json codes = nlohmann::json::object();
    for (const auto& [runtime, code] : difference.codes) codes[runtime] = code;
    differences.push_back({{"scenario", difference.scenario}, {"step", difference.step}, {"name", difference.name},
                           {"codes", codes}});
  }
  return {{"schema", kMatrixSchema}, {"runs", results}, {"differences", differences}};
}

absl::Status WriteMatrixReports(const std::vector<RunResult>& runs, const std::string& directory) {
  std::error_code error;
  std::filesystem::create_directories(directory, error);
  if (error) return absl::InternalError(crisp::StrCat("cannot create ", directory, ": ", error.message()));
  std::vector<std::pair<std::string, std::string>> files = {{"summary.md", MatrixMarkdown(runs)},
                                                            {"results.json", MatrixJson(runs).dump(2) + "\n"},
                                                            {"matrix.html", MatrixHtml(runs)}};
  for (const RunResult& run : runs) files.emplace_back("junit-" + run.endpoint.name + ".xml", JunitXml(run));
  for (const auto& [name, content] : files) {
    std::string path = (std::filesystem::path(directory) / name).string();
    std::ofstream out(path + ".tmp", std::ios::binary | std::ios::trunc);
    out << content;
    if (!out.flush()) return absl::InternalError(crisp::StrCat("cannot write ", path));
    out.close();
    std::filesystem::rename(path + ".tmp", path, error);
    if (error) return absl::InternalError(crisp::StrCat("cannot write ", path, ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace crisp::report
