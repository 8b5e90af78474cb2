#include "harness/scenario/expect.h"

#include <array>
#include <regex>

#include "common/json_text.h"
#include "common/strings.h"
#include "harness/scenario/json_path.h"

namespace crisp::scenario {
namespace {

constexpr std::array<std::string_view, 17> kCodeNames = {
    "OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded", "NotFound",
    "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
    "Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss",
    "Unauthenticated"};

// Numbers compare by value whatever their JSON kind (1 == 1u == 1.0).
bool JsonEquals(const nlohmann::json& a, const nlohmann::json& b) {
  if (a.is_number() && b.is_number()) return a.get<double>() == b.get<double>();
  if (a.is_array() && b.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!JsonEquals(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object() && b.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [key, value] : a.items()) {
      auto other = b.find(key);
      if (other == b.end() || !JsonEquals(value, *other)) return false;
    }
    return true;
  }
  return a == b;
}

bool Contains(const nlohmann::json& actual, const nlohmann::json& operand) {
  if (actual.is_string() && operand.is_string()) {
    return actual.get<std::string>().find(operand.get<std::string>()) != std::string::npos;
  }
  if (actual.is_array() && operand.is_array()) {
    // As a list inside a pattern does: each element somewhere in the list.
    for (const auto& wanted : operand) {
      if (!Contains(actual, wanted)) return false;
    }
    return true;
  }
  if (actual.is_array()) {
    for (const auto& element : actual) {
      if (SubsetMatch(element, operand)) return true;
    }
    return false;
  }
  if (actual.is_object() && operand.is_object()) return SubsetMatch(actual, operand);
  return false;
}

bool Holds(const Check& check, const nlohmann::json* actual) {
  const bool present = actual != nullptr && !actual->is_null();
  switch (check.op) {
    case Check::Op::kAbsent: return present != check.operand.get<bool>();
    case Check::Op::kPresent: return present == check.operand.get<bool>();
    default: break;
  }
  if (actual == nullptr) return false;
  switch (check.op) {
    case Check::Op::kEquals: return JsonEquals(*actual, check.operand);
    case Check::Op::kNotEquals: return !JsonEquals(*actual, check.operand);
    case Check::Op::kContains: return Contains(*actual, check.operand);
    case Check::Op::kNotContains: return !Contains(*actual, check.operand);
    case Check::Op::kMatches:
      return actual->is_string() &&
             std::regex_search(actual->get<std::string>(),
                               std::regex(check.operand.get<std::string>()));
    case Check::Op::kCount:
      return (actual->is_array() || actual->is_object()) &&
             JsonEquals(nlohmann::json(actual->size()), check.operand);
    case Check::Op::kGreaterThan:
      return actual->is_number() && check.operand.is_number() && actual->get<double>() > check.operand.get<double>();
    case Check::Op::kLessThan:
      return actual->is_number() && check.operand.is_number() && actual->get<double>() < check.operand.get<double>();
    case Check::Op::kOneOf:
      for (const auto& choice : check.operand) {
        if (JsonEquals(*actual, choice)) return true;
      }
      return false;
    case Check::Op::kAbsent:
    case Check::Op::kPresent: break;
  }
  return false;
}

}  // namespace

std::string_view OpName(Check::Op op) {
  switch (op) {
    case Check::Op::kEquals: return "equals";
    case Check::Op::kNotEquals: return "not_equals";
    case Check::Op::kContains: return "contains";
    case Check::Op::kNotContains: return "not_contains";
    case Check::Op::kMatches: return "matches";
    case Check::Op::kAbsent: return "absent";
    case Check::Op::kPresent: return "present";
    case Check::Op::kCount: return "count";
    case Check::Op::kGreaterThan: return "greater_than";
    case Check::Op::kLessThan: return "less_than";
    case Check::Op::kOneOf: return "one_of";
  }
  return "?";
}

std::string Mismatch::Describe() const {
  std::string actual_text = actual ? JsonText(*actual) : "nothing (no such field)";
  if (actual_text.size() > 400) actual_text = actual_text.substr(0, 400) + "...";
  return crisp::StrCat(path.empty() ? "(response)" : path, ": expected ", op, " ",
                       JsonText(expected), ", got ", actual_text);
}

bool SubsetMatch(const nlohmann::json& actual, const nlohmann::json& pattern) {
  if (pattern.is_object()) {
    if (!actual.is_object()) return false;
    for (const auto& [key, value] : pattern.items()) {
      auto found = actual.find(key);
      if (found == actual.end() || !SubsetMatch(*found, value)) return false;
    }
    return true;
  }
  if (pattern.is_array()) {
    if (!actual.is_array()) return false;
    for (const auto& wanted : pattern) {
      bool found = false;
      for (const auto& element : actual) found = found || SubsetMatch(element, wanted);
      if (!found) return false;
    }
    return true;
  }
  return JsonEquals(actual, pattern);
}

std::vector<Mismatch> Evaluate(const std::vector<Check>& checks,
                               const nlohmann::json& observation) {
  std::vector<Mismatch> mismatches;
  for (const Check& check : checks) {
    absl::StatusOr<JsonPath> path = ParsePath(check.path);
    const nlohmann::json* actual = path.ok() ? Lookup(observation, *path) : nullptr;
    if (!path.ok() || !Holds(check, actual)) {
      Mismatch mismatch{check.path, std::string(OpName(check.op)), check.operand, std::nullopt,
                        check.where};
      if (actual != nullptr) mismatch.actual = *actual;
      mismatches.push_back(std::move(mismatch));
    }
  }
  return mismatches;
}

bool IsKnownCodeName(std::string_view code_name) {
  if (code_name == "error" || code_name == "Cancelled") return true;
  return std::find(kCodeNames.begin(), kCodeNames.end(), code_name) != kCodeNames.end();
}

bool CodeMatches(std::string_view code_name, int code) {
  // A refusal of the request: UNIMPLEMENTED is not one, since a runtime
  // without the RPC refuses nothing (the scenario may allow it as n.a.).
  if (code_name == "error") return code != 0 && code != 12;
  if (code_name == "Cancelled") code_name = "Canceled";
  return code >= 0 && static_cast<size_t>(code) < kCodeNames.size() &&
         kCodeNames[static_cast<size_t>(code)] == code_name;
}

}  // namespace crisp::scenario
