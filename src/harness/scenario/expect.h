// The expectation engine: checks against one observation (a response as
// JSON, or a parsed log).
#pragma once

#include <string>
#include <vector>

#include "harness/scenario/model.h"
#include "nlohmann/json.hpp"

namespace crisp::scenario {

struct Mismatch {
  std::string path;
  std::string op;
  nlohmann::json expected;
  // The value found; absent when the path does not exist.
  std::optional<nlohmann::json> actual;
  SourceLocation where;

  // "status.state: expected equals \"SANDBOX_READY\", got \"SANDBOX_NOTREADY\""
  std::string Describe() const;
};

// Every check that does not hold.
std::vector<Mismatch> Evaluate(const std::vector<Check>& checks, const nlohmann::json& observation);

// Whether `actual` holds `pattern`: objects by subset of keys, arrays by each
// pattern element matching some actual element, scalars by equality.
bool SubsetMatch(const nlohmann::json& actual, const nlohmann::json& pattern);

// Whether `code_name` ("OK", "NotFound", or "error" for any failure but
// Unimplemented) admits the gRPC code `code`.
bool CodeMatches(std::string_view code_name, int code);

// Whether `code_name` is one CodeMatches knows.
bool IsKnownCodeName(std::string_view code_name);

}  // namespace crisp::scenario
