// A fleet report: runs from many nodes (crisp run results, matrices,
// shards of one node) folded into one column per node and runtime, grouped
// by runtime version, kernel and OS, then compared as a matrix
// (crisp merge; docs/fleet.md).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "harness/runner/result.h"
#include "nlohmann/json.hpp"

namespace crisp::report {

struct FleetInput {
  std::string source;  // where it came from, for the report: "a.json", "m.json#2"
  runner::RunResult run;
};

struct Fleet {
  // One per node and runtime name, shards folded in; ordered by group,
  // then node. Named "<node>/<runtime name>".
  std::vector<runner::RunResult> columns;
  // Each the same scenario given different verdicts on one node by two of
  // its runs. Such a scenario becomes an error in its column whose reason
  // lists both; nothing is chosen silently.
  std::vector<std::string> conflicts;
  // What else a reader should know: a shard missing, a scenario run twice.
  std::vector<std::string> notes;
  // {"nodes": [{"column", "node", "kernel", "os", "arch", "runtime_name",
  // "runtime_version", "group", "shards", "sources"}], "groups": [{"group",
  // "runtime_name", "runtime_version", "kernel", "os", "columns"}],
  // "conflicts": [...], "notes": [...]}: results.json's "fleet".
  nlohmann::json ToJson() const;
  nlohmann::json nodes = nlohmann::json::array();
  nlohmann::json groups = nlohmann::json::array();
};

// Folds the inputs. Runs of one node (node name) and runtime (endpoint
// name) are shards or repeats of one column: their scenarios are united.
// An error when there is nothing to fold.
absl::StatusOr<Fleet> FoldFleet(std::vector<FleetInput> inputs);

// The fleet section summary.md starts with: nodes, groups, conflicts.
std::string FleetMarkdown(const Fleet& fleet);

}  // namespace crisp::report
