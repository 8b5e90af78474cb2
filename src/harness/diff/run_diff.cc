#include "harness/diff/run_diff.h"

#include <map>

#include "absl/status/status.h"
#include "common/json_text.h"
#include "common/strings.h"
#include "harness/diff/behaviour.h"

namespace crisp::diff {
namespace {

using nlohmann::json;

constexpr char kSchema[] = "crisp.results/v1";

bool IsBad(const std::string& verdict) { return verdict == "fail" || verdict == "error"; }

std::map<std::string, const json*> ById(const json& run) {
  std::map<std::string, const json*> scenarios;
  if (!run.contains("scenarios") || !run["scenarios"].is_array()) return scenarios;
  for (const json& scenario : run["scenarios"]) {
    if (scenario.is_object()) scenarios[scenario.value("id", "")] = &scenario;
  }
  return scenarios;
}

std::string Milliseconds(int64_t nanoseconds) {
  return fmt::format("{:.1f}ms", static_cast<double>(nanoseconds) / 1e6);
}

// A field's value for a change line: its normalised JSON, or "absent".
std::string ValueText(const std::optional<json>& value) {
  if (!value) return "absent";
  std::string text = JsonText(*value);
  return text.size() > 120 ? text.substr(0, 117) + "..." : text;
}

void CompareSteps(const std::string& id, const json& old_scenario, const json& new_scenario,
                  const DiffOptions& options, RunDiff& diff) {
  static const Normaliser kDefault;
  const Normaliser& normaliser = options.normaliser != nullptr ? *options.normaliser : kDefault;
  for (const StepDifference& step : CompareBehaviour({&old_scenario, &new_scenario}, normaliser)) {
    if (step.codes[0] != step.codes[1]) {
      diff.behaviour.push_back({id, step.step, step.name, crisp::StrCat("code ", step.codes[0], " -> ", step.codes[1])});
    }
    for (const FieldDifference& field : step.fields) {
      diff.behaviour.push_back({id, step.step, step.name,
                                crisp::StrCat(field.path, ": ", ValueText(field.values[0]), " -> ", ValueText(field.values[1]))});
    }
    if (step.fields_left_out > 0) {
      diff.behaviour.push_back({id, step.step, step.name, crisp::StrCat("and ", step.fields_left_out, " more field(s)")});
    }
  }

  const json empty = json::array();
  const json& old_steps = old_scenario.contains("steps") && old_scenario["steps"].is_array() ? old_scenario["steps"] : empty;
  const json& new_steps = new_scenario.contains("steps") && new_scenario["steps"].is_array() ? new_scenario["steps"] : empty;
  for (size_t i = 0; i < std::min(old_steps.size(), new_steps.size()); ++i) {
    const json& before = old_steps[i];
    const json& after = new_steps[i];
    if (!before.is_object() || !after.is_object()) break;
    if (before.value("name", "") != after.value("name", "")) break;  // the scenario itself changed
    const json* old_obs = LastObservation(before);
    const json* new_obs = LastObservation(after);
    if (old_obs == nullptr || new_obs == nullptr) continue;
    int index = after.value("index", static_cast<int>(i) + 1);
    int64_t old_latency = old_obs->value("latency_ns", int64_t{0});
    int64_t new_latency = new_obs->value("latency_ns", int64_t{0});
    if (old_latency > 0 && new_latency > old_latency &&
        static_cast<double>(new_latency) > static_cast<double>(old_latency) * (1.0 + options.latency_ratio) &&
        absl::Nanoseconds(new_latency - old_latency) > options.min_latency_change) {
      diff.latency.push_back({id, index, after.value("name", ""),
                              crisp::StrCat("latency ", Milliseconds(old_latency), " -> ", Milliseconds(new_latency))});
    }
  }
}

}  // namespace

absl::StatusOr<RunDiff> CompareRuns(const json& old_run, const json& new_run, const DiffOptions& options) {
  for (const auto& [label, run] : {std::pair<const char*, const json*>{"old", &old_run}, {"new", &new_run}}) {
    if (!run->is_object() || run->value("schema", "") != kSchema) {
      return absl::InvalidArgumentError(crisp::StrCat("the ", label, " file is not a crisp results file (schema ",
                                                      kSchema, ")"));
    }
  }
  RunDiff diff;
  std::map<std::string, const json*> before = ById(old_run);
  std::map<std::string, const json*> after = ById(new_run);
  for (const auto& [id, scenario] : after) {
    std::string verdict = scenario->value("verdict", "");
    auto old = before.find(id);
    if (old == before.end()) {
      diff.added.push_back({id, "", verdict, scenario->value("reason", "")});
      continue;
    }
    std::string old_verdict = old->second->value("verdict", "");
    ScenarioChange change{id, old_verdict, verdict, scenario->value("reason", "")};
    if (old_verdict == "pass" && IsBad(verdict)) {
      diff.regressions.push_back(change);
    } else if (IsBad(old_verdict) && verdict == "pass") {
      diff.fixes.push_back(change);
    } else if (old_verdict != verdict) {
      diff.other.push_back(change);
    }
    CompareSteps(id, *old->second, *scenario, options, diff);
  }
  for (const auto& [id, scenario] : before) {
    if (!after.count(id)) diff.removed.push_back({id, scenario->value("verdict", ""), "", ""});
  }
  return diff;
}

json RunDiff::ToJson() const {
  auto scenarios = [](const std::vector<ScenarioChange>& list) {
    json out = json::array();
    for (const auto& c : list) out.push_back({{"id", c.id}, {"old", c.old_verdict}, {"new", c.new_verdict}, {"reason", c.reason}});
    return out;
  };
  auto steps = [](const std::vector<StepChange>& list) {
    json out = json::array();
    for (const auto& c : list) out.push_back({{"scenario", c.scenario}, {"step", c.step}, {"name", c.name}, {"change", c.what}});
    return out;
  };
  return {{"regressions", scenarios(regressions)}, {"fixes", scenarios(fixes)},   {"other", scenarios(other)},
          {"added", scenarios(added)},             {"removed", scenarios(removed)}, {"behaviour", steps(behaviour)},
          {"latency", steps(latency)}};
}

std::string RunDiff::ToText() const {
  std::string text;
  auto section = [&](const char* title, const std::vector<ScenarioChange>& list) {
    if (list.empty()) return;
    crisp::StrAppend(&text, title, " (", list.size(), "):\n");
    for (const auto& c : list) {
      crisp::StrAppend(&text, "  ", c.id, "  ", c.old_verdict.empty() ? "-" : c.old_verdict, " -> ",
                       c.new_verdict.empty() ? "-" : c.new_verdict, c.reason.empty() ? "" : "  (" + c.reason + ")", "\n");
    }
  };
  section("regressions", regressions);
  section("fixes", fixes);
  section("other verdict changes", other);
  section("new scenarios", added);
  section("removed scenarios", removed);
  for (const auto& [title, list] : {std::pair<const char*, const std::vector<StepChange>*>{"behaviour changes", &behaviour},
                                    {"slower steps", &latency}}) {
    if (list->empty()) continue;
    crisp::StrAppend(&text, title, " (", list->size(), "):\n");
    for (const auto& c : *list) crisp::StrAppend(&text, "  ", c.scenario, " step ", c.step, " ", c.name, ": ", c.what, "\n");
  }
  if (text.empty()) text = "no differences\n";
  crisp::StrAppend(&text, regressions.size(), " regression(s), ", fixes.size(), " fix(es)\n");
  return text;
}

}  // namespace crisp::diff
