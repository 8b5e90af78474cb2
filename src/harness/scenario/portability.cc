#include "harness/scenario/portability.h"

#include <algorithm>
#include <array>
#include <regex>
#include <string>
#include <string_view>

#include "common/strings.h"

namespace crisp::scenario {
namespace {

// The last field name of a path: "containers[0].image_ref" -> "image_ref",
// "status.labels['a.b']" -> "labels" (a key under a map is its map's).
std::string LastField(std::string_view path) {
  size_t bracket = path.rfind("['");
  if (bracket != std::string_view::npos && path.back() == ']') path = path.substr(0, bracket);
  while (!path.empty() && path.back() == ']') {
    size_t open = path.rfind('[');
    if (open == std::string_view::npos) break;
    path = path.substr(0, open);
  }
  size_t dot = path.rfind('.');
  return std::string(dot == std::string_view::npos ? path : path.substr(dot + 1));
}

bool OneOf(std::string_view field, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), field) != names.end();
}

// Patterns that only ask for something to be there.
bool OnlyNonEmpty(const nlohmann::json& operand) {
  if (!operand.is_string()) return false;
  const std::string& pattern = operand.get_ref<const std::string&>();
  return OneOf(pattern, {"\\S", ".", ".+", "^.+$", "\\S+"});
}

// A reference to a saved value (${...}) is compared, not pinned: the
// scenario got it from the runtime.
bool IsReference(const nlohmann::json& operand) {
  return operand.is_string() && operand.get_ref<const std::string&>().rfind("${", 0) == 0;
}

void LintCheck(const Scenario& scenario, const Step& step, const Check& check, std::vector<Diagnostic>& out) {
  std::string field = LastField(check.path);
  const bool identifier = OneOf(field, {"id", "image_ref", "image_id", "container_id", "pod_sandbox_id"});
  if (identifier && check.op == Check::Op::kMatches && !OnlyNonEmpty(check.operand)) {
    out.push_back({check.where,
                   crisp::StrCat("warning: ", scenario.id, ", step \"", step.name, "\": ", check.path,
                                 " matches a pattern, but the form of an identifier is the runtime's "
                                 "(containerd: sha256:<hex>, CRI-O: <hex> or name@sha256:<hex>); check what it "
                                 "refers to (e.g. ImageStatus by it), or say why with strict: <reason>")});
  }
  const bool extensible = OneOf(field, {"labels", "info", "conditions", "mounts", "images", "items",
                                        "containers", "stats", "runtime_handlers"});
  const bool whole = check.operand.is_object() || check.operand.is_array() || IsReference(check.operand);
  if (extensible && whole && check.op == Check::Op::kEquals) {
    out.push_back({check.where,
                   crisp::StrCat("warning: ", scenario.id, ", step \"", step.name, "\": ", check.path,
                                 " is compared whole, but a runtime may add to it (CRI-O adds io.kubernetes.* "
                                 "labels); use contains:, or say why with strict: <reason>")});
  }
}

}  // namespace

std::vector<Diagnostic> PortabilityWarnings(const Suite& suite) {
  std::vector<Diagnostic> out;
  for (const Scenario& scenario : suite.scenarios) {
    if (!scenario.strict.empty()) continue;
    for (const Step& step : scenario.steps) {
      for (const Check& check : step.expect.checks) LintCheck(scenario, step, check, out);
      for (const Expectation& alternative : step.expect.any_of) {
        for (const Check& check : alternative.checks) LintCheck(scenario, step, check, out);
      }
    }
  }
  return out;
}

}  // namespace crisp::scenario
