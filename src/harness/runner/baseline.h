// Baselines: known failures, in YAML, so that a run on a runtime with a
// known bug stays green while the bug is being fixed, and says so when the
// bug goes away.
//
//   known_failures:
//     - scenario: image.pull-by-digest      # an id; '*' matches any run of characters
//       runtime: containerd                 # the endpoint's name or Version's runtime_name
//       versions: ">=1.6 <1.7"              # optional: comparators, all must hold
//       reason: needs a fixed upstream digest
//       link: https://github.com/...        # optional
//       intermittent: true                  # optional: a race, so a pass is no fix
//       failure: "step * (ListImages): *"   # optional: covers only a failure whose reason matches
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/runner/result.h"
#include "nlohmann/json.hpp"

namespace crisp::runner {

struct BaselineEntry {
  std::string scenario;
  std::string runtime;
  std::string versions;  // "" = any
  std::string reason;
  std::string link;
  // A race that fails some runs only: a pass says nothing, so the match is
  // recorded but never called stale ("fixed: remove from baseline").
  bool intermittent = false;
  // "" = any failure; else a pattern ('*' any run of characters) the
  // scenario's failure reason must match, so that the entry covers the
  // failure it describes and no other. A pass is still matched (so runs
  // compare alike), but it says nothing of that one failure: never stale.
  std::string failure;
  std::string where;  // file:line
};

struct Baseline {
  std::vector<BaselineEntry> entries;

  // The first entry for this scenario on this runtime that covers its
  // outcome: `failure_reason` for a failure, nullopt for a pass (which any
  // entry's failure pattern admits); or null.
  const BaselineEntry* Find(std::string_view scenario, std::string_view endpoint_name, const nlohmann::json& version,
                            std::optional<std::string_view> failure_reason) const;
};

absl::StatusOr<Baseline> ParseBaseline(std::string_view yaml, std::string_view source_name);
absl::StatusOr<Baseline> LoadBaseline(const std::string& path);

// Whether a runtime version ("1.6.20~ds1", "v1.26.1") is in a range: space
// separated comparators (>=, >, <=, <, =) that must all hold; a bare
// version matches itself and everything under it ("1.6" matches 1.6.20).
// Versions compare by their leading numbers.
absl::StatusOr<bool> VersionInRange(std::string_view version, std::string_view range);

// Marks a failing scenario the baseline names (for a run on `endpoint_name`,
// whose Version said `version`) as known, and records the match on a
// passing one too (a stale entry, IsStale, unless the entry is intermittent).
void ApplyBaseline(const Baseline& baseline, std::string_view endpoint_name, const nlohmann::json& version,
                   ScenarioResult& scenario);

}  // namespace crisp::runner
