// Comparing two runs (their results.json): what got worse, what got better,
// what appeared or went away, and where a step now answers differently.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "harness/diff/normalise.h"
#include "nlohmann/json.hpp"

namespace crisp::diff {

struct DiffOptions {
  // A step's latency counts as changed when it grew by more than this
  // fraction AND by more than `min_latency_change` (small numbers jitter).
  double latency_ratio = 0.5;
  absl::Duration min_latency_change = absl::Milliseconds(50);
  // How answers are made comparable; null: the built-in rules.
  const Normaliser* normaliser = nullptr;
};

struct ScenarioChange {
  std::string id;
  std::string old_verdict;  // "" when the scenario is new
  std::string new_verdict;  // "" when it was removed
  std::string reason;       // the new run's reason, for regressions
};

struct StepChange {
  std::string scenario;
  int step = 0;
  std::string name;
  // "code OK -> NotFound", "response.status.state: \"CONTAINER_RUNNING\" ->
  // \"CONTAINER_EXITED\"", "latency 12ms -> 250ms", ...
  std::string what;
};

struct RunDiff {
  std::vector<ScenarioChange> regressions;  // pass -> fail or error
  std::vector<ScenarioChange> fixes;        // fail or error -> pass
  std::vector<ScenarioChange> other;        // any other verdict change (skip involved)
  std::vector<ScenarioChange> added;
  std::vector<ScenarioChange> removed;
  std::vector<StepChange> behaviour;  // a step's code or a normalised field changed
  std::vector<StepChange> latency;    // a step got slower past the threshold

  nlohmann::json ToJson() const;
  std::string ToText() const;
};

// Both must be crisp.results/v1 documents; the error says which is not.
absl::StatusOr<RunDiff> CompareRuns(const nlohmann::json& old_run, const nlohmann::json& new_run,
                                    const DiffOptions& options = {});

}  // namespace crisp::diff
