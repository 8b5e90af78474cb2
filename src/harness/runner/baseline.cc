#include "harness/runner/baseline.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "common/strings.h"
#include "common/yaml_document.h"

namespace crisp::runner {
namespace {

std::vector<int> Numbers(std::string_view version) {
  if (!version.empty() && (version[0] == 'v' || version[0] == 'V')) version.remove_prefix(1);
  std::vector<int> numbers;
  int current = -1;
  for (char c : version) {
    if (c >= '0' && c <= '9') {
      current = std::max(current, 0) * 10 + (c - '0');
      if (current > 1'000'000) break;
    } else if (c == '.' && current >= 0) {
      numbers.push_back(current);
      current = -1;
    } else {
      break;
    }
  }
  if (current >= 0) numbers.push_back(current);
  return numbers;
}

int Compare(const std::vector<int>& a, const std::vector<int>& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    int x = i < a.size() ? a[i] : 0;
    int y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

absl::StatusOr<bool> VersionInRange(std::string_view version, std::string_view range) {
  std::vector<int> have = Numbers(version);
  std::istringstream words{std::string(range)};
  std::string word;
  while (words >> word) {
    if (word == "*") continue;
    std::string_view op;
    for (std::string_view candidate : {">=", "<=", "==", ">", "<", "="}) {
      if (word.starts_with(candidate)) {
        op = candidate;
        break;
      }
    }
    std::vector<int> want = Numbers(std::string_view(word).substr(op.size()));
    if (want.empty()) return absl::InvalidArgumentError(crisp::StrCat("\"", word, "\" is not a version comparator"));
    int order = Compare(have, want);
    bool holds;
    if (op == ">=") holds = order >= 0;
    else if (op == "<=") holds = order <= 0;
    else if (op == ">") holds = order > 0;
    else if (op == "<") holds = order < 0;
    else if (op.empty()) holds = have.size() >= want.size() && std::equal(want.begin(), want.end(), have.begin());
    else holds = order == 0;
    if (!holds) return false;
  }
  return true;
}

const BaselineEntry* Baseline::Find(std::string_view scenario, std::string_view endpoint_name,
                                    const nlohmann::json& version,
                                    std::optional<std::string_view> failure_reason) const {
  std::string runtime_name = Lower(version.is_object() ? version.value("runtime_name", "") : "");
  std::string runtime_version = version.is_object() ? version.value("runtime_version", "") : "";
  for (const BaselineEntry& entry : entries) {
    if (!crisp::GlobMatch(entry.scenario, scenario)) continue;
    if (failure_reason && !entry.failure.empty() && !crisp::GlobMatch(entry.failure, *failure_reason)) continue;
    std::string runtime = Lower(entry.runtime);
    if (runtime != Lower(endpoint_name) && runtime != runtime_name) continue;
    if (!entry.versions.empty()) {
      // A runtime that names no version is in no range.
      if (runtime_version.empty()) continue;
      absl::StatusOr<bool> in_range = VersionInRange(runtime_version, entry.versions);
      if (!in_range.ok() || !*in_range) continue;
    }
    return &entry;
  }
  return nullptr;
}

absl::StatusOr<Baseline> ParseBaseline(std::string_view yaml, std::string_view source_name) {
  auto where = [&](const YAML::Node& node) { return YamlWhere(source_name, node); };
  absl::StatusOr<YAML::Node> parsed = ParseYaml(yaml, source_name);
  if (!parsed.ok()) return parsed.status();
  const YAML::Node& root = *parsed;
  return GuardYaml<Baseline>(source_name, [&]() -> absl::StatusOr<Baseline> {
    if (!root.IsMap() || !root["known_failures"] || !root["known_failures"].IsSequence()) {
      return absl::InvalidArgumentError(crisp::StrCat(source_name, ":1:1: expected a map with known_failures: (a list)"));
    }
    Baseline baseline;
    for (const YAML::Node& node : root["known_failures"]) {
      if (!node.IsMap()) return absl::InvalidArgumentError(where(node) + ": an entry is a map (scenario, runtime, reason, ...)");
      BaselineEntry entry;
      entry.where = where(node);
      for (const auto& field : node) {
        std::string key = field.first.as<std::string>();
        if (!field.second.IsScalar()) return absl::InvalidArgumentError(crisp::StrCat(where(field.second), ": ", key, " must be text"));
        std::string value = field.second.as<std::string>();
        if (key == "scenario") entry.scenario = value;
        else if (key == "runtime") entry.runtime = value;
        else if (key == "versions") entry.versions = value;
        else if (key == "reason") entry.reason = value;
        else if (key == "link") entry.link = value;
        else if (key == "failure") entry.failure = value;
        else if (key == "intermittent") {
          if (value != "true" && value != "false") {
            return absl::InvalidArgumentError(crisp::StrCat(where(field.second), ": intermittent must be true or false"));
          }
          entry.intermittent = value == "true";
        } else {
          return absl::InvalidArgumentError(crisp::StrCat(where(field.first), ": unknown key \"", key,
                                                          "\" (scenario, runtime, versions, reason, link, intermittent, failure)"));
        }
      }
      for (const auto& [name, value] : {std::pair<const char*, const std::string*>{"scenario", &entry.scenario},
                                        {"runtime", &entry.runtime}, {"reason", &entry.reason}}) {
        if (value->empty()) return absl::InvalidArgumentError(crisp::StrCat(entry.where, ": an entry needs ", name, ":"));
      }
      if (!entry.versions.empty()) {
        if (absl::StatusOr<bool> check = VersionInRange("0", entry.versions); !check.ok()) {
          return absl::InvalidArgumentError(crisp::StrCat(where(node["versions"]), ": ", check.status().message()));
        }
      }
      baseline.entries.push_back(std::move(entry));
    }
    return baseline;
  });
}

absl::StatusOr<Baseline> LoadBaseline(const std::string& path) {
  absl::StatusOr<std::string> text = ReadConfigFile(path, "baseline");
  if (!text.ok()) return text.status();
  return ParseBaseline(*text, path);
}

void ApplyBaseline(const Baseline& baseline, std::string_view endpoint_name, const nlohmann::json& version,
                   ScenarioResult& scenario) {
  if (scenario.verdict != Verdict::kPass && !IsFailure(scenario.verdict)) return;  // n.a., skip: says nothing
  const bool failed = IsFailure(scenario.verdict);
  const BaselineEntry* entry = baseline.Find(scenario.id, endpoint_name, version,
                                             failed ? std::optional<std::string_view>(scenario.reason) : std::nullopt);
  if (entry == nullptr) return;
  // An entry about one failure says nothing when the scenario passes: as
  // for a race, the pass is no fix.
  const bool no_fix_from_a_pass = entry->intermittent || !entry->failure.empty();
  scenario.baseline = BaselineMatch{entry->reason, entry->link, scenario.verdict, no_fix_from_a_pass};
  if (IsFailure(scenario.verdict)) scenario.verdict = Verdict::kKnown;
}

}  // namespace crisp::runner
